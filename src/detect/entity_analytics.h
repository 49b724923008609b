// Entity analytics: how noisy, low-fidelity detections become one actionable threat. Rules whose
// action is create_signal raise signals (kind SIGNAL) that add their score to their entity
// (host, user, IP ...). An entity rule groups those signals by entity over a look-back window
// (e.g. 24 hours) and raises one threat when a criterion holds (summed score >= N, or signals
// from at least N distinct rules), with the contributing signals as evidence; it then stays
// quiet for that entity for a suppression period.
//
// Entity rules are YAML documents beside Sigma rules:
//
//   title: Host collects many signals
//   id: 3f0c...                     # optional; default: the title
//   level: high                     # severity and score of the raised threat
//   entity_rule:
//     entity: [host, user]          # entity types it looks at (default: all)
//     window: 24h                   # look-back window (s, m, h, d)
//     score_sum: 100                # raise when the window's summed score reaches this ...
//     distinct_rules: 3             # ... or when this many distinct rules signalled
//     suppress: 24h                 # quiet period per entity after raising (default: window)
//
// Memory is bounded: at most Limits::max_entities entities are tracked (the least recently
// signalled is evicted and counted) and each keeps at most Limits::max_signals signals.
//
// Thread safety: EntityRule is a value type. EntityAnalytics is NOT safe for concurrent use;
// callers serialise (the Sigma processor keeps one per project under a mutex).
#pragma once

#include <cstdint>
#include <deque>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "core/threat.h"
#include "core/time.h"

namespace td::detect {

struct EntityRule {
  std::string id;
  std::string title;
  std::vector<std::string> entity_types;  // empty: every type
  core::TimeMs window_ms = 24 * core::kHourMs;
  std::optional<std::int64_t> score_sum;       // raise when the summed score >= this
  std::optional<std::int64_t> distinct_rules;  // or when this many distinct rules signalled
  core::TimeMs suppress_ms = 24 * core::kHourMs;
  core::Severity severity = core::Severity::kHigh;
  int score = 70;
};

// Whether a YAML text is an entity rule (has a top-level `entity_rule` mapping).
bool isEntityRuleYaml(std::string_view yaml);
// Parses one entity rule; errors name the field ("entity_rule.window") and line.
core::Result<EntityRule> parseEntityRule(std::string_view yaml);
// "30s", "15m", "24h", "7d" -> milliseconds.
core::Result<core::TimeMs> parseDuration(std::string_view text);

class EntityAnalytics {
 public:
  struct Limits {
    size_t max_entities = 100'000;
    size_t max_signals = 256;       // per entity; the oldest go first
    size_t max_evidence_signals = 50;
  };
  EntityAnalytics(std::vector<EntityRule> rules, Limits limits);
  explicit EntityAnalytics(std::vector<EntityRule> rules)
      : EntityAnalytics(std::move(rules), Limits{}) {}

  // Feeds one signal (a detection of kind SIGNAL with an entity); appends the threats that
  // entity rules raise because of it. Signals without an entity are ignored. Never throws.
  void observe(const core::Detection& signal, std::vector<core::Detection>& raised);

  struct Stats {
    size_t entities = 0;
    std::uint64_t evicted_entities = 0;
    std::uint64_t dropped_signals = 0;
    std::uint64_t raised = 0;
    std::uint64_t suppressed = 0;
  };
  Stats stats() const;
  const std::vector<EntityRule>& rules() const { return rules_; }

 private:
  struct Signal {
    std::string rule_id;
    std::string name;
    int score = 0;
    core::TimeMs at = 0;
    std::vector<std::string> tags;
  };
  struct EntityState {
    std::deque<Signal> signals;                              // in arrival order
    std::unordered_map<size_t, core::TimeMs> quiet_until;    // per entity rule index
    std::list<std::string>::iterator lru;
  };
  std::vector<EntityRule> rules_;
  Limits limits_;
  core::TimeMs max_window_ = 0;
  std::unordered_map<std::string, EntityState> entities_;  // key: type \x1f value
  std::list<std::string> lru_;                             // most recent first
  Stats stats_;
};

}  // namespace td::detect
