#include "server/json_codec.h"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <limits>

#include "core/text.h"
#include "core/time.h"
#include "server/auth.h"

namespace td::server {
namespace {

using core::ErrorCode;
using core::fail;
using core::Result;
using core::Status;

std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string indexed(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

const char* typeName(const Json& j) { return j.type_name(); }

tl::unexpected<core::Error> wrongType(const std::string& field, std::string_view expected,
                                      const Json& got) {
  return fail(ErrorCode::kInvalidArgument,
              field + " must be " + std::string(expected) + ", not " + typeName(got), field);
}

Status expectObject(const Json& j, const std::string& path) {
  if (!j.is_object()) return wrongType(path.empty() ? "the body" : path, "an object", j);
  return {};
}

// Rejects members the decoder does not know, naming the first one: a typo such as "sevrity"
// must not be silently ignored.
Status onlyKeys(const Json& obj, const std::string& path,
                std::initializer_list<std::string_view> keys) {
  for (const auto& [key, value] : obj.items()) {
    bool known = false;
    for (std::string_view k : keys) known = known || key == k;
    if (!known) {
      std::string list;
      for (std::string_view k : keys) {
        if (!list.empty()) list += ", ";
        list += k;
      }
      return fail(ErrorCode::kInvalidArgument, "unknown member '" + key + "' (known: " + list + ")",
                  join(path, key));
    }
  }
  return {};
}

const Json* member(const Json& obj, std::string_view key) {
  auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

Status checkLength(std::string_view value, size_t max, const std::string& field) {
  if (value.size() > max)
    return fail(ErrorCode::kUnprocessable,
                field + " is " + std::to_string(value.size()) + " bytes long; the limit is " +
                    std::to_string(max),
                field);
  return {};
}

Result<std::optional<std::string>> optString(const Json& obj, std::string_view key,
                                             const std::string& path, size_t max) {
  const Json* v = member(obj, key);
  if (!v) return std::optional<std::string>{};
  const std::string field = join(path, key);
  if (!v->is_string()) return wrongType(field, "a string", *v);
  const auto& s = v->get_ref<const std::string&>();
  if (auto ok = checkLength(s, max, field); !ok) return fail(ok.error());
  return std::optional<std::string>(s);
}

Result<std::string> reqString(const Json& obj, std::string_view key, const std::string& path,
                              size_t max) {
  auto s = optString(obj, key, path, max);
  if (!s) return fail(s.error());
  if (!*s || core::trim(**s).empty())
    return fail(ErrorCode::kUnprocessable, join(path, key) + " is required", join(path, key));
  return **s;
}

Result<std::int64_t> toInt(const Json& v, const std::string& field, std::int64_t min,
                           std::int64_t max) {
  std::int64_t n = 0;
  if (v.is_number_unsigned()) {
    const auto u = v.get<std::uint64_t>();
    if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      return fail(ErrorCode::kUnprocessable,
                  field + " must be between " + std::to_string(min) + " and " + std::to_string(max),
                  field);
    n = static_cast<std::int64_t>(u);
  } else if (v.is_number_integer()) {
    n = v.get<std::int64_t>();
  } else {
    return wrongType(field, "an integer", v);
  }
  if (n < min || n > max)
    return fail(ErrorCode::kUnprocessable,
                field + " " + std::to_string(n) + " is out of range " + std::to_string(min) + "-" +
                    std::to_string(max),
                field);
  return n;
}

Result<std::optional<std::int64_t>> optInt(const Json& obj, std::string_view key,
                                           const std::string& path, std::int64_t min,
                                           std::int64_t max) {
  const Json* v = member(obj, key);
  if (!v) return std::optional<std::int64_t>{};
  auto n = toInt(*v, join(path, key), min, max);
  if (!n) return fail(n.error());
  return std::optional<std::int64_t>(*n);
}

// A string or an array of strings (a filter member's alternatives).
Result<std::vector<std::string>> stringList(const Json& obj, std::string_view key,
                                            const std::string& path, size_t max_items,
                                            size_t max_len) {
  std::vector<std::string> out;
  const Json* v = member(obj, key);
  if (!v) return out;
  const std::string field = join(path, key);
  if (v->is_string()) {
    if (auto ok = checkLength(v->get_ref<const std::string&>(), max_len, field); !ok)
      return fail(ok.error());
    out.push_back(v->get<std::string>());
    return out;
  }
  if (!v->is_array()) return wrongType(field, "a string or an array of strings", *v);
  if (v->size() > max_items)
    return fail(ErrorCode::kUnprocessable,
                field + " has " + std::to_string(v->size()) + " items; the limit is " +
                    std::to_string(max_items),
                field);
  for (size_t i = 0; i < v->size(); ++i) {
    const Json& item = (*v)[i];
    if (!item.is_string()) return wrongType(indexed(field, i), "a string", item);
    if (auto ok = checkLength(item.get_ref<const std::string&>(), max_len, indexed(field, i)); !ok)
      return fail(ok.error());
    out.push_back(item.get<std::string>());
  }
  return out;
}

Result<core::Severity> severityFrom(std::string_view text, const std::string& field) {
  auto s = core::parseSeverity(text);
  if (!s)
    return fail(ErrorCode::kUnprocessable,
                "unknown severity '" + std::string(text) +
                    "' (expected INFO, LOW, MEDIUM, HIGH or CRITICAL)",
                field);
  return *s;
}

Result<core::ThreatKind> kindFrom(std::string_view text, const std::string& field) {
  auto k = core::parseThreatKind(text);
  if (!k)
    return fail(ErrorCode::kUnprocessable,
                "unknown kind '" + std::string(text) + "' (expected SIGNAL or THREAT)", field);
  return *k;
}

Result<core::TimeMs> timeFrom(std::string_view text, const std::string& field) {
  auto t = core::parseRfc3339(text);
  if (!t)
    return fail(ErrorCode::kUnprocessable,
                field + " must be an RFC 3339 date-time such as 2026-11-23T10:00:00Z", field);
  return *t;
}

// Depth of the deepest bracket nesting outside strings; stops counting past `limit`.
int nestingDepth(std::string_view text, int limit) {
  int depth = 0;
  int max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"')
      in_string = true;
    else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
      if (max_depth > limit) return max_depth;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return max_depth;
}

std::optional<std::string> timeOrNull(std::optional<core::TimeMs> t) {
  if (!t) return std::nullopt;
  return core::formatRfc3339(*t);
}

Json nullable(const std::optional<std::string>& s) { return s ? Json(*s) : Json(nullptr); }
Json nullableText(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }
template <typename T>
Json nullableNum(const std::optional<T>& v) {
  return v ? Json(*v) : Json(nullptr);
}

Json namedCounts(const std::vector<store::NamedCount>& counts) {
  Json out = Json::array();
  for (const auto& c : counts) out.push_back({{"name", c.name}, {"count", c.count}});
  return out;
}

Json scopeList(store::Scope scopes) {
  Json out = Json::array();
  if (store::has(scopes, store::Scope::kRead)) out.push_back("read");
  if (store::has(scopes, store::Scope::kWrite)) out.push_back("write");
  if (store::has(scopes, store::Scope::kIngest)) out.push_back("ingest");
  return out;
}

Result<bool> boolFrom(std::string_view text, const std::string& field) {
  if (core::equalsIgnoreCase(text, "true") || text == "1") return true;
  if (core::equalsIgnoreCase(text, "false") || text == "0") return false;
  return fail(ErrorCode::kInvalidArgument, field + " must be true or false", field);
}

}  // namespace

// --- parsing --------------------------------------------------------------------------------

Result<Json> parseJson(std::string_view text) {
  if (nestingDepth(text, kMaxJsonDepth) > kMaxJsonDepth)
    return fail(ErrorCode::kInvalidArgument,
                "JSON nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    return fail(ErrorCode::kInvalidArgument, "malformed JSON at byte " + std::to_string(e.byte) +
                                                 ": " + std::string(e.what()).substr(0, 200));
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInvalidArgument, std::string("malformed JSON: ") + e.what());
  }
}

std::string dumpJson(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// --- errors ---------------------------------------------------------------------------------

Json encodeError(const core::Error& error) {
  return {{"error",
           {{"code", std::string(core::errorCodeName(error.code))},
            {"message", error.message},
            {"field", nullableText(error.field)}}}};
}

int httpStatus(core::ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument:
      return 400;
    case ErrorCode::kUnauthenticated:
      return 401;
    case ErrorCode::kForbidden:
      return 403;
    case ErrorCode::kNotFound:
      return 404;
    case ErrorCode::kConflict:
      return 409;
    case ErrorCode::kTooLarge:
      return 413;
    case ErrorCode::kUnprocessable:
      return 422;
    case ErrorCode::kUnavailable:
      return 503;
    case ErrorCode::kInternal:
      return 500;
  }
  return 500;
}

// --- threats --------------------------------------------------------------------------------

Result<core::Detection> decodeDetection(const Json& body) {
  try {
    if (auto ok = expectObject(body, ""); !ok) return fail(ok.error());
    if (auto ok = onlyKeys(
            body, "",
            {"name", "description", "score", "severity", "kind", "rule_id", "rule_group", "entity",
             "entity_group", "host", "tags", "evidence", "check_by", "group", "seen_at"});
        !ok)
      return fail(ok.error());
    core::Detection d;
    auto name = reqString(body, "name", "", core::kMaxNameLength);
    if (!name) return fail(name.error());
    d.name = *name;

    struct Text {
      std::string_view key;
      std::string* out;
      size_t max;
    };
    const Text texts[] = {{"description", &d.description, core::kMaxDescriptionLength},
                          {"rule_id", &d.rule_id, core::kMaxShortText},
                          {"rule_group", &d.rule_group, core::kMaxShortText},
                          {"entity_group", &d.entity_group, core::kMaxShortText},
                          {"host", &d.host, core::kMaxShortText},
                          {"group", &d.group, core::kMaxShortText}};
    for (const auto& t : texts) {
      auto v = optString(body, t.key, "", t.max);
      if (!v) return fail(v.error());
      if (*v) *t.out = **v;
    }

    auto score = optInt(body, "score", "", core::kMinScore, core::kMaxScore);
    if (!score) return fail(score.error());
    auto severity = optString(body, "severity", "", core::kMaxShortText);
    if (!severity) return fail(severity.error());
    if (*severity) {
      auto s = severityFrom(**severity, "severity");
      if (!s) return fail(s.error());
      d.severity = *s;
    }
    // Either implies the other when only one is given, as the engines do.
    if (*score && *severity) {
      d.score = static_cast<int>(**score);
    } else if (*score) {
      d.score = static_cast<int>(**score);
      d.severity = core::severityForScore(d.score);
    } else if (*severity) {
      d.score = core::scoreForSeverity(d.severity);
    } else {
      d.score = 50;
      d.severity = core::Severity::kMedium;
    }

    auto kind = optString(body, "kind", "", core::kMaxShortText);
    if (!kind) return fail(kind.error());
    if (*kind) {
      auto k = kindFrom(**kind, "kind");
      if (!k) return fail(k.error());
      d.kind = *k;
    }

    if (const Json* entity = member(body, "entity")) {
      if (auto ok = expectObject(*entity, "entity"); !ok) return fail(ok.error());
      if (auto ok = onlyKeys(*entity, "entity", {"type", "value"}); !ok) return fail(ok.error());
      auto type = optString(*entity, "type", "entity", core::kMaxShortText);
      if (!type) return fail(type.error());
      auto value = optString(*entity, "value", "entity", core::kMaxShortText);
      if (!value) return fail(value.error());
      d.entity.type = type->value_or("");
      d.entity.value = value->value_or("");
    }

    if (const Json* tags = member(body, "tags")) {
      if (!tags->is_array()) return wrongType("tags", "an array of strings", *tags);
      if (tags->size() > core::kMaxTags)
        return fail(ErrorCode::kUnprocessable,
                    "too many tags (" + std::to_string(tags->size()) + "; the limit is " +
                        std::to_string(core::kMaxTags) + ")",
                    "tags");
      for (size_t i = 0; i < tags->size(); ++i) {
        const Json& t = (*tags)[i];
        if (!t.is_string()) return wrongType(indexed("tags", i), "a string", t);
        d.tags.push_back(t.get<std::string>());
      }
    }

    if (auto it = body.find("evidence"); it != body.end()) {
      d.evidence_json = dumpJson(*it);
      if (d.evidence_json.size() > core::kMaxEvidenceBytes)
        return fail(ErrorCode::kTooLarge,
                    "evidence is " + std::to_string(d.evidence_json.size()) +
                        " bytes; the limit is " + std::to_string(core::kMaxEvidenceBytes),
                    "evidence");
    }

    if (const Json* check_by = member(body, "check_by")) {
      std::string text;
      if (check_by->is_string()) {
        text = check_by->get<std::string>();
      } else if (check_by->is_array()) {
        for (size_t i = 0; i < check_by->size(); ++i) {
          const Json& k = (*check_by)[i];
          if (!k.is_string()) return wrongType(indexed("check_by", i), "a string", k);
          text += k.get<std::string>() + ",";
        }
      } else {
        return wrongType("check_by", "a string or an array of strings", *check_by);
      }
      if (text.size() > core::kMaxShortText)
        return fail(ErrorCode::kUnprocessable, "check_by is too long", "check_by");
      auto parsed = core::parseCheckBy(text);
      if (!parsed) {
        core::Error e = parsed.error();
        e.field = "check_by";
        return fail(e);
      }
      d.check_by = *parsed;
    }

    auto seen = optString(body, "seen_at", "", 64);
    if (!seen) return fail(seen.error());
    if (*seen) {
      auto t = timeFrom(**seen, "seen_at");
      if (!t) return fail(t.error());
      d.seen_at = *t;
    }

    // The caller sets project and source; validate with a placeholder source so that every
    // other limit (tags, lengths, entity pairs) is checked here with the member's name.
    d.source = std::string(core::source::kApi);
    if (auto ok = core::validateDetection(d); !ok) return fail(ok.error());
    return d;
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInvalidArgument, std::string("bad threat: ") + e.what());
  }
}

