// The detection engine. `Engine::build` compiles a set of Sigma rules once into an immutable
// matcher: every rule is routed by its logsource; the literal checks of all rules (exact,
// contains, startswith, endswith, wildcards, and the expansions of windash, base64offset,
// utf16 ...) are merged per field into one Hyperscan database, so one scan of a field's value
// answers every rule's literals on that field at once; regular expressions run on RE2 (linear
// time). Per event, only rules that some hit literal (or their logsource's literal) could make
// true are evaluated, so the cost per event grows with the event, not with the rule count.
//
// Thread safety: an Engine is immutable after build and shared (std::shared_ptr<const Engine>)
// by any number of threads; reloading rules builds a new Engine and swaps the pointer. A Matcher
// is per-thread scratch (simdjson parser, Hyperscan scratch, extracted fields): one per worker.
// The hot path (Matcher::evaluate) never throws and never allocates per rule.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/threat.h"
#include "core/time.h"
#include "detect/diagnostics.h"
#include "detect/event.h"
#include "detect/field_map.h"
#include "detect/sigma_rule.h"

namespace td::detect {

struct EngineOptions {
  // Rule statuses to load; rules of other statuses are counted as filtered. Empty means every
  // status but deprecated and unsupported.
  std::set<RuleStatus> statuses;
  // When set, every event is read with this map; otherwise the map is chosen per event from its
  // shape among the built-in maps.
  std::optional<FieldMap> field_map;
  // Upper bound of the groups each correlation rule keeps in memory (oldest evicted first).
  size_t correlation_max_groups = 100'000;
};

// A compiled detection rule's metadata (what a detection reports).
struct RuleInfo {
  std::string id;
  std::string title;
  std::string level;
  core::Severity severity = core::Severity::kMedium;
  int score = 50;
  std::vector<std::string> techniques;  // ATT&CK ids from the tags
  std::vector<std::string> tags;        // all tags as written
  std::string file;
  std::string logsource;
  bool is_correlation = false;
  bool generate = true;  // false for base rules of a correlation with generate: false
};

// A correlation rule resolved against the compiled base rules.
struct CorrelationSpec {
  std::uint32_t rule = 0;  // the correlation's own RuleInfo index
  Correlation def;
  std::vector<std::uint32_t> base_rules;   // rule indices, in the order of def.rules
  std::vector<std::int32_t> group_slots;   // slots of def.group_by
  std::int32_t value_slot = -1;            // value_count: slot of def.value_field
};

class Engine {
 public:
  // Compiles `rules`. Per-rule problems go to `report` (the rule is refused, the others load);
  // the Result fails only when nothing usable can be built (e.g. Hyperscan unavailable).
  static core::Result<std::shared_ptr<const Engine>> build(std::vector<SigmaRule> rules,
                                                           const EngineOptions& options,
                                                           LoadReport& report);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  size_t ruleCount() const { return rules_.size(); }
  const RuleInfo& rule(std::uint32_t index) const { return rules_[index].info; }
  size_t patternCount() const;
  size_t fieldCount() const { return fields_.size(); }
  const std::vector<CorrelationSpec>& correlations() const { return correlations_; }
  const EngineOptions& options() const { return options_; }
  // The slot of a Sigma field, or -1 when no rule uses it.
  std::int32_t slotOf(std::string_view field) const;

  struct Impl;  // compiled tables; defined in engine.cpp

 private:
  friend class Matcher;
  Engine();

  struct Rule {
    RuleInfo info;
    std::uint32_t root = 0;        // condition node
    std::int32_t logsource = -1;   // index into logsource roots, -1 = every event, -2 = none
  };
  std::vector<Rule> rules_;
  std::vector<std::string> fields_;
  std::vector<CorrelationSpec> correlations_;
  std::vector<EventLayout> layouts_;
  std::uint32_t timestamp_slot_ = 0;
  EngineOptions options_;
  std::unique_ptr<Impl> impl_;
};

// Per-thread evaluation of events against an Engine.
class Matcher {
 public:
  explicit Matcher(std::shared_ptr<const Engine> engine);
  ~Matcher();
  Matcher(const Matcher&) = delete;
  Matcher& operator=(const Matcher&) = delete;

  // Evaluates one event given as JSON text; the indices of the rules that match are appended
  // to `matches` (correlation rules are not included: feed them through CorrelationEngine).
  // Fails (without throwing) when the text is not a JSON object. `padded` promises that
  // simdjson::SIMDJSON_PADDING readable bytes follow the text (saves a copy per event).
  core::Status evaluate(std::string_view json, std::vector<std::uint32_t>& matches,
                        bool padded = false);

  // About the last evaluated event:
  const FieldMap* fieldMap() const;
  std::string_view host() const;
  std::string_view user() const;
  core::TimeMs time() const;  // 0 when the event has no parsable time
  // The first value of a Sigma field ("" when absent).
  std::string_view fieldText(std::string_view field) const;
  std::string_view fieldText(std::int32_t slot) const;

  const Engine& engine() const { return *engine_; }

  struct Stats {
    std::uint64_t events = 0;
    std::uint64_t bad_events = 0;
    std::uint64_t rules_evaluated = 0;
  };
  const Stats& stats() const { return stats_; }

  struct State;  // per-thread scratch; defined in engine.cpp

 private:
  std::shared_ptr<const Engine> engine_;
  std::unique_ptr<State> state_;
  Stats stats_;
};

// Builds the core::Detection of a rule match on the matcher's last event. The evidence is the
// event JSON (replaced by a marker object when over core::kMaxEvidenceBytes).
core::Detection makeDetection(const Matcher& matcher, std::uint32_t rule, std::string_view json);

// Parses the event time formats seen in Windows and ECS events ("2026-04-17T05:24:53.088849Z",
// "2020-06-09 22:50:54", epoch milliseconds). 0 when unparsable.
core::TimeMs parseEventTime(std::string_view text);

}  // namespace td::detect
