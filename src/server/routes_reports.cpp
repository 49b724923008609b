// Reports belong to a project: collection routes work on the selected project; item routes check
// that the caller sees the report's project (404 otherwise, so existence is not leaked). Reading
// and rendering needs read access; saving needs an operator (or a write token); deleting a report
// and managing schedules (which send mail outside) needs a manager.
#include "server/routes_reports.h"

#include <httplib.h>

#include "core/text.h"
#include "report/query.h"
#include "report/render.h"
#include "report/scheduler.h"
#include "report/spec.h"
#include "report/templates.h"

namespace td::server {
namespace {

using core::ErrorCode;
using core::fail;
using store::Role;
using store::Scope;

Json encodeReport(const store::ReportDefinition& r, bool with_spec) {
  Json j = {{"id", r.id},
            {"project_id", r.project_id},
            {"name", r.name},
            {"version", r.version},
            {"created_by", r.created_by},
            {"updated_by", r.updated_by},
            {"created_at", core::formatRfc3339(r.created_at)},
            {"updated_at", core::formatRfc3339(r.updated_at)}};
  if (with_spec) {
    auto spec = Json::parse(r.spec_json, nullptr, false);
    j["spec"] = spec.is_discarded() ? Json(nullptr) : spec;
    auto parsed = report::parseSpec(r.spec_json);
    if (parsed) j["title"] = parsed->title;
  }
  return j;
}

// Users as {id, email, name}; a user deleted since shows by id alone.
Json encodeScheduleUsers(store::Store& store, const std::vector<core::UserId>& ids) {
  Json users = Json::array();
  for (const auto id : ids) {
    Json u = {{"id", id}};
    if (auto user = store.getUser(id)) {
      u["email"] = user->email;
      u["name"] = user->display_name;
      u["disabled"] = user->disabled;
    }
    users.push_back(std::move(u));
  }
  return users;
}

Json encodeSchedule(store::Store& store, const store::ReportSchedule& s) {
  return {{"id", s.id},
          {"report_id", s.report_id},
          {"cron", s.cron},
          {"time_zone", s.time_zone},
          {"recipients", s.recipients},
          {"users", encodeScheduleUsers(store, s.users)},
          {"format", s.format},
          {"enabled", s.enabled},
          {"next_run_at", s.next_run_at ? Json(core::formatRfc3339(*s.next_run_at)) : Json()},
          {"last_run_at", s.last_run_at ? Json(core::formatRfc3339(*s.last_run_at)) : Json()},
          {"created_at", core::formatRfc3339(s.created_at)},
          {"updated_at", core::formatRfc3339(s.updated_at)}};
}

// Where a run's e-mails stand: none, pending (some still owed), delivered (all), failed (some
// failed or were given up, none owed), from the deliveries of the run.
std::string deliveryState(const store::ReportRun& r) {
  if (r.deliveries.empty()) return "none";
  bool pending = false, failed = false;
  for (const auto& d : r.deliveries) {
    pending = pending || d.status == "pending";
    failed = failed || d.status == "failed" || d.status == "cancelled" || d.status == "skipped";
  }
  return pending ? "pending" : failed ? "failed" : "delivered";
}

Json encodeRun(const store::ReportRun& r) {
  Json deliveries = Json::array();
  for (const auto& d : r.deliveries) {
    Json j = {{"recipient", d.recipient},
              {"delivery_id", d.delivery_id ? Json(*d.delivery_id) : Json()},
              {"status", d.status},
              {"attempts", d.attempts},
              {"last_error", d.last_error},
              {"finished_at", d.finished_at ? Json(core::formatRfc3339(*d.finished_at)) : Json()}};
    if (d.last_status) j["last_status"] = *d.last_status;
    deliveries.push_back(std::move(j));
  }
  return {{"id", r.id},
          {"schedule_id", r.schedule_id ? Json(*r.schedule_id) : Json()},
          {"report_id", r.report_id},
          {"report_version", r.report_version},
          {"scheduled_for", core::formatRfc3339(r.scheduled_for)},
          {"started_at", core::formatRfc3339(r.started_at)},
          {"finished_at", r.finished_at ? Json(core::formatRfc3339(*r.finished_at)) : Json()},
          {"status", r.status},
          {"message", r.message},
          {"bytes", r.bytes},
          {"file", r.has_file},
          {"delivery", deliveryState(r)},
          {"deliveries", std::move(deliveries)}};
}

// Errors of a spec given as the "spec" member of a body: paths under "spec.".
core::Error underSpec(core::Error e) {
  e.field = e.field.empty() ? "spec" : "spec." + e.field;
  return e;
}

// The spec document of a create/update body: {"spec": {...}} or {"template": "name"}.
core::Result<std::string> specFromBody(const Json& body) {
  if (body.contains("template")) {
    if (!body["template"].is_string())
      return fail(ErrorCode::kInvalidArgument, "must be a template name", "template");
    auto t = report::findTemplate(body["template"].get<std::string>());
    if (!t) return fail(ErrorCode::kUnprocessable, t.error().message, "template");
    return t->document;
  }
  if (!body.contains("spec"))
    return fail(ErrorCode::kInvalidArgument, "is required (the report document)", "spec");
  if (!body["spec"].is_object())
    return fail(ErrorCode::kInvalidArgument, "must be a JSON object", "spec");
  const std::string doc = body["spec"].dump(2);
  auto parsed = report::parseSpec(doc);
  if (!parsed) return fail(underSpec(parsed.error()));
  return doc;
}

// A stored report whose project the caller sees.
core::Result<store::ReportDefinition> visibleReport(RequestContext& ctx, store::Store& store) {
  auto id = ctx.idParam("id");
  if (!id) return fail(id.error());
  auto r = store.reports().getReport(*id);
  if (!r || !ctx.visibleProject(r->project_id))
    return fail(ErrorCode::kNotFound, "no report " + std::to_string(*id), "id");
  return r;
}

// Renders a document over a project with the request's ?format=, ?page_size=, ?grayscale=,
// ?widget=, ?width=, ?now=.
core::Result<Reply> renderReply(RequestContext& ctx, store::Store& store,
                                const std::string& document, core::ProjectId project,
                                const std::string& name, report::Format default_format,
                                bool spec_in_body) {
  auto spec = report::parseSpec(document);
  if (!spec) return fail(spec_in_body ? spec.error() : underSpec(spec.error()));
  report::RenderOptions o;
  o.format = default_format;
  if (auto f = ctx.queryValue("format")) {
    auto parsed = report::parseFormat(*f);
    if (!parsed) return fail(parsed.error());
    o.format = *parsed;
  }
  if (auto p = ctx.queryValue("page_size")) {
    if (core::equalsIgnoreCase(*p, "A4"))
      o.page_size = report::PageSize::kA4;
    else if (core::equalsIgnoreCase(*p, "Letter"))
      o.page_size = report::PageSize::kLetter;
    else
      return fail(ErrorCode::kInvalidArgument, "expected A4 or Letter", "page_size");
  }
  if (auto g = ctx.queryValue("grayscale")) o.grayscale = *g == "1" || *g == "true";
  if (auto w = ctx.queryValue("widget")) o.widget = *w;
  if (auto w = ctx.queryValue("width")) {
    try {
      o.png_width_px = std::stoi(*w);
    } catch (...) {
      return fail(ErrorCode::kInvalidArgument, "must be a number of pixels", "width");
    }
    if (o.png_width_px < 200 || o.png_width_px > 8000)
      return fail(ErrorCode::kInvalidArgument, "must be 200 to 8000 pixels", "width");
  }
  report::QueryOptions q;
  q.project_id = project;
  if (auto now = ctx.queryValue("now")) {
    auto t = core::parseRfc3339(*now);
    if (!t) return fail(ErrorCode::kInvalidArgument, "must be an RFC 3339 time", "now");
    q.now = *t;
  }
  auto data = report::runReport(store, *spec, q);
  if (!data) return fail(spec_in_body ? data.error() : underSpec(data.error()));
  auto bytes = report::renderReport(*data, o);
  if (!bytes) return fail(bytes.error());
  Reply reply;
  reply.text = std::move(*bytes);
  reply.content_type = std::string(report::contentType(o.format));
  if (o.format != report::Format::kHtml) {
    std::string file;
    for (char c : name)
      file += std::isalnum(static_cast<unsigned char>(c)) ? c : '-';
    reply.headers.push_back({"Content-Disposition",
                             "attachment; filename=\"" + (file.empty() ? "report" : file) + "." +
                                 std::string(report::formatName(o.format)) + "\""});
  }
  return reply;
}

core::Result<store::ReportSchedule> scheduleFromBody(store::Store& store,
                                                    const store::ReportDefinition& report,
                                                    const Json& body, store::ReportSchedule s) {
  if (!body.is_object()) return fail(ErrorCode::kInvalidArgument, "must be a JSON object", "");
  for (const auto& [key, value] : body.items())
    if (key != "cron" && key != "time_zone" && key != "recipients" && key != "users" &&
        key != "format" && key != "enabled")
      return fail(ErrorCode::kUnprocessable, "unknown member '" + key + "'", key);
  auto str = [&](const char* key, std::string& out) -> core::Status {
    if (!body.contains(key)) return {};
    if (!body[key].is_string()) return fail(ErrorCode::kInvalidArgument, "must be a string", key);
    out = body[key].get<std::string>();
    return {};
  };
  if (auto st = str("cron", s.cron); !st) return fail(st.error());
  if (auto st = str("time_zone", s.time_zone); !st) return fail(st.error());
  if (auto st = str("format", s.format); !st) return fail(st.error());
  if (body.contains("enabled")) {
    if (!body["enabled"].is_boolean())
      return fail(ErrorCode::kInvalidArgument, "must be true or false", "enabled");
    s.enabled = body["enabled"].get<bool>();
  }
  if (body.contains("recipients")) {
    if (!body["recipients"].is_array())
      return fail(ErrorCode::kInvalidArgument, "must be an array of e-mail addresses",
                  "recipients");
    s.recipients.clear();
    for (size_t i = 0; i < body["recipients"].size(); ++i) {
      if (!body["recipients"][i].is_string())
        return fail(ErrorCode::kInvalidArgument, "must be a string",
                    "recipients[" + std::to_string(i) + "]");
      s.recipients.push_back(body["recipients"][i].get<std::string>());
    }
  }
  if (body.contains("users")) {
    // Users of the report's organisation: ids, e-mail addresses, or {"id": n} as listed.
    if (!body["users"].is_array())
      return fail(ErrorCode::kInvalidArgument, "must be an array of user ids or e-mail addresses",
                  "users");
    std::vector<std::string> given;
    for (size_t i = 0; i < body["users"].size(); ++i) {
      const Json& u = body["users"][i];
      const std::string field = "users[" + std::to_string(i) + "]";
      if (u.is_number_integer())
        given.push_back(std::to_string(u.get<std::int64_t>()));
      else if (u.is_string() && !u.get<std::string>().empty())
        given.push_back(u.get<std::string>());
      else if (u.is_object() && u.contains("id") && u["id"].is_number_integer())
        given.push_back(std::to_string(u["id"].get<std::int64_t>()));
      else
        return fail(ErrorCode::kInvalidArgument, "must be a user id or e-mail address", field);
    }
    auto project = store.getProject(report.project_id);
    if (!project) return fail(project.error());
    auto users = report::resolveScheduleUsers(store, project->org_id, given);
    if (!users) return fail(users.error());
    s.users = std::move(*users);
  }
  if (s.cron.empty()) return fail(ErrorCode::kUnprocessable, "is required", "cron");
  return report::prepareSchedule(s, core::nowMs());
}

}  // namespace

void addReportRoutes(Server& server) {
  store::Store& store = server.store();
  const Access read{false, Role::kReadonly, Scope::kRead, true};
  const Access read_any{false, Role::kReadonly, Scope::kRead, false};
  const Access write{false, Role::kOperator, Scope::kWrite, true};
  const Access write_any{false, Role::kOperator, Scope::kWrite, false};
  // Deleting reports and scheduling mail to addresses outside: managers, not tokens.
  const Access manage_any{false, Role::kManager, Scope::kNone, false};

  server.addRoute({"GET", "/api/v1/reports/templates", read_any,
                   [](RequestContext&) -> core::Result<Reply> {
                     Json items = Json::array();
                     for (const auto& t : report::listTemplates())
                       items.push_back({{"name", t.name},
                                        {"title", t.title},
                                        {"description", t.description},
                                        {"spec", Json::parse(t.document)}});
                     return Reply::json({{"items", std::move(items)}});
                   },
                   "The shipped report templates"});

  server.addRoute({"GET", "/api/v1/reports/templates/{name}/render", read,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto t = report::findTemplate(ctx.param("name"));
                     if (!t) return fail(t.error().code, t.error().message, "name");
                     return renderReply(ctx, store, t->document, ctx.project().id, t->name,
                                        report::Format::kPdf, true);
                   },
                   "Render a template over the selected project's threats"});