Result<triage::ChangeRequest> decodeChangeRequest(const Json& body, const std::string& path) {
  try {
    if (auto ok = expectObject(body, path); !ok) return fail(ok.error());
    if (auto ok = onlyKeys(body, path,
                           {"group", "owner", "state", "outcome", "severity", "score", "note"});
        !ok)
      return fail(ok.error());
    triage::ChangeRequest r;
    // group and owner: null or "" clears the value; absent leaves it.
    for (auto [key, out] : {std::pair{"group", &r.group}, std::pair{"owner", &r.owner}}) {
      auto it = body.find(key);
      if (it == body.end()) continue;
      if (it->is_null()) {
        *out = std::string();
        continue;
      }
      auto v = optString(body, key, path, core::kMaxShortText);
      if (!v) return fail(v.error());
      *out = **v;
    }
    for (auto [key, out] : {std::pair{"state", &r.state}, std::pair{"outcome", &r.outcome}}) {
      auto v = optString(body, key, path, core::kMaxShortText);
      if (!v) return fail(v.error());
      if (*v) {
        if (core::trim(**v).empty())
          return fail(ErrorCode::kUnprocessable, join(path, key) + " must not be empty",
                      join(path, key));
        *out = **v;
      }
    }
    auto severity = optString(body, "severity", path, core::kMaxShortText);
    if (!severity) return fail(severity.error());
    if (*severity) {
      auto s = severityFrom(**severity, join(path, "severity"));
      if (!s) return fail(s.error());
      r.severity = *s;
    }
    auto score = optInt(body, "score", path, core::kMinScore, core::kMaxScore);
    if (!score) return fail(score.error());
    if (*score) r.score = static_cast<int>(**score);
    auto note = optString(body, "note", path, kMaxNoteLength);
    if (!note) return fail(note.error());
    if (*note) {
      if (core::trim(**note).empty())
        return fail(ErrorCode::kUnprocessable, join(path, "note") + " must not be empty",
                    join(path, "note"));
      r.note = **note;
    }
    return r;
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInvalidArgument, std::string("bad change: ") + e.what());
  }
}

