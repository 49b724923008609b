// The intel matcher: looks up the configured fields of each event in the live indicator index and
// turns hits into core::Detections (source "Threat Intelligence"). Matches are exact on canonical
// field values: an IP indicator never matches inside a longer string, a domain matches itself and
// its subdomains, a URL matches after normalisation, hashes match case-insensitively.
//
// Per event: one simdjson DOM parse, one walk over the event that descends only into keys some
// configured path needs (a trie of the paths), a table lookup per candidate value. Nothing on this
// path throws; a malformed event is counted and skipped.
//
// Thread safety: match() and process() may be called from any number of threads at once (each
// thread keeps its own parser); the index is read through LiveIndex, so a feed refresh swaps it
// while events flow. The allow-list and config are fixed at construction.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/detection_sink.h"
#include "core/error.h"
#include "intel/index.h"

namespace td::intel {

enum class FieldMode : std::uint8_t { kValue, kSysmonHashes, kBaseName, kUrl, kEmail };

struct FieldRule {
  std::string path;  // dotted
  ValueKind kind = ValueKind::kIp;
  FieldMode mode = FieldMode::kValue;
};

// Which fields are checked for which indicator kind, where the entity comes from, and the fields
// the optional port-class and minimum-bytes filters read. Data, not code: see
// src/intel/data/match_fields.yaml for the defaults (ECS, raw Windows/Sysmon, flat Windows).
struct MatchConfig {
  std::vector<FieldRule> fields;
  std::vector<std::string> host_fields;
  std::vector<std::string> user_fields;
  std::vector<std::string> port_fields;
  std::vector<std::string> bytes_fields;

  // YAML or JSON (JSON is YAML). Errors name the offending entry.
  static core::Result<MatchConfig> parse(std::string_view text);
  static const MatchConfig& defaults();
};

// Values that never match for one project: IPs, CIDRs, domains (with their subdomains), URLs,
// hashes, emails. Immutable once built.
class AllowList {
 public:
  AllowList();
  // Every entry must parse; the error names the first that does not.
  static core::Result<AllowList> parse(const std::vector<std::string>& entries);
  bool empty() const { return index_->size() == 0; }
  const Index& index() const { return *index_; }

 private:
  std::shared_ptr<const Index> index_;
};

// Remembers, per (indicator, entity), when a detection was last raised, and holds the next one
// back until `period` passed. Memory is bounded: a fixed table of `capacity` slots where a new key
// evicts whatever shared its slot (an eviction can only let one extra detection through, which the
// threat sink's de-duplication absorbs). Safe from any thread.
class SuppressionCache {
 public:
  explicit SuppressionCache(core::TimeMs period = core::kDayMs, size_t capacity = 1 << 16);
  // True when a detection for `key` may be raised at `now` (and records it).
  bool admit(std::uint64_t key, core::TimeMs now);
  core::TimeMs period() const { return period_; }

 private:
  struct Slot {
    std::uint64_t key = 0;
    core::TimeMs at = 0;
  };
  static constexpr size_t kStripes = 64;
  core::TimeMs period_;
  std::vector<Slot> slots_;
  std::mutex stripes_[kStripes];
};

enum class PortClass : std::uint8_t { kService, kIgnore, kUnsafe };

struct MatcherOptions {
  core::ProjectId project_id = 0;
  AllowList allow;
  core::TimeMs suppression_period = core::kDayMs;  // 0: raise every hit
  size_t suppression_capacity = 1 << 16;
  // IP hits on events whose destination port is kIgnore are dropped; kUnsafe adds 10 to the score.
  std::unordered_map<std::uint16_t, PortClass> port_classes;
  std::uint64_t min_bytes = 0;  // IP hits on events that moved fewer bytes are dropped (0: off)
  bool check_validity = true;   // drop indicators outside valid_from/valid_until at `now`
};

// One indicator hit in one event.
struct Match {
  std::shared_ptr<const Index> index;  // keeps the indicator alive after a swap
  IndicatorId indicator = 0;
  std::string field;        // the configured path that matched
  std::string value;        // the event's value as it appeared
  std::string host, user;   // entity fields found in the event
  int port = -1;            // destination port when the event has one
};

struct MatcherStats {
  std::uint64_t events = 0, bytes = 0, invalid = 0, matches = 0, allowed = 0, suppressed = 0,
                filtered = 0;
};

class Matcher {
 public:
  Matcher(std::shared_ptr<const LiveIndex> index, MatchConfig config = MatchConfig::defaults(),
          MatcherOptions options = {});
  ~Matcher();
  Matcher(const Matcher&) = delete;
  Matcher& operator=(const Matcher&) = delete;

  // All hits of one event (after allow-list, port and byte filters, validity; before suppression).
  // Returns false when the event is not a JSON object.
  bool match(std::string_view event_json, std::vector<Match>& out, core::TimeMs now = 0) noexcept;

  // The pipeline entry: matches every event, applies the per-entity suppression period and hands
  // the detections to `sink` in one batch. `now` 0 means the wall clock.
  void process(const std::vector<std::string_view>& events, core::DetectionSink& sink,
               core::TimeMs now = 0) noexcept;

  // The detection a match raises (public for the CLI and tests). `event_json` becomes evidence.
  core::Detection toDetection(const Match& m, std::string_view event_json) const;

  MatcherStats stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The JSON object `threatdesk intel match --out` writes per match: indicator (type, value, id in
// its feed, feeds, context), the field and value that matched, and the event.
std::string matchJson(const Match& m, std::string_view event_json);

}  // namespace td::intel
