// The in-memory read model of threats: compact column arrays of the fields that the list, the
// overview and export filter, sort and count by. The store loads it at open and updates it after
// every committed write, then answers filters, sorts, keyset pages and aggregates from it by
// scanning (a million threats take a few milliseconds), and reads only the page's rows from the
// database. Backend-neutral: it knows nothing of SQL.
//
// Text columns are interned (each distinct value stored once) so that a threat costs about 80
// bytes, and a text search tests each distinct value once rather than each threat.
//
// Thread safety: all methods may be called from any thread; queries share a reader lock, updates
// take the writer lock. The store applies updates in commit order under its write lock.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/threat.h"
#include "store/query.h"

namespace td::store {

// The indexed fields of one threat.
struct IndexRow {
  ThreatId id = 0;
  ProjectId project_id = 0;
  int score = 0;
  core::Severity severity = core::Severity::kMedium;
  core::ThreatKind kind = core::ThreatKind::kThreat;
  bool closed = false;
  TagId state_id = 0;
  TagId group_id = 0;    // 0: none
  TagId outcome_id = 0;  // 0: none
  UserId owner_id = 0;   // 0: none
  std::string_view source;
  std::string_view entity_group;
  std::string_view host;
  std::string_view entity_type;
  std::string_view entity_value;
  std::string_view rule_id;
  std::string_view name;
  TimeMs created_at = 0;
  TimeMs last_seen = 0;
};

// A ThreatFilter whose names the store has already turned into ids. An unset optional does not
// narrow; an empty vector matches nothing (e.g. a state name no organisation has). Id 0 in
// groups/owners stands for "none".
struct IndexFilter {
  ProjectId project_id = 0;  // 0: every project
  std::optional<std::vector<TagId>> group_ids;
  std::optional<std::vector<TagId>> state_ids;
  std::optional<std::vector<UserId>> owner_ids;
  std::vector<core::Severity> severities;
  std::vector<std::string> sources;  // case-insensitive
  std::vector<core::ThreatKind> kinds;
  std::string entity;  // exact value, or "type:value"
  std::string host;    // case-insensitive
  std::string entity_group;  // case-insensitive
  std::string text;    // case-insensitive substring of name, entity value, host or rule id
  std::optional<bool> open;
  std::optional<TimeMs> from;  // last_seen in [from, to)
  std::optional<TimeMs> to;
};

// Where a keyset page starts: strictly after the row with this sort key and id.
struct IndexCursor {
  std::int64_t key = 0;
  ThreatId id = 0;
};

struct IndexPageRequest {
  ThreatSort sort = ThreatSort::kLastSeen;
  bool descending = true;
  std::optional<IndexCursor> after;
  int limit = 50;
};

struct IndexPage {
  std::vector<ThreatId> ids;
  std::int64_t total = 0;           // matching the filter, whatever the cursor
  std::optional<IndexCursor> next;  // set when more rows follow the page
};

struct IndexOverview {
  std::array<std::int64_t, core::kSeverityCount> open_by_severity{};
  std::int64_t total = 0;
  // Timeline over [from, to) by last_seen: per bucket, counts per severity or per group id.
  std::vector<TimeMs> bucket_starts;
  std::vector<std::array<std::int64_t, core::kSeverityCount>> by_severity;  // per bucket
  std::vector<std::unordered_map<TagId, std::int64_t>> by_group;            // per bucket
  std::vector<NamedCount> by_entity_group;  // top 10, empty values left out
  std::vector<NamedCount> by_source;
  std::vector<NamedCount> by_host;
  std::vector<NamedCount> by_period;  // cumulative: last 24 hours, 7 days, 30 days; then older
  IndexPage page;                     // the first page, from the same scan
};

struct IndexOverviewRequest {
  TimeMs from = 0;  // the timeline's range
  TimeMs to = 0;
  BucketSize bucket = BucketSize::kDay;
  bool split_by_group = false;
  TimeMs now = 0;  // for by_period
  IndexPageRequest page;
};

// The start of the bucket containing `t` (hours and days from the epoch, weeks from Monday).
TimeMs bucketStart(TimeMs t, BucketSize size);
TimeMs bucketLength(BucketSize size);

// The sort key of a row for `sort` (what a cursor carries).
std::int64_t sortKey(const IndexRow& row, ThreatSort sort);

class ThreatIndex {
 public:
  ThreatIndex() = default;
  ThreatIndex(const ThreatIndex&) = delete;
  ThreatIndex& operator=(const ThreatIndex&) = delete;

