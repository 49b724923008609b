#include <gtest/gtest.h>

#include "vuln/cvss.h"

namespace td::vuln {
namespace {

double base(const char* v) {
  auto s = cvssBaseScore(v);
  EXPECT_TRUE(s) << v << ": " << (s ? "" : s.error().message);
  return s ? *s : -1;
}

TEST(CvssTest, BaseScoresOfWellKnownVectors) {
  EXPECT_DOUBLE_EQ(base("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"), 10.0);  // Log4Shell
  EXPECT_DOUBLE_EQ(base("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"), 9.8);
  EXPECT_DOUBLE_EQ(base("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:L/I:N/A:N"), 3.3);
  EXPECT_DOUBLE_EQ(base("CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:N/A:H"), 5.9);
  EXPECT_DOUBLE_EQ(base("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:U/C:L/I:H/A:L"), 7.6);
  EXPECT_DOUBLE_EQ(base("CVSS:3.0/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N"), 6.1);
  EXPECT_DOUBLE_EQ(base("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N"), 0.0);
}

TEST(CvssTest, TemporalAndEnvironmental) {
  auto v = parseCvss("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N/E:P/RL:O/RC:C");
  ASSERT_TRUE(v);
  auto s = scoreCvss(*v);
  ASSERT_TRUE(s);
  EXPECT_DOUBLE_EQ(s->base, 7.5);
  ASSERT_TRUE(s->temporal);
  EXPECT_DOUBLE_EQ(*s->temporal, 6.7);
  auto e = parseCvss("AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N/CR:X/IR:X/AR:X/MAV:X/MAC:X/MPR:X/MUI:X/MS:X/MC:N/MI:N/MA:N",
                     CvssVersion::kV31);
  ASSERT_TRUE(e);
  auto es = scoreCvss(*e);
  ASSERT_TRUE(es && es->environmental);
  EXPECT_DOUBLE_EQ(*es->environmental, 0.0);
}

TEST(CvssTest, RefusesBadVectorsSayingWhere) {
  auto missing = parseCvss("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("A"), std::string::npos);
  auto bad = parseCvss("CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().field, "offset 9");
  EXPECT_FALSE(parseCvss("CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"));
  EXPECT_FALSE(parseCvss("AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"));  // no prefix, no assumption
  EXPECT_FALSE(parseCvss("CVSS:2.0/AV:N"));
  EXPECT_FALSE(parseCvss("CVSS:3.1/"));
  EXPECT_FALSE(parseCvss("CVSS:3.1/AAV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:H"));
}

TEST(CvssTest, V4VectorsParseButAreNotScored) {
  auto v = parseCvss("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->version, CvssVersion::kV40);
  EXPECT_FALSE(scoreCvss(*v));
  EXPECT_FALSE(parseCvss("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N"));
}

TEST(CvssTest, RatingsAndSeverities) {
  EXPECT_EQ(cvssRating(0.0), "NONE");
  EXPECT_EQ(cvssRating(3.9), "LOW");
  EXPECT_EQ(cvssRating(4.0), "MEDIUM");
  EXPECT_EQ(cvssRating(8.9), "HIGH");
  EXPECT_EQ(cvssRating(9.0), "CRITICAL");
  EXPECT_EQ(severityForCvss(10.0), core::Severity::kCritical);
}

}  // namespace
}  // namespace td::vuln
