#include "server/rule_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/text.h"
#include "detect/engine.h"
#include "detect/rule_loader.h"
#include "detect/sigma_rule.h"
#include "vuln/zip_archive.h"

namespace td::server {

using core::ErrorCode;
using core::fail;
namespace fs = std::filesystem;

namespace {

constexpr std::uint64_t kMaxPackBytes = 512ull << 20;
constexpr size_t kMaxReloadErrors = 50;

bool ruleFileName(std::string_view name) {
  return name.size() > 4 && (name.substr(name.size() - 4) == ".yml" ||
                             (name.size() > 5 && name.substr(name.size() - 5) == ".yaml"));
}

std::vector<std::string> components(std::string_view path) {
  std::vector<std::string> out;
  for (auto part : core::splitTrimmed(path, '/'))
    if (!part.empty()) out.emplace_back(part);
  return out;
}

// SigmaHQ's layout: rules*/ folders plus deprecated/ and unsupported/; tests, regression data
// and CI files are not rules.
bool excluded(const std::vector<std::string>& parts) {
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const auto& p = parts[i];
    if (p == ".github" || p == "tests" || p == "regression_data" || p == "images") return true;
  }
  return false;
}
bool inRuleFolder(const std::vector<std::string>& parts) {
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    const auto& p = parts[i];
    if (p.rfind("rules", 0) == 0 || p == "deprecated" || p == "unsupported") return true;
  }
  return false;
}

using Files = std::vector<std::pair<std::string, std::string>>;  // relative path, text

core::Result<Files> readPack(const std::string& path) {
  Files all;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    std::vector<fs::path> found;
    for (auto it = fs::recursive_directory_iterator(path, fs::directory_options::skip_permission_denied, ec);
         it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      if (it->is_regular_file(ec) && ruleFileName(it->path().filename().string()))
        found.push_back(it->path());
    }
    std::sort(found.begin(), found.end());
    for (const auto& p : found) {
      std::ifstream in(p, std::ios::binary);
      std::ostringstream text;
      text << in.rdbuf();
      all.emplace_back(fs::relative(p, path, ec).generic_string(), text.str());
    }
  } else if (fs::is_regular_file(path, ec)) {
    const auto size = fs::file_size(path, ec);
    if (size > kMaxPackBytes)
      return fail(ErrorCode::kTooLarge, "the pack is over 512 MiB", path);
    std::ifstream in(path, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (vuln::looksLikeZip(bytes)) {
      auto st = vuln::forEachZipMember(bytes, [&](std::string_view name, std::string_view data) {
        if (ruleFileName(name)) all.emplace_back(std::string(name), std::string(data));
        return true;
      });
      if (!st) return fail(st.error().code, st.error().message, path);
    } else if (ruleFileName(path)) {
      all.emplace_back(fs::path(path).filename().string(), std::move(bytes));
    } else {
      return fail(ErrorCode::kInvalidArgument, "expected a folder, a .zip or a .yml file", path);
    }
  } else {
    return fail(ErrorCode::kNotFound, "no such file or folder", path);
  }
  bool repo_layout = false;
  for (const auto& [name, text] : all)
    if (inRuleFolder(components(name))) repo_layout = true;
  Files out;
  for (auto& [name, text] : all) {
    const auto parts = components(name);
    if (excluded(parts)) continue;
    if (repo_layout && !inRuleFolder(parts)) continue;
    out.emplace_back(std::move(name), std::move(text));
  }
  return out;
}

detect::EngineOptions allStatuses() {
  detect::EngineOptions o;
  using S = detect::RuleStatus;
  o.statuses = {S::kStable, S::kTest, S::kExperimental, S::kDeprecated, S::kUnsupported,
                S::kUnknown};
  return o;
}

store::StoredRule toStored(const detect::SigmaRule& main, const std::string& uid,
                           const std::string& yaml) {
  store::StoredRule r;
  r.uid = uid;
  r.title = main.title.substr(0, core::kMaxNameLength);
  r.level = main.level;
  r.status = std::string(detect::ruleStatusName(main.status));
  r.kind = main.correlation ? "correlation" : "sigma";
  r.tags = main.tags;
  r.yaml = yaml;
  r.enabled = main.status != detect::RuleStatus::kDeprecated &&
              main.status != detect::RuleStatus::kUnsupported;
  return r;
}

}  // namespace

