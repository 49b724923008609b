// Civil time for reports: IANA time zones read from the system's TZif files (/usr/share/zoneinfo
// or $TZDIR; libstdc++ 12 has no std::chrono::tzdb and TZ/localtime_r are process-global), and
// the calendar arithmetic that relative time ranges and cron schedules need.
//
// Thread safety: a TimeZone is immutable; loadTimeZone() caches under a mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace td::report {

using core::TimeMs;

class TimeZone {
 public:
  // Seconds east of UTC at an instant.
  int offsetSeconds(TimeMs utc) const;
  // Local wall-clock time written as if it were UTC.
  TimeMs toLocal(TimeMs utc) const { return utc + offsetSeconds(utc) * 1000LL; }
  // The instant of a local wall-clock time. A time repeated by a fall-back change maps to its
  // first occurrence; a time skipped by a spring-forward change maps to the instant the clocks
  // jumped (so 02:30 on a day that skips 02:00-03:00 is 03:00 local).
  TimeMs toUtc(TimeMs local) const;
  const std::string& name() const { return name_; }

  static std::shared_ptr<const TimeZone> utc();
  // From TZif data (tests, the fuzzer); `name` is kept for messages.
  static core::Result<std::shared_ptr<const TimeZone>> fromTzif(std::string_view data,
                                                                std::string name);

 private:
  std::string name_;
  std::vector<std::int64_t> transitions_;  // seconds since the epoch, ascending
  std::vector<int> offsets_;               // the offset from each transition on
  int first_offset_ = 0;
};

// The zone of an IANA name; kUnprocessable (field "time_zone") for unknown or unsafe names.
core::Result<std::shared_ptr<const TimeZone>> loadTimeZone(std::string_view name);

// A calendar date.
struct CivilDate {
  int year = 1970;
  int month = 1;  // 1..12
  int day = 1;    // 1..31
};
std::int64_t daysFromCivil(CivilDate d);
CivilDate civilFromDays(std::int64_t days);
int daysInMonth(int year, int month);
// 0 = Sunday .. 6 = Saturday, of days since the epoch.
int weekdayOfDays(std::int64_t days);
std::int64_t floorDiv(std::int64_t a, std::int64_t b);

}  // namespace td::report
