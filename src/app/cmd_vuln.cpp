#include "app/cmd_vuln.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <set>
#include <sstream>

#include <unistd.h>

#include "app/cli.h"
#include "core/text.h"
#include "server/vuln_service.h"
#include "triage/service.h"
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

// The advisories `threatdesk advisories import --store` kept, rebuilt in memory.
void loadStoredAdvisoriesOrFail(vuln::AdvisoryDb& db, const std::string& url) {
  auto store = openStoreOrFail(url);
  size_t bad = 0;
  orFail(store->vuln().forEachAdvisory([&](const store::AdvisoryRecord& r) {
    auto a = vuln::parseOsvAdvisory(r.document, r.source);
    if (a)
      db.add(std::move(*a));
    else
      ++bad;
    return true;
  }));
  if (bad) std::cerr << "threatdesk: " << bad << " stored advisories no longer parse; skipped\n";
  if (db.size() == 0)
    throw CommandFailed("the store " + url +
                        " holds no advisories; import some with `threatdesk advisories import`");
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
  std::string file, advisories, store, format = "table", fail_on, asset = "", vex;
  int criticality = 3;
  bool strict = false;
};

CLI::App* addSbomScan(CLI::App& app) {
  auto o = std::make_shared<ScanOptions>();
  auto* sbom = app.add_subcommand("sbom", "Software bills of materials");
  sbom->require_subcommand(1);
  auto* scan = sbom->add_subcommand(
      "scan", "Scan a CycloneDX or SPDX JSON SBOM against OSV advisories, offline");
  scan->add_option("FILE", o->file, "The SBOM (CycloneDX 1.2-1.7 JSON, SPDX 2.2/2.3/3.0 JSON)")
      ->required();
  scan->add_option("--advisories", o->advisories,
                   "OSV advisories: a .json file, a directory of them, or an osv.dev .zip");
  scan->add_option("--store", o->store,
                   "Scan against the advisories imported into this store (sqlite:PATH) instead");
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
    if (!o->advisories.empty() == !o->store.empty())
      throw CommandFailed("give either --advisories PATH or --store URL");
    if (!o->advisories.empty()) {
      loadAdvisoriesOrFail(db, o->advisories);
    } else {
      loadStoredAdvisoriesOrFail(db, o->store);
    }
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
  return sbom;
}

struct CheckOptions {
  std::string path, format = "text";
};

CLI::App* addAdvisoriesCheck(CLI::App& app) {
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
  return advisories;
}

// --- commands on the store ----------------------------------------------------------------------

const store::Actor kCliActor{std::nullopt, "cli"};

void printScanSummary(const server::ScanSummary& s) {
  std::cout << s.components << " components: " << s.open << " open findings (" << s.added
            << " new, " << s.resolved << " gone), " << s.suppressed << " suppressed by VEX, "
            << s.not_checked.size() << " not checked; threats: " << s.threats_created
            << " raised, " << s.threats_updated << " bumped, " << s.threats_closed
            << " closed as remediated, " << s.threats_reopened << " reopened\n";
  for (const auto& w : s.warnings) std::cerr << "warning: " << w << "\n";
}

struct UploadOptions {
  std::string file, asset, project, store = kDefaultStore, host, owner;
  int criticality = 3;
  bool create = false, strict = false;
};

