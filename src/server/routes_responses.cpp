#include "server/routes_responses.h"

#include <httplib.h>

#include <algorithm>

#include "respond/responses.h"

namespace td::server {
namespace {

using core::ErrorCode;
using core::fail;
using store::Role;
using store::Scope;

// A response of the selected project's organisation; 404 otherwise (existence is not leaked).
core::Result<store::ResponseRecord> pathResponse(const RequestContext& ctx, store::Store& store) {
  auto id = ctx.idParam("id");
  if (!id) return fail(id.error());
  auto r = store.responses().getResponse(*id);
  if (!r || r->org_id != ctx.project().org_id)
    return fail(ErrorCode::kNotFound, "no response " + std::to_string(*id), "id");
  return r;
}

core::Result<store::Delivery> pathDelivery(const RequestContext& ctx, store::Store& store) {
  auto id = ctx.idParam("id");
  if (!id) return fail(id.error());
  auto d = store.responses().getDelivery(*id);
  if (!d || d->org_id != ctx.project().org_id)
    return fail(ErrorCode::kNotFound, "no delivery " + std::to_string(*id), "id");
  return d;
}

core::Result<store::DeliveryFilter> deliveryFilter(const RequestContext& ctx) {
  store::DeliveryFilter f;
  f.org_id = ctx.project().org_id;
  if (auto s = ctx.queryValue("status")) {
    auto parsed = store::parseDeliveryStatus(*s);
    if (!parsed) return fail(parsed.error());
    f.status = *parsed;
  }
  if (auto l = ctx.queryValue("limit")) {
    if (l->empty() || l->size() > 4 || l->find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(*l) < 1 || std::stoi(*l) > 1000)
      return fail(ErrorCode::kInvalidArgument, "limit: expected 1-1000", "limit");
    f.limit = std::stoi(*l);
  }
  if (auto b = ctx.queryValue("before")) {
    if (b->empty() || b->size() > 18 || b->find_first_not_of("0123456789") != std::string::npos)
      return fail(ErrorCode::kInvalidArgument, "before: expected a delivery id", "before");
    f.before_id = std::stoll(*b);
  }
  return f;
}

Json deliveryPage(const std::vector<store::Delivery>& ds, int limit) {
  Json items = Json::array();
  for (const auto& d : ds) items.push_back(respond::encodeDelivery(d));
  Json page = {{"items", items}};
  if (static_cast<int>(ds.size()) == limit && !ds.empty()) page["next_before"] = ds.back().id;
  return page;
}

core::Result<std::optional<core::ThreatId>> optionalThreat(const RequestContext& ctx,
                                                           const Json& body) {
  if (!body.contains("threat_id") || body["threat_id"].is_null())
    return std::optional<core::ThreatId>{};
  if (!body["threat_id"].is_number_integer())
    return fail(ErrorCode::kInvalidArgument, "threat_id: expected an integer", "threat_id");
  auto t = ctx.visibleThreat(body["threat_id"].get<core::ThreatId>());
  if (!t) return fail(t.error());
  if (t->project_id != ctx.project().id && !ctx.canSeeProject(*ctx.visibleProject(t->project_id)))
    return fail(ErrorCode::kNotFound, "no threat", "threat_id");
  return std::optional<core::ThreatId>(t->id);
}

}  // namespace

void addResponseRoutes(Server& server, respond::Dispatcher& dispatcher) {
  store::Store& store = server.store();
  respond::Dispatcher* d = &dispatcher;
  const Access read{false, Role::kReadonly, Scope::kRead, true};
  // Responses reach outside (mail, webhooks with secrets): managers and admins, never tokens.
  const Access manage{false, Role::kManager, Scope::kNone, true};
  const Access me{false, Role::kReadonly, Scope::kNone, false};

  server.addRoute({"GET", "/api/v1/responses", read,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto list = store.responses().listResponses(ctx.project().org_id);
                     if (!list) return fail(list.error());
                     Json items = Json::array();
                     for (const auto& r : *list)
                       items.push_back(respond::encodeResponse(r, store.responses()));
                     return Reply::json({{"items", items}});
                   },
                   "The organisation's responses"});

  server.addRoute({"POST", "/api/v1/responses", manage,
                   [&store, d](RequestContext& ctx) -> core::Result<Reply> {
                     auto body = ctx.jsonBody();
                     if (!body) return fail(body.error());
                     auto r = respond::createResponse(store, ctx.project().org_id, *body);
                     if (!r) return fail(r.error());
                     d->invalidateResponses();
                     return Reply::json(respond::encodeResponse(*r, store.responses()), 201);
                   },
                   "Create a response"});

