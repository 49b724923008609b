// Cron expressions: parsing (with the field named in errors) and next runs from a table of
// expressions, zones and expected instants, across daylight-saving changes. The expected
// instants were computed independently with Python's zoneinfo.
#include "report/cron.h"

#include <gtest/gtest.h>

namespace td::report {
namespace {

TimeMs at(const char* rfc3339) { return *core::parseRfc3339(rfc3339); }

struct NextCase {
  const char* cron;
  const char* zone;
  const char* after;
  const char* expected;  // nullptr: never
};

TEST(CronTest, NextRunTable) {
  const NextCase cases[] = {
      // Every Monday 08:00 in Berlin: CEST (UTC+2) after the spring change, CET after autumn.
      {"0 8 * * 1", "Europe/Berlin", "2026-03-23T12:00:00Z", "2026-03-30T06:00:00Z"},
      {"0 8 * * MON", "Europe/Berlin", "2026-10-20T00:00:00Z", "2026-10-26T07:00:00Z"},
      // 02:30 does not exist on 2026-03-29 in Berlin: it runs when the clocks jump (03:00 CEST).
      {"30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z"},
      {"30 2 * * *", "Europe/Berlin", "2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"},
      // 02:30 happens twice on 2026-10-25: it runs once, at the first.
      {"30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", "2026-10-25T00:30:00Z"},
      {"30 2 * * *", "Europe/Berlin", "2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"},
      // Hourly across New York's fall-back: 01:00 (repeated) runs once, then 02:00 EST.
      {"0 * * * *", "America/New_York", "2026-11-01T05:30:00Z", "2026-11-01T07:00:00Z"},
      {"0 * * * *", "America/New_York", "2026-11-01T04:30:00Z", "2026-11-01T05:00:00Z"},
      {"*/15 9-17 * * mon-fri", "UTC", "2026-11-20T17:50:00Z", "2026-11-23T09:00:00Z"},
      {"*/15 9-17 * * mon-fri", "UTC", "2026-11-23T09:00:00Z", "2026-11-23T09:15:00Z"},
      {"0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", "2028-02-29T00:00:00Z"},
      {"0 0 30 2 *", "UTC", "2026-01-01T00:00:00Z", nullptr},
      // Day of month and day of week both restricted: either matches (Vixie cron).
      {"0 12 1 * 1", "UTC", "2026-11-23T13:00:00Z", "2026-11-30T12:00:00Z"},
      {"0 12 1 * 1", "UTC", "2026-11-30T12:00:00Z", "2026-12-01T12:00:00Z"},
      {"@weekly", "UTC", "2026-11-23T00:00:00Z", "2026-11-29T00:00:00Z"},
      {"@monthly", "Europe/Berlin", "2026-11-23T00:00:00Z", "2026-11-30T23:00:00Z"},
      {"0 0 * * 7", "UTC", "2026-11-23T00:00:00Z", "2026-11-29T00:00:00Z"},  // 7 is Sunday
      {"5/20 * * * *", "UTC", "2026-11-23T10:50:00Z", "2026-11-23T11:05:00Z"},
      {"0 9 * JAN,jul *", "UTC", "2026-11-23T00:00:00Z", "2027-01-01T09:00:00Z"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.cron) + " in " + c.zone + " after " + c.after);
    auto cron = parseCron(c.cron);
    ASSERT_TRUE(cron) << cron.error().message;
    auto zone = loadTimeZone(c.zone);
    ASSERT_TRUE(zone) << zone.error().message;
    auto next = nextRun(*cron, **zone, at(c.after));
    if (!c.expected) {
      EXPECT_FALSE(next.has_value());
      continue;
    }
    ASSERT_TRUE(next.has_value());
    EXPECT_EQ(core::formatRfc3339(*next), c.expected);
  }
}

TEST(CronTest, ErrorsNameTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {"61 * * * *", "minute"},        {"* 24 * * *", "hour"},
      {"* * 0 * *", "day of month"},   {"* * * 13 *", "month"},
      {"0 8 * * 8", "day of week"},    {"* * *", "five fields"},
      {"@fortnightly", "macro"},       {"5-1 * * * *", "range"},
      {"*/0 * * * *", "step"},         {"0 8 * JANX *", "month"},
      {"", "five fields"},             {"1,,2 * * * *", "minute"},
  };
  for (const auto& [text, what] : cases) {
    auto r = parseCron(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().field, "cron");
    EXPECT_NE(r.error().message.find(what), std::string::npos) << r.error().message;
  }
}

TEST(CronTest, UnknownZonesAreRefused) {
  EXPECT_EQ(loadTimeZone("Mars/Olympus").error().field, "time_zone");
  EXPECT_FALSE(loadTimeZone("../../etc/passwd"));
  EXPECT_FALSE(loadTimeZone("/etc/localtime"));
  EXPECT_TRUE(loadTimeZone("UTC"));
}

TEST(CronTest, CalendarRoundTrips) {
  for (std::int64_t d = -800000; d < 800000; d += 997) {
    const CivilDate c = civilFromDays(d);
    ASSERT_EQ(daysFromCivil(c), d);
  }
  EXPECT_EQ(weekdayOfDays(0), 4);  // 1970-01-01 was a Thursday
  EXPECT_EQ(weekdayOfDays(daysFromCivil({2026, 11, 23})), 1);
  EXPECT_EQ(daysInMonth(2028, 2), 29);
  EXPECT_EQ(daysInMonth(2100, 2), 28);
}

}  // namespace
}  // namespace td::report
