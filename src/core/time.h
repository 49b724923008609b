// Time in ThreatDesk: milliseconds since the Unix epoch, UTC, in an int64. Conversion to and from
// RFC 3339 text. Pure functions, safe from any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace td::core {

using TimeMs = std::int64_t;

constexpr TimeMs kSecondMs = 1000;
constexpr TimeMs kMinuteMs = 60 * kSecondMs;
constexpr TimeMs kHourMs = 60 * kMinuteMs;
constexpr TimeMs kDayMs = 24 * kHourMs;

TimeMs nowMs();

// "2026-11-23T11:21:00.123Z" (milliseconds shown only when not zero).
std::string formatRfc3339(TimeMs t);

// Accepts RFC 3339 / ISO 8601 date-times with 'Z' or a numeric offset, optional fraction, and a
// bare date ("2026-11-23", taken as midnight UTC). Rejects anything else.
Result<TimeMs> parseRfc3339(std::string_view text);

}  // namespace td::core
