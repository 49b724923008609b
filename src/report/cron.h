// Cron expressions for report schedules, read in a time zone.
//
//   expression := "@hourly" | "@daily" | "@midnight" | "@weekly" | "@monthly" | "@yearly"
//               | "@annually" | minute hour day-of-month month day-of-week
//   field      := item ("," item)*
//   item       := ("*" | value | value "-" value) ["/" step]
//   value      := number | month name (JAN..DEC) | weekday name (SUN..SAT; 7 is Sunday too)
//
// As in Vixie cron, when both day-of-month and day-of-week are restricted a day matching either
// runs. Across daylight-saving changes: a wall-clock time that a spring-forward change skips runs
// at the moment the clocks jump (once), and one that a fall-back change repeats runs once, at its
// first occurrence.
//
// Pure functions and value types: safe from any thread.
#pragma once

#include <bitset>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "report/time_zone.h"

namespace td::report {

struct CronExpr {
  std::bitset<60> minutes;
  std::bitset<24> hours;
  std::bitset<32> days;    // 1..31
  std::bitset<13> months;  // 1..12
  std::bitset<7> weekdays;  // 0 = Sunday
  bool any_day = true;      // day-of-month was "*"
  bool any_weekday = true;  // day-of-week was "*"
  std::string text;
};

// kUnprocessable with field "cron" and a message naming the bad field.
core::Result<CronExpr> parseCron(std::string_view text);

// The first run strictly after `after`, or none within the next five years (e.g. "0 0 30 2 *").
std::optional<TimeMs> nextRun(const CronExpr& cron, const TimeZone& zone, TimeMs after);

}  // namespace td::report
