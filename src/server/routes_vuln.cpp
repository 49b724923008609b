// Vulnerability management routes: assets, SBOM uploads and their history, findings, advisories.
// Assets belong to a project: collection routes work on the selected project, item routes check
// that the caller sees the asset's project (404 otherwise, so existence is not leaked).
// Advisories are shared by every organisation: anyone signed in reads them; only administrators
// of a top-level organisation import them, since an advisory changes every tenant's findings.
#include "server/routes_vuln.h"

#include <httplib.h>

#include <set>

#include "core/text.h"
#include "server/json_codec.h"
#include "vuln/sbom.h"

namespace td::server {
namespace {

using core::ErrorCode;
using core::fail;
using store::Role;
using store::Scope;

Json encodeAsset(const store::AssetRecord& a) {
  Json counts = Json::object();
  for (int s = 0; s < core::kSeverityCount; ++s)
    counts[std::string(core::severityName(static_cast<core::Severity>(s)))] =
        a.open_findings[static_cast<size_t>(s)];
  Json j = {{"id", a.id},
            {"project_id", a.project_id},
            {"name", a.name},
            {"host", a.host},
            {"owner", a.owner},
            {"entity_group", a.entity_group},
            {"description", a.description},
            {"criticality", a.criticality},
            {"created_at", core::formatRfc3339(a.created_at)},
            {"updated_at", core::formatRfc3339(a.updated_at)},
            {"current_sbom_id", a.current_sbom_id ? Json(*a.current_sbom_id) : Json(nullptr)},
            {"last_scan_at",
             a.last_scan_at ? Json(core::formatRfc3339(*a.last_scan_at)) : Json(nullptr)},
            {"open_findings", std::move(counts)}};
  return j;
}

Json encodeSbom(const store::SbomRecord& s) {
  return {{"id", s.id},
          {"asset_id", s.asset_id},
          {"uploaded_at", core::formatRfc3339(s.uploaded_at)},
          {"uploaded_by", s.uploaded_by},
          {"format", s.format},
          {"spec_version", s.spec_version},
          {"serial", s.serial},
          {"subject", s.subject},
          {"sha256", s.sha256},
          {"components", s.component_count}};
}

Json encodeComponent(const store::SbomComponentRecord& c) {
  return {{"ref", c.ref},           {"name", c.name},       {"version", c.version},
          {"purl", c.purl},         {"ecosystem", c.ecosystem}, {"package", c.package}};
}

Json encodeFinding(const store::FindingRecord& f) {
  Json j = {{"id", f.id},
            {"asset_id", f.asset_id},
            {"vulnerability", f.display_id},
            {"advisory", f.advisory_id},
            {"ecosystem", f.ecosystem},
            {"package", f.package},
            {"version", f.version},
            {"purl", f.purl},
            {"fixed_versions", f.fixed_versions},
            {"severity", core::severityName(f.severity)},
            {"score", f.score},
            {"state", store::findingStateName(f.state)},
            {"reason", f.reason},
            {"note", f.note},
            {"first_seen", core::formatRfc3339(f.first_seen)},
            {"last_seen", core::formatRfc3339(f.last_seen)},
            {"resolved_at", f.resolved_at ? Json(core::formatRfc3339(*f.resolved_at)) : Json()},
            {"threat_id", f.threat_id ? Json(*f.threat_id) : Json(nullptr)}};
  Json detail = Json::parse(f.detail_json, nullptr, false);
  if (!detail.is_discarded() && detail.is_object()) {
    for (const char* k : {"aliases", "related_advisories", "summary", "references", "cvss", "vex"})
      if (detail.contains(k)) j[k] = detail[k];
  }
  return j;
}

Json encodeScan(const ScanSummary& s) {
  Json not_checked = Json::array();
  for (const auto& k : s.not_checked)
    not_checked.push_back({{"ref", k.ref},
                           {"name", k.name},
                           {"version", k.version},
                           {"purl", k.purl},
                           {"reason", k.reason}});
  return {{"components", s.components},
          {"open", s.open},
          {"added", s.added},
          {"resolved", s.resolved},
          {"suppressed", s.suppressed},
          {"threats_created", s.threats_created},
          {"threats_updated", s.threats_updated},
          {"threats_closed", s.threats_closed},
          {"threats_reopened", s.threats_reopened},
          {"not_checked", std::move(not_checked)},
          {"warnings", s.warnings}};
}

Json encodeAdvisory(const store::AdvisoryRecord& a) {
  Json packages = Json::array();
  for (const auto& p : a.packages) packages.push_back({{"ecosystem", p.ecosystem}, {"name", p.name}});
  Json j = {{"id", a.id},
            {"aliases", a.aliases},
            {"summary", a.summary},
            {"severity", a.severity},
            {"cvss", a.cvss ? Json(*a.cvss) : Json(nullptr)},
            {"modified", a.modified},
            {"published", a.published},
            {"withdrawn", a.withdrawn.empty() ? Json(nullptr) : Json(a.withdrawn)},
            {"packages", std::move(packages)},
            {"source", a.source},
            {"imported_at", core::formatRfc3339(a.imported_at)}};
  return j;
}

Json encodeImport(const AdvisoryImportResult& r) {
  Json errors = Json::array();
  for (const auto& e : r.report.errors)
    errors.push_back({{"where", e.field}, {"message", e.message}});
  std::vector<std::string> warnings = r.report.warnings;
  if (warnings.size() > 100) warnings.resize(100);
  return {{"documents", r.report.documents},
          {"imported", r.report.imported},
          {"replaced", r.report.replaced},
          {"withdrawn", r.report.withdrawn},
          {"stored", r.stored},
          {"git_ranges", r.report.git_ranges},
          {"unsupported_ecosystems", r.report.unsupported_ecosystems},
          {"assets_rescanned", r.assets_rescanned},
          {"threats_created", r.totals.threats_created},
          {"threats_closed", r.totals.threats_closed},
          {"errors", std::move(errors)},
          {"warnings", warnings}};
}

// The asset in the path, if the caller may see its project; 404 otherwise.
core::Result<store::AssetRecord> pathAsset(const RequestContext& ctx, store::Store& store) {
  auto id = ctx.idParam("id");
  if (!id) return fail(id.error());
  auto asset = store.vuln().getAsset(*id);
  if (!asset || !ctx.visibleProject(asset->project_id))
    return fail(ErrorCode::kNotFound, "no asset " + std::to_string(*id), "id");
  return asset;
}

core::Result<std::string> optString(const Json& body, const char* key, size_t max) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::string();
  if (!it->is_string())
    return fail(ErrorCode::kInvalidArgument, std::string(key) + " must be a string", key);
  std::string v = it->get<std::string>();
  if (v.size() > max)
    return fail(ErrorCode::kUnprocessable,
                std::string(key) + " is at most " + std::to_string(max) + " bytes", key);
  return v;
}

// Applies the members of an asset body to `a`; `creating` requires a name.
core::Status decodeAsset(const Json& body, store::AssetRecord& a, bool creating) {
  if (!body.is_object())
    return fail(ErrorCode::kInvalidArgument, "the body must be a JSON object", "");
  static const std::set<std::string> kKnown = {"name",         "host",        "owner",
                                               "entity_group", "description", "criticality"};
  for (const auto& [k, v] : body.items())
    if (!kKnown.count(k))
      return fail(ErrorCode::kInvalidArgument,
                  "unknown member '" + k.substr(0, 64) +
                      "' (known: name, host, owner, entity_group, description, criticality)",
                  k.substr(0, 64));
  if (creating && !body.contains("name"))
    return fail(ErrorCode::kUnprocessable, "an asset needs a name", "name");
  for (const auto& [key, target] :
       {std::pair<const char*, std::string*>{"name", &a.name}, {"host", &a.host},
        {"owner", &a.owner}, {"entity_group", &a.entity_group}}) {
    if (!body.contains(key)) continue;
    auto v = optString(body, key, core::kMaxShortText);
    if (!v) return fail(v.error());
    *target = *v;
  }
  if (body.contains("description")) {
    auto v = optString(body, "description", core::kMaxDescriptionLength);
    if (!v) return fail(v.error());
    a.description = *v;
  }
  if (body.contains("criticality")) {
    const auto& c = body["criticality"];
    if (!c.is_number_integer())
      return fail(ErrorCode::kInvalidArgument, "criticality must be an integer 1-5",
                  "criticality");
    const auto v = c.get<std::int64_t>();
    if (v < 1 || v > 5)
      return fail(ErrorCode::kUnprocessable,
                  "criticality is 1 (lowest) to 5 (business-critical), got " + std::to_string(v),
                  "criticality");
    a.criticality = static_cast<int>(v);
  }
  if (core::trim(a.name).empty())
    return fail(ErrorCode::kUnprocessable, "an asset needs a name", "name");
  return {};
}

core::Result<int> intQuery(const RequestContext& ctx, const std::string& name, int def, int lo,
                           int hi) {
  auto v = ctx.queryValue(name);
  if (!v) return def;
  if (v->empty() || v->size() > 9 || v->find_first_not_of("0123456789") != std::string::npos)
    return fail(ErrorCode::kInvalidArgument, name + " must be a non-negative integer", name);
  const int n = std::stoi(*v);
  if (n < lo || n > hi)
    return fail(ErrorCode::kUnprocessable,
                name + " must be between " + std::to_string(lo) + " and " + std::to_string(hi),
                name);
  return n;
}

core::Result<store::FindingFilter> findingFilter(const RequestContext& ctx) {
  store::FindingFilter f;
  if (auto s = ctx.queryValue("state"); s && !s->empty() && *s != "all") {
    auto state = store::parseFindingState(*s);
    if (!state) return fail(state.error());
    f.state = *state;
  } else if (!s) {
    f.state = store::FindingState::kOpen;
  }
  auto limit = intQuery(ctx, "limit", 100, 1, 1000);
  if (!limit) return fail(limit.error());
  auto offset = intQuery(ctx, "offset", 0, 0, 100'000'000);
  if (!offset) return fail(offset.error());
  f.limit = *limit;
  f.offset = *offset;
  return f;
}

Reply findingPage(const store::FindingPage& page) {
  Json items = Json::array();
  for (const auto& f : page.items) items.push_back(encodeFinding(f));
  return Reply::json({{"items", std::move(items)}, {"total", page.total}});
}

}  // namespace

