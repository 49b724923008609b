// Rules as a running server and the CLI manage them: installing a rule pack (SigmaHQ's
// repository or release-archive layout, a folder or a .zip) as the Managed Rules group, adding a
// custom rule from YAML (checked first; errors at line and field), and keeping the Sigma
// processor's compiled rules in step with the store: reload() compiles the active rules with
// their actions and swaps them in atomically; a background thread flushes hit counts to the
// store and reloads when the store's rules version moved (e.g. `threatdesk rules install` while
// the server runs).
//
// Thread safety: every method may be called from any thread; reloads are serialised.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "detect/diagnostics.h"
#include "detect/rule_explain.h"
#include "detect/sigma_processor.h"
#include "store/store.h"

namespace td::server {

inline constexpr const char* kManagedGroup = "Managed Rules";
inline constexpr const char* kCustomGroup = "Custom Rules";

struct PackInstall {
  detect::LoadReport report;  // every file's problems, as `rules check` prints them
  store::RuleInstallCounts counts;
  store::RuleGroup group;
  size_t stored = 0;          // rules now in the group
  size_t stored_disabled = 0; // of which disabled (deprecated / unsupported status)
};

// Reads a pack (folder or .zip) and makes `group_name` (created as a managed group when missing)
// hold exactly its valid rules. Rules refused by the loader are reported, not stored. Rules of
// status deprecated or unsupported are stored disabled.
core::Result<PackInstall> installRulePack(store::RuleStore& rules, const std::string& path,
                                          const std::string& group_name = kManagedGroup);

// Checks a YAML rule text and stores it as a new custom rule in `group_name` (created as a custom
// group when missing). A failed check answers kUnprocessable naming the line; `check` (when
// given) receives the full report.
core::Result<store::StoredRule> addCustomRule(store::RuleStore& rules, const std::string& yaml,
                                              const std::string& group_name = kCustomGroup,
                                              bool enabled = true,
                                              detect::RuleCheck* check = nullptr);

struct ReloadSummary {
  std::int64_t version = 0;
  size_t rules = 0;           // Sigma rules and correlations compiled
  size_t entity_rules = 0;
  size_t refused = 0;
  std::vector<detect::Diagnostic> errors;  // the first 50
  double seconds = 0;
};

class RuleService {
 public:
  RuleService(store::Store& store, detect::SigmaProcessor& processor);
  ~RuleService();
  RuleService(const RuleService&) = delete;
  RuleService& operator=(const RuleService&) = delete;

  // Compiles the store's active rules and swaps them into the processor; nothing to do (and the
  // last summary answered) when the processor already runs the store's current rules version.
  core::Result<ReloadSummary> reload();
  // The summary of the last reload.
  ReloadSummary lastReload() const;

  // Writes hit counts gathered since the last flush to the store.
  core::Status flushHits();

  // Starts the background thread: every `interval_ms`, flush hits and reload when the store's
  // rules version changed. stop() (also run by the destructor) flushes once more and joins.
  void start(int interval_ms = 2000);
  void stop();

  store::Store& store() { return store_; }
  detect::SigmaProcessor& processor() { return processor_; }

 private:
  void run(int interval_ms);

  store::Store& store_;
  detect::SigmaProcessor& processor_;
  std::mutex reload_mu_;        // serialises reloads
  mutable std::mutex state_mu_;
  ReloadSummary last_;          // guarded by state_mu_
  std::condition_variable wake_;
  bool stopping_ = false;       // guarded by state_mu_
  std::thread thread_;
};

}  // namespace td::server
