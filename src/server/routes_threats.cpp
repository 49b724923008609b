// Threat routes: create, list, read, change, notes, timeline, bulk, overview and export.
#include <httplib.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "core/text.h"
#include "server/export_format.h"
#include "server/json_codec.h"
#include "server/server.h"

namespace td::server {
namespace {

using core::ErrorCode;
using core::fail;
using store::Role;
using store::Scope;

Access readAccess() { return {false, Role::kReadonly, Scope::kRead, true}; }
Access writeAccess(bool needs_project) {
  return {false, Role::kOperator, Scope::kWrite, needs_project};
}

core::Result<ThreatQuery> threatQuery(const RequestContext& ctx,
                                      const std::set<std::string>& extra = {"project"}) {
  auto q = decodeThreatQuery(ctx.query(), extra);
  if (!q) return fail(q.error());
  q->filter.project_id = ctx.project().id;
  return q;
}

// The `{"items": [...]}` answer of a list that hangs off one visible threat (notes, timeline).
template <typename Fetch, typename Encode>
core::Result<Reply> threatItems(RequestContext& ctx, Fetch fetch, Encode encode) {
  auto id = ctx.idParam("id");
  if (!id) return fail(id.error());
  if (auto threat = ctx.visibleThreat(*id); !threat) return fail(threat.error());
  auto rows = fetch(*id);
  if (!rows) return fail(rows.error());
  Json items = Json::array();
  for (const auto& row : *rows) items.push_back(encode(row));
  return Reply::json({{"items", std::move(items)}});
}

// --- CSV / NDJSON export ---------------------------------------------------------------------

core::Result<Reply> exportThreats(RequestContext& ctx, store::Store& store) {
  auto q = threatQuery(ctx, {"project", "format"});
  if (!q) return fail(q.error());
  const std::string format = ctx.queryValue("format").value_or("csv");
  if (format != "csv" && format != "ndjson")
    return fail(ErrorCode::kUnprocessable, "format must be csv or ndjson", "format");
  if (!q->page.cursor.empty())
    return fail(ErrorCode::kInvalidArgument, "export takes no cursor", "cursor");
  const bool csv = format == "csv";
  Reply reply;
  reply.content_type = csv ? "text/csv; charset=utf-8" : "application/x-ndjson";
  reply.headers.emplace_back("Content-Disposition", std::string("attachment; filename=\"threats.") +
                                                        (csv ? "csv" : "ndjson") + "\"");
  const store::ThreatFilter filter = q->filter;
  const store::PageRequest order = q->page;
  store::Store* s = &store;
  // Rows go out in chunks of about 64 KiB as the store yields them: memory stays flat however
  // many threats match.
  reply.stream = [s, filter, order, csv](httplib::DataSink& sink) {
    constexpr size_t kFlushBytes = 64 * 1024;
    std::string buffer;
    buffer.reserve(kFlushBytes + 4096);
    if (csv) buffer += kThreatCsvHeader;
    bool client_gone = false;
    auto flush = [&] {
      if (buffer.empty()) return true;
      if (!sink.is_writable() || !sink.write(buffer.data(), buffer.size())) {
        client_gone = true;
        return false;
      }
      buffer.clear();
      return true;
    };
    auto status = s->exportThreats(filter, order, [&](const core::Threat& t) {
      if (csv) {
        appendThreatCsv(buffer, t);
      } else {
        appendThreatNdjson(buffer, t);
      }
      return buffer.size() < kFlushBytes || flush();
    });
    if (!status) {
      spdlog::error("export failed: {}", status.error().message);
      return false;
    }
    if (client_gone) return false;
    return flush();
  };
  return reply;
}

}  // namespace

void addThreatRoutes(Server& server) {
  store::Store& store = server.store();
  triage::TriageService& triage = server.triage();

  server.addRoute({"POST", "/api/v1/threats", writeAccess(true),
                   [&triage](RequestContext& ctx) -> core::Result<Reply> {
                     auto body = ctx.jsonBody();
                     if (!body) return fail(body.error());
                     auto detection = decodeDetection(*body);
                     if (!detection) return fail(detection.error());
                     detection->project_id = ctx.project().id;
                     detection->source = std::string(core::source::kApi);
                     auto threat =
                         triage.createThreat(std::move(*detection), ctx.principal().actor());
                     if (!threat) return fail(threat.error());
                     // A duplicate of an open threat bumps it instead of raising a new one.
                     return Reply::json(encodeThreat(*threat), threat->count == 1 ? 201 : 200);
                   },
                   "Create a threat (or bump its open duplicate)"});

  server.addRoute({"GET", "/api/v1/threats", readAccess(),
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto q = threatQuery(ctx);
                     if (!q) return fail(q.error());
                     auto page = store.listThreats(q->filter, q->page);
                     if (!page) return fail(page.error());
                     return Reply::json(encodeThreatPage(*page));
                   },
                   "List threats with filters, sort and cursor pagination"});