Result<store::ThreatFilter> decodeFilterJson(const Json& body, const std::string& path) {
  try {
    if (auto ok = expectObject(body, path); !ok) return fail(ok.error());
    if (auto ok = onlyKeys(body, path,
                           {"group", "state", "severity", "source", "owner", "kind", "entity",
                            "host", "entity_group", "text", "open", "from", "to"});
        !ok)
      return fail(ok.error());
    store::ThreatFilter f;
    constexpr size_t kMaxItems = 100;
    for (auto [key, out] : {std::pair{"group", &f.groups}, std::pair{"state", &f.states},
                            std::pair{"source", &f.sources}, std::pair{"owner", &f.owners}}) {
      auto v = stringList(body, key, path, kMaxItems, core::kMaxShortText);
      if (!v) return fail(v.error());
      *out = std::move(*v);
    }
    auto sev = stringList(body, "severity", path, kMaxItems, core::kMaxShortText);
    if (!sev) return fail(sev.error());
    for (size_t i = 0; i < sev->size(); ++i) {
      auto s = severityFrom((*sev)[i], join(path, "severity"));
      if (!s) return fail(s.error());
      f.severities.push_back(*s);
    }
    auto kinds = stringList(body, "kind", path, kMaxItems, core::kMaxShortText);
    if (!kinds) return fail(kinds.error());
    for (const auto& k : *kinds) {
      auto parsed = kindFrom(k, join(path, "kind"));
      if (!parsed) return fail(parsed.error());
      f.kinds.push_back(*parsed);
    }
    for (auto [key, out] :
         {std::pair{"entity", &f.entity}, std::pair{"host", &f.host},
          std::pair{"entity_group", &f.entity_group}, std::pair{"text", &f.text}}) {
      auto v = optString(body, key, path, kMaxQueryValueLength);
      if (!v) return fail(v.error());
      if (*v) *out = **v;
    }
    if (const Json* open = member(body, "open")) {
      if (!open->is_boolean()) return wrongType(join(path, "open"), "a boolean", *open);
      f.open = open->get<bool>();
    }
    for (auto [key, out] : {std::pair{"from", &f.from}, std::pair{"to", &f.to}}) {
      auto v = optString(body, key, path, 64);
      if (!v) return fail(v.error());
      if (*v) {
        auto t = timeFrom(**v, join(path, key));
        if (!t) return fail(t.error());
        *out = *t;
      }
    }
    if (f.from && f.to && *f.from >= *f.to)
      return fail(ErrorCode::kUnprocessable, "from must be before to", join(path, "from"));
    return f;
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInvalidArgument, std::string("bad filter: ") + e.what());
  }
}

