#include "app/cmd_vuln.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>

#include "app/cli.h"
#include "core/text.h"
#include "vuln/advisory_db.h"
#include "vuln/cvss.h"
#include "vuln/scanner.h"

namespace td::app {
namespace {

using nlohmann::json;

// Exit status when a finding meets --fail-on, as Grype and OSV-Scanner use: 1 means "vulnerable",
// 2 (CommandFailed) means the command itself failed.
constexpr int kExitFindings = 1;

std::string readFileOrFail(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CommandFailed("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

vuln::AdvisoryDb& loadAdvisoriesOrFail(vuln::AdvisoryDb& db, const std::string& path,
                                       vuln::ImportReport* report_out = nullptr) {
  auto report = orFail(db.importPath(path));
  for (const auto& e : report.errors) {
    std::cerr << "threatdesk: advisory skipped: " << e.field << ": " << e.message << "\n";
  }
  if (db.size() == 0) throw CommandFailed("no advisories loaded from " + path);
  if (report_out) *report_out = std::move(report);
  return db;
}

std::string joined(const std::vector<std::string>& v, const char* sep = ", ") {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

std::string scoreText(const vuln::Finding& f) {
  if (!f.cvss) return f.database_severity.empty() ? "-" : f.database_severity;
  std::ostringstream s;
  s << std::fixed << std::setprecision(1) << *f.cvss;
  return s.str();
}

void printTable(const vuln::ScanResult& r, const vuln::Asset& asset) {
  std::vector<std::vector<std::string>> rows;
  rows.push_back({"VULNERABILITY", "ADVISORY", "SEVERITY", "CVSS", "ECOSYSTEM", "PACKAGE", "VERSION",
                  "FIXED IN"});
  for (const auto& f : r.findings) {
    rows.push_back({f.display_id, f.advisory_id,
                    std::string(core::severityName(vuln::riskOf(f, asset).severity)), scoreText(f),
                    f.ecosystem, f.package, f.version,
                    f.fixed_versions.empty() ? "-" : joined(f.fixed_versions)});
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      std::cout << row[i];
      if (i + 1 < row.size()) std::cout << std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::cout << "\n";
  }
  for (const auto& f : r.suppressed) {
    std::cout << "suppressed by VEX: " << f.display_id << " in " << f.package << "@" << f.version
              << " (" << f.vex_state << (f.vex_justification.empty() ? "" : ", " + f.vex_justification)
              << ")\n";
  }
  for (const auto& s : r.skipped) {
    std::cout << "not checked: " << (s.purl.empty() ? s.name + "@" + s.version : s.purl) << ": "
              << s.reason << "\n";
  }
  std::cout << r.components << " components, " << r.findings.size() << " findings, "
            << r.suppressed.size() << " suppressed by VEX, " << r.skipped.size()
            << " not checked\n";
}

json findingJson(const vuln::Finding& f, const vuln::Asset& asset) {
  json j = {{"id", f.display_id},         {"advisory", f.advisory_id},
            {"aliases", f.aliases},       {"related_advisories", f.also},
            {"summary", f.summary},       {"ecosystem", f.ecosystem},
            {"package", f.package},       {"version", f.version},
            {"purl", f.purl},             {"component_ref", f.component_ref},
            {"fixed_versions", f.fixed_versions},
            {"severity", core::severityName(vuln::riskOf(f, asset).severity)},
            {"score", vuln::riskOf(f, asset).score},
            {"references", f.references}};
  if (f.cvss) j["cvss"] = {{"score", *f.cvss}, {"vector", f.cvss_vector}};
  if (!f.vex_state.empty()) {
    j["vex"] = {{"state", f.vex_state}, {"justification", f.vex_justification}, {"detail", f.vex_detail}};
  }
  return j;
}

void printJson(const vuln::Sbom& sbom, const vuln::ScanResult& r, const vuln::Asset& asset) {
  json out = {{"sbom", {{"format", vuln::sbomFormatName(sbom.format)},
                        {"spec_version", sbom.spec_version},
                        {"subject", sbom.subject},
                        {"components", r.components}}},
              {"findings", json::array()},
              {"suppressed", json::array()},
              {"not_checked", json::array()}};
  for (const auto& f : r.findings) out["findings"].push_back(findingJson(f, asset));
  for (const auto& f : r.suppressed) out["suppressed"].push_back(findingJson(f, asset));
  for (const auto& s : r.skipped) {
    out["not_checked"].push_back(
        {{"ref", s.ref}, {"name", s.name}, {"version", s.version}, {"purl", s.purl}, {"reason", s.reason}});
  }
  std::cout << out.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
}

// SARIF 2.1.0, as code-scanning services ingest it: one rule per advisory, one result per
// finding, located at the SBOM file.
void printSarif(const std::string& file, const vuln::ScanResult& r, const vuln::Asset& asset) {
  json rules = json::array();
  json results = json::array();
  std::set<std::string> seen;
  for (const auto& f : r.findings) {
    if (seen.insert(f.advisory_id).second) {
      json rule = {{"id", f.advisory_id},
                   {"name", f.display_id},
                   {"shortDescription", {{"text", f.summary.empty() ? f.display_id : f.summary}}},
                   {"helpUri", "https://osv.dev/vulnerability/" + f.advisory_id},
                   {"properties", {{"tags", {"security", "vulnerability"}}}}};
      if (f.cvss) {
        std::ostringstream s;
        s << std::fixed << std::setprecision(1) << *f.cvss;
        rule["properties"]["security-severity"] = s.str();
      }
      rules.push_back(rule);
    }
    core::Severity sev = vuln::riskOf(f, asset).severity;
    std::string level = sev >= core::Severity::kHigh ? "error"
                        : sev >= core::Severity::kMedium ? "warning" : "note";
    std::string message = f.display_id + " in " + f.package + "@" + f.version +
                          (f.fixed_versions.empty() ? "; no fixed version known"
                                                    : "; fixed in " + joined(f.fixed_versions));
    results.push_back({{"ruleId", f.advisory_id},
                       {"level", level},
                       {"message", {{"text", message}}},
                       {"locations", {{{"physicalLocation", {{"artifactLocation", {{"uri", file}}}}}}}},
                       {"partialFingerprints", {{"findingKey", f.key()}}}});
  }
  json sarif = {{"version", "2.1.0"},
                {"$schema", "https://json.schemastore.org/sarif-2.1.0.json"},
                {"runs", {{{"tool", {{"driver", {{"name", "threatdesk"},
                                                  {"informationUri", "https://github.com/threatdesk"},
                                                  {"version", "0.1.0"},
                                                  {"rules", rules}}}}},
                           {"results", results}}}}};
  std::cout << sarif.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
}

struct ScanOptions {
  std::string file, advisories, format = "table", fail_on, asset = "", vex;
  int criticality = 3;
  bool strict = false;
};

void addSbomScan(CLI::App& app) {
  auto o = std::make_shared<ScanOptions>();
  auto* sbom = app.add_subcommand("sbom", "Software bills of materials");
  sbom->require_subcommand(1);
  auto* scan = sbom->add_subcommand(
      "scan", "Scan a CycloneDX or SPDX JSON SBOM against OSV advisories, offline");
  scan->add_option("FILE", o->file, "The SBOM (CycloneDX 1.2-1.7 JSON, SPDX 2.2/2.3/3.0 JSON)")
      ->required();
  scan->add_option("--advisories", o->advisories,
                   "OSV advisories: a .json file, a directory of them, or an osv.dev .zip")
      ->required();
  scan->add_option("--format", o->format, "table, json or sarif")
      ->check(CLI::IsMember({"table", "json", "sarif"}))
      ->capture_default_str();
  scan->add_option("--fail-on", o->fail_on,
                   "Exit 1 when a finding is at least this severe (LOW, MEDIUM, HIGH, CRITICAL)");
  scan->add_option("--vex", o->vex, "A CycloneDX VEX document whose statements suppress findings");
  scan->add_option("--asset", o->asset, "Asset name (default: the SBOM's subject)");
  scan->add_option("--criticality", o->criticality, "Asset criticality 1-5 (3: CVSS as is)")
      ->check(CLI::Range(1, 5))
      ->capture_default_str();
  scan->add_flag("--strict", o->strict, "Refuse license ids that are not on the SPDX list");
  scan->callback([o] {
    std::optional<core::Severity> fail_on;
    if (!o->fail_on.empty()) fail_on = orFail(core::parseSeverity(o->fail_on));
    vuln::SbomOptions sbom_options;
    sbom_options.strict_license_ids = o->strict;
    auto parsed = vuln::parseSbom(readFileOrFail(o->file), sbom_options);
    if (!parsed) {
      // The message already names every problem with its JSON path.
      const core::Error& e = parsed.error();
      bool located = e.message.find(e.field) != std::string::npos;
      throw CommandFailed(o->file + (e.field.empty() || located ? "" : " at " + e.field) + ": " +
                          e.message);
    }
    vuln::ScanOptions scan_options;
    if (!o->vex.empty()) {
      auto vex = vuln::parseSbom(readFileOrFail(o->vex));
      if (!vex) throw CommandFailed(o->vex + ": " + vex.error().message);
      scan_options.vex = vex->vex;
    }
    vuln::AdvisoryDb db;
    loadAdvisoriesOrFail(db, o->advisories);
    vuln::ScanResult result = vuln::scan(*parsed, db, scan_options);
    vuln::Asset asset;
    asset.name = !o->asset.empty() ? o->asset : (!parsed->subject.empty() ? parsed->subject : o->file);
    asset.criticality = o->criticality;
    if (o->format == "json") {
      printJson(*parsed, result, asset);
    } else if (o->format == "sarif") {
      printSarif(o->file, result, asset);
    } else {
      printTable(result, asset);
    }
    if (fail_on) {
      bool fails = std::any_of(result.findings.begin(), result.findings.end(), [&](const auto& f) {
        return vuln::riskOf(f, asset).severity >= *fail_on;
      });
      if (fails) {
        std::cout.flush();
        std::cerr << "threatdesk: findings at or above " << core::severityName(*fail_on) << "\n";
        std::exit(kExitFindings);
      }
    }
  });
}

struct CheckOptions {
  std::string path, format = "text";
};

void addAdvisoriesCheck(CLI::App& app) {
  auto o = std::make_shared<CheckOptions>();
  auto* advisories = app.add_subcommand("advisories", "Vulnerability advisories (OSV)");
  advisories->require_subcommand(1);
  auto* check = advisories->add_subcommand(
      "check", "Import OSV advisories into memory and report what was read, without storing");
  check->add_option("PATH", o->path, "A .json file, a directory, or an osv.dev .zip archive")
      ->required();
  check->add_option("--format", o->format, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  check->callback([o] {
    vuln::AdvisoryDb db;
    auto report = orFail(db.importPath(o->path));
    if (o->format == "json") {
      json errors = json::array();
      for (const auto& e : report.errors) errors.push_back({{"where", e.field}, {"message", e.message}});
      std::cout << json{{"documents", report.documents},
                        {"advisories", db.size()},
                        {"replaced", report.replaced},
                        {"withdrawn", report.withdrawn},
                        {"git_ranges", report.git_ranges},
                        {"affected_by_ecosystem", report.affected_by_ecosystem},
                        {"unsupported_ecosystems", report.unsupported_ecosystems},
                        {"warnings", report.warnings},
                        {"errors", errors}}
                       .dump(2)
                << "\n";
    } else {
      std::cout << o->path << ": " << report.documents << " documents, " << db.size()
                << " advisories (" << report.replaced << " replaced by a newer copy, "
                << report.withdrawn << " withdrawn: kept, never matched), " << report.git_ranges
                << " GIT ranges (recorded, not matched)\n";
      for (const auto& [eco, n] : report.affected_by_ecosystem) {
        bool unsupported = report.unsupported_ecosystems.count(eco) > 0;
        std::cout << "  " << eco << ": " << n << " affected packages"
                  << (unsupported ? " (ecosystem not supported: not matched)" : "") << "\n";
      }
      for (const auto& w : report.warnings) std::cout << "warning: " << w << "\n";
      for (const auto& e : report.errors) std::cout << "error: " << e.field << ": " << e.message << "\n";
    }
    if (!report.errors.empty()) {
      throw CommandFailed(std::to_string(report.errors.size()) + " of " +
                          std::to_string(report.documents) + " documents could not be imported");
    }
  });
}

}  // namespace

void registerVulnCommands(CLI::App& app) {
  addSbomScan(app);
  addAdvisoriesCheck(app);
}

}  // namespace td::app