core::Result<PackInstall> installRulePack(store::RuleStore& rules, const std::string& path,
                                          const std::string& group_name) {
  auto files = readPack(path);
  if (!files) return fail(files.error());
  if (files->empty())
    return fail(ErrorCode::kUnprocessable, "no rule files (.yml, .yaml) found", path);
  PackInstall out;
  std::vector<detect::SigmaRule> all;
  std::map<std::string, std::vector<size_t>> by_file;  // file -> indices into `all`
  for (const auto& [name, text] : *files) {
    ++out.report.files;
    if (text.size() > detect::kMaxRuleFileBytes) {
      out.report.add({detect::DiagnosticLevel::kError, detect::code::kTooLarge,
                      "the file is over 1 MiB", name, 0, 0, "", ""});
      ++out.report.rules_refused;
      continue;
    }
    auto parsed = detect::parseSigmaYaml(text, name, out.report);
    for (auto& r : parsed) {
      by_file[name].push_back(all.size());
      all.push_back(std::move(r));
    }
  }
  std::vector<detect::SigmaRule> copy = all;
  auto engine = detect::Engine::build(std::move(copy), allStatuses(), out.report);
  if (!engine) return fail(engine.error());
  std::set<std::string> bad_files;
  for (const auto& d : out.report.diagnostics)
    if (d.level == detect::DiagnosticLevel::kError) bad_files.insert(d.file);
  std::vector<store::StoredRule> stored;
  for (const auto& [name, text] : *files) {
    auto it = by_file.find(name);
    if (it == by_file.end() || bad_files.count(name)) continue;
    const detect::SigmaRule* main = &all[it->second.front()];
    for (auto i : it->second)
      if (all[i].correlation) main = &all[i];
    stored.push_back(toStored(*main, main->id.empty() ? name : main->id, text));
    if (!stored.back().enabled) ++out.stored_disabled;
  }
  auto group = rules.findGroup(group_name);
  if (!group && group.error().code == ErrorCode::kNotFound)
    group = rules.createGroup(group_name, store::RuleGroupKind::kManaged,
                              "Installed from " + fs::path(path).filename().string());
  if (!group) return fail(group.error());
  if (group->kind != store::RuleGroupKind::kManaged)
    return fail(ErrorCode::kConflict,
                "group '" + group_name + "' holds custom rules; install packs into a managed group",
                "group");
  auto counts = rules.replaceGroupRules(group->id, stored);
  if (!counts) return fail(counts.error());
  out.counts = *counts;
  out.stored = stored.size();
  auto fresh = rules.getGroup(group->id);
  out.group = fresh ? *fresh : *group;
  return out;
}

core::Result<store::StoredRule> addCustomRule(store::RuleStore& rules, const std::string& yaml,
                                              const std::string& group_name, bool enabled,
                                              detect::RuleCheck* check) {
  detect::RuleCheck c = detect::checkRuleText(yaml);
  if (check) *check = c;
  if (!c.ok()) return fail(c.firstError());
  auto group = rules.findGroup(group_name);
  if (!group && group.error().code == ErrorCode::kNotFound)
    group = rules.createGroup(group_name, store::RuleGroupKind::kCustom, "");
  if (!group) return fail(group.error());
  if (group->kind != store::RuleGroupKind::kCustom)
    return fail(ErrorCode::kConflict,
                "group '" + group_name + "' is managed (installed from a pack); add custom rules "
                "to a custom group",
                "group");
  store::StoredRule r;
  r.group_id = group->id;
  r.uid = c.meta.uid;
  r.title = c.meta.title;
  r.level = c.meta.level;
  r.status = c.meta.status;
  r.kind = c.meta.kind;
  r.tags = c.meta.tags;
  r.yaml = yaml;
  r.enabled = enabled;
  return rules.createRule(r);
}

// --- RuleService ------------------------------------------------------------------------------

RuleService::RuleService(store::Store& store, detect::SigmaProcessor& processor)
    : store_(store), processor_(processor) {}