Result<BulkRequest> decodeBulkRequest(const Json& body) {
  try {
    if (auto ok = expectObject(body, ""); !ok) return fail(ok.error());
    if (auto ok = onlyKeys(body, "", {"ids", "filter", "change"}); !ok) return fail(ok.error());
    BulkRequest r;
    const Json* ids = member(body, "ids");
    const Json* filter = member(body, "filter");
    if ((ids == nullptr) == (filter == nullptr))
      return fail(ErrorCode::kUnprocessable, "give either ids or filter", ids ? "filter" : "ids");
    if (ids) {
      if (!ids->is_array()) return wrongType("ids", "an array of threat ids", *ids);
      if (ids->empty()) return fail(ErrorCode::kUnprocessable, "ids must not be empty", "ids");
      if (ids->size() > kMaxIdsPerBulk)
        return fail(ErrorCode::kUnprocessable,
                    "a bulk change takes at most " + std::to_string(kMaxIdsPerBulk) + " ids",
                    "ids");
      for (size_t i = 0; i < ids->size(); ++i) {
        auto id = toInt((*ids)[i], indexed("ids", i), 1, std::numeric_limits<std::int64_t>::max());
        if (!id) return fail(id.error());
        r.ids.push_back(*id);
      }
    } else {
      auto f = decodeFilterJson(*filter, "filter");
      if (!f) return fail(f.error());
      r.filter = std::move(*f);
    }
    const Json* change = member(body, "change");
    if (!change) return fail(ErrorCode::kUnprocessable, "change is required", "change");
    auto c = decodeChangeRequest(*change, "change");
    if (!c) return fail(c.error());
    r.change = std::move(*c);
    return r;
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInvalidArgument, std::string("bad bulk request: ") + e.what());
  }
}

