#include <gtest/gtest.h>

#include "vuln/version.h"

namespace td::vuln {
namespace {

TEST(VersionTest, GoPseudoVersionsOrderByTimestampAndBeforeTheRelease) {
  EXPECT_LT(compareVersions(Ecosystem::kGo, "v0.0.0-20191109021931-daa7c04131f5",
                            "v0.0.0-20200101000000-aaaaaaaaaaaa"),
            0);
  EXPECT_LT(compareVersions(Ecosystem::kGo, "v1.2.4-0.20191109021931-daa7c04131f5", "1.2.4"), 0);
  EXPECT_GT(compareVersions(Ecosystem::kGo, "v1.2.4-0.20191109021931-daa7c04131f5", "1.2.3"), 0);
  EXPECT_EQ(compareVersions(Ecosystem::kGo, "v2.0.0+incompatible", "2.0.0"), 0);
}

TEST(VersionTest, MavenFourPartAndQualifiers) {
  EXPECT_LT(compareVersions(Ecosystem::kMaven, "2.9.10", "2.9.10.8"), 0);
  EXPECT_LT(compareVersions(Ecosystem::kMaven, "24.1.1-jre", "29.0"), 0);
  EXPECT_EQ(compareVersions(Ecosystem::kMaven, "4.1.45.Final", "4.1.45"), 0);
  EXPECT_LT(compareVersions(Ecosystem::kMaven, "5.0.5.RELEASE", "5.2.20.RELEASE"), 0);
  EXPECT_LT(compareVersions(Ecosystem::kMaven, "1.0-alpha-1", "1.0"), 0);
  EXPECT_LT(compareVersions(Ecosystem::kMaven, "1.0", "1.0-sp1"), 0);
}

TEST(VersionTest, PackagistIgnoresTheVPrefix) {
  EXPECT_EQ(compareVersions(Ecosystem::kPackagist, "v7.30.6", "7.30.6"), 0);
  EXPECT_LT(compareVersions(Ecosystem::kPackagist, "v5.4.16", "5.4.20"), 0);
}

TEST(VersionTest, RpmEpochDominates) {
  EXPECT_GT(compareVersions(Ecosystem::kRpm, "1:1.0-1.el9", "2.0-1.el9"), 0);
  EXPECT_LT(compareVersions(Ecosystem::kRpm, "3.0.7-6.el9", "1:3.0.7-6.el9"), 0);
}

TEST(VersionTest, DebianTildeSortsBeforeRelease) {
  EXPECT_LT(compareVersions(Ecosystem::kDebian, "1.0~rc1-1", "1.0-1"), 0);
}

TEST(VersionTest, NeverFailsOnGarbage) {
  const char* junk[] = {"", "-", ".", "v", "::", "1..2", "~~", "^", "_p", "1.2.", "a-b-c", "\xff"};
  for (int e = 0; e <= static_cast<int>(Ecosystem::kHackage); ++e) {
    for (const char* a : junk) {
      for (const char* b : junk) {
        int x = compareVersions(static_cast<Ecosystem>(e), a, b);
        int y = compareVersions(static_cast<Ecosystem>(e), b, a);
        if (x == 0) {
          EXPECT_EQ(y, 0) << e << " '" << a << "' '" << b << "'";
        }
      }
    }
  }
}

TEST(VersionTest, ValidateNamesWhatIsWrong) {
  EXPECT_TRUE(validateVersion(Ecosystem::kNpm, "1.2.3").has_value());
  auto bad = validateVersion(Ecosystem::kNpm, "latest");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message.find("latest"), std::string::npos);
  EXPECT_FALSE(validateVersion(Ecosystem::kPyPI, "1.0 beta").has_value());
  EXPECT_FALSE(validateVersion(Ecosystem::kDebian, "x:1.0").has_value());
}

}  // namespace
}  // namespace td::vuln
