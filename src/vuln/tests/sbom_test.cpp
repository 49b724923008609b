#include <gtest/gtest.h>

#include "vuln/sbom.h"

namespace td::vuln {
namespace {

TEST(SbomTest, ParsesCycloneDxComponentsWithNestedOnes) {
  auto s = parseSbom(R"({"bomFormat": "CycloneDX", "specVersion": "1.4", "version": 1,
    "metadata": {"component": {"type": "application", "name": "shop"}},
    "components": [{"type": "library", "bom-ref": "a", "name": "lodash", "version": "4.17.19",
                    "purl": "pkg:npm/lodash@4.17.19",
                    "components": [{"type": "library", "name": "inner", "version": "1",
                                    "purl": "pkg:npm/inner@1"}]}]})");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->subject, "shop");
  ASSERT_EQ(s->components.size(), 2u);
  EXPECT_EQ(s->components[0].purl, "pkg:npm/lodash@4.17.19");
  EXPECT_EQ(s->components[1].name, "inner");
}

TEST(SbomTest, ReportsEveryProblemWithItsPath) {
  auto s = parseSbom(R"({"bomFormat": "CycloneDX", "specVersion": "1.5",
    "components": [{"type": "gadget", "name": "a"}, {"type": "library"}]})");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().field, "$.components[0].type");
  EXPECT_NE(s.error().message.find("2 problems"), std::string::npos);
  EXPECT_NE(s.error().message.find("$.components[1]: missing \"name\""), std::string::npos);
}

TEST(SbomTest, BrokenJsonSaysLineAndColumn) {
  auto s = parseSbom("{\n  \"bomFormat\": \"CycloneDX\",\n  oops\n}");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().field.substr(0, 2), "3:");
}

TEST(SbomTest, RefusesOtherFormats) {
  auto s = parseSbom(R"({"hello": "world"})");
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().code, core::ErrorCode::kUnprocessable);
  EXPECT_FALSE(parseSbom("[1,2]"));
  EXPECT_FALSE(parseSbom(R"({"bomFormat": "CycloneDX", "specVersion": "2.0"})"));
}

TEST(SbomTest, KeepsComponentsWithBadPurlsAsWarnings) {
  auto s = parseSbom(R"({"bomFormat": "CycloneDX", "specVersion": "1.4",
    "components": [{"type": "library", "name": "x", "version": "1", "purl": "not-a-purl"}]})");
  ASSERT_TRUE(s);
  ASSERT_EQ(s->components.size(), 1u);
  EXPECT_FALSE(s->components[0].parsed_purl);
  EXPECT_FALSE(s->components[0].purl_error.empty());
  EXPECT_EQ(s->warnings.size(), 1u);
}

TEST(SbomTest, ParsesSpdx2PackagesAndTheirPurls) {
  auto s = parseSbom(R"({"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "doc",
    "packages": [{"SPDXID": "SPDXRef-p1", "name": "requests", "versionInfo": "2.25.0",
      "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                        "referenceLocator": "pkg:pypi/requests@2.25.0"}]}]})");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->format, SbomFormat::kSpdx2);
  ASSERT_EQ(s->components.size(), 1u);
  EXPECT_EQ(s->components[0].purl, "pkg:pypi/requests@2.25.0");
  auto bad = parseSbom(R"({"spdxVersion": "SPDX-2.1", "SPDXID": "SPDXRef-DOCUMENT", "name": "d"})");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().field, "$.spdxVersion");
}

TEST(SbomTest, ParsesSpdx3Packages) {
  auto s = parseSbom(R"({"@context": "https://spdx.org/rdf/3.0.1/spdx-context.jsonld",
    "@graph": [{"type": "software_Package", "spdxId": "urn:p1", "name": "zlib",
                "software_packageVersion": "1.2.11",
                "externalIdentifier": [{"type": "ExternalIdentifier",
                  "externalIdentifierType": "packageUrl", "identifier": "pkg:apk/alpine/zlib@1.2.11-r3"}]}]})");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->format, SbomFormat::kSpdx3);
  ASSERT_EQ(s->components.size(), 1u);
  EXPECT_EQ(s->components[0].purl, "pkg:apk/alpine/zlib@1.2.11-r3");
}

TEST(SbomTest, ReadsVexStatements) {
  auto s = parseSbom(R"({"bomFormat": "CycloneDX", "specVersion": "1.4", "version": 1,
    "vulnerabilities": [{"id": "CVE-2020-25649", "analysis": {"state": "not_affected",
       "justification": "code_not_reachable", "detail": "we never parse XML"},
       "affects": [{"ref": "urn:cdx:3e671687-395b-41f5-a30f-a58921a69b79/1#jackson"}]}]})");
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_EQ(s->vex.size(), 1u);
  EXPECT_EQ(s->vex[0].state, "not_affected");
  EXPECT_EQ(s->vex[0].justification, "code_not_reachable");
}

TEST(SbomTest, DeepNestingIsRefusedNotACrash) {
  std::string doc = R"({"bomFormat": "CycloneDX", "specVersion": "1.4", "components": )";
  for (int i = 0; i < 200; ++i) doc += R"([{"type": "library", "name": "x", "version": "1", "components": )";
  doc += "[]";
  for (int i = 0; i < 200; ++i) doc += "}]";
  doc += "}";
  EXPECT_FALSE(parseSbom(doc));
}

}  // namespace
}  // namespace td::vuln