Result<ThreatQuery> decodeThreatQuery(const QueryParams& params,
                                      const std::set<std::string>& extra) {
  try {
    ThreatQuery q;
    auto& f = q.filter;
    for (const auto& [name, value] : params) {
      const std::string& field = name;
      if (value.size() > kMaxQueryValueLength)
        return fail(ErrorCode::kUnprocessable,
                    field + " is " + std::to_string(value.size()) + " bytes long; the limit is " +
                        std::to_string(kMaxQueryValueLength),
                    field);
      if (name == "group") {
        f.groups.push_back(value);
      } else if (name == "state") {
        f.states.push_back(value);
      } else if (name == "source") {
        f.sources.push_back(value);
      } else if (name == "owner") {
        f.owners.push_back(value);
      } else if (name == "severity") {
        // Severities and kinds never contain commas, so "HIGH,CRITICAL" is a list.
        for (std::string_view part : core::splitTrimmed(value, ',')) {
          auto s = severityFrom(part, field);
          if (!s) return fail(s.error());
          f.severities.push_back(*s);
        }
      } else if (name == "kind") {
        for (std::string_view part : core::splitTrimmed(value, ',')) {
          auto k = kindFrom(part, field);
          if (!k) return fail(k.error());
          f.kinds.push_back(*k);
        }
      } else if (name == "entity") {
        f.entity = value;
      } else if (name == "host") {
        f.host = value;
      } else if (name == "entity_group") {
        f.entity_group = value;
      } else if (name == "text" || name == "q") {
        f.text = value;
      } else if (name == "open") {
        auto b = boolFrom(value, field);
        if (!b) return fail(b.error());
        f.open = *b;
      } else if (name == "from" || name == "to") {
        auto t = timeFrom(value, field);
        if (!t) return fail(t.error());
        (name == "from" ? f.from : f.to) = *t;
      } else if (name == "sort") {
        auto s = store::parseThreatSort(value);
        if (!s)
          return fail(
              ErrorCode::kUnprocessable,
              "unknown sort '" + value + "' (expected score, severity, last_seen or created)",
              field);
        q.page.sort = *s;
      } else if (name == "order") {
        if (value == "asc")
          q.page.descending = false;
        else if (value == "desc")
          q.page.descending = true;
        else
          return fail(ErrorCode::kUnprocessable, "order must be asc or desc", field);
      } else if (name == "limit") {
        int n = 0;
        const auto* end = value.data() + value.size();
        auto [ptr, ec] = std::from_chars(value.data(), end, n);
        if (ec != std::errc() || ptr != end || value.empty())
          return fail(ErrorCode::kInvalidArgument, "limit must be an integer", field);
        if (n < 1 || n > 500)
          return fail(ErrorCode::kUnprocessable, "limit must be between 1 and 500", field);
        q.page.limit = n;
      } else if (name == "cursor") {
        q.page.cursor = value;
      } else if (name == "split") {
        if (value == "severity")
          q.split = store::TimelineSplit::kSeverity;
        else if (value == "group")
          q.split = store::TimelineSplit::kGroup;
        else
          return fail(ErrorCode::kUnprocessable, "split must be severity or group", field);
      } else if (extra.count(name) == 0) {
        return fail(ErrorCode::kInvalidArgument, "unknown query parameter '" + name + "'", field);
      }
    }
    if (f.from && f.to && *f.from >= *f.to)
      return fail(ErrorCode::kUnprocessable, "from must be before to", "from");
    return q;
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInvalidArgument, std::string("bad query: ") + e.what());
  }
}