  void clear();
  // Adds the threat, or replaces every indexed field of it when its id is known.
  void put(const IndexRow& row);
  void reserve(size_t rows);
  // A duplicate folded in: only last_seen moves.
  void touch(ThreatId id, TimeMs last_seen);
  // Moves every threat carrying tag `from` of `kind` (0 group, 1 state, 2 outcome) to `to`.
  void replaceTag(int kind, TagId from, TagId to);
  bool contains(ThreatId id) const;
  size_t size() const;
  // Approximate bytes held (columns and dictionaries), for the benchmarks.
  size_t memoryBytes() const;

  IndexPage list(const IndexFilter& filter, const IndexPageRequest& page) const;
  IndexOverview overview(const IndexFilter& filter, const IndexOverviewRequest& request) const;
  // Calls `row` for every threat passing the whole filter, in no particular order, under the
  // reader lock (the string views point into the index: copy what must outlive the call).
  void scan(const IndexFilter& filter, const std::function<void(const IndexRow&)>& row) const;
  // Threats per state id and severity, all projects.
  std::unordered_map<TagId, std::array<std::int64_t, core::kSeverityCount>> countsByState() const;

 private:
  // Each distinct string once; id 0 is "". Lowercased copies back the case-insensitive search.
  struct Dict {
    std::deque<std::string> values;
    std::deque<std::string> lower;
    std::unordered_map<std::string_view, std::uint32_t> ids;
    Dict();
    std::uint32_t intern(std::string_view s);
    size_t bytes() const;
  };
  struct Matcher;

  std::uint32_t rowOf(ThreatId id) const;  // kNoRow when unknown
  void setRow(std::uint32_t r, const IndexRow& row);
  Matcher compile(const IndexFilter& filter) const;
  // sel[r] = 1 for rows passing every member but severity and open.
  void select(const Matcher& m, std::vector<std::uint8_t>& sel) const;
  void page(const std::vector<std::uint8_t>& sel, const IndexPageRequest& request,
            IndexPage& out) const;

  static constexpr std::uint32_t kNoRow = UINT32_MAX;

  mutable std::shared_mutex mu_;
  std::vector<std::uint32_t> row_of_id_;  // ids are dense, so a vector beats a hash map
  std::vector<ThreatId> id_;
  std::vector<std::uint32_t> project_;
  std::vector<std::uint8_t> score_;
  std::vector<std::uint8_t> flags_;  // bits 0-2 severity, bit 3 kind, bit 4 closed
  std::vector<std::uint32_t> state_;
  std::vector<std::uint32_t> group_;
  std::vector<std::uint32_t> outcome_;
  std::vector<std::uint32_t> owner_;
  std::vector<std::uint32_t> source_;
  std::vector<std::uint32_t> entity_group_;
  std::vector<std::uint32_t> host_;
  std::vector<std::uint32_t> entity_type_;
  std::vector<std::uint32_t> entity_value_;
  std::vector<std::uint32_t> rule_id_;
  std::vector<std::uint32_t> name_;
  std::vector<TimeMs> created_;
  std::vector<TimeMs> last_seen_;
  Dict sources_, entity_groups_, hosts_, entity_types_, entity_values_, rule_ids_, names_;
};

}  // namespace td::store
