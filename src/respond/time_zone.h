// IANA time zones read from the system's TZif files (/usr/share/zoneinfo, or $TZDIR), for digests
// and quiet hours in each recipient's own time zone. libstdc++ 12 has no std::chrono::tzdb, and
// setenv("TZ") + localtime_r is process-global, so we read the transitions ourselves. Beyond the
// last transition in the file the last offset holds (Debian ships "fat" files up to 2037).
//
// Thread safety: TimeZone is immutable; timeZone() caches under a mutex.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace td::respond {

using core::TimeMs;

class TimeZone {
 public:
  // Seconds east of UTC at an instant.
  int offsetSeconds(TimeMs utc) const;
  // The local wall-clock time as if it were UTC (utc + offset).
  TimeMs toLocal(TimeMs utc) const { return utc + offsetSeconds(utc) * 1000LL; }
  // The instant of a local wall-clock time (the earlier one when a DST change repeats it).
  TimeMs toUtc(TimeMs local) const;
  const std::string& name() const { return name_; }

  static std::shared_ptr<const TimeZone> utc();
  // Parses TZif data (for tests and the fuzzer); `name` is kept for messages.
  static core::Result<std::shared_ptr<const TimeZone>> fromTzif(std::string_view data,
                                                                std::string name);

 private:
  std::string name_;
  std::vector<std::int64_t> transitions_;  // seconds since the epoch, ascending
  std::vector<int> offsets_;               // offset after each transition
  int initial_offset_ = 0;
};

// The zone of an IANA name ("Europe/Berlin", "UTC"); kUnprocessable for unknown or unsafe names.
core::Result<std::shared_ptr<const TimeZone>> timeZone(std::string_view name);

// Minutes since local midnight, and the local weekday (0 = Sunday) of a local time.
int minuteOfDay(TimeMs local);
int weekday(TimeMs local);
TimeMs startOfDay(TimeMs local);

// "HH:MM" to minutes since midnight.
core::Result<int> parseClock(std::string_view text, const std::string& field);

}  // namespace td::respond