void addSbomUpload(CLI::App& sbom) {
  auto o = std::make_shared<UploadOptions>();
  auto* cmd = sbom.add_subcommand(
      "upload", "Keep an SBOM as an asset's inventory in the store, scan it and raise threats");
  cmd->add_option("FILE", o->file, "The SBOM (CycloneDX 1.2-1.7 JSON, SPDX 2.2/2.3/3.0 JSON)")
      ->required();
  cmd->add_option("--asset", o->asset, "Asset name")->required();
  cmd->add_option("--project", o->project, "Project name")->required();
  cmd->add_flag("--create", o->create, "Create the asset when the project has none of that name");
  cmd->add_option("--host", o->host, "Host of a created asset");
  cmd->add_option("--owner", o->owner, "Owner of a created asset");
  cmd->add_option("--criticality", o->criticality, "Criticality 1-5 of a created asset")
      ->check(CLI::Range(1, 5))
      ->capture_default_str();
  cmd->add_flag("--strict", o->strict, "Refuse license ids that are not on the SPDX list");
  addStoreOption(cmd, o->store);
  cmd->callback([o] {
    auto store = openStoreOrFail(o->store);
    const auto project = orFail(store->findProject(o->project));
    auto asset = store->vuln().findAsset(project.id, o->asset);
    if (!asset && asset.error().code == core::ErrorCode::kNotFound && o->create) {
      store::AssetRecord a;
      a.project_id = project.id;
      a.name = o->asset;
      a.host = o->host;
      a.owner = o->owner;
      a.criticality = o->criticality;
      asset = store->vuln().createAsset(a);
    } else if (!asset && asset.error().code == core::ErrorCode::kNotFound) {
      throw CommandFailed("project " + o->project + " has no asset '" + o->asset +
                          "' (add it with `threatdesk asset add`, or pass --create)");
    }
    const store::AssetRecord a = orFail(std::move(asset));
    triage::TriageService triage(*store);
    server::VulnService service(*store, triage);
    orFail(service.loadAdvisories());
    vuln::SbomOptions options;
    options.strict_license_ids = o->strict;
    auto uploaded = service.uploadSbom(a.id, readFileOrFail(o->file), kCliActor, options);
    if (!uploaded) throw CommandFailed(o->file + ": " + uploaded.error().message);
    std::cout << o->file << ": " << uploaded->sbom.format << " " << uploaded->sbom.spec_version
              << " kept as SBOM " << uploaded->sbom.id << " of asset " << a.name << "\n";
    for (const auto& w : uploaded->warnings) std::cerr << "warning: " << w << "\n";
    printScanSummary(uploaded->scan);
  });
}

struct ImportOptions {
  std::string path, store = kDefaultStore;
  bool only_changed = false, quiet = false;
};

void addAdvisoriesImport(CLI::App& advisories) {
  auto o = std::make_shared<ImportOptions>();
  auto* cmd = advisories.add_subcommand(
      "import", "Import OSV advisories into the store and rescan every asset's inventory");
  cmd->add_option("PATH", o->path, "A .json file, a directory (recursive), or an osv.dev .zip")
      ->required();
  cmd->add_flag("--only-changed", o->only_changed,
                "Skip files whose size and modification time match the last import");
  cmd->add_flag("--quiet", o->quiet, "No progress line, even on a terminal");
  addStoreOption(cmd, o->store);
  cmd->callback([o] {
    auto store = openStoreOrFail(o->store);
    triage::TriageService triage(*store);
    server::VulnService service(*store, triage);
    orFail(service.loadAdvisories());
    const bool tty = !o->quiet && isatty(STDERR_FILENO);
    server::ImportProgress progress;
    if (tty) {
      progress = [](size_t done, size_t total, size_t stored, const std::string& file) {
        std::string name = std::filesystem::path(file).filename().string();
        if (name.size() > 40) name = "..." + name.substr(name.size() - 37);
        std::cerr << "\r\033[Kimporting [" << done << "/" << total << "] " << stored
                  << " advisories stored  " << name << std::flush;
      };
    }
    auto result = orFail(service.importAdvisories(o->path, o->only_changed, progress));
    if (tty) std::cerr << "\r\033[K";
    const auto& r = result.report;
    std::cout << o->path << ": " << result.files << " files read"
              << (result.files_unchanged
                      ? " (" + std::to_string(result.files_unchanged) + " unchanged, skipped)"
                      : std::string())
              << ", " << r.documents << " documents, " << result.stored
              << " advisories stored (" << r.replaced << " replaced by a newer copy, "
              << r.withdrawn << " withdrawn), " << service.advisoryCount()
              << " in the store now\n";
    for (const auto& [eco, n] : r.unsupported_ecosystems)
      std::cout << "  " << eco << ": " << n << " affected packages in an unsupported ecosystem "
                << "(kept, not matched)\n";
    std::cout << result.assets_rescanned << " assets rescanned: " << result.totals.added
              << " new findings, " << result.totals.resolved << " gone; threats: "
              << result.totals.threats_created << " raised, " << result.totals.threats_closed
              << " closed, " << result.totals.threats_reopened << " reopened\n";
    for (const auto& e : r.errors) std::cerr << "error: " << e.field << ": " << e.message << "\n";
    if (!r.errors.empty())
      throw CommandFailed(std::to_string(r.errors.size()) + " of " +
                          std::to_string(r.documents) + " documents could not be imported");
  });
}