RuleService::~RuleService() { stop(); }

core::Result<ReloadSummary> RuleService::reload() {
  std::lock_guard lock(reload_mu_);
  const auto started = std::chrono::steady_clock::now();
  auto& rules = store_.rules();
  auto version = rules.rulesVersion();
  if (!version) return fail(version.error());
  // A burst of changes (each asking for a reload) compiles once: whoever waited for the lock
  // finds the rules already compiled from this version.
  if (auto current = processor_.ruleset(); current && current->version == *version) {
    std::lock_guard state(state_mu_);
    return last_;
  }
  auto active = rules.activeRules();
  if (!active) return fail(active.error());
  auto groups = rules.listGroups();
  if (!groups) return fail(groups.error());
  auto project_actions = rules.listProjectActions();
  if (!project_actions) return fail(project_actions.error());
  std::map<store::RuleGroupId, std::string> group_action;
  for (const auto& g : *groups) group_action[g.id] = g.action_json;
  std::map<std::int64_t, std::map<core::ProjectId, std::string>> rule_pa, group_pa;
  for (const auto& a : *project_actions)
    (a.target == store::ProjectRuleAction::Target::kRule ? rule_pa : group_pa)[a.target_id]
                                                                              [a.project_id] =
        a.action_json;
  std::vector<detect::RuleSource> sources;
  sources.reserve(active->size());
  for (auto& r : *active) {
    detect::RuleSource s;
    s.row_id = r.id;
    s.group = r.group;
    s.yaml = std::move(r.yaml);
    s.action_json = r.action_json;
    s.group_action_json = group_action[r.group_id];
    if (auto it = rule_pa.find(r.id); it != rule_pa.end()) s.project_actions = it->second;
    if (auto it = group_pa.find(r.group_id); it != group_pa.end())
      s.group_project_actions = it->second;
    sources.push_back(std::move(s));
  }
  auto compiled = detect::compileRuleset(sources, *version);
  if (!compiled) return fail(compiled.error());
  ReloadSummary summary;
  summary.version = *version;
  summary.rules = (*compiled)->engine ? (*compiled)->engine->ruleCount() : 0;
  summary.entity_rules = (*compiled)->entity_rules.size();
  summary.refused = (*compiled)->report.rules_refused;
  for (const auto& d : (*compiled)->report.diagnostics)
    if (d.level == detect::DiagnosticLevel::kError && summary.errors.size() < kMaxReloadErrors)
      summary.errors.push_back(d);
  processor_.swap(*compiled);
  summary.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  spdlog::info("rules loaded: {} rules, {} entity rules, {} refused, version {} ({:.2f} s)",
               summary.rules, summary.entity_rules, summary.refused, summary.version,
               summary.seconds);
  {
    std::lock_guard state(state_mu_);
    last_ = summary;
  }
  return summary;
}

ReloadSummary RuleService::lastReload() const {
  std::lock_guard state(state_mu_);
  return last_;
}

core::Status RuleService::flushHits() {
  auto hits = processor_.takeHits();
  if (hits.empty()) return {};
  return store_.rules().addHits(hits, core::nowMs());
}

void RuleService::start(int interval_ms) {
  if (thread_.joinable()) return;
  {
    std::lock_guard state(state_mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this, interval_ms] { run(interval_ms); });
}

void RuleService::stop() {
  {
    std::lock_guard state(state_mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (auto s = flushHits(); !s) spdlog::warn("rule hit counts not saved: {}", s.error().message);
}

void RuleService::run(int interval_ms) {
  while (true) {
    {
      std::unique_lock state(state_mu_);
      wake_.wait_for(state, std::chrono::milliseconds(interval_ms), [&] { return stopping_; });
      if (stopping_) return;
    }
    if (auto s = flushHits(); !s) spdlog::warn("rule hit counts not saved: {}", s.error().message);
    auto version = store_.rules().rulesVersion();
    auto current = processor_.ruleset();
    if (version && (!current || current->version != *version)) {
      if (auto r = reload(); !r) spdlog::error("rule reload failed: {}", r.error().message);
    }
  }
}

}  // namespace td::server
