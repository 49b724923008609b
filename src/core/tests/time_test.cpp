#include "core/time.h"

#include <gtest/gtest.h>

namespace td::core {
namespace {

TEST(TimeTest, FormatsEpochAndMilliseconds) {
  EXPECT_EQ(formatRfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(formatRfc3339(1795000000123), "2026-11-18T11:06:40.123Z");
}

TEST(TimeTest, FormatsEveryFieldWithLeadingZeros) {
  EXPECT_EQ(formatRfc3339(951782400000), "2000-02-29T00:00:00Z");
  EXPECT_EQ(formatRfc3339(-86400000 + 1), "1969-12-31T00:00:00.001Z");
  EXPECT_EQ(formatRfc3339(253402300799999), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(formatRfc3339(-62135596800000), "0001-01-01T00:00:00Z");
  EXPECT_EQ(formatRfc3339(1000000000000 + 9 * kHourMs + 8 * kMinuteMs + 7050),
            "2001-09-09T10:54:47.050Z");
  // Years past 9999 keep every digit.
  EXPECT_EQ(formatRfc3339(253402300800000), "10000-01-01T00:00:00Z");
}

TEST(TimeTest, ParsesWhatItFormats) {
  for (TimeMs t : {TimeMs{0}, TimeMs{1795000000123}, TimeMs{951782400000}, TimeMs{-86400000}}) {
    EXPECT_EQ(parseRfc3339(formatRfc3339(t)).value(), t) << formatRfc3339(t);
  }
}

TEST(TimeTest, ParsesOffsetsAndBareDates) {
  EXPECT_EQ(parseRfc3339("1970-01-01T01:00:00+01:00").value(), 0);
  EXPECT_EQ(parseRfc3339("1970-01-02").value(), kDayMs);
  EXPECT_EQ(parseRfc3339("1970-01-01T00:00:00.5Z").value(), 500);
}

TEST(TimeTest, RejectsMalformedText) {
  for (const char* bad : {"", "yesterday", "2026-13-01", "2026-11-23T10:00:00", "2026-11-23T25:00Z",
                          "2026-11-23T10:00:00Zjunk", "2026-11-23T10:00:00+0100"}) {
    auto r = parseRfc3339(bad);
    EXPECT_FALSE(r.has_value()) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    }
  }
}

}  // namespace
}  // namespace td::core
