#include "server/routes_intel.h"

#include <httplib.h>

#include <set>

#include "core/time.h"
#include "intel/indicator.h"
#include "intel/sync/intel_processor.h"
#include "intel/url.h"
#include "server/json_codec.h"

namespace td::server {
namespace {

using core::ErrorCode;
using core::fail;
using store::Role;
using store::Scope;

constexpr int kMaxListLimit = 1000;

Json timeOrNull(core::TimeMs t) {
  if (t == 0) return nullptr;
  return core::formatRfc3339(t);
}
Json timeOrNull(const std::optional<core::TimeMs>& t) {
  if (!t) return nullptr;
  return timeOrNull(*t);
}

Json jsonOrEmpty(const std::string& text, Json fallback) {
  if (text.empty()) return fallback;
  Json j = Json::parse(text, nullptr, false);
  return j.is_discarded() ? fallback : j;
}

// Never the secret: only whether there is one, and the variable it is read from.
Json encodeFeed(const store::IntelFeed& f) {
  Json j = {{"id", f.id},
            {"name", f.name},
            {"type", f.type},
            {"source", f.source},
            {"mapping", jsonOrEmpty(f.mapping_json, Json::object())},
            {"refresh_minutes", f.refresh_minutes},
            {"default_confidence", f.default_confidence},
            {"enabled", f.enabled},
            {"username", f.username},
            {"has_secret", !f.secret.empty()},
            {"created_at", timeOrNull(f.created_at)},
            {"updated_at", timeOrNull(f.updated_at)},
            {"last_import_at", timeOrNull(f.last_import_at)},
            {"last_status", f.last_status},
            {"next_run_at", timeOrNull(f.next_run_at)},
            {"cursor", f.cursor},
            {"indicator_count", f.indicator_count}};
  if (f.secret.rfind("env:", 0) == 0) j["secret_env"] = f.secret.substr(4);
  return j;
}

Json encodeImport(const store::IntelImport& i, bool with_report) {
  Json j = {{"id", i.id},
            {"feed_id", i.feed_id},
            {"started_at", timeOrNull(i.started_at)},
            {"finished_at", timeOrNull(i.finished_at)},
            {"ok", i.ok},
            {"error", i.error},
            {"added", i.added},
            {"updated", i.updated},
            {"expired", i.expired},
            {"suppressed", i.suppressed},
            {"rejected", i.rejected},
            {"trigger", i.trigger}};
  if (with_report) j["report"] = jsonOrEmpty(i.report_json, Json::object());
  return j;
}

Json encodeIndicatorRow(const store::IntelIndicatorRow& r) {
  Json j = {{"id", r.id},
            {"feed_id", r.feed_id},
            {"type", r.type},
            {"value", r.value},
            {"external_id", r.external_id},
            {"confidence", r.confidence < 0 ? Json(nullptr) : Json(r.confidence)},
            {"first_seen", timeOrNull(r.first_seen)},
            {"last_seen", timeOrNull(r.last_seen)},
            {"valid_from", timeOrNull(r.valid_from)},
            {"valid_until", timeOrNull(r.valid_until)},
            {"context", jsonOrEmpty(r.context_json, Json::object())}};
  if (!r.atoms_json.empty()) j["atoms"] = jsonOrEmpty(r.atoms_json, Json::array());
  return j;
}

core::Status onlyKeys(const Json& body, std::initializer_list<std::string_view> keys) {
  for (const auto& [key, value] : body.items()) {
    bool known = false;
    for (auto k : keys) known = known || key == k;
    if (!known) {
      std::string list;
      for (auto k : keys) list += (list.empty() ? "" : ", ") + std::string(k);
      return fail(ErrorCode::kInvalidArgument,
                  "unknown member '" + key.substr(0, 64) + "' (known: " + list + ")", key);
    }
  }
  return {};
}

// Applies the members of `body` to `feed` (create: all settings; patch: those present).
core::Status applyFeedBody(const Json& body, store::IntelFeed& feed, bool create) {
  if (!body.is_object())
    return fail(ErrorCode::kInvalidArgument, "the body must be a JSON object", "");
  if (auto s = onlyKeys(body, {"name", "type", "source", "mapping", "refresh_minutes",
                               "default_confidence", "enabled", "username", "secret"});
      !s)
    return s;
  auto str = [&](const char* key, std::string& out, bool required) -> core::Status {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) {
      if (required && create)
        return fail(ErrorCode::kUnprocessable, std::string(key) + " is required", key);
      if (it != body.end() && it->is_null() && !required) out.clear();
      return {};
    }
    if (!it->is_string())
      return fail(ErrorCode::kInvalidArgument, std::string(key) + " must be a string", key);
    out = it->get<std::string>();
    return {};
  };
  auto integer = [&](const char* key, int& out) -> core::Status {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return {};
    if (!it->is_number_integer())
      return fail(ErrorCode::kInvalidArgument, std::string(key) + " must be an integer", key);
    const auto v = it->get<std::int64_t>();
    if (v < -1 || v > 10'000'000)
      return fail(ErrorCode::kUnprocessable, std::string(key) + " is out of range", key);
    out = static_cast<int>(v);
    return {};
  };
  for (auto [key, out, required] :
       {std::tuple<const char*, std::string*, bool>{"name", &feed.name, true},
        {"type", &feed.type, true},
        {"source", &feed.source, true},
        {"username", &feed.username, false},
        {"secret", &feed.secret, false}})
    if (auto s = str(key, *out, required); !s) return s;
  if (auto s = integer("refresh_minutes", feed.refresh_minutes); !s) return s;
  if (auto s = integer("default_confidence", feed.default_confidence); !s) return s;
  if (auto it = body.find("enabled"); it != body.end() && !it->is_null()) {
    if (!it->is_boolean())
      return fail(ErrorCode::kInvalidArgument, "enabled must be true or false", "enabled");
    feed.enabled = it->get<bool>();
  }
  if (auto it = body.find("mapping"); it != body.end()) {
    if (it->is_null()) {
      feed.mapping_json = "{}";
    } else if (!it->is_object()) {
      return fail(ErrorCode::kInvalidArgument, "mapping must be an object", "mapping");
    } else {
      feed.mapping_json = it->dump();
    }
  }
  return {};
}

// A feed of the selected project's organisation; 404 otherwise (other organisations' feeds are
// not revealed).
core::Result<store::IntelFeed> pathFeed(const RequestContext& ctx, store::Store& store) {
  auto id = ctx.idParam("id");
  if (!id) return fail(id.error());
  auto feed = store.intel().getFeed(*id);
  if (!feed || feed->org_id != ctx.project().org_id)
    return fail(ErrorCode::kNotFound, "no intel feed " + std::to_string(*id), "id");
  return feed;
}

// An upstream server refusing the feed's credentials is not the caller failing to sign in.
core::Error importError(core::Error e) {
  if (e.code == ErrorCode::kUnauthenticated || e.code == ErrorCode::kForbidden)
    e.code = ErrorCode::kUnprocessable;
  return e;
}

Json encodeOutcome(const intel::sync::ImportOutcome& o) {
  Json j = encodeImport(o.record, true);
  return j;
}

core::Result<int> intQuery(const RequestContext& ctx, const std::string& name, int def, int min,
                           int max) {
  auto v = ctx.queryValue(name);
  if (!v) return def;
  if (v->empty() || v->size() > 9 || v->find_first_not_of("0123456789") != std::string::npos)
    return fail(ErrorCode::kInvalidArgument, name + " must be a number", name);
  int n = std::stoi(*v);
  if (n < min || n > max)
    return fail(ErrorCode::kUnprocessable,
                name + " must be " + std::to_string(min) + "-" + std::to_string(max), name);
  return n;
}

// What an event carrying `value` would match in the live index: exact values, CIDR ranges
// holding an address, parent domains of a host, the host of a URL.
Json liveMatches(const intel::Index& ix, const intel::Normalized& n) {
  std::set<intel::IndicatorId> ids;
  auto hit = [&](std::uint32_t target) {
    if (target & intel::Index::kAtomBit) {
      ids.insert(ix.atom(target).compound);
    } else {
      ids.insert(target);
    }
  };
  using intel::IndicatorType;
  switch (n.type) {
    case IndicatorType::kIpv4:
      if (auto ip = intel::parseIpv4(n.value)) ix.findIpv4(*ip, hit);
      break;
    case IndicatorType::kIpv6:
      if (auto ip = intel::parseIpv6(n.value)) ix.findIpv6(*ip, hit);
      break;
    case IndicatorType::kDomain:
      ix.findDomain(n.value, hit);
      break;
    case IndicatorType::kUrl: {
      ix.findString(IndicatorType::kUrl, n.value, hit);
      auto host = intel::urlHost(n.value);
      if (!host.empty()) {
        if (auto ip = intel::parseIpv4(host)) {
          ix.findIpv4(*ip, hit);
        } else {
          ix.findDomain(intel::normalizeDomain(host), hit);
        }
      }
      break;
    }
    case IndicatorType::kMd5:
    case IndicatorType::kSha1:
    case IndicatorType::kSha256:
    case IndicatorType::kSha512:
      ix.findHash(n.value, hit);
      break;
    case IndicatorType::kEmail:
    case IndicatorType::kFileName:
      ix.findString(n.type, n.value, hit);
      break;
    default:
      if (auto id = ix.findExact(n.type, n.value)) ids.insert(*id);
      break;
  }
  Json out = Json::array();
  const core::TimeMs now = core::nowMs();
  for (auto id : ids) {
    if (out.size() >= 100) break;
    auto v = ix.view(id);
    Json feeds = Json::array();
    for (const auto& s : v.sources)
      feeds.push_back({{"feed", s.feed},
                       {"external_id", s.external_id},
                       {"confidence", s.confidence < 0 ? Json(nullptr) : Json(s.confidence)}});
    out.push_back({{"type", intel::indicatorTypeName(v.type)},
                   {"value", v.value},
                   {"confidence", v.confidence},
                   {"active", ix.activeAt(id, now)},
                   {"atoms", ix.atomCount(id)},
                   {"feeds", std::move(feeds)}});
  }
  return out;
}

Json encodeSettings(const store::IntelSettings& s) {
  return {{"project_id", s.project_id},
          {"allow", s.allow},
          {"min_bytes", s.min_bytes},
          {"ignore_ports", s.ignore_ports},
          {"service_ports", s.service_ports},
          {"unsafe_ports", s.unsafe_ports},
          {"suppression_minutes", s.suppression_minutes},
          {"updated_at", timeOrNull(s.updated_at)}};
}

// PUT body → settings: every member optional (absent: the default), unknown members refused, each
// error naming its member ("allow[2]", "unsafe_ports[0]").
core::Result<store::IntelSettings> decodeSettings(const Json& body, core::ProjectId project) {
  if (!body.is_object())
    return fail(ErrorCode::kInvalidArgument, "the body must be a JSON object", "");
  if (auto s = onlyKeys(body, {"allow", "min_bytes", "ignore_ports", "service_ports",
                               "unsafe_ports", "suppression_minutes", "project_id", "updated_at"});
      !s)
    return fail(s.error());
  store::IntelSettings out;
  out.project_id = project;
  if (auto it = body.find("allow"); it != body.end() && !it->is_null()) {
    if (!it->is_array())
      return fail(ErrorCode::kInvalidArgument, "allow must be an array of strings", "allow");
    if (it->size() > intel::sync::kMaxAllowEntries)
      return fail(ErrorCode::kUnprocessable,
                  "allow has more than " + std::to_string(intel::sync::kMaxAllowEntries) +
                      " entries",
                  "allow");
    for (size_t i = 0; i < it->size(); ++i) {
      if (!(*it)[i].is_string())
        return fail(ErrorCode::kInvalidArgument, "allow entries must be strings",
                    "allow[" + std::to_string(i) + "]");
      out.allow.push_back((*it)[i].get<std::string>());
    }
  }
  auto integer = [&](const char* key, std::int64_t& v) -> core::Status {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) return {};
    if (!it->is_number_integer())
      return fail(ErrorCode::kInvalidArgument, std::string(key) + " must be an integer", key);
    v = it->get<std::int64_t>();
    return {};
  };
  if (auto s = integer("min_bytes", out.min_bytes); !s) return fail(s.error());
  if (auto s = integer("suppression_minutes", out.suppression_minutes); !s) return fail(s.error());
  for (auto [key, ports] : {std::pair<const char*, std::vector<int>*>{"ignore_ports", &out.ignore_ports},
                            {"service_ports", &out.service_ports},
                            {"unsafe_ports", &out.unsafe_ports}}) {
    auto it = body.find(key);
    if (it == body.end() || it->is_null()) continue;
    if (!it->is_array())
      return fail(ErrorCode::kInvalidArgument, std::string(key) + " must be an array of ports",
                  key);
    if (it->size() > 65535)
      return fail(ErrorCode::kUnprocessable, std::string(key) + " is too long", key);
    for (size_t i = 0; i < it->size(); ++i) {
      const Json& p = (*it)[i];
      const std::string field = std::string(key) + "[" + std::to_string(i) + "]";
      if (!p.is_number_integer())
        return fail(ErrorCode::kInvalidArgument, "ports are integers", field);
      const auto v = p.get<std::int64_t>();
      if (v < 1 || v > 65535)
        return fail(ErrorCode::kUnprocessable,
                    "port " + std::to_string(v) + " is not in 1-65535", field);
      ports->push_back(static_cast<int>(v));
    }
  }
  // The same checks the matcher's options get (allow-list entries, ports in two classes, ranges).
  if (auto o = intel::sync::matcherOptionsOf(out); !o) return fail(o.error());
  return out;
}

}  // namespace

