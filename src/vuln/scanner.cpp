#include "vuln/scanner.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <unordered_map>

#include "core/text.h"
#include "vuln/cvss.h"
#include "vuln/version.h"

namespace td::vuln {
namespace {

bool suppressingState(std::string_view state) {
  return state == "not_affected" || state == "false_positive" || state == "resolved" ||
         state == "resolved_with_pedigree";
}

// A VEX "affects" reference names a component by bom-ref, by purl, or by a BOM-Link
// ("urn:cdx:<serial>/<version>#<bom-ref>").
bool refersTo(std::string_view ref, const Component& c) {
  if (ref.rfind("urn:cdx:", 0) == 0) {
    size_t hash = ref.find('#');
    if (hash == std::string_view::npos) return true;  // the whole BOM
    ref = ref.substr(hash + 1);
  }
  if (!c.ref.empty() && ref == c.ref) return true;
  if (c.parsed_purl && ref.rfind("pkg:", 0) == 0) {
    auto p = parsePurl(ref, PurlStrictness::kLenient);
    if (!p) return false;
    // Qualifiers (type=jar, arch=...) do not change what the package is.
    return p->type == c.parsed_purl->type && p->ns == c.parsed_purl->ns &&
           p->name == c.parsed_purl->name &&
           (p->version.empty() || p->version == c.parsed_purl->version);
  }
  return !c.purl.empty() && ref == c.purl;
}

bool namesVulnerability(const VexStatement& s, const Finding& f) {
  std::set<std::string_view> ids{f.advisory_id, f.display_id};
  for (const auto& a : f.aliases) ids.insert(a);
  for (const auto& a : f.also) ids.insert(a);
  if (ids.count(s.vulnerability)) return true;
  return std::any_of(s.aliases.begin(), s.aliases.end(),
                     [&](const std::string& a) { return ids.count(a) > 0; });
}

std::string bestVector(const Advisory& a) {
  std::string best;
  double score = -1;
  auto consider = [&](const std::vector<SeverityScore>& list) {
    for (const auto& s : list) {
      if (s.base_score && *s.base_score > score) {
        score = *s.base_score;
        best = s.score;
      } else if (best.empty() && s.type == "CVSS_V4") {
        best = s.score;
      }
    }
  };
  consider(a.severity);
  for (const auto& p : a.affected) consider(p.severity);
  return best;
}

Finding makeFinding(const Component& c, const PurlPackage& pkg, const Advisory& a,
                    const RangeMatch& m) {
  Finding f;
  f.component_ref = c.ref;
  f.ecosystem = pkg.ecosystem.name;
  f.package = pkg.name;
  f.version = c.parsed_purl && !c.parsed_purl->version.empty() ? c.parsed_purl->version : c.version;
  f.purl = c.purl;
  f.advisory_id = a.id;
  f.display_id = a.displayId();
  f.aliases = a.aliases;
  f.summary = a.summary;
  for (const auto& r : a.references) f.references.push_back(r.url);
  f.fixed_versions = m.fixed;
  f.cvss = a.cvssScore();
  f.cvss_vector = bestVector(a);
  f.database_severity = a.database_severity;
  return f;
}

bool sameVulnerability(const Finding& x, const Advisory& a) {
  std::set<std::string_view> ids{x.advisory_id};
  for (const auto& s : x.aliases) ids.insert(s);
  for (const auto& s : x.also) ids.insert(s);
  if (ids.count(a.id)) return true;
  return std::any_of(a.aliases.begin(), a.aliases.end(),
                     [&](const std::string& s) { return ids.count(s) > 0; });
}

bool releaseMatches(const EcosystemId& component, const EcosystemId& advisory) {
  if (component.release.empty() || advisory.release.empty()) return true;
  if (component.release == advisory.release) return true;
  // "Ubuntu:22.04:LTS" against a component's "22.04"; "Alpine:v3.16" against "3.16".
  std::string_view a = advisory.release;
  if (!a.empty() && a.front() == 'v') a.remove_prefix(1);
  return a == component.release || a.rfind(component.release + ":", 0) == 0;
}

core::Severity stepSeverity(core::Severity s, int delta) {
  int v = static_cast<int>(s) + delta;
  v = std::clamp(v, static_cast<int>(core::Severity::kLow), static_cast<int>(core::Severity::kCritical));
  if (static_cast<int>(s) == 0 && delta <= 0) v = 0;  // INFO stays INFO
  return static_cast<core::Severity>(v);
}

}  // namespace

std::string Finding::key() const { return advisory_id + "|" + ecosystem + "|" + package; }

ScanResult scan(const Sbom& sbom, const AdvisoryDb& db, const ScanOptions& options) {
  ScanResult out;
  out.components = sbom.components.size();
  std::vector<const VexStatement*> vex;
  for (const auto& s : sbom.vex) vex.push_back(&s);
  for (const auto& s : options.vex) vex.push_back(&s);
  // The same package may be listed several times (once per path in the dependency tree).
  std::set<std::string> seen_packages;
  for (const Component& c : sbom.components) {
    if (!c.parsed_purl) {
      out.skipped.push_back(SkippedComponent{c.ref, c.name, c.version, c.purl,
                                             c.purl.empty() ? "no package URL"
                                                            : "package URL does not parse: " + c.purl_error});
      continue;
    }
    PurlPackage pkg = purlPackage(*c.parsed_purl);
    std::string version = !c.parsed_purl->version.empty() ? c.parsed_purl->version : c.version;
    if (pkg.ecosystem.kind == Ecosystem::kUnknown) {
      out.skipped.push_back(SkippedComponent{
          c.ref, c.name, version, c.purl,
          "unsupported ecosystem \"" + c.parsed_purl->type + "\" (no version order)"});
      continue;
    }
    if (version.empty()) {
      out.skipped.push_back(SkippedComponent{c.ref, c.name, version, c.purl, "no version"});
      continue;
    }
    std::string dedup = pkg.ecosystem.name + "|" + pkg.name + "|" + version;
    if (!seen_packages.insert(dedup).second) continue;
    out.scanned.push_back(ScannedPackage{pkg.ecosystem.name, pkg.name, version});
    size_t first_for_component = out.findings.size();
    for (const auto& cand : db.candidates(pkg.ecosystem, pkg.name)) {
      const Advisory& a = *cand.advisory;
      if (a.isWithdrawn()) continue;
      if (!releaseMatches(pkg.ecosystem, cand.package->ecosystem)) continue;
      RangeMatch m = matchVersion(*cand.package, version);
      if (!m.affected) continue;
      // Merge advisories that describe the same vulnerability (GHSA and PYSEC of one CVE).
      auto existing = std::find_if(out.findings.begin() + first_for_component, out.findings.end(),
                                   [&](const Finding& f) { return sameVulnerability(f, a); });
      if (existing != out.findings.end()) {
        if (existing->advisory_id != a.id &&
            std::find(existing->also.begin(), existing->also.end(), a.id) == existing->also.end()) {
          existing->also.push_back(a.id);
        }
        for (const auto& fx : m.fixed) {
          if (std::find(existing->fixed_versions.begin(), existing->fixed_versions.end(), fx) ==
              existing->fixed_versions.end()) {
            existing->fixed_versions.push_back(fx);
          }
        }
        continue;
      }
      out.findings.push_back(makeFinding(c, pkg, a, m));
    }
    // VEX: move suppressed findings of this component aside, with the justification.
    for (size_t i = first_for_component; i < out.findings.size();) {
      Finding& f = out.findings[i];
      const VexStatement* hit = nullptr;
      for (const VexStatement* s : vex) {
        if (!suppressingState(s->state) || !namesVulnerability(*s, f)) continue;
        bool applies = s->affects.empty() ||
                       std::any_of(s->affects.begin(), s->affects.end(),
                                   [&](const std::string& r) { return refersTo(r, c); });
        if (applies) {
          hit = s;
          break;
        }
      }
      if (!hit) {
        ++i;
        continue;
      }
      f.vex_state = hit->state;
      f.vex_justification = hit->justification;
      f.vex_detail = hit->detail;
      out.suppressed.push_back(std::move(f));
      out.findings.erase(out.findings.begin() + static_cast<long>(i));
    }
  }
  return out;
}

FindingRisk riskOf(const Finding& f, const Asset& asset) {
  FindingRisk r;
  int crit = std::clamp(asset.criticality, 1, 5);
  double base;
  if (f.cvss) {
    base = *f.cvss * 10.0;
    r.severity = severityForCvss(*f.cvss);
  } else {
    std::string s = core::toLower(f.database_severity);
    if (s == "critical") {
      r.severity = core::Severity::kCritical;
    } else if (s == "high") {
      r.severity = core::Severity::kHigh;
    } else if (s == "low") {
      r.severity = core::Severity::kLow;
    } else {
      r.severity = core::Severity::kMedium;  // "moderate", or unknown: the middle
    }
    base = core::scoreForSeverity(r.severity);
  }
  if (crit == 5) r.severity = stepSeverity(r.severity, +1);
  if (crit == 1) r.severity = stepSeverity(r.severity, -1);
  r.score = std::clamp(static_cast<int>(std::lround(base)) + (crit - 3) * 5, core::kMinScore,
                       core::kMaxScore);
  return r;
}

core::Detection toDetection(const Finding& f, const Asset& asset) {
  core::Detection d;
  d.project_id = asset.project_id;
  d.source = std::string(core::source::kVulnerability);
  d.entity = core::Entity{"asset", asset.name};
  d.entity_group = asset.entity_group;
  d.host = asset.host;
  d.name = f.display_id + " in " + f.package + "@" + f.version;
  if (d.name.size() > core::kMaxNameLength) d.name.resize(core::kMaxNameLength);
  d.rule_id = f.advisory_id + " " + f.package;
  if (d.rule_id.size() > core::kMaxShortText) d.rule_id.resize(core::kMaxShortText);
  d.rule_group = f.ecosystem;
  d.check_by = core::CheckBy::kRule | core::CheckBy::kEntity;
  FindingRisk risk = riskOf(f, asset);
  d.severity = risk.severity;
  d.score = risk.score;
  std::string description = f.summary.empty() ? f.advisory_id : f.summary;
  if (!f.fixed_versions.empty()) {
    description += "\nFixed in: ";
    for (size_t i = 0; i < f.fixed_versions.size(); ++i) {
      description += (i ? ", " : "") + f.fixed_versions[i];
    }
  } else {
    description += "\nNo fixed version is known.";
  }
  if (description.size() > core::kMaxDescriptionLength) description.resize(core::kMaxDescriptionLength);
  d.description = std::move(description);
  nlohmann::json ev = {
      {"advisory", f.advisory_id},
      {"aliases", f.aliases},
      {"related_advisories", f.also},
      {"summary", f.summary},
      {"fixed_versions", f.fixed_versions},
      {"component", {{"ref", f.component_ref}, {"purl", f.purl}, {"ecosystem", f.ecosystem},
                     {"package", f.package}, {"version", f.version}}},
      {"asset_criticality", asset.criticality},
  };
  std::vector<std::string> refs = f.references;
  if (refs.size() > 50) refs.resize(50);  // the evidence has a size limit; the advisory has all
  ev["references"] = refs;
  if (f.cvss) ev["cvss"] = {{"score", *f.cvss}, {"vector", f.cvss_vector}};
  if (!f.database_severity.empty()) ev["database_severity"] = f.database_severity;
  d.evidence_json = ev.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return d;
}

std::vector<core::Detection> toDetections(const ScanResult& r, const Asset& asset) {
  std::vector<core::Detection> out;
  out.reserve(r.findings.size());
  for (const auto& f : r.findings) out.push_back(toDetection(f, asset));
  return out;
}

void submitFindings(const ScanResult& r, const Asset& asset, core::DetectionSink& sink) {
  if (r.findings.empty()) return;
  sink.submit(toDetections(r, asset));
}

std::string_view goneReasonName(GoneReason r) {
  switch (r) {
    case GoneReason::kComponentUpgraded: return "component upgraded";
    case GoneReason::kComponentRemoved: return "component removed";
    case GoneReason::kAdvisoryWithdrawn: return "advisory withdrawn";
    case GoneReason::kSuppressedByVex: return "suppressed by VEX";
    case GoneReason::kNoLongerMatches: return "advisory no longer matches";
  }
  return "unknown";
}

ScanDiff diffScans(const ScanResult& before, const ScanResult& after, const AdvisoryDb* db) {
  ScanDiff diff;
  std::unordered_map<std::string, const Finding*> now;
  for (const auto& f : after.findings) now.emplace(f.key(), &f);
  std::unordered_map<std::string, const Finding*> was;
  for (const auto& f : before.findings) was.emplace(f.key(), &f);
  std::unordered_map<std::string, const Finding*> suppressed;
  for (const auto& f : after.suppressed) suppressed.emplace(f.key(), &f);
  std::multimap<std::string, std::string> versions_now;  // ecosystem|package -> version
  for (const auto& p : after.scanned) versions_now.emplace(p.ecosystem + "|" + p.package, p.version);

  for (const auto& f : after.findings) {
    if (was.count(f.key())) {
      diff.kept.push_back(f);
    } else {
      diff.added.push_back(f);
    }
  }
  for (const auto& f : before.findings) {
    if (now.count(f.key())) continue;
    GoneFinding g{f, GoneReason::kNoLongerMatches, {}};
    std::string who = f.package + "@" + f.version;
    auto range = versions_now.equal_range(f.ecosystem + "|" + f.package);
    const Advisory* a = db ? db->find(f.advisory_id) : nullptr;
    if (auto s = suppressed.find(f.key()); s != suppressed.end()) {
      g.reason = GoneReason::kSuppressedByVex;
      g.note = f.display_id + " in " + who + " marked " + s->second->vex_state + " by VEX" +
               (s->second->vex_justification.empty() ? "" : " (" + s->second->vex_justification + ")") +
               (s->second->vex_detail.empty() ? "" : ": " + s->second->vex_detail);
    } else if (a && a->isWithdrawn()) {
      g.reason = GoneReason::kAdvisoryWithdrawn;
      g.note = f.advisory_id + " was withdrawn on " + a->withdrawn;
    } else if (range.first == range.second) {
      g.reason = GoneReason::kComponentRemoved;
      g.note = who + " is no longer in the inventory";
    } else {
      bool same_version = false;
      std::string versions;
      for (auto it = range.first; it != range.second; ++it) {
        if (it->second == f.version) same_version = true;
        versions += (versions.empty() ? "" : ", ") + it->second;
      }
      if (!same_version) {
        g.reason = GoneReason::kComponentUpgraded;
        g.note = f.package + " upgraded from " + f.version + " to " + versions;
      } else {
        g.reason = GoneReason::kNoLongerMatches;
        g.note = f.advisory_id + " no longer lists " + who + " as affected";
      }
    }
    diff.gone.push_back(std::move(g));
  }
  return diff;
}

}  // namespace td::vuln
