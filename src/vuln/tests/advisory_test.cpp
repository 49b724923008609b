#include <gtest/gtest.h>

#include <fstream>

#include "tests/support/temp_dir.h"
#include "vuln/advisory_db.h"
#include "vuln/tests/zip_writer.h"
#include "vuln/zip_archive.h"

namespace td::vuln {
namespace {

const char* kLog4Shell = R"({
  "schema_version": "1.4.0", "id": "GHSA-jfh8-c2jp-5v3q", "modified": "2024-01-01T00:00:00Z",
  "aliases": ["CVE-2021-44228"], "summary": "Remote code injection in Log4j",
  "references": [{"type": "ADVISORY", "url": "https://nvd.nist.gov/vuln/detail/CVE-2021-44228"}],
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"}],
  "affected": [{"package": {"ecosystem": "Maven", "name": "org.apache.logging.log4j:log4j-core"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.13.0"}, {"fixed": "2.15.0"},
                                                 {"introduced": "2.0-beta9"}, {"fixed": "2.3.1"},
                                                 {"introduced": "2.4"}, {"fixed": "2.12.2"}]}]}]
})";

AffectedPackage pkg(const char* eco, std::vector<AffectedRange> ranges, std::vector<std::string> versions = {}) {
  AffectedPackage p;
  p.ecosystem = parseEcosystem(eco);
  p.name = "x";
  p.ranges = std::move(ranges);
  p.versions = std::move(versions);
  return p;
}
AffectedRange range(RangeType t, std::vector<RangeEvent> events) { return AffectedRange{t, "", std::move(events)}; }
RangeEvent intro(const char* v) { return {EventKind::kIntroduced, v}; }
RangeEvent fixed(const char* v) { return {EventKind::kFixed, v}; }
RangeEvent last(const char* v) { return {EventKind::kLastAffected, v}; }
RangeEvent limit(const char* v) { return {EventKind::kLimit, v}; }

TEST(AdvisoryTest, ParsesOsvAndScoresItsVector) {
  auto a = parseOsvAdvisory(kLog4Shell);
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_EQ(a->displayId(), "CVE-2021-44228");
  ASSERT_EQ(a->affected.size(), 1u);
  EXPECT_EQ(a->affected[0].ecosystem.kind, Ecosystem::kMaven);
  ASSERT_TRUE(a->cvssScore());
  EXPECT_DOUBLE_EQ(*a->cvssScore(), 10.0);
}

TEST(AdvisoryTest, MatchesUnsortedMultiRangeEvents) {
  auto a = parseOsvAdvisory(kLog4Shell);
  ASSERT_TRUE(a);
  const auto& p = a->affected[0];
  EXPECT_TRUE(matchVersion(p, "2.14.1").affected);
  EXPECT_EQ(matchVersion(p, "2.14.1").fixed, std::vector<std::string>{"2.15.0"});
  EXPECT_FALSE(matchVersion(p, "2.15.0").affected);
  EXPECT_FALSE(matchVersion(p, "2.12.2").affected);
  EXPECT_TRUE(matchVersion(p, "2.12.1").affected);
  EXPECT_FALSE(matchVersion(p, "2.0-beta8").affected);
  EXPECT_TRUE(matchVersion(p, "2.0").affected);
  EXPECT_FALSE(matchVersion(p, "1.2.17").affected);
}

TEST(AdvisoryTest, LastAffectedIsInclusive) {
  auto p = pkg("Maven", {range(RangeType::kEcosystem, {intro("0"), last("29.0")})});
  EXPECT_TRUE(matchVersion(p, "29.0").affected);
  EXPECT_TRUE(matchVersion(p, "24.1.1-jre").affected);
  EXPECT_FALSE(matchVersion(p, "29.0.1").affected);
  EXPECT_FALSE(matchVersion(p, "30.0-jre").affected);
  EXPECT_TRUE(matchVersion(p, "29.0").fixed.empty());
}

TEST(AdvisoryTest, LimitBoundsTheRange) {
  auto p = pkg("npm", {range(RangeType::kSemver, {intro("1.0.0"), limit("2.0.0")})});
  EXPECT_TRUE(matchVersion(p, "1.5.0").affected);
  EXPECT_FALSE(matchVersion(p, "2.0.0").affected);
  EXPECT_FALSE(matchVersion(p, "0.9.0").affected);
}

TEST(AdvisoryTest, VersionListsAndGitRanges) {
  auto p = pkg("PyPI", {range(RangeType::kGit, {intro("abc123"), fixed("def456")})}, {"1.0", "1.1"});
  EXPECT_TRUE(matchVersion(p, "1.1").affected);
  EXPECT_TRUE(matchVersion(p, "1.1").via_versions_list);
  EXPECT_FALSE(matchVersion(p, "1.2").affected);  // the GIT range is recorded, not matched
}

TEST(AdvisoryTest, SemverRangesIgnoreTheGoVPrefix) {
  auto p = pkg("Go", {range(RangeType::kSemver, {intro("0"), fixed("1.2.3")})});
  EXPECT_TRUE(matchVersion(p, "v1.2.2").affected);
  EXPECT_FALSE(matchVersion(p, "v1.2.3").affected);
  EXPECT_TRUE(matchVersion(p, "v0.0.0-20200101000000-abcdefabcdef").affected);
}