  server.addRoute({"POST", "/api/v1/reports/validate", read_any,
                   [](RequestContext& ctx) -> core::Result<Reply> {
                     auto parsed = report::parseSpecAll(ctx.request().body);
                     Json errors = Json::array();
                     for (const auto& e : parsed.errors)
                       errors.push_back({{"code", core::errorCodeName(e.code)},
                                         {"field", e.field},
                                         {"message", e.message}});
                     return Reply::json(
                         {{"valid", parsed.spec.has_value()}, {"errors", std::move(errors)}});
                   },
                   "Validate a report document; every error with its JSON path"});

  server.addRoute({"POST", "/api/v1/reports/preview", read,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     return renderReply(ctx, store, ctx.request().body, ctx.project().id,
                                        "preview", report::Format::kHtml, true);
                   },
                   "Render an unsaved report document (the builder's live preview)"});

  server.addRoute({"GET", "/api/v1/reports", read,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto list = store.reports().listReports(ctx.project().id);
                     if (!list) return fail(list.error());
                     Json items = Json::array();
                     for (const auto& r : *list) items.push_back(encodeReport(r, false));
                     return Reply::json({{"items", std::move(items)}});
                   },
                   "The selected project's reports"});

  server.addRoute({"POST", "/api/v1/reports", write,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto body = ctx.jsonBody();
                     if (!body) return fail(body.error());
                     if (!body->is_object() || !(*body).contains("name") ||
                         !(*body)["name"].is_string())
                       return fail(ErrorCode::kInvalidArgument, "is required (a string)", "name");
                     auto doc = specFromBody(*body);
                     if (!doc) return fail(doc.error());
                     auto r = store.reports().createReport(
                         ctx.project().id, (*body)["name"].get<std::string>(), *doc,
                         ctx.principal().actor().name);
                     if (!r) return fail(r.error());
                     return Reply::json(encodeReport(*r, true), 201);
                   },
                   "Save a report (version 1)"});

  server.addRoute({"GET", "/api/v1/reports/{id}", read_any,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto r = visibleReport(ctx, store);
                     if (!r) return fail(r.error());
                     return Reply::json(encodeReport(*r, true));
                   },
                   "A report with its current document"});

  server.addRoute(
      {"PUT", "/api/v1/reports/{id}", write_any,
       [&store](RequestContext& ctx) -> core::Result<Reply> {
         auto r = visibleReport(ctx, store);
         if (!r) return fail(r.error());
         auto body = ctx.jsonBody();
         if (!body) return fail(body.error());
         if (!body->is_object())
           return fail(ErrorCode::kInvalidArgument, "must be a JSON object", "");
         std::optional<std::string> name;
         if (body->contains("name")) {
           if (!(*body)["name"].is_string())
             return fail(ErrorCode::kInvalidArgument, "must be a string", "name");
           name = (*body)["name"].get<std::string>();
         }
         std::optional<int> expected;
         if (body->contains("version")) {
           if (!(*body)["version"].is_number_integer())
             return fail(ErrorCode::kInvalidArgument, "must be the version the change is made to",
                         "version");
           expected = (*body)["version"].get<int>();
         }
         auto doc = specFromBody(*body);
         if (!doc) return fail(doc.error());
         auto updated = store.reports().updateReport(r->id, name, *doc,
                                                     ctx.principal().actor().name, expected);
         if (!updated) return fail(updated.error());
         return Reply::json(encodeReport(*updated, true));
       },
       "Save a new version of a report (409 when `version` is not the current one)"});

  server.addRoute({"DELETE", "/api/v1/reports/{id}", manage_any,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto r = visibleReport(ctx, store);
                     if (!r) return fail(r.error());
                     auto st = store.reports().deleteReport(r->id);
                     if (!st) return fail(st.error());
                     Reply reply;
                     reply.status = 204;
                     reply.text = "";
                     return reply;
                   },
                   "Delete a report, its versions and schedules (runs stay)"});

  server.addRoute({"GET", "/api/v1/reports/{id}/versions", read_any,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto r = visibleReport(ctx, store);
                     if (!r) return fail(r.error());
                     auto versions = store.reports().listVersions(r->id);
                     if (!versions) return fail(versions.error());
                     Json items = Json::array();
                     for (const auto& v : *versions)
                       items.push_back({{"version", v.version},
                                        {"author", v.author},
                                        {"created_at", core::formatRfc3339(v.created_at)},
                                        {"spec", Json::parse(v.spec_json, nullptr, false)}});
                     return Reply::json({{"items", std::move(items)}});
                   },
                   "Every version of a report, newest first"});

  server.addRoute(
      {"GET", "/api/v1/reports/{id}/render", read_any,
       [&store](RequestContext& ctx) -> core::Result<Reply> {
         auto r = visibleReport(ctx, store);
         if (!r) return fail(r.error());
         std::string doc = r->spec_json;
         if (auto v = ctx.queryValue("version")) {
           int version = 0;
           try {
             version = std::stoi(*v);
           } catch (...) {
             return fail(ErrorCode::kInvalidArgument, "must be a version number", "version");
           }
           auto stored = store.reports().getVersion(r->id, version);
           if (!stored) return fail(stored.error());
           doc = stored->spec_json;
         }
         return renderReply(ctx, store, doc, r->project_id, r->name, report::Format::kPdf,
                            false);
       },
       "Render a report: ?format=pdf|png|svg|html|csv, page_size, grayscale, widget, version"});

  server.addRoute({"GET", "/api/v1/reports/{id}/schedules", read_any,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto r = visibleReport(ctx, store);
                     if (!r) return fail(r.error());
                     auto list = store.reports().listSchedules(r->id);
                     if (!list) return fail(list.error());
                     Json items = Json::array();
                     for (const auto& s : *list) items.push_back(encodeSchedule(store, s));
                     return Reply::json({{"items", std::move(items)}});
                   },
                   "A report's schedules"});

  server.addRoute({"POST", "/api/v1/reports/{id}/schedules", manage_any,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto r = visibleReport(ctx, store);
                     if (!r) return fail(r.error());
                     auto body = ctx.jsonBody();
                     if (!body) return fail(body.error());
                     store::ReportSchedule s;
                     s.report_id = r->id;
                     auto prepared = scheduleFromBody(store, *r, *body, s);
                     if (!prepared) return fail(prepared.error());
                     auto created = store.reports().createSchedule(*prepared);
                     if (!created) return fail(created.error());
                     return Reply::json(encodeSchedule(store, *created), 201);
                   },
                   "Schedule a report: cron, time_zone, recipients, format"});

  server.addRoute(
      {"PATCH", "/api/v1/reports/{id}/schedules/{schedule}", manage_any,
       [&store](RequestContext& ctx) -> core::Result<Reply> {
         auto r = visibleReport(ctx, store);
         if (!r) return fail(r.error());
         auto sid = ctx.idParam("schedule");
         if (!sid) return fail(sid.error());
         auto s = store.reports().getSchedule(*sid);
         if (!s || s->report_id != r->id)
           return fail(ErrorCode::kNotFound, "no schedule " + std::to_string(*sid), "schedule");
         auto body = ctx.jsonBody();
         if (!body) return fail(body.error());
         auto prepared = scheduleFromBody(store, *r, *body, *s);
         if (!prepared) return fail(prepared.error());
         auto updated = store.reports().updateSchedule(*prepared);
         if (!updated) return fail(updated.error());
         return Reply::json(encodeSchedule(store, *updated));
       },
       "Change a schedule"});

  server.addRoute(
      {"DELETE", "/api/v1/reports/{id}/schedules/{schedule}", manage_any,
       [&store](RequestContext& ctx) -> core::Result<Reply> {
         auto r = visibleReport(ctx, store);
         if (!r) return fail(r.error());
         auto sid = ctx.idParam("schedule");
         if (!sid) return fail(sid.error());
         auto s = store.reports().getSchedule(*sid);
         if (!s || s->report_id != r->id)
           return fail(ErrorCode::kNotFound, "no schedule " + std::to_string(*sid), "schedule");
         auto st = store.reports().deleteSchedule(*sid);
         if (!st) return fail(st.error());
         Reply reply;
         reply.status = 204;
         reply.text = "";
         return reply;
       },
       "Delete a schedule (its runs stay)"});

  server.addRoute({"GET", "/api/v1/reports/{id}/runs", read_any,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto r = visibleReport(ctx, store);
                     if (!r) return fail(r.error());
                     auto runs = store.reports().listRuns(std::nullopt, r->id, 100);
                     if (!runs) return fail(runs.error());
                     Json items = Json::array();
                     for (const auto& run : *runs) items.push_back(encodeRun(run));
                     return Reply::json({{"items", std::move(items)}});
                   },
                   "A report's scheduled runs and their results, newest first"});

  server.addRoute(
      {"GET", "/api/v1/reports/{id}/runs/{run}/file", read_any,
       [&store](RequestContext& ctx) -> core::Result<Reply> {
         auto r = visibleReport(ctx, store);
         if (!r) return fail(r.error());
         auto rid = ctx.idParam("run");
         if (!rid) return fail(rid.error());
         auto run = store.reports().getRun(*rid);
         if (!run || run->report_id != r->id)
           return fail(ErrorCode::kNotFound, "no run " + std::to_string(*rid) + " of this report",
                       "run");
         auto file = store.reports().runFile(*rid);
         if (!file) return fail(file.error());
         Reply reply;
         reply.content_type = file->content_type;
         reply.text = std::move(file->bytes);
         std::string name;
         for (char c : file->file_name)
           name += std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ? c : '-';
         reply.headers.push_back({"Content-Disposition", "attachment; filename=\"" + name + "\""});
         return reply;
       },
       "The file a scheduled run rendered and mailed (kept 30 days after its e-mails finished)"});
}

}  // namespace td::server
