// Custom tag routes: an organisation's threat groups, states and outcomes. The organisation is
// the one that owns the selected project (threats use their project's organisation's tags).
#include "server/json_codec.h"
#include "server/server.h"

namespace td::server {
namespace {

using core::ErrorCode;
using core::fail;
using store::Role;
using store::Scope;

// "group", "state", "outcome" or the full "threat_group" ... spelling.
core::Result<store::TagKind> tagKind(const RequestContext& ctx) {
  std::string kind = ctx.param("kind");
  if (kind.rfind("threat_", 0) != 0) kind = "threat_" + kind;
  auto parsed = store::parseTagKind(kind);
  if (!parsed)
    return fail(ErrorCode::kNotFound,
                "unknown tag kind '" + ctx.param("kind").substr(0, 64) +
                    "' (expected group, state or outcome)",
                "kind");
  return *parsed;
}

// A tag of the selected project's organisation and of the kind in the path; 404 otherwise.
core::Result<store::TagValue> pathTag(const RequestContext& ctx, store::Store& store,
                                      store::TagKind kind) {
  auto id = ctx.idParam("id");
  if (!id) return fail(id.error());
  auto tag = store.getTag(*id);
  if (!tag || tag->org_id != ctx.project().org_id || tag->kind != kind)
    return fail(ErrorCode::kNotFound,
                "no " + std::string(store::tagKindName(kind)) + " " + std::to_string(*id), "id");
  return tag;
}

}  // namespace

void addTagRoutes(Server& server) {
  store::Store& store = server.store();
  triage::TriageService& triage = server.triage();
  const Access read{false, Role::kReadonly, Scope::kRead, true};
  // Tags shape every threat of the organisation: managers and admins change them, tokens never.
  const Access manage{false, Role::kManager, Scope::kNone, true};

  server.addRoute({"GET", "/api/v1/tags/{kind}", read,
                   [&triage](RequestContext& ctx) -> core::Result<Reply> {
                     auto kind = tagKind(ctx);
                     if (!kind) return fail(kind.error());
                     auto tags = triage.tags(ctx.project().org_id, *kind);
                     if (!tags) return fail(tags.error());
                     Json items = Json::array();
                     for (const auto& t : *tags) items.push_back(encodeTag(t));
                     return Reply::json({{"items", std::move(items)}});
                   },
                   "An organisation's values of one tag kind, in order"});

  server.addRoute({"POST", "/api/v1/tags/{kind}", manage,
                   [&triage](RequestContext& ctx) -> core::Result<Reply> {
                     auto kind = tagKind(ctx);
                     if (!kind) return fail(kind.error());
                     auto body = ctx.jsonBody();
                     if (!body) return fail(body.error());
                     auto request = decodeTagRequest(*body, true);
                     if (!request) return fail(request.error());
                     auto tag = triage.addTag(ctx.project().org_id, *kind, request->name,
                                              request->position);
                     if (!tag) return fail(tag.error());
                     return Reply::json(encodeTag(*tag), 201);
                   },
                   "Add a tag value"});

  server.addRoute({"PATCH", "/api/v1/tags/{kind}/{id}", manage,
                   [&triage, &store](RequestContext& ctx) -> core::Result<Reply> {
                     auto kind = tagKind(ctx);
                     if (!kind) return fail(kind.error());
                     auto tag = pathTag(ctx, store, *kind);
                     if (!tag) return fail(tag.error());
                     auto body = ctx.jsonBody();
                     if (!body) return fail(body.error());
                     auto request = decodeTagRequest(*body, false);
                     if (!request) return fail(request.error());
                     auto renamed = triage.renameTag(ctx.project().org_id, tag->id, request->name);
                     if (!renamed) return fail(renamed.error());
                     return Reply::json(encodeTag(*renamed));
                   },
                   "Rename a tag value (threats keep it)"});

  server.addRoute({"DELETE", "/api/v1/tags/{kind}/{id}", manage,
                   [&triage, &store](RequestContext& ctx) -> core::Result<Reply> {
                     auto kind = tagKind(ctx);
                     if (!kind) return fail(kind.error());
                     auto tag = pathTag(ctx, store, *kind);
                     if (!tag) return fail(tag.error());
                     auto replacement = ctx.queryValue("replacement");
                     if (replacement && replacement->size() > core::kMaxShortText)
                       return fail(ErrorCode::kUnprocessable, "replacement is too long",
                                   "replacement");
                     auto deleted = triage.deleteTag(ctx.project().org_id, tag->id, replacement);
                     if (!deleted) return fail(deleted.error());
                     Reply r;
                     r.status = 204;
                     return r;
                   },
                   "Delete a tag value; ?replacement=NAME moves its threats"});
}

}  // namespace td::server
