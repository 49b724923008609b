// How threats are asked for: the filter shared by the list, the overview and export; sort orders;
// keyset pages; and the overview's answer. Value types.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/threat.h"
#include "store/types.h"

namespace td::store {

// Every member narrows the set; empty members do not. Within a member, values are alternatives.
struct ThreatFilter {
  ProjectId project_id = 0;  // 0: every project (callers scope by project themselves)
  std::vector<std::string> groups;  // threat_group names; "" (or "none") matches "no group"
  std::vector<std::string> states;  // threat_state names
  std::vector<core::Severity> severities;
  std::vector<std::string> sources;
  std::vector<std::string> owners;  // user emails; "" matches "no owner"
  std::vector<core::ThreatKind> kinds;
  std::string entity;  // matches entity value exactly, or "type:value"
  std::string host;
  std::string entity_group;    // case-insensitive, e.g. "Servers"
  std::string text;            // case-insensitive substring of name, entity value, host or rule id
  std::optional<bool> open;    // true: not in the closed state; false: closed
  std::optional<TimeMs> from;  // on last_seen: threats active in [from, to)
  std::optional<TimeMs> to;
};

enum class ThreatSort : std::uint8_t { kScore, kSeverity, kLastSeen, kCreated };
core::Result<ThreatSort> parseThreatSort(
    std::string_view text);  // score|severity|last_seen|created
std::string_view threatSortName(ThreatSort s);

struct PageRequest {
  ThreatSort sort = ThreatSort::kLastSeen;
  bool descending = true;
  int limit = 50;      // 1..500
  std::string cursor;  // opaque; from ThreatPage::next_cursor
};

struct ThreatPage {
  std::vector<core::Threat> items;
  std::string next_cursor;  // empty on the last page
  std::int64_t total = 0;   // threats matching the filter
};

enum class BucketSize : std::uint8_t { kHour, kDay, kWeek };
std::string_view bucketSizeName(BucketSize b);
// hour for ranges up to 2 days, day up to 90 days, week beyond.
BucketSize bucketSizeFor(TimeMs from, TimeMs to);

enum class TimelineSplit : std::uint8_t { kSeverity, kGroup };

struct NamedCount {
  std::string name;
  std::int64_t count = 0;
};

struct TimelineBucket {
  TimeMs start = 0;
  std::vector<std::int64_t> counts;  // one per series, in Overview::series order
};

struct Overview {
  // Open threats by severity, INFO..CRITICAL (the chips), under the filter's other members.
  std::array<std::int64_t, core::kSeverityCount> open_by_severity{};
  std::int64_t total = 0;
  BucketSize bucket = BucketSize::kDay;
  // Severity names INFO..CRITICAL, or group names in the groups' order with "" (no group) last.
  std::vector<std::string> series;
  // Threats by last_seen over [from, to) (default: the 30 days before `now`), buckets aligned to
  // the hour, the day or the week (Mondays), UTC.
  std::vector<TimelineBucket> timeline;
  std::vector<NamedCount> by_entity_group;  // top 10 each, by count then name; "" left out
  std::vector<NamedCount> by_source;
  std::vector<NamedCount> by_host;
  // By last_seen against `now`, cumulative: last_24_hours, last_7_days, last_30_days; then older.
  std::vector<NamedCount> by_period;
  ThreatPage first_page;
};

struct OverviewRequest {
  ThreatFilter filter;
  TimelineSplit split = TimelineSplit::kSeverity;
  PageRequest page;
  TimeMs now = 0;  // 0: the current time; the range defaults to the last 30 days before it
};

}  // namespace td::store
