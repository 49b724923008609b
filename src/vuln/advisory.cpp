#include "vuln/advisory.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "vuln/cvss.h"
#include "vuln/version.h"

namespace td::vuln {
namespace {

using core::ErrorCode;
using nlohmann::json;

// Thrown inside the parser only; parseOsvAdvisory turns it into an Error.
struct ParseError {
  std::string message;
  std::string path;
};

std::string getString(const json& obj, const char* key, const std::string& path,
                      bool required = false) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) {
    if (required) throw ParseError{std::string("missing \"") + key + "\"", path};
    return {};
  }
  if (!it->is_string()) throw ParseError{std::string("\"") + key + "\" is not a string", path + "." + key};
  return it->get<std::string>();
}

const json* getArray(const json& obj, const char* key, const std::string& path) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  if (!it->is_array()) throw ParseError{std::string("\"") + key + "\" is not an array", path + "." + key};
  return &*it;
}

std::vector<std::string> getStrings(const json& obj, const char* key, const std::string& path) {
  std::vector<std::string> out;
  if (const json* arr = getArray(obj, key, path)) {
    for (size_t i = 0; i < arr->size(); ++i) {
      if (!(*arr)[i].is_string()) {
        throw ParseError{"not a string", path + "." + key + "[" + std::to_string(i) + "]"};
      }
      out.push_back((*arr)[i].get<std::string>());
    }
  }
  return out;
}

std::vector<SeverityScore> parseSeverities(const json& obj, const std::string& path,
                                           std::vector<std::string>* warnings) {
  std::vector<SeverityScore> out;
  const json* arr = getArray(obj, "severity", path);
  if (!arr) return out;
  for (size_t i = 0; i < arr->size(); ++i) {
    std::string p = path + ".severity[" + std::to_string(i) + "]";
    const json& s = (*arr)[i];
    if (!s.is_object()) throw ParseError{"not an object", p};
    SeverityScore score{getString(s, "type", p, true), getString(s, "score", p, true), {}};
    if (score.type == "CVSS_V3" || score.type == "CVSS_V2" || score.type == "CVSS_V4") {
      if (score.type == "CVSS_V3") {
        auto base = cvssBaseScore(score.score);
        if (base) {
          score.base_score = *base;
        } else if (warnings) {
          warnings->push_back(p + ": " + base.error().message);
        }
      } else if (score.type == "CVSS_V4") {
        auto base = cvssBaseScore(score.score);
        if (base) {
          score.base_score = *base;
        } else if (warnings) {
          warnings->push_back(p + ": " + base.error().message);
        }
      }
    }
    out.push_back(std::move(score));
  }
  return out;
}

