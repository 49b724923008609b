#include "store/query.h"

#include <array>

#include "core/text.h"

namespace td::store {
namespace {

using core::ErrorCode;
using core::fail;

constexpr std::array<std::string_view, 4> kSortNames = {"score", "severity", "last_seen",
                                                        "created"};
constexpr std::array<std::string_view, 3> kBucketNames = {"hour", "day", "week"};

}  // namespace

core::Result<ThreatSort> parseThreatSort(std::string_view text) {
  text = core::trim(text);
  for (size_t i = 0; i < kSortNames.size(); ++i)
    if (core::equalsIgnoreCase(text, kSortNames[i])) return static_cast<ThreatSort>(i);
  if (core::equalsIgnoreCase(text, "created_at")) return ThreatSort::kCreated;
  return fail(ErrorCode::kInvalidArgument,
              "unknown sort '" + std::string(text.substr(0, 64)) +
                  "' (expected score, severity, last_seen or created)",
              "sort");
}

std::string_view threatSortName(ThreatSort s) { return kSortNames[static_cast<size_t>(s)]; }

std::string_view bucketSizeName(BucketSize b) { return kBucketNames[static_cast<size_t>(b)]; }

BucketSize bucketSizeFor(TimeMs from, TimeMs to) {
  const TimeMs span = to > from ? to - from : 0;
  if (span <= 2 * core::kDayMs) return BucketSize::kHour;
  if (span <= 90 * core::kDayMs) return BucketSize::kDay;
  return BucketSize::kWeek;
}

}  // namespace td::store
