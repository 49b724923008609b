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

TEST(CvssTest, V4VectorsAreScoredByTheMacroVectorMethod) {
  auto v = parseCvss("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->version, CvssVersion::kV40);
  auto s = scoreCvss(*v);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_DOUBLE_EQ(s->base, 8.7);  // the usual network denial of service
  EXPECT_FALSE(parseCvss("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N"));
  // Scores the FIRST calculator gives (macro vector exactly: no distance to subtract).
  EXPECT_DOUBLE_EQ(*cvssBaseScore("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:H/SI:H/SA:H"),
                   10.0);
  EXPECT_DOUBLE_EQ(*cvssBaseScore("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"),
                   9.3);
  EXPECT_DOUBLE_EQ(*cvssBaseScore("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:N/SC:N/SI:N/SA:N"),
                   0.0);
  // Threat metrics lower the score: unreported exploitation moves to a lower MacroVector.
  const double unreported =
      *cvssBaseScore("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:U");
  EXPECT_LT(unreported, 9.3);
  // Every combination of base metrics scores within 0-10 and never above its MacroVector's 10.
  int scored = 0;
  for (const char* av : {"N", "A", "L", "P"})
    for (const char* ac : {"L", "H"})
      for (const char* pr : {"N", "L", "H"})
        for (const char* vc : {"H", "L", "N"})
          for (const char* sc : {"H", "L", "N"}) {
            std::string vec = std::string("CVSS:4.0/AV:") + av + "/AC:" + ac + "/AT:N/PR:" + pr +
                              "/UI:N/VC:" + vc + "/VI:L/VA:N/SC:" + sc + "/SI:N/SA:N";
            auto score = cvssBaseScore(vec);
            ASSERT_TRUE(score) << vec;
            EXPECT_GE(*score, 0.0) << vec;
            EXPECT_LE(*score, 10.0) << vec;
            ++scored;
          }
  EXPECT_EQ(scored, 216);
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