struct AssetOptions {
  std::string name, project, store = kDefaultStore, host, owner, entity_group, description,
      format = "text";
  int criticality = 3;
};

void addAssetCommands(CLI::App& app) {
  auto o = std::make_shared<AssetOptions>();
  auto* asset = app.add_subcommand("asset", "Assets whose software inventory is scanned");
  asset->require_subcommand(1);
  auto* add = asset->add_subcommand("add", "Add an asset to a project");
  add->add_option("NAME", o->name, "Asset name (the threat entity), unique in the project")
      ->required();
  add->add_option("--project", o->project, "Project name")->required();
  add->add_option("--host", o->host, "Host name");
  add->add_option("--owner", o->owner, "Owner (team or person)");
  add->add_option("--entity-group", o->entity_group, "Entity group");
  add->add_option("--description", o->description, "Description");
  add->add_option("--criticality", o->criticality,
                  "1 (lowest) to 5 (business-critical); moves severity one step at 1 and 5")
      ->check(CLI::Range(1, 5))
      ->capture_default_str();
  addStoreOption(add, o->store);
  add->callback([o] {
    auto store = openStoreOrFail(o->store);
    store::AssetRecord a;
    a.project_id = orFail(store->findProject(o->project)).id;
    a.name = o->name;
    a.host = o->host;
    a.owner = o->owner;
    a.entity_group = o->entity_group;
    a.description = o->description;
    a.criticality = o->criticality;
    auto created = orFail(store->vuln().createAsset(a));
    std::cout << "asset " << created.id << " " << created.name << " added to " << o->project
              << "\n";
  });

  auto* list = asset->add_subcommand("list", "List assets with their open findings");
  list->add_option("--project", o->project, "Project name (default: all)");
  list->add_option("--format", o->format, "text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  addStoreOption(list, o->store);
  list->callback([o] {
    auto store = openStoreOrFail(o->store);
    std::vector<core::ProjectId> projects;
    if (!o->project.empty()) projects.push_back(orFail(store->findProject(o->project)).id);
    auto assets = orFail(store->vuln().listAssets(projects));
    if (o->format == "json") {
      json items = json::array();
      for (const auto& a : assets) {
        json counts = json::object();
        for (int s = 0; s < core::kSeverityCount; ++s)
          counts[std::string(core::severityName(static_cast<core::Severity>(s)))] =
              a.open_findings[static_cast<size_t>(s)];
        items.push_back({{"id", a.id},
                         {"project_id", a.project_id},
                         {"name", a.name},
                         {"host", a.host},
                         {"owner", a.owner},
                         {"criticality", a.criticality},
                         {"current_sbom_id",
                          a.current_sbom_id ? json(*a.current_sbom_id) : json(nullptr)},
                         {"open_findings", counts}});
      }
      std::cout << items.dump(2) << "\n";
      return;
    }
    std::cout << "ID  NAME  HOST  OWNER  CRITICALITY  SBOM  OPEN (C/H/M/L)\n";
    for (const auto& a : assets) {
      const auto& f = a.open_findings;
      std::cout << a.id << "  " << a.name << "  " << (a.host.empty() ? "-" : a.host) << "  "
                << (a.owner.empty() ? "-" : a.owner) << "  " << a.criticality << "  "
                << (a.current_sbom_id ? std::to_string(*a.current_sbom_id) : "-") << "  "
                << f[4] << "/" << f[3] << "/" << f[2] << "/" << f[1] << "\n";
    }
  });
}

}  // namespace

void registerVulnCommands(CLI::App& app) {
  CLI::App* sbom = addSbomScan(app);
  addSbomUpload(*sbom);
  CLI::App* advisories = addAdvisoriesCheck(app);
  addAdvisoriesImport(*advisories);
  addAssetCommands(app);
}

}  // namespace td::app
