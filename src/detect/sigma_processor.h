// The Sigma stage of the live event pipeline: a core::EventProcessor over a compiled Ruleset (the
// engine plus, per rule, its create_threat / create_signal action globally and per project),
// with correlation windows and entity analytics per project. Matches become core::Detections
// whose evidence carries the matching event (bounded), the rule's id, title, level and ATT&CK
// tags; signals also feed the entity rules, which raise one threat per entity and window.
//
// Reloading: compileRuleset() builds a new Ruleset off the hot path and swap() replaces the
// current one atomically; batches already running finish on the old one, the next batch uses the
// new one. Correlation windows restart with a new Ruleset (their rule indices change); entity
// analytics keep their windows while the entity rules stay the same.
//
// Thread safety: process() runs concurrently on any number of threads (per-thread matchers come
// from a pool); swap(), ruleset(), takeHits() and stats() are safe from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/event_processor.h"
#include "detect/correlation.h"
#include "detect/diagnostics.h"
#include "detect/engine.h"
#include "detect/entity_analytics.h"
#include "detect/rule_action.h"

namespace td::detect {

// One rule as stored (the server's rule service fills these from the RuleStore).
struct RuleSource {
  std::int64_t row_id = 0;  // the store's id, for hit counts (0: none)
  std::string group;        // the rule group's name
  std::string yaml;         // a Sigma rule (or correlation) or an entity rule
  std::string action_json;        // the rule's own action; "" = the group's
  std::string group_action_json;  // the group's action; "" = defaults from the rule's level
  std::map<core::ProjectId, std::string> project_actions;        // the rule's, per project
  std::map<core::ProjectId, std::string> group_project_actions;  // the group's, per project
};

// Compiled rules with their actions. Immutable once built, except the hit counters.
struct Ruleset {
  struct Binding {
    std::int64_t row_id = 0;
    std::string group;
    RuleAction action;  // for projects without their own
    std::unordered_map<core::ProjectId, RuleAction> per_project;
    const RuleAction& actionFor(core::ProjectId project) const {
      auto it = per_project.find(project);
      return it == per_project.end() ? action : it->second;
    }
  };
  std::shared_ptr<const Engine> engine;          // null when no Sigma rule loaded
  std::vector<Binding> bindings;                 // by engine rule index
  std::vector<EntityRule> entity_rules;
  std::vector<std::int64_t> entity_rule_rows;    // row ids of entity_rules
  std::string entity_fingerprint;                // equal: the same entity rules
  LoadReport report;
  std::int64_t version = 0;                      // the store's rules version it was built from
  mutable std::vector<std::atomic<std::uint64_t>> hits;  // by engine rule index
  mutable std::vector<std::atomic<std::uint64_t>> entity_hits;
};

// Compiles rules and resolves their actions: rule+project, else rule, else group+project, else
// group, else the defaults of the rule's level. A rule or action that does not compile is
// reported (with the rule's row id in the diagnostic's file, "rule 12") and left out.
core::Result<std::shared_ptr<Ruleset>> compileRuleset(const std::vector<RuleSource>& sources,
                                                      std::int64_t version = 0);

// The maximum size of the event copied into a detection's evidence.
constexpr size_t kMaxEvidenceEventBytes = 64 * 1024;

class SigmaProcessor final : public core::EventProcessor {
 public:
  SigmaProcessor();
  ~SigmaProcessor() override;

  std::string_view name() const override { return "sigma"; }
  void process(const std::vector<std::string_view>& events, core::ProjectId project,
               core::DetectionSink& sink) noexcept override;

  // Replaces the rules in effect (atomically for the batches that start afterwards).
  void swap(std::shared_ptr<const Ruleset> rules);
  std::shared_ptr<const Ruleset> ruleset() const;

  // Hit counts by store row id since the last call (including rulesets swapped out meanwhile).
  std::vector<std::pair<std::int64_t, std::int64_t>> takeHits();

  struct Stats {
    std::uint64_t events = 0;
    std::uint64_t bad_events = 0;
    std::uint64_t detections = 0;
    std::uint64_t signals = 0;
    std::uint64_t entity_threats = 0;
    std::uint64_t correlation_evictions = 0;
  };
  Stats stats() const;

 private:
  struct ProjectState;
  std::unique_ptr<Matcher> acquireMatcher(const std::shared_ptr<const Engine>& engine);
  void releaseMatcher(std::unique_ptr<Matcher> m);
  static void collectHits(const Ruleset& rs, std::map<std::int64_t, std::int64_t>& out);

  mutable std::mutex mu_;
  std::shared_ptr<const Ruleset> current_;                 // guarded by mu_
  std::vector<std::shared_ptr<const Ruleset>> retired_;    // guarded by mu_: hits not yet taken
  std::vector<std::unique_ptr<Matcher>> matchers_;         // guarded by mu_: idle, current engine
  std::mutex projects_mu_;
  std::unordered_map<core::ProjectId, std::unique_ptr<ProjectState>> projects_;  // guarded
  std::atomic<std::uint64_t> events_{0}, bad_events_{0}, detections_{0}, signals_{0},
      entity_threats_{0}, evictions_{0};
};

}  // namespace td::detect
