#include "intel/stix_pattern.h"

#include <gtest/gtest.h>

namespace td::intel {
namespace {

TEST(StixPatternTest, SingleComparison) {
  auto p = parseStixPattern("[ipv4-addr:value = '198.51.100.1']");
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->terms.size(), 1u);
  EXPECT_EQ(p->terms[0][0].type, IndicatorType::kIpv4);
  EXPECT_EQ(p->terms[0][0].value, "198.51.100.1");
}

TEST(StixPatternTest, HashesAndCidr) {
  auto p = parseStixPattern(
      "[file:hashes.'SHA-256' = 'EF537F25C895BFA782526529A9B63D97AA631564D5D789C2B765448C8635FB6C'"
      " OR file:hashes.md5 = '001dd76872d80801692ff942308c64e6' OR ipv4-addr:value = "
      "'112.64.0.0/15']");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->terms.size(), 3u);
  EXPECT_EQ(p->terms[0][0].type, IndicatorType::kSha256);
  EXPECT_EQ(p->terms[0][0].value.substr(0, 4), "ef53");
  EXPECT_EQ(p->terms[1][0].type, IndicatorType::kMd5);
  EXPECT_EQ(p->terms[2][0].type, IndicatorType::kCidr4);
}

TEST(StixPatternTest, AndMakesOneConjunctionOrMakesAlternatives) {
  auto p = parseStixPattern(
      "[domain-name:value = 'a.example' AND (ipv4-addr:value = '192.0.2.1' OR "
      "ipv4-addr:value = '192.0.2.2')]");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->terms.size(), 2u);
  EXPECT_EQ(p->terms[0].size(), 2u);
  EXPECT_EQ(p->terms[1].size(), 2u);
}

TEST(StixPatternTest, ObservationOperatorsAndQualifiers) {
  auto p = parseStixPattern(
      "([url:value = 'http://a.example/x'] AND [email-addr:value = 'x@a.example']) WITHIN 300 "
      "SECONDS OR [file:name = 'evil.exe'] REPEATS 2 TIMES");
  ASSERT_TRUE(p) << p.error().message;
  ASSERT_EQ(p->terms.size(), 2u);
  EXPECT_EQ(p->terms[0].size(), 2u);
  EXPECT_FALSE(p->warnings.empty());
}

TEST(StixPatternTest, InSetsExpand) {
  auto p = parseStixPattern("[ipv4-addr:value IN ('192.0.2.1', '192.0.2.2')]");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->terms.size(), 2u);
}

TEST(StixPatternTest, UnmatchableComparisonsAreReportedNotDropped) {
  auto p = parseStixPattern("[email-message:subject MATCHES '^[IMPORTANT] Please']");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->terms.empty());
  ASSERT_EQ(p->dropped.size(), 1u);
  EXPECT_NE(p->dropped[0].find("MATCHES"), std::string::npos);

  auto x509 = parseStixPattern(
      "[x509-certificate:issuer = 'CN=WEBMAIL' AND x509-certificate:serial_number = '4c:0b']");
  ASSERT_TRUE(x509);
  EXPECT_TRUE(x509->terms.empty());
  EXPECT_FALSE(x509->dropped.empty());

  auto partial = parseStixPattern("[domain-name:value = 'domain autuo.xicp.net' OR "
                                  "ipv4-addr:value = '60.10.1.115']");
  ASSERT_TRUE(partial);
  EXPECT_EQ(partial->terms.size(), 1u);  // the IP still matches
  EXPECT_EQ(partial->dropped.size(), 1u);
}

TEST(StixPatternTest, NotAndInequalityCannotBeMatched) {
  auto p = parseStixPattern("[NOT ipv4-addr:value = '1.2.3.4' AND domain-name:value != 'a.b']");
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->terms.empty());
}

TEST(StixPatternTest, SyntaxErrorsCarryTheColumn) {
  auto p = parseStixPattern("[ipv4-addr:value = '1.2.3.4'");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().field, "col 29");
  EXPECT_FALSE(parseStixPattern("ipv4-addr:value = '1.2.3.4'"));
  EXPECT_FALSE(parseStixPattern("[ipv4-addr:value = '1.2.3.4]"));
  EXPECT_FALSE(parseStixPattern("[ipv4-addr:value = ]"));
  EXPECT_FALSE(parseStixPattern("[ipv4-addr:value = '1.2.3.4'] garbage"));
  EXPECT_FALSE(parseStixPattern(""));
}

TEST(StixPatternTest, RecursionDepthLimit) {
  std::string deep(50000, '(');
  auto p = parseStixPattern(deep);
  ASSERT_FALSE(p);
  EXPECT_NE(p.error().message.find("nesting"), std::string::npos);
  std::string inner = "[" + std::string(100, '(') + "ipv4-addr:value = '1.2.3.4'" +
                      std::string(100, ')') + "]";
  EXPECT_FALSE(parseStixPattern(inner));
}

TEST(StixPatternTest, ExpansionIsBounded) {
  std::string p = "[";
  for (int i = 0; i < 12; ++i) {
    if (i) p += " AND ";
    p += "(ipv4-addr:value = '10.0.0." + std::to_string(i) + "' OR domain-name:value = 'd" +
         std::to_string(i) + ".example')";
  }
  p += "]";
  auto r = parseStixPattern(p);  // 2^12 alternatives
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("alternatives"), std::string::npos);
}

}  // namespace
}  // namespace td::intel