AffectedPackage parseAffected(const json& a, const std::string& path,
                              std::vector<std::string>* warnings) {
  if (!a.is_object()) throw ParseError{"not an object", path};
  AffectedPackage pkg;
  if (auto it = a.find("package"); it != a.end() && !it->is_null()) {
    if (!it->is_object()) throw ParseError{"not an object", path + ".package"};
    std::string pp = path + ".package";
    pkg.ecosystem = parseEcosystem(getString(*it, "ecosystem", pp, true));
    pkg.name = getString(*it, "name", pp, true);
    pkg.purl = getString(*it, "purl", pp);
    pkg.normalised_name = normalisePackageName(pkg.ecosystem.kind, pkg.name);
  }
  pkg.versions = getStrings(a, "versions", path);
  pkg.severity = parseSeverities(a, path, warnings);
  if (const json* ranges = getArray(a, "ranges", path)) {
    for (size_t i = 0; i < ranges->size(); ++i) {
      std::string rp = path + ".ranges[" + std::to_string(i) + "]";
      const json& r = (*ranges)[i];
      if (!r.is_object()) throw ParseError{"not an object", rp};
      AffectedRange range;
      std::string type = getString(r, "type", rp, true);
      if (type == "SEMVER") {
        range.type = RangeType::kSemver;
      } else if (type == "ECOSYSTEM") {
        range.type = RangeType::kEcosystem;
      } else if (type == "GIT") {
        range.type = RangeType::kGit;
      } else {
        if (warnings) warnings->push_back(rp + ": unknown range type \"" + type + "\" skipped");
        continue;
      }
      range.repo = getString(r, "repo", rp);
      const json* events = getArray(r, "events", rp);
      if (!events) throw ParseError{"missing \"events\"", rp};
      for (size_t j = 0; j < events->size(); ++j) {
        std::string ep = rp + ".events[" + std::to_string(j) + "]";
        const json& e = (*events)[j];
        if (!e.is_object() || e.size() != 1) {
          throw ParseError{"an event must be an object with exactly one key", ep};
        }
        auto first = e.begin();
        const std::string& key = first.key();
        const json& value = first.value();
        if (!value.is_string()) throw ParseError{"event version is not a string", ep + "." + key};
        RangeEvent ev;
        ev.version = value.get<std::string>();
        if (key == "introduced") {
          ev.kind = EventKind::kIntroduced;
        } else if (key == "fixed") {
          ev.kind = EventKind::kFixed;
        } else if (key == "last_affected") {
          ev.kind = EventKind::kLastAffected;
        } else if (key == "limit") {
          ev.kind = EventKind::kLimit;
        } else {
          throw ParseError{"unknown event \"" + key + "\"", ep};
        }
        range.events.push_back(std::move(ev));
      }
      pkg.ranges.push_back(std::move(range));
    }
  }
  return pkg;
}

Advisory parseDocument(const json& doc, std::vector<std::string>* warnings) {
  if (!doc.is_object()) throw ParseError{"an OSV advisory must be a JSON object", "$"};
  Advisory a;
  a.id = getString(doc, "id", "$", true);
  if (a.id.empty()) throw ParseError{"empty \"id\"", "$.id"};
  a.summary = getString(doc, "summary", "$");
  a.details = getString(doc, "details", "$");
  a.published = getString(doc, "published", "$");
  a.modified = getString(doc, "modified", "$");
  a.withdrawn = getString(doc, "withdrawn", "$");
  a.aliases = getStrings(doc, "aliases", "$");
  a.related = getStrings(doc, "related", "$");
  if (const json* refs = getArray(doc, "references", "$")) {
    for (size_t i = 0; i < refs->size(); ++i) {
      std::string p = "$.references[" + std::to_string(i) + "]";
      if (!(*refs)[i].is_object()) throw ParseError{"not an object", p};
      a.references.push_back(Reference{getString((*refs)[i], "type", p), getString((*refs)[i], "url", p)});
    }
  }
  a.severity = parseSeverities(doc, "$", warnings);
  if (const json* affected = getArray(doc, "affected", "$")) {
    for (size_t i = 0; i < affected->size(); ++i) {
      a.affected.push_back(parseAffected((*affected)[i], "$.affected[" + std::to_string(i) + "]", warnings));
    }
  }
  if (auto it = doc.find("database_specific"); it != doc.end() && it->is_object()) {
    if (auto s = it->find("severity"); s != it->end() && s->is_string()) {
      a.database_severity = s->get<std::string>();
    }
  }
  return a;
}

// Orders events by version with "introduced: 0" first; at equal versions an introduction comes
// before the events that end a range, so "introduced X, fixed X" is an empty range.
void sortEvents(std::vector<const RangeEvent*>& events, Ecosystem kind) {
  std::stable_sort(events.begin(), events.end(), [kind](const RangeEvent* a, const RangeEvent* b) {
    bool az = a->kind == EventKind::kIntroduced && a->version == "0";
    bool bz = b->kind == EventKind::kIntroduced && b->version == "0";
    if (az != bz) return az;
    if (az && bz) return false;
    int c = compareVersions(kind, a->version, b->version);
    if (c != 0) return c < 0;
    return a->kind == EventKind::kIntroduced && b->kind != EventKind::kIntroduced;
  });
}

}  // namespace