void addVulnRoutes(Server& server, VulnService& vuln) {
  store::Store& store = server.store();
  const Access read{false, Role::kReadonly, Scope::kRead, true};
  const Access read_item{false, Role::kReadonly, Scope::kRead, false};
  const Access write{false, Role::kOperator, Scope::kWrite, true};
  const Access write_item{false, Role::kOperator, Scope::kWrite, false};
  // Deleting an asset drops its inventory history: managers, never tokens.
  const Access remove{false, Role::kManager, Scope::kNone, false};
  // Advisories change every tenant's findings: administrators only, never tokens.
  const Access import{false, Role::kAdmin, Scope::kNone, false};

  server.addRoute({"GET", "/api/v1/assets", read,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto assets = store.vuln().listAssets({ctx.project().id});
                     if (!assets) return fail(assets.error());
                     Json items = Json::array();
                     for (const auto& a : *assets) items.push_back(encodeAsset(a));
                     return Reply::json({{"items", std::move(items)}});
                   },
                   "The selected project's assets with their open findings by severity"});

  server.addRoute({"POST", "/api/v1/assets", write,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto body = ctx.jsonBody();
                     if (!body) return fail(body.error());
                     store::AssetRecord a;
                     a.project_id = ctx.project().id;
                     if (auto s = decodeAsset(*body, a, true); !s) return fail(s.error());
                     auto created = store.vuln().createAsset(a);
                     if (!created) return fail(created.error());
                     return Reply::json(encodeAsset(*created), 201);
                   },
                   "Create an asset in the selected project"});

  server.addRoute({"GET", "/api/v1/assets/{id}", read_item,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto a = pathAsset(ctx, store);
                     if (!a) return fail(a.error());
                     return Reply::json(encodeAsset(*a));
                   },
                   "One asset"});

  server.addRoute({"PATCH", "/api/v1/assets/{id}", write_item,
                   [&store, &vuln](RequestContext& ctx) -> core::Result<Reply> {
                     auto a = pathAsset(ctx, store);
                     if (!a) return fail(a.error());
                     auto body = ctx.jsonBody();
                     if (!body) return fail(body.error());
                     const int criticality = a->criticality;
                     if (auto s = decodeAsset(*body, *a, false); !s) return fail(s.error());
                     auto updated = store.vuln().updateAsset(*a);
                     if (!updated) return fail(updated.error());
                     // Criticality moves every finding's severity and score.
                     if (updated->criticality != criticality && updated->current_sbom_id) {
                       if (auto s = vuln.scanAsset(updated->id); !s) return fail(s.error());
                       updated = store.vuln().getAsset(updated->id);
                       if (!updated) return fail(updated.error());
                     }
                     return Reply::json(encodeAsset(*updated));
                   },
                   "Change an asset's name, host, owner, entity group, description or criticality"});

  server.addRoute({"DELETE", "/api/v1/assets/{id}", remove,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto a = pathAsset(ctx, store);
                     if (!a) return fail(a.error());
                     if (auto s = store.vuln().deleteAsset(a->id); !s) return fail(s.error());
                     Reply r;
                     r.status = 204;
                     return r;
                   },
                   "Delete an asset with its SBOMs and findings (its threats stay)"});

  server.addRoute({"POST", "/api/v1/assets/{id}/sbom", write_item,
                   [&store, &vuln](RequestContext& ctx) -> core::Result<Reply> {
                     auto a = pathAsset(ctx, store);
                     if (!a) return fail(a.error());
                     vuln::SbomOptions options;
                     if (auto strict = ctx.queryValue("strict"))
                       options.strict_license_ids = *strict == "true" || *strict == "1";
                     auto uploaded = vuln.uploadSbom(a->id, ctx.request().body,
                                                     ctx.principal().actor(), options);
                     if (!uploaded) return fail(uploaded.error());
                     Json body = {{"sbom", encodeSbom(uploaded->sbom)},
                                  {"warnings", uploaded->warnings},
                                  {"scan", encodeScan(uploaded->scan)}};
                     return Reply::json(std::move(body), 201);
                   },
                   "Upload an SBOM (CycloneDX 1.2-1.7 or SPDX JSON) as the asset's inventory and "
                   "rescan"});

  server.addRoute({"GET", "/api/v1/assets/{id}/sboms", read_item,
                   [&store, &vuln](RequestContext& ctx) -> core::Result<Reply> {
                     auto a = pathAsset(ctx, store);
                     if (!a) return fail(a.error());
                     auto history = vuln.sbomHistory(a->id);
                     if (!history) return fail(history.error());
                     Json items = Json::array();
                     for (const auto& h : *history) {
                       Json j = encodeSbom(h.sbom);
                       Json added = Json::array(), removed = Json::array(),
                            changed = Json::array();
                       for (const auto& c : h.added) added.push_back(encodeComponent(c));
                       for (const auto& c : h.removed) removed.push_back(encodeComponent(c));
                       for (const auto& [from, to] : h.changed)
                         changed.push_back({{"name", to.name},
                                            {"ecosystem", to.ecosystem},
                                            {"package", to.package},
                                            {"from", from.version},
                                            {"to", to.version}});
                       j["added"] = std::move(added);
                       j["removed"] = std::move(removed);
                       j["changed"] = std::move(changed);
                       items.push_back(std::move(j));
                     }
                     return Reply::json({{"items", std::move(items)}});
                   },
                   "The asset's SBOM uploads, newest first, each with the components it added, "
                   "removed or changed"});

  server.addRoute({"GET", "/api/v1/assets/{id}/sboms/{sbom}", read_item,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto a = pathAsset(ctx, store);
                     if (!a) return fail(a.error());
                     auto sid = ctx.idParam("sbom");
                     if (!sid) return fail(sid.error());
                     const bool raw = ctx.queryValue("document").value_or("") == "true";
                     auto s = store.vuln().getSbom(*sid, raw);
                     if (!s || s->asset_id != a->id)
                       return fail(ErrorCode::kNotFound, "no SBOM " + std::to_string(*sid),
                                   "sbom");
                     if (raw) {
                       Reply r;
                       r.text = s->document;
                       return r;
                     }
                     auto comps = store.vuln().sbomComponents(s->id);
                     if (!comps) return fail(comps.error());
                     Json j = encodeSbom(*s);
                     Json items = Json::array();
                     for (const auto& c : *comps) items.push_back(encodeComponent(c));
                     j["component_list"] = std::move(items);
                     return Reply::json(std::move(j));
                   },
                   "One SBOM upload with its components (?document=true: the document as "
                   "uploaded)"});

  server.addRoute({"GET", "/api/v1/assets/{id}/findings", read_item,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto a = pathAsset(ctx, store);
                     if (!a) return fail(a.error());
                     auto f = findingFilter(ctx);
                     if (!f) return fail(f.error());
                     f->asset_id = a->id;
                     auto page = store.vuln().listFindings(*f);
                     if (!page) return fail(page.error());
                     return findingPage(*page);
                   },
                   "The asset's findings (?state=open|resolved|suppressed|all, default open)"});

  server.addRoute({"POST", "/api/v1/assets/{id}/scan", write_item,
                   [&store, &vuln](RequestContext& ctx) -> core::Result<Reply> {
                     auto a = pathAsset(ctx, store);
                     if (!a) return fail(a.error());
                     auto s = vuln.scanAsset(a->id);
                     if (!s) return fail(s.error());
                     return Reply::json(encodeScan(*s));
                   },
                   "Rescan the asset's current SBOM now"});

  server.addRoute({"GET", "/api/v1/findings", read,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto f = findingFilter(ctx);
                     if (!f) return fail(f.error());
                     f->projects = {ctx.project().id};
                     auto page = store.vuln().listFindings(*f);
                     if (!page) return fail(page.error());
                     return findingPage(*page);
                   },
                   "Findings of every asset of the selected project"});

  server.addRoute({"GET", "/api/v1/advisories", read_item,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     store::AdvisoryListFilter f;
                     f.query = ctx.queryValue("q").value_or("");
                     f.ecosystem = ctx.queryValue("ecosystem").value_or("");
                     f.package = ctx.queryValue("package").value_or("");
                     for (const auto* s : {&f.query, &f.ecosystem, &f.package})
                       if (s->size() > core::kMaxShortText)
                         return fail(ErrorCode::kUnprocessable, "a filter is at most 256 bytes",
                                     "q");
                     if (auto w = ctx.queryValue("withdrawn")) {
                       if (*w != "true" && *w != "false")
                         return fail(ErrorCode::kInvalidArgument, "withdrawn is true or false",
                                     "withdrawn");
                       f.withdrawn = *w == "true";
                     }
                     auto limit = intQuery(ctx, "limit", 50, 1, 500);
                     if (!limit) return fail(limit.error());
                     auto offset = intQuery(ctx, "offset", 0, 0, 100'000'000);
                     if (!offset) return fail(offset.error());
                     f.limit = *limit;
                     f.offset = *offset;
                     auto page = store.vuln().listAdvisories(f);
                     if (!page) return fail(page.error());
                     Json items = Json::array();
                     for (const auto& a : page->items) items.push_back(encodeAdvisory(a));
                     return Reply::json({{"items", std::move(items)}, {"total", page->total}});
                   },
                   "Imported advisories (?q=, ecosystem=, package=, withdrawn=, limit=, offset=)"});

  server.addRoute({"GET", "/api/v1/advisories/{id}", read_item,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     const std::string id = ctx.param("id");
                     auto a = store.vuln().getAdvisory(id);
                     if (!a) return fail(a.error());
                     Json j = encodeAdvisory(*a);
                     j["osv"] = Json::parse(a->document, nullptr, false);
                     if (j["osv"].is_discarded()) j["osv"] = nullptr;
                     return Reply::json(std::move(j));
                   },
                   "One advisory with its OSV document"});

  server.addRoute({"POST", "/api/v1/advisories", import,
                   [&vuln, &store](RequestContext& ctx) -> core::Result<Reply> {
                     const auto& user = ctx.principal().user;
                     if (!user) return fail(ErrorCode::kForbidden, "administrators only");
                     // Advisories are shared by every tenant: only administrators of a
                     // top-level organisation import them.
                     auto org = store.getOrg(user->org_id);
                     if (!org) return fail(org.error());
                     if (org->parent_id)
                       return fail(ErrorCode::kForbidden,
                                   "advisories are shared by every organisation; only "
                                   "administrators of a top-level organisation import them");
                     auto body = ctx.jsonBody();  // malformed JSON: 400 before anything runs
                     if (!body) return fail(body.error());
                     auto result = vuln.importAdvisoryJson(ctx.request().body, "api");
                     if (!result) return fail(result.error());
                     if (result->report.imported == 0 && !result->report.errors.empty()) {
                       const core::Error& e = result->report.errors.front();
                       return fail(ErrorCode::kUnprocessable,
                                   "no advisory imported: " + e.message, e.field);
                     }
                     return Reply::json(encodeImport(*result));
                   },
                   "Import OSV advisories (one document or an array) and rescan every asset"});
}

}  // namespace td::server