  server.addRoute({"GET", "/api/v1/threats/export", readAccess(),
                   [&store](RequestContext& ctx) { return exportThreats(ctx, store); },
                   "Export matching threats as CSV or NDJSON (streamed)"});

  server.addRoute({"GET", "/api/v1/threats/{id}", readAccess(),
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto id = ctx.idParam("id");
                     if (!id) return fail(id.error());
                     auto threat = ctx.visibleThreat(*id);
                     if (!threat) return fail(threat.error());
                     Json j = encodeThreat(*threat, true);
                     Json samples = Json::array();
                     if (auto ev = store.evidenceSamples(*id)) {
                       for (const auto& e : *ev) {
                         auto parsed = parseJson(e);
                         samples.push_back(parsed ? std::move(*parsed) : Json(e));
                       }
                     }
                     j["evidence_samples"] = std::move(samples);
                     return Reply::json(std::move(j));
                   },
                   "Read one threat with its evidence"});

  server.addRoute({"PATCH", "/api/v1/threats/{id}", writeAccess(false),
                   [&triage](RequestContext& ctx) -> core::Result<Reply> {
                     auto id = ctx.idParam("id");
                     if (!id) return fail(id.error());
                     auto threat = ctx.visibleThreat(*id);
                     if (!threat) return fail(threat.error());
                     auto body = ctx.jsonBody();
                     if (!body) return fail(body.error());
                     auto change = decodeChangeRequest(*body);
                     if (!change) return fail(change.error());
                     auto changed = triage.change(*id, *change, ctx.principal().actor());
                     if (!changed) return fail(changed.error());
                     return Reply::json(encodeThreat(*changed));
                   },
                   "Assign, transition, close with an outcome, reopen, rescore"});

  server.addRoute({"POST", "/api/v1/threats/{id}/notes", writeAccess(false),
                   [&triage](RequestContext& ctx) -> core::Result<Reply> {
                     auto id = ctx.idParam("id");
                     if (!id) return fail(id.error());
                     auto threat = ctx.visibleThreat(*id);
                     if (!threat) return fail(threat.error());
                     auto body = ctx.jsonBody();
                     if (!body) return fail(body.error());
                     auto text = decodeNote(*body);
                     if (!text) return fail(text.error());
                     auto note = triage.addNote(*id, *text, ctx.principal().actor());
                     if (!note) return fail(note.error());
                     return Reply::json(encodeNote(*note), 201);
                   },
                   "Add a note to a threat"});

  server.addRoute({"GET",
                   "/api/v1/threats/{id}/notes",
                   {false, Role::kReadonly, Scope::kRead},
                   [&store](RequestContext& ctx) {
                     return threatItems(ctx, [&](core::ThreatId id) { return store.listNotes(id); },
                                        encodeNote);
                   },
                   "A threat's notes"});

  server.addRoute({"GET",
                   "/api/v1/threats/{id}/timeline",
                   {false, Role::kReadonly, Scope::kRead},
                   [&store](RequestContext& ctx) {
                     return threatItems(ctx, [&](core::ThreatId id) { return store.timeline(id); },
                                        encodeTimelineEntry);
                   },
                   "A threat's automatic timeline"});

  server.addRoute({"POST", "/api/v1/threats/bulk", writeAccess(true),
                   [&triage](RequestContext& ctx) -> core::Result<Reply> {
                     auto body = ctx.jsonBody();
                     if (!body) return fail(body.error());
                     auto bulk = decodeBulkRequest(*body);
                     if (!bulk) return fail(bulk.error());
                     const auto actor = ctx.principal().actor();
                     if (bulk->filter) {
                       bulk->filter->project_id = ctx.project().id;
                       auto result = triage.bulkChange(*bulk->filter, bulk->change, actor);
                       if (!result) return fail(result.error());
                       return Reply::json(encodeBulkResult(*result));
                     }
                     // Ids of other projects fail as "not found" inside bulkChange.
                     auto result =
                         triage.bulkChange(ctx.project().id, bulk->ids, bulk->change, actor);
                     return Reply::json(encodeBulkResult(result));
                   },
                   "Change many threats by ids or by filter"});

  server.addRoute({"GET", "/api/v1/overview", readAccess(),
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto q = threatQuery(ctx);
                     if (!q) return fail(q.error());
                     store::OverviewRequest request;
                     request.filter = q->filter;
                     request.split = q->split;
                     request.page = q->page;
                     auto overview = store.overview(request);
                     if (!overview) return fail(overview.error());
                     return Reply::json(encodeOverview(*overview));
                   },
                   "Counts, timeline, breakdowns and the first page in one call"});
}

}  // namespace td::server