  server.addRoute({"GET", "/api/v1/responses/presets", read,
                   [](RequestContext&) -> core::Result<Reply> {
                     Json items = Json::array();
                     for (const auto& [name, p] : respond::webhookPresets().items())
                       items.push_back({{"name", name},
                                        {"description", p.value("description", "")},
                                        {"method", p.value("method", "POST")},
                                        {"headers", p.value("headers", Json::object())},
                                        {"payload", p.value("payload", "")}});
                     return Reply::json({{"items", items}});
                   },
                   "The shipped webhook presets"});

  server.addRoute({"POST", "/api/v1/responses/preview", manage,
                   [d](RequestContext& ctx) -> core::Result<Reply> {
                     auto body = ctx.jsonBody();
                     if (!body) return fail(body.error());
                     if (!body->is_object() || !body->contains("response"))
                       return fail(ErrorCode::kInvalidArgument,
                                   "response: required (the response to render)", "response");
                     auto spec = respond::parseResponseSpec((*body)["response"]);
                     if (!spec) {
                       auto e = spec.error();
                       e.field = "response." + e.field;
                       return fail(e);
                     }
                     auto threat = optionalThreat(ctx, *body);
                     if (!threat) return fail(threat.error());
                     auto out = d->preview(*spec, *threat, ctx.project().org_id);
                     if (!out) return fail(out.error());
                     return Reply::json(*out);
                   },
                   "Render a response (templates) for a threat or a sample, without sending"});