Json encodeThreat(const core::Threat& t, bool full) {
  Json j = {
      {"id", t.id},
      {"project_id", t.project_id},
      {"name", t.name},
      {"score", t.score},
      {"severity", std::string(core::severityName(t.severity))},
      {"kind", std::string(core::threatKindName(t.kind))},
      {"source", t.source},
      {"rule_id", nullableText(t.rule_id)},
      {"rule_group", nullableText(t.rule_group)},
      {"entity", t.entity.type.empty() && t.entity.value.empty()
                     ? Json(nullptr)
                     : Json{{"type", t.entity.type}, {"value", t.entity.value}}},
      {"entity_group", nullableText(t.entity_group)},
      {"host", nullableText(t.host)},
      {"tags", t.tags},
      {"group", nullableText(t.group)},
      {"state", t.state},
      {"outcome", nullableText(t.outcome)},
      {"owner", nullableText(t.owner)},
      {"closed", t.closed},
      {"count", t.count},
      {"created_at", core::formatRfc3339(t.created_at)},
      {"last_seen", core::formatRfc3339(t.last_seen)},
      {"updated_at", core::formatRfc3339(t.updated_at)},
      {"closed_at", nullable(timeOrNull(t.closed_at))},
  };
  if (full) {
    j["description"] = t.description;
    // Stored evidence is JSON the API or an engine wrote; anything else is shown as a string
    // rather than failing the whole answer.
    Json evidence = Json::object();
    if (nestingDepth(t.evidence_json, kMaxJsonDepth) <= kMaxJsonDepth) {
      evidence = Json::parse(t.evidence_json, nullptr, false);
      if (evidence.is_discarded()) evidence = t.evidence_json;
    } else {
      evidence = t.evidence_json;
    }
    j["evidence"] = std::move(evidence);
    j["check_by"] = t.dedup_key.empty() ? Json(nullptr) : Json(t.dedup_key);
  }
  return j;
}

Json encodeThreatPage(const store::ThreatPage& page) {
  Json items = Json::array();
  for (const auto& t : page.items) items.push_back(encodeThreat(t, false));
  return {{"items", std::move(items)},
          {"next_cursor", nullableText(page.next_cursor)},
          {"total", page.total}};
}

Json encodeOverview(const store::Overview& o) {
  Json chips = Json::object();
  for (int s = 0; s < core::kSeverityCount; ++s)
    chips[std::string(core::severityName(static_cast<core::Severity>(s)))] = o.open_by_severity[s];
  Json timeline = Json::array();
  for (const auto& b : o.timeline)
    timeline.push_back({{"start", core::formatRfc3339(b.start)}, {"counts", b.counts}});
  return {{"open_by_severity", std::move(chips)},
          {"total", o.total},
          {"bucket", std::string(store::bucketSizeName(o.bucket))},
          {"series", o.series},
          {"timeline", std::move(timeline)},
          {"by_entity_group", namedCounts(o.by_entity_group)},
          {"by_source", namedCounts(o.by_source)},
          {"by_host", namedCounts(o.by_host)},
          {"by_period", namedCounts(o.by_period)},
          {"threats", encodeThreatPage(o.first_page)}};
}

