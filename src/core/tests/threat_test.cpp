#include "core/threat.h"

#include <gtest/gtest.h>

namespace td::core {
namespace {

Detection validDetection() {
  Detection d;
  d.project_id = 1;
  d.name = "Suspicious PowerShell";
  d.source = "Rule";
  d.rule_id = "r-1";
  d.entity = {"host", "WS-042"};
  return d;
}

TEST(SeverityTest, ParsesNamesCaseInsensitively) {
  EXPECT_EQ(parseSeverity("high").value(), Severity::kHigh);
  EXPECT_EQ(parseSeverity("CRITICAL").value(), Severity::kCritical);
  EXPECT_EQ(parseSeverity("informational").value(), Severity::kInfo);
  EXPECT_FALSE(parseSeverity("urgent").has_value());
  EXPECT_EQ(parseSeverity("urgent").error().code, ErrorCode::kUnprocessable);
}

TEST(SeverityTest, RoundTripsEveryName) {
  for (int i = 0; i < kSeverityCount; ++i) {
    auto s = static_cast<Severity>(i);
    EXPECT_EQ(parseSeverity(severityName(s)).value(), s);
  }
}

TEST(SeverityTest, ScoreBandsMatchSeverities) {
  EXPECT_EQ(severityForScore(0), Severity::kInfo);
  EXPECT_EQ(severityForScore(39), Severity::kLow);
  EXPECT_EQ(severityForScore(40), Severity::kMedium);
  EXPECT_EQ(severityForScore(100), Severity::kCritical);
  for (int i = 0; i < kSeverityCount; ++i) {
    auto s = static_cast<Severity>(i);
    EXPECT_EQ(severityForScore(scoreForSeverity(s)), s);
  }
}

TEST(ThreatKindTest, ParsesSignalAndThreatOnly) {
  EXPECT_EQ(parseThreatKind("signal").value(), ThreatKind::kSignal);
  EXPECT_EQ(parseThreatKind("THREAT").value(), ThreatKind::kThreat);
  EXPECT_FALSE(parseThreatKind("alert").has_value());
}

TEST(CheckByTest, ParsesListsAndRejectsUnknownKeys) {
  EXPECT_EQ(parseCheckBy("rule, entity").value(), CheckBy::kRule | CheckBy::kEntity);
  EXPECT_EQ(parseCheckBy("").value(), CheckBy::kNone);
  EXPECT_FALSE(parseCheckBy("rule,host").has_value());
  EXPECT_EQ(checkByNames(kDefaultCheckBy), "rule,entity,source");
}

TEST(DedupKeyTest, EqualOnlyOnTheCheckedParts) {
  Detection a = validDetection(), b = validDetection();
  b.source = "API";
  a.check_by = b.check_by = CheckBy::kRule | CheckBy::kEntity;
  EXPECT_EQ(dedupKey(a), dedupKey(b));
  a.check_by = b.check_by = kDefaultCheckBy;
  EXPECT_NE(dedupKey(a), dedupKey(b));
  a.check_by = CheckBy::kNone;
  EXPECT_TRUE(dedupKey(a).empty());
}

TEST(DedupKeyTest, PartsCannotRunTogether) {
  Detection a = validDetection(), b = validDetection();
  a.entity = {"host", "ab"};
  b.entity = {"hosta", "b"};
  EXPECT_NE(dedupKey(a), dedupKey(b));
}

TEST(ValidateDetectionTest, AcceptsAValidDetection) { EXPECT_TRUE(validateDetection(validDetection())); }

TEST(ValidateDetectionTest, NamesTheBadField) {
  Detection d = validDetection();
  d.score = 101;
  EXPECT_EQ(validateDetection(d).error().field, "score");
  d = validDetection();
  d.name = "   ";
  EXPECT_EQ(validateDetection(d).error().field, "name");
  d = validDetection();
  d.host = std::string(10000, 'x');
  EXPECT_EQ(validateDetection(d).error().field, "host");
  d = validDetection();
  d.tags = {"T1059", ""};
  EXPECT_EQ(validateDetection(d).error().field, "tags[1]");
  d = validDetection();
  d.entity = {"host", ""};
  EXPECT_EQ(validateDetection(d).error().field, "entity");
}

}  // namespace
}  // namespace td::core
