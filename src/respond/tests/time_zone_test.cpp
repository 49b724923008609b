// Time zones from the system's TZif files, and the digest and quiet-hour arithmetic built on them.
#include "respond/time_zone.h"

#include <gtest/gtest.h>

#include "respond/dispatcher.h"

namespace td::respond {
namespace {

core::TimeMs at(const char* rfc3339) { return *core::parseRfc3339(rfc3339); }

TEST(TimeZoneTest, ReadsOffsetsIncludingDaylightSaving) {
  auto berlin = timeZone("Europe/Berlin");
  ASSERT_TRUE(berlin) << berlin.error().message;
  EXPECT_EQ((*berlin)->offsetSeconds(at("2026-01-15T12:00:00Z")), 3600);
  EXPECT_EQ((*berlin)->offsetSeconds(at("2026-07-15T12:00:00Z")), 7200);
  auto ny = timeZone("America/New_York");
  ASSERT_TRUE(ny);
  EXPECT_EQ((*ny)->offsetSeconds(at("2026-01-15T12:00:00Z")), -5 * 3600);
  auto kolkata = timeZone("Asia/Kolkata");
  ASSERT_TRUE(kolkata);
  EXPECT_EQ((*kolkata)->offsetSeconds(at("2026-01-15T12:00:00Z")), 5 * 3600 + 1800);
  EXPECT_EQ((*berlin)->toUtc((*berlin)->toLocal(at("2026-07-15T12:00:00Z"))),
            at("2026-07-15T12:00:00Z"));
}

TEST(TimeZoneTest, RefusesUnknownAndUnsafeNames) {
  EXPECT_FALSE(timeZone("Europe/Atlantis"));
  EXPECT_FALSE(timeZone("../../etc/passwd"));
  EXPECT_FALSE(timeZone("/etc/passwd"));
  EXPECT_FALSE(TimeZone::fromTzif("not a tzif file", "x"));
  EXPECT_TRUE(timeZone("UTC"));
}

TEST(TimeZoneTest, DailyDigestSlotIsLocalTime) {
  auto berlin = *timeZone("Europe/Berlin");
  DigestSchedule daily;
  daily.every = DigestSchedule::Every::kDaily;
  daily.at_minute = 9 * 60;
  // 08:30 UTC in July is 10:30 in Berlin: today's 09:00 Berlin = 07:00 UTC.
  EXPECT_EQ(digestSlot(at("2026-07-15T08:30:00Z"), *berlin, daily), at("2026-07-15T07:00:00Z"));
  // 06:30 UTC is 08:30 Berlin: the latest slot is yesterday's.
  EXPECT_EQ(digestSlot(at("2026-07-15T06:30:00Z"), *berlin, daily), at("2026-07-14T07:00:00Z"));
}

TEST(TimeZoneTest, HourlyAndWeeklySlots) {
  auto kolkata = *timeZone("Asia/Kolkata");
  DigestSchedule hourly;
  hourly.every = DigestSchedule::Every::kHourly;
  hourly.at_minute = 0;
  // 10:10 UTC = 15:40 IST; the top of the local hour is 15:00 IST = 09:30 UTC.
  EXPECT_EQ(digestSlot(at("2026-01-15T10:10:00Z"), *kolkata, hourly), at("2026-01-15T09:30:00Z"));
  DigestSchedule weekly;
  weekly.every = DigestSchedule::Every::kWeekly;
  weekly.day = 1;  // Monday
  weekly.at_minute = 8 * 60;
  // 2026-01-15 is a Thursday: the slot is Monday 2026-01-12 08:00 UTC.
  EXPECT_EQ(digestSlot(at("2026-01-15T10:00:00Z"), *TimeZone::utc(), weekly),
            at("2026-01-12T08:00:00Z"));
}

TEST(TimeZoneTest, QuietHoursDeferUntilTheirEnd) {
  auto ny = *timeZone("America/New_York");
  QuietHours q{22 * 60, 7 * 60};
  // 04:00 UTC in January = 23:00 New York: quiet until 07:00 New York = 12:00 UTC.
  EXPECT_EQ(quietUntil(at("2026-01-15T04:00:00Z"), *ny, q), at("2026-01-15T12:00:00Z"));
  // 15:00 UTC = 10:00 New York: not quiet.
  EXPECT_EQ(quietUntil(at("2026-01-15T15:00:00Z"), *ny, q), at("2026-01-15T15:00:00Z"));
}

}  // namespace
}  // namespace td::respond