Json encodeTimelineEntry(const store::TimelineEntry& e) {
  return {{"id", e.id},
          {"threat_id", e.threat_id},
          {"at", core::formatRfc3339(e.at)},
          {"actor", e.actor},
          {"action", e.action},
          {"from", nullableText(e.from)},
          {"to", nullableText(e.to)}};
}

Json encodeNote(const store::Note& n) {
  return {{"id", n.id},
          {"threat_id", n.threat_id},
          {"at", core::formatRfc3339(n.at)},
          {"author", n.author},
          {"text", n.text}};
}

Json encodeBulkResult(const triage::BulkResult& r) {
  Json failed = Json::array();
  for (const auto& f : r.failed) {
    Json e = encodeError(f.error)["error"];
    failed.push_back({{"id", f.id}, {"error", std::move(e)}});
  }
  return {{"matched", r.matched},
          {"changed", r.changed},
          {"changed_ids", r.changed_ids},
          {"failed", std::move(failed)}};
}

// --- notes, tags ----------------------------------------------------------------------------

Result<std::string> decodeNote(const Json& body) {
  if (auto ok = expectObject(body, ""); !ok) return fail(ok.error());
  if (auto ok = onlyKeys(body, "", {"text"}); !ok) return fail(ok.error());
  auto text = optString(body, "text", "", kMaxNoteLength);
  if (!text) return fail(text.error());
  if (!*text || core::trim(**text).empty())
    return fail(ErrorCode::kUnprocessable, "text is required", "text");
  return **text;
}

Json encodeTag(const store::TagValue& t) {
  return {{"id", t.id},
          {"org_id", t.org_id},
          {"kind", std::string(store::tagKindName(t.kind))},
          {"name", t.name},
          {"position", t.position}};
}

Result<TagRequest> decodeTagRequest(const Json& body, bool allow_position) {
  if (auto ok = expectObject(body, ""); !ok) return fail(ok.error());
  if (auto ok =
          allow_position ? onlyKeys(body, "", {"name", "position"}) : onlyKeys(body, "", {"name"});
      !ok)
    return fail(ok.error());
  TagRequest r;
  auto name = reqString(body, "name", "", core::kMaxShortText);
  if (!name) return fail(name.error());
  r.name = *name;
  if (allow_position) {
    auto pos = optInt(body, "position", "", 0, 10000);
    if (!pos) return fail(pos.error());
    if (*pos) r.position = static_cast<int>(**pos);
  }
  return r;
}

// --- organisations, users, tokens -----------------------------------------------------------

Json encodeOrg(const store::Org& o) {
  return {{"id", o.id}, {"name", o.name}, {"parent_id", nullableNum(o.parent_id)}};
}

Json encodeProject(const store::Project& p) {
  return {{"id", p.id}, {"org_id", p.org_id}, {"name", p.name}};
}

Json encodeUser(const store::User& u) {
  return {{"id", u.id},
          {"org_id", u.org_id},
          {"email", u.email},
          {"display_name", u.display_name},
          {"role", std::string(store::roleName(u.role))},
          {"time_zone", u.time_zone},
          {"disabled", u.disabled},
          {"created_at", core::formatRfc3339(u.created_at)}};
}

Json encodeToken(const store::ApiToken& t) {
  return {{"id", t.id},
          {"project_id", t.project_id},
          {"name", t.name},
          {"prefix", t.prefix},
          {"scopes", scopeList(t.scopes)},
          {"created_by", nullableNum(t.created_by)},
          {"created_at", core::formatRfc3339(t.created_at)},
          {"revoked_at", nullable(timeOrNull(t.revoked_at))},
          {"last_used_at", nullable(timeOrNull(t.last_used_at))}};
}

Result<LoginRequest> decodeLogin(const Json& body) {
  if (auto ok = expectObject(body, ""); !ok) return fail(ok.error());
  if (auto ok = onlyKeys(body, "", {"email", "password"}); !ok) return fail(ok.error());
  LoginRequest r;
  auto email = reqString(body, "email", "", kMaxEmailLength);
  if (!email) return fail(email.error());
  auto password = optString(body, "password", "", 1024);
  if (!password) return fail(password.error());
  if (!*password || (*password)->empty())
    return fail(ErrorCode::kUnprocessable, "password is required", "password");
  r.email = *email;
  r.password = **password;
  return r;
}

