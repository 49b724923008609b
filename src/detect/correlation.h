// Sigma correlation rules (event_count, value_count, temporal, temporal_ordered) evaluated over
// the base-rule matches of a stream of events, with windows held in memory per group-by key.
// Memory is bounded: each correlation keeps at most EngineOptions::correlation_max_groups groups
// (the least recently updated group is evicted and counted) and each group a bounded history.
//
// Thread safety: a CorrelationEngine is NOT safe for concurrent use. Ingest partitions events by
// entity, so each worker owns one CorrelationEngine (windows of one entity live on one worker),
// or the caller serialises calls.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/threat.h"
#include "core/time.h"
#include "detect/engine.h"

namespace td::detect {

struct CorrelationHit {
  std::uint32_t rule = 0;       // the correlation's RuleInfo index in the Engine
  std::string group;            // "field=value, field=value"
  std::int64_t count = 0;       // events (event_count, temporal) or distinct values (value_count)
  core::TimeMs first = 0;
  core::TimeMs last = 0;
};

class CorrelationEngine {
 public:
  explicit CorrelationEngine(std::shared_ptr<const Engine> engine);
  ~CorrelationEngine();
  CorrelationEngine(const CorrelationEngine&) = delete;
  CorrelationEngine& operator=(const CorrelationEngine&) = delete;

  // Feeds the base-rule matches of the matcher's last event; appends correlations that fired.
  void observe(const Matcher& matcher, const std::vector<std::uint32_t>& matches,
               std::vector<CorrelationHit>& fired);

  struct Stats {
    std::uint64_t evicted_groups = 0;   // groups dropped to stay under the cap
    std::uint64_t truncated_events = 0; // history entries dropped from an over-full group
    size_t groups = 0;                  // groups held now
  };
  Stats stats() const;

 private:
  struct Window;
  std::shared_ptr<const Engine> engine_;
  std::vector<std::unique_ptr<Window>> windows_;  // one per correlation
  std::uint64_t evicted_ = 0;
  std::uint64_t truncated_ = 0;
};

// The detection a correlation hit raises (evidence: the group, count and time span).
core::Detection makeCorrelationDetection(const Engine& engine, const CorrelationHit& hit,
                                         std::string_view host);

}  // namespace td::detect