TEST(AdvisoryTest, UnsupportedEcosystemRangesDoNotMatch) {
  auto p = pkg("SwiftURL", {range(RangeType::kEcosystem, {intro("0")})});
  EXPECT_FALSE(matchVersion(p, "1.0").affected);
}

TEST(AdvisoryTest, RefusesBrokenDocumentsSayingWhere) {
  auto a = parseOsvAdvisory(R"({"id": "X-1", "affected": [{"package": {"ecosystem": "npm", "name": "a"},
      "ranges": [{"type": "SEMVER", "events": [{"introduced": 1}]}]}]})", "x.json");
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().field, "x.json:$.affected[0].ranges[0].events[0].introduced");
  auto b = parseOsvAdvisory("{\"id\": ", "y.json");
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().field.find("y.json@byte"), std::string::npos);
  EXPECT_FALSE(parseOsvAdvisory("[]"));
  EXPECT_FALSE(parseOsvAdvisory(R"({"summary": "no id"})"));
}

TEST(AdvisoryDbTest, IndexesByEcosystemAndNormalisedName) {
  AdvisoryDb db;
  auto r = db.importJson(R"({"id": "PYSEC-1", "modified": "2020-01-01T00:00:00Z",
    "affected": [{"package": {"ecosystem": "PyPI", "name": "Django_Rest.Framework"},
                  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]})", "a.json");
  EXPECT_EQ(r.imported, 1u);
  EXPECT_EQ(db.candidates(parseEcosystem("PyPI"), "django-rest-framework").size(), 1u);
  EXPECT_EQ(db.candidates(parseEcosystem("pypi"), "DJANGO_REST_FRAMEWORK").size(), 1u);
  EXPECT_TRUE(db.candidates(parseEcosystem("npm"), "django-rest-framework").empty());
}

TEST(AdvisoryDbTest, NewerModificationReplacesAndReindexes) {
  AdvisoryDb db;
  db.importJson(R"({"id": "A-1", "modified": "2020-01-01T00:00:00Z",
    "affected": [{"package": {"ecosystem": "npm", "name": "old"}}]})", "1");
  auto r = db.importJson(R"({"id": "A-1", "modified": "2021-01-01T00:00:00Z",
    "affected": [{"package": {"ecosystem": "npm", "name": "new"}}]})", "2");
  EXPECT_EQ(r.replaced, 1u);
  EXPECT_EQ(db.size(), 1u);
  EXPECT_TRUE(db.candidates(parseEcosystem("npm"), "old").empty());
  EXPECT_EQ(db.candidates(parseEcosystem("npm"), "new").size(), 1u);
  db.importJson(R"({"id": "A-1", "modified": "2019-01-01T00:00:00Z",
    "affected": [{"package": {"ecosystem": "npm", "name": "older"}}]})", "3");
  EXPECT_TRUE(db.candidates(parseEcosystem("npm"), "older").empty());
}

TEST(AdvisoryDbTest, ImportsZipArchivesAndDirectories) {
  td::testing::TempDir dir;
  std::string zip = testing::makeZip({{"GHSA-1.json", kLog4Shell},
                                      {"broken.json", "{\"id\": 3}"},
                                      {"README.txt", "not json"}});
  {
    std::ofstream(dir.file("all.zip"), std::ios::binary) << zip;
    std::ofstream(dir.file("other.json")) << R"({"id": "GO-1", "affected": []})";
  }
  AdvisoryDb db;
  auto r = db.importPath(dir.path());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->imported, 2u);
  ASSERT_EQ(r->errors.size(), 1u);
  EXPECT_NE(r->errors[0].field.find("all.zip!broken.json"), std::string::npos);
  EXPECT_NE(db.find("GHSA-jfh8-c2jp-5v3q"), nullptr);
  auto stored = testing::makeZip({{"a.json", R"({"id": "S-1"})"}}, false);
  AdvisoryDb db2;
  std::ofstream(dir.file("stored.zip"), std::ios::binary) << stored;
  auto r2 = db2.importPath(dir.file("stored.zip"));
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->imported, 1u);
  EXPECT_FALSE(db2.importPath(dir.file("missing.json")));
}

TEST(ZipArchiveTest, RefusesTruncatedAndOversizedArchives) {
  std::string zip = testing::makeZip({{"a.json", std::string(1000, 'x')}});
  auto none = [](std::string_view, std::string_view) { return true; };
  EXPECT_FALSE(forEachZipMember(zip.substr(0, zip.size() / 2), none));
  ZipLimits small;
  small.max_member_bytes = 100;
  auto s = forEachZipMember(zip, none, small);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, core::ErrorCode::kTooLarge);
  std::string corrupt = zip;
  corrupt[40] ^= 0x55;  // inside the deflate stream
  EXPECT_FALSE(forEachZipMember(corrupt, none));
}

}  // namespace
}  // namespace td::vuln