Status validateEmail(std::string_view email, const std::string& field) {
  const auto at = email.find('@');
  bool ok = !email.empty() && email.size() <= kMaxEmailLength && at != std::string_view::npos &&
            at > 0 && at + 1 < email.size() && email.find('@', at + 1) == std::string_view::npos;
  for (char c : email) ok = ok && static_cast<unsigned char>(c) > 0x20 && c != 0x7F;
  if (!ok)
    return fail(ErrorCode::kUnprocessable,
                "'" + std::string(email.substr(0, 64)) + "' is not an email address", field);
  return {};
}

Status validateTimeZone(std::string_view zone, const std::string& field) {
  auto bad = [&] {
    return fail(ErrorCode::kUnprocessable,
                "unknown time zone '" + std::string(zone.substr(0, 64)) +
                    "' (expected an IANA name such as Europe/Berlin)",
                field);
  };
  if (zone == "UTC") return {};
  if (zone.empty() || zone.size() > 64 || zone.front() == '/' ||
      zone.find("..") != std::string_view::npos)
    return bad();
  for (char c : zone) {
    const bool allowed =
        std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' || c == '-' || c == '+';
    if (!allowed) return bad();
  }
  const char* dir = std::getenv("TZDIR");
  const std::filesystem::path path =
      std::filesystem::path(dir && *dir ? dir : "/usr/share/zoneinfo") / std::string(zone);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return bad();
  return {};
}

Result<NewUserRequest> decodeNewUser(const Json& body) {
  if (auto ok = expectObject(body, ""); !ok) return fail(ok.error());
  if (auto ok =
          onlyKeys(body, "", {"email", "display_name", "role", "time_zone", "org", "password"});
      !ok)
    return fail(ok.error());
  NewUserRequest r;
  auto email = reqString(body, "email", "", kMaxEmailLength);
  if (!email) return fail(email.error());
  if (auto ok = validateEmail(*email, "email"); !ok) return fail(ok.error());
  r.email = *email;
  auto display = optString(body, "display_name", "", core::kMaxShortText);
  if (!display) return fail(display.error());
  r.display_name = display->value_or("");
  auto role = reqString(body, "role", "", 32);
  if (!role) return fail(role.error());
  auto parsed = store::parseRole(*role);
  if (!parsed)
    return fail(ErrorCode::kUnprocessable,
                "unknown role '" + *role + "' (expected admin, manager, operator or readonly)",
                "role");
  r.role = *parsed;
  auto tz = optString(body, "time_zone", "", 64);
  if (!tz) return fail(tz.error());
  if (*tz) {
    if (auto ok = validateTimeZone(**tz, "time_zone"); !ok) return fail(ok.error());
    r.time_zone = **tz;
  }
  auto org = optString(body, "org", "", core::kMaxShortText);
  if (!org) return fail(org.error());
  r.org = *org;
  auto password = optString(body, "password", "", kMaxPasswordLength);
  if (!password) return fail(password.error());
  r.password = *password;
  return r;
}

Result<NewTokenRequest> decodeNewToken(const Json& body) {
  if (auto ok = expectObject(body, ""); !ok) return fail(ok.error());
  if (auto ok = onlyKeys(body, "", {"project", "name", "scopes"}); !ok) return fail(ok.error());
  NewTokenRequest r;
  if (const Json* project = member(body, "project")) {
    if (project->is_string()) {
      auto p = optString(body, "project", "", core::kMaxShortText);
      if (!p) return fail(p.error());
      r.project = **p;
    } else if (project->is_number_integer()) {
      auto id = toInt(*project, "project", 1, std::numeric_limits<std::int64_t>::max());
      if (!id) return fail(id.error());
      r.project = std::to_string(*id);
    } else {
      return wrongType("project", "a project name or id", *project);
    }
  }
  auto name = reqString(body, "name", "", core::kMaxShortText);
  if (!name) return fail(name.error());
  r.name = *name;
  auto scopes = stringList(body, "scopes", "", 3, 32);
  if (!scopes) return fail(scopes.error());
  if (scopes->empty())
    return fail(ErrorCode::kUnprocessable, "scopes is required (read, write, ingest)", "scopes");
  std::string text;
  for (const auto& s : *scopes) text += s + ",";
  auto parsed = store::parseScopes(text);
  if (!parsed || *parsed == store::Scope::kNone)
    return fail(ErrorCode::kUnprocessable, "scopes must be among read, write and ingest", "scopes");
  r.scopes = *parsed;
  return r;
}

}  // namespace td::server