  server.addRoute({"GET", "/api/v1/responses/{id}", read,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto r = pathResponse(ctx, store);
                     if (!r) return fail(r.error());
                     return Reply::json(respond::encodeResponse(*r, store.responses()));
                   },
                   "One response"});

  server.addRoute({"PATCH", "/api/v1/responses/{id}", manage,
                   [&store, d](RequestContext& ctx) -> core::Result<Reply> {
                     auto r = pathResponse(ctx, store);
                     if (!r) return fail(r.error());
                     auto body = ctx.jsonBody();
                     if (!body) return fail(body.error());
                     auto updated = respond::updateResponse(store, *r, *body);
                     if (!updated) return fail(updated.error());
                     d->invalidateResponses();
                     return Reply::json(respond::encodeResponse(*updated, store.responses()));
                   },
                   "Change a response (JSON merge patch)"});

  server.addRoute({"DELETE", "/api/v1/responses/{id}", manage,
                   [&store, d](RequestContext& ctx) -> core::Result<Reply> {
                     auto r = pathResponse(ctx, store);
                     if (!r) return fail(r.error());
                     if (auto s = store.responses().deleteResponse(r->id); !s)
                       return fail(s.error());
                     d->invalidateResponses();
                     Reply reply;
                     reply.status = 204;
                     reply.text = "";
                     return reply;
                   },
                   "Delete a response (pending deliveries are cancelled; history stays)"});

  server.addRoute({"POST", "/api/v1/responses/{id}/test", manage,
                   [&store, d](RequestContext& ctx) -> core::Result<Reply> {
                     auto r = pathResponse(ctx, store);
                     if (!r) return fail(r.error());
                     Json body = Json::object();
                     if (!ctx.request().body.empty()) {
                       auto parsed = ctx.jsonBody();
                       if (!parsed) return fail(parsed.error());
                       body = *parsed;
                     }
                     auto threat = optionalThreat(ctx, body);
                     if (!threat) return fail(threat.error());
                     auto out = d->testSend(*r, *threat);
                     if (!out) return fail(out.error());
                     return Reply::json(*out);
                   },
                   "Render and send a response once for a sample or real threat"});

  server.addRoute({"GET", "/api/v1/responses/{id}/deliveries", read,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto r = pathResponse(ctx, store);
                     if (!r) return fail(r.error());
                     auto f = deliveryFilter(ctx);
                     if (!f) return fail(f.error());
                     f->response_id = r->id;
                     auto ds = store.responses().listDeliveries(*f);
                     if (!ds) return fail(ds.error());
                     return Reply::json(deliveryPage(*ds, f->limit));
                   },
                   "A response's deliveries, newest first (?status=failed)"});

  server.addRoute({"GET", "/api/v1/deliveries", read,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto f = deliveryFilter(ctx);
                     if (!f) return fail(f.error());
                     auto ds = store.responses().listDeliveries(*f);
                     if (!ds) return fail(ds.error());
                     return Reply::json(deliveryPage(*ds, f->limit));
                   },
                   "The organisation's deliveries, newest first (?status=failed)"});

  server.addRoute({"GET", "/api/v1/deliveries/{id}", read,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto del = pathDelivery(ctx, store);
                     if (!del) return fail(del.error());
                     Json j = respond::encodeDelivery(*del);
                     Json tries = Json::array();
                     if (auto a = store.responses().listAttempts(del->id))
                       for (const auto& x : *a) tries.push_back(respond::encodeAttempt(x));
                     j["attempts_made"] = tries;
                     return Reply::json(j);
                   },
                   "One delivery with its tries (what was sent, what came back)"});

  server.addRoute({"POST", "/api/v1/deliveries/{id}/replay", manage,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto del = pathDelivery(ctx, store);
                     if (!del) return fail(del.error());
                     auto r = store.responses().replayDelivery(del->id, core::nowMs());
                     if (!r) return fail(r.error());
                     return Reply::json(respond::encodeDelivery(*r));
                   },
                   "Send a failed delivery again with fresh tries"});

  server.addRoute({"GET", "/api/v1/threats/{id}/deliveries", read,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto id = ctx.idParam("id");
                     if (!id) return fail(id.error());
                     auto t = ctx.visibleThreat(*id);
                     if (!t) return fail(t.error());
                     store::DeliveryFilter f;
                     f.threat_id = t->id;
                     f.limit = 500;
                     auto ds = store.responses().listDeliveries(f);
                     if (!ds) return fail(ds.error());
                     return Reply::json(deliveryPage(*ds, 0));
                   },
                   "What went out about a threat (responses, notifications, notes)"});

  // --- per-user subscriptions and notifications --------------------------------------------
  server.addRoute({"GET", "/api/v1/me/subscriptions", me,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto subs = store.responses().subscriptionsOfUser(ctx.principal().user->id);
                     if (!subs) return fail(subs.error());
                     Json items = Json::array();
                     for (const auto& s : *subs) {
                       Json j = respond::encodeSubscription(s);
                       if (auto g = store.getTag(s.group_id)) j["group"] = g->name;
                       items.push_back(j);
                     }
                     return Reply::json({{"items", items}});
                   },
                   "The caller's group subscriptions"});

  server.addRoute(
      {"PUT", "/api/v1/me/subscriptions/{group_id}", me,
       [&store](RequestContext& ctx) -> core::Result<Reply> {
         auto gid = ctx.idParam("group_id");
         if (!gid) return fail(gid.error());
         auto g = store.getTag(*gid);
         if (!g || g->kind != store::TagKind::kGroup || !ctx.canSeeOrg(g->org_id))
           return fail(ErrorCode::kNotFound, "no threat group " + std::to_string(*gid), "group_id");
         Json body = Json::object();
         if (!ctx.request().body.empty()) {
           auto parsed = ctx.jsonBody();
           if (!parsed) return fail(parsed.error());
           body = *parsed;
         }
         if (!body.is_object())
           return fail(ErrorCode::kInvalidArgument, "body: expected an object", "body");
         store::Subscription s{ctx.principal().user->id, *gid, true, true};
         for (const auto& [k, v] : body.items()) {
           if (k != "on_assign" && k != "on_change")
             return fail(ErrorCode::kUnprocessable,
                         k + ": unknown member (expected on_assign, on_change)", k);
           if (!v.is_boolean())
             return fail(ErrorCode::kInvalidArgument, k + ": expected true or false", k);
           (k == "on_assign" ? s.on_assign : s.on_change) = v.get<bool>();
         }
         if (auto ok = store.responses().putSubscription(s); !ok) return fail(ok.error());
         Json j = respond::encodeSubscription(s);
         j["group"] = g->name;
         return Reply::json(j);
       },
       "Subscribe the caller to a threat group (on_assign, on_change)"});

  server.addRoute(
      {"DELETE", "/api/v1/me/subscriptions/{group_id}", me,
       [&store](RequestContext& ctx) -> core::Result<Reply> {
         auto gid = ctx.idParam("group_id");
         if (!gid) return fail(gid.error());
         if (auto ok = store.responses().deleteSubscription(ctx.principal().user->id, *gid); !ok)
           return fail(ok.error());
         Reply reply;
         reply.status = 204;
         reply.text = "";
         return reply;
       },
       "Unsubscribe the caller from a threat group"});

  server.addRoute({"GET", "/api/v1/me/notifications", me,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     const bool unread = ctx.queryValue("unread").value_or("") == "true";
                     auto ns =
                         store.responses().listNotifications(ctx.principal().user->id, unread, 100);
                     if (!ns) return fail(ns.error());
                     Json items = Json::array();
                     for (const auto& n : *ns) items.push_back(respond::encodeNotification(n));
                     return Reply::json({{"items", items}});
                   },
                   "The caller's notifications, newest first (?unread=true)"});

  server.addRoute(
      {"POST", "/api/v1/me/notifications/read", me,
       [&store](RequestContext& ctx) -> core::Result<Reply> {
         std::vector<std::int64_t> ids;
         if (!ctx.request().body.empty()) {
           auto body = ctx.jsonBody();
           if (!body) return fail(body.error());
           if (body->contains("ids")) {
             if (!(*body)["ids"].is_array())
               return fail(ErrorCode::kInvalidArgument, "ids: expected an array", "ids");
             for (const auto& i : (*body)["ids"]) {
               if (!i.is_number_integer())
                 return fail(ErrorCode::kInvalidArgument, "ids: expected integers", "ids");
               ids.push_back(i.get<std::int64_t>());
             }
           }
         }
         if (auto ok = store.responses().markNotificationsRead(ctx.principal().user->id, ids,
                                                               core::nowMs());
             !ok)
           return fail(ok.error());
         return Reply::json({{"ok", true}});
       },
       "Mark the caller's notifications read (all, or those in ids)"});

  // --- per-state automations -----------------------------------------------------------------
  server.addRoute(
      {"GET", "/api/v1/state-automations", read,
       [&store](RequestContext& ctx) -> core::Result<Reply> {
         auto list = store.responses().listStateAutomations(ctx.project().org_id);
         if (!list) return fail(list.error());
         Json items = Json::array();
         for (const auto& a : *list) {
           Json j = {{"state_id", a.state_id}, {"note", a.note_template}, {"notify", a.notify}};
           if (auto t = store.getTag(a.state_id)) j["state"] = t->name;
           items.push_back(j);
         }
         return Reply::json({{"items", items}});
       },
       "What happens when a threat enters each state"});

  server.addRoute(
      {"PUT", "/api/v1/state-automations/{state_id}", manage,
       [&store](RequestContext& ctx) -> core::Result<Reply> {
         auto sid = ctx.idParam("state_id");
         if (!sid) return fail(sid.error());
         auto t = store.getTag(*sid);
         if (!t || t->kind != store::TagKind::kState || t->org_id != ctx.project().org_id)
           return fail(ErrorCode::kNotFound, "no threat state " + std::to_string(*sid), "state_id");
         auto body = ctx.jsonBody();
         if (!body) return fail(body.error());
         if (!body->is_object())
           return fail(ErrorCode::kInvalidArgument, "body: expected an object", "body");
         store::StateAutomation a{t->org_id, t->id, "", false};
         for (const auto& [k, v] : body->items()) {
           if (k == "note" && v.is_string()) {
             a.note_template = v.get<std::string>();
           } else if (k == "notify" && v.is_boolean()) {
             a.notify = v.get<bool>();
           } else {
             return fail(ErrorCode::kUnprocessable,
                         k + ": expected note (a template) or notify (true/false)", k);
           }
         }
         if (a.note_template.size() > 4096)
           return fail(ErrorCode::kTooLarge, "note: longer than 4096 bytes", "note");
         if (!a.note_template.empty()) {
           auto parsed =
               respond::Template::parse(a.note_template, &respond::threatSchema(), "note");
           if (!parsed) return fail(parsed.error());
         }
         if (auto ok = store.responses().putStateAutomation(a); !ok) return fail(ok.error());
         return Reply::json({{"state_id", a.state_id},
                             {"state", t->name},
                             {"note", a.note_template},
                             {"notify", a.notify}});
       },
       "Set the automatic note and notification for a state"});

  server.addRoute({"DELETE", "/api/v1/state-automations/{state_id}", manage,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto sid = ctx.idParam("state_id");
                     if (!sid) return fail(sid.error());
                     auto t = store.getTag(*sid);
                     if (!t || t->org_id != ctx.project().org_id)
                       return fail(ErrorCode::kNotFound, "no threat state", "state_id");
                     if (auto ok = store.responses().deleteStateAutomation(*sid); !ok)
                       return fail(ok.error());
                     Reply reply;
                     reply.status = 204;
                     reply.text = "";
                     return reply;
                   },
                   "Remove a state's automation"});
}

}  // namespace td::server