void addIntelRoutes(Server& server, intel::sync::FeedService& feeds) {
  store::Store& store = server.store();
  const Access read{false, Role::kReadonly, Scope::kRead, true};
  // Feeds are the organisation's configuration (like tags): managers change them, tokens never.
  const Access manage{false, Role::kManager, Scope::kNone, true};
  // Importing content is also what automation does: managers, or tokens with the write scope.
  const Access import{false, Role::kManager, Scope::kWrite, true};

  server.addRoute({"GET", "/api/v1/intel/feeds", read,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto list = store.intel().listFeeds(ctx.project().org_id);
                     if (!list) return fail(list.error());
                     Json items = Json::array();
                     for (const auto& f : *list) items.push_back(encodeFeed(f));
                     return Reply::json({{"items", std::move(items)}});
                   },
                   "The organisation's intel feeds"});

  server.addRoute({"POST", "/api/v1/intel/feeds", manage,
                   [&feeds](RequestContext& ctx) -> core::Result<Reply> {
                     auto body = ctx.jsonBody();
                     if (!body) return fail(body.error());
                     store::IntelFeed feed;
                     feed.org_id = ctx.project().org_id;
                     feed.mapping_json = "{}";
                     if (auto s = applyFeedBody(*body, feed, true); !s) return fail(s.error());
                     auto created = feeds.createFeed(feed);
                     if (!created) return fail(created.error());
                     return Reply::json(encodeFeed(*created), 201);
                   },
                   "Add an intel feed"});

  server.addRoute({"GET", "/api/v1/intel/feeds/{id}", read,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto feed = pathFeed(ctx, store);
                     if (!feed) return fail(feed.error());
                     Json j = encodeFeed(*feed);
                     auto imports = store.intel().listImports(feed->id, 1);
                     if (!imports) return fail(imports.error());
                     j["last_import"] =
                         imports->empty() ? Json(nullptr) : encodeImport(imports->front(), true);
                     return Reply::json(std::move(j));
                   },
                   "One intel feed with its last import report"});

  server.addRoute({"PATCH", "/api/v1/intel/feeds/{id}", manage,
                   [&store, &feeds](RequestContext& ctx) -> core::Result<Reply> {
                     auto feed = pathFeed(ctx, store);
                     if (!feed) return fail(feed.error());
                     auto body = ctx.jsonBody();
                     if (!body) return fail(body.error());
                     store::IntelFeed changed = *feed;
                     if (auto s = applyFeedBody(*body, changed, false); !s)
                       return fail(s.error());
                     auto updated = feeds.updateFeed(changed);
                     if (!updated) return fail(updated.error());
                     return Reply::json(encodeFeed(*updated));
                   },
                   "Change an intel feed's settings"});

  server.addRoute({"DELETE", "/api/v1/intel/feeds/{id}", manage,
                   [&store, &feeds](RequestContext& ctx) -> core::Result<Reply> {
                     auto feed = pathFeed(ctx, store);
                     if (!feed) return fail(feed.error());
                     if (auto s = feeds.deleteFeed(feed->id); !s) return fail(s.error());
                     Reply r;
                     r.status = 204;
                     return r;
                   },
                   "Delete an intel feed and its indicators"});

  server.addRoute({"POST", "/api/v1/intel/feeds/{id}/import", import,
                   [&store, &feeds](RequestContext& ctx) -> core::Result<Reply> {
                     auto feed = pathFeed(ctx, store);
                     if (!feed) return fail(feed.error());
                     auto outcome = feeds.importFeed(
                         feed->id, ctx.principal().isToken() ? "api-token" : "api");
                     if (!outcome) return fail(importError(outcome.error()));
                     return Reply::json(encodeOutcome(*outcome));
                   },
                   "Import an intel feed from its source now"});

  server.addRoute({"POST", "/api/v1/intel/feeds/{id}/upload", import,
                   [&store, &feeds](RequestContext& ctx) -> core::Result<Reply> {
                     auto feed = pathFeed(ctx, store);
                     if (!feed) return fail(feed.error());
                     const std::string& body = ctx.request().body;
                     if (body.empty())
                       return fail(ErrorCode::kInvalidArgument,
                                   "the body must hold the feed file (STIX, MISP or CSV; gzip "
                                   "allowed)",
                                   "body");
                     auto outcome = feeds.importContent(feed->id, body, "upload");
                     if (!outcome) return fail(importError(outcome.error()));
                     return Reply::json(encodeOutcome(*outcome));
                   },
                   "Import an uploaded file as the feed's content"});

  server.addRoute({"GET", "/api/v1/intel/feeds/{id}/imports", read,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto feed = pathFeed(ctx, store);
                     if (!feed) return fail(feed.error());
                     auto limit = intQuery(ctx, "limit", 20, 1, 200);
                     if (!limit) return fail(limit.error());
                     auto imports = store.intel().listImports(feed->id, *limit);
                     if (!imports) return fail(imports.error());
                     Json items = Json::array();
                     for (const auto& i : *imports) items.push_back(encodeImport(i, true));
                     return Reply::json({{"items", std::move(items)}});
                   },
                   "A feed's import reports, newest first"});

  server.addRoute({"GET", "/api/v1/intel/feeds/{id}/indicators", read,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto feed = pathFeed(ctx, store);
                     if (!feed) return fail(feed.error());
                     auto offset = intQuery(ctx, "offset", 0, 0, 100'000'000);
                     if (!offset) return fail(offset.error());
                     auto limit = intQuery(ctx, "limit", 100, 1, kMaxListLimit);
                     if (!limit) return fail(limit.error());
                     auto rows = store.intel().listIndicators(feed->id, *offset, *limit);
                     if (!rows) return fail(rows.error());
                     Json items = Json::array();
                     for (const auto& r : *rows) items.push_back(encodeIndicatorRow(r));
                     return Reply::json({{"items", std::move(items)},
                                         {"total", feed->indicator_count}});
                   },
                   "A feed's indicators, in import order"});

  server.addRoute({"GET", "/api/v1/intel/settings", read,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto s = store.intel().getSettings(ctx.project().id);
                     if (!s) return fail(s.error());
                     return Reply::json(encodeSettings(*s));
                   },
                   "The project's intel matching settings (allow-list, port classes, minimum "
                   "bytes, suppression period)"});

  server.addRoute({"PUT", "/api/v1/intel/settings", manage,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto body = ctx.jsonBody();
                     if (!body) return fail(body.error());
                     auto settings = decodeSettings(*body, ctx.project().id);
                     if (!settings) return fail(settings.error());
                     auto stored = store.intel().putSettings(*settings);
                     if (!stored) return fail(stored.error());
                     return Reply::json(encodeSettings(*stored));
                   },
                   "Replace the project's intel matching settings"});

  server.addRoute(
      {"GET", "/api/v1/intel/indicators", read,
       [&store, &feeds](RequestContext& ctx) -> core::Result<Reply> {
         auto value = ctx.queryValue("value");
         if (!value || value->empty())
           return fail(ErrorCode::kInvalidArgument, "give the value to look up as ?value=",
                       "value");
         if (value->size() > 8192)
           return fail(ErrorCode::kTooLarge, "value is longer than 8192 bytes", "value");
         Json answer = {{"query", *value}};
         auto normalized = intel::normalizeGuess(*value);
         std::vector<std::string> lookups{*value};
         if (normalized) {
           answer["type"] = intel::indicatorTypeName(normalized->type);
           answer["canonical"] = normalized->value;
           if (normalized->value != *value) lookups.push_back(normalized->value);
         } else {
           answer["type"] = nullptr;
           answer["canonical"] = nullptr;
         }
         const core::OrgId org = ctx.project().org_id;
         Json items = Json::array();
         std::set<std::int64_t> seen;
         for (const auto& v : lookups) {
           auto hits = store.intel().findIndicators({org}, v, 200);
           if (!hits) return fail(hits.error());
           for (const auto& h : *hits) {
             if (!seen.insert(h.row.id).second) continue;
             Json j = encodeIndicatorRow(h.row);
             j["feed"] = h.feed_name;
             items.push_back(std::move(j));
           }
         }
         answer["items"] = std::move(items);
         answer["matches"] = normalized ? liveMatches(*feeds.liveIndex(org)->load(), *normalized)
                                        : Json::array();
         return Reply::json(std::move(answer));
       },
       "Look up a value: the stored indicators with it and what an event carrying it matches"});
}

}  // namespace td::server