std::optional<double> Advisory::cvssScore() const {
  std::optional<double> best;
  auto consider = [&](const std::vector<SeverityScore>& list) {
    for (const auto& s : list) {
      if (s.base_score && (!best || *s.base_score > *best)) best = s.base_score;
    }
  };
  consider(severity);
  for (const auto& a : affected) consider(a.severity);
  return best;
}

std::string Advisory::displayId() const {
  if (id.rfind("CVE-", 0) == 0) return id;
  for (const auto& alias : aliases) {
    if (alias.rfind("CVE-", 0) == 0) return alias;
  }
  return id;
}

core::Result<Advisory> parseOsvAdvisory(std::string_view text, std::string source,
                                        std::vector<std::string>* warnings) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    // Parse again with exceptions to learn where the JSON breaks.
    try {
      json ignored = json::parse(text.begin(), text.end());
      (void)ignored;
    } catch (const json::parse_error& e) {
      return core::fail(ErrorCode::kInvalidArgument, std::string("not JSON: ") + e.what(),
                        source + "@byte " + std::to_string(e.byte));
    }
    return core::fail(ErrorCode::kInvalidArgument, "not JSON", source);
  }
  try {
    Advisory a = parseDocument(doc, warnings);
    a.source = std::move(source);
    return a;
  } catch (const ParseError& e) {
    return core::fail(ErrorCode::kInvalidArgument, "OSV advisory: " + e.message,
                      source.empty() ? e.path : source + ":" + e.path);
  } catch (const json::exception& e) {
    return core::fail(ErrorCode::kInvalidArgument, std::string("OSV advisory: ") + e.what(), source);
  }
}

RangeMatch matchVersion(const AffectedPackage& pkg, std::string_view version) {
  RangeMatch out;
  Ecosystem kind = pkg.ecosystem.kind;
  for (const auto& v : pkg.versions) {
    if (v == version || (kind != Ecosystem::kUnknown && compareVersions(kind, v, version) == 0)) {
      out.affected = true;
      out.via_versions_list = true;
      break;
    }
  }
  for (const auto& range : pkg.ranges) {
    if (range.type == RangeType::kGit) continue;
    // SEMVER ranges are SemVer whatever the ecosystem; ECOSYSTEM ranges need its order.
    Ecosystem order = range.type == RangeType::kSemver ? Ecosystem::kNpm : kind;
    if (order == Ecosystem::kUnknown) continue;
    std::vector<const RangeEvent*> events;
    std::vector<const RangeEvent*> limits;
    for (const auto& e : range.events) {
      (e.kind == EventKind::kLimit ? limits : events).push_back(&e);
    }
    sortEvents(events, order);
    bool affected = false;
    std::string fix;
    for (const RangeEvent* e : events) {
      int c = (e->kind == EventKind::kIntroduced && e->version == "0")
                  ? 1
                  : compareVersions(order, version, e->version);
      switch (e->kind) {
        case EventKind::kIntroduced:
          if (c >= 0) affected = true;
          break;
        case EventKind::kFixed:
          if (c >= 0) {
            affected = false;
          } else if (affected && fix.empty()) {
            fix = e->version;
          }
          break;
        case EventKind::kLastAffected:
          if (c > 0) affected = false;
          break;
        case EventKind::kLimit:
          break;
      }
      if (!affected && c < 0) break;  // later events are all newer than the version
    }
    if (affected && !limits.empty()) {
      bool below_some_limit = std::any_of(limits.begin(), limits.end(), [&](const RangeEvent* l) {
        return l->version == "*" || compareVersions(order, version, l->version) < 0;
      });
      if (!below_some_limit) affected = false;
    }
    if (affected) {
      out.affected = true;
      if (!fix.empty() &&
          std::find(out.fixed.begin(), out.fixed.end(), fix) == out.fixed.end()) {
        out.fixed.push_back(fix);
      }
    }
  }
  return out;
}

}  // namespace td::vuln
