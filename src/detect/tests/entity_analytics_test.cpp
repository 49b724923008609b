// Entity analytics: signals add up per entity over a window, raise one threat with the
// contributing signals as evidence, then stay quiet for the suppression period.
#include "detect/entity_analytics.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace td::detect {
namespace {

constexpr core::TimeMs kT0 = 1'700'000'000'000;

core::Detection signal(const std::string& rule, const std::string& host, int score,
                       core::TimeMs at) {
  core::Detection d;
  d.project_id = 1;
  d.name = rule + " on " + host;
  d.rule_id = rule;
  d.kind = core::ThreatKind::kSignal;
  d.score = score;
  d.entity = {"host", host};
  d.host = host;
  d.seen_at = at;
  d.tags = {"T1078"};
  return d;
}

EntityRule scoreRule() {
  auto r = parseEntityRule(R"(title: Risky host
id: risky-host
level: critical
entity_rule:
  entity: [host]
  window: 24h
  score_sum: 100
  suppress: 12h
)");
  EXPECT_TRUE(r) << r.error().message;
  return *r;
}

TEST(EntityAnalyticsTest, ParsesRulesAndRefusesBadOnesWithTheirField) {
  auto r = scoreRule();
  EXPECT_EQ(r.window_ms, 24 * core::kHourMs);
  EXPECT_EQ(r.suppress_ms, 12 * core::kHourMs);
  EXPECT_EQ(r.severity, core::Severity::kCritical);
  EXPECT_EQ(r.score_sum, 100);
  EXPECT_TRUE(isEntityRuleYaml("title: x\nentity_rule:\n  window: 1h\n"));
  EXPECT_FALSE(isEntityRuleYaml("title: x\ndetection:\n  entity_rule: 1\n"));

  auto no_criterion = parseEntityRule("title: x\nentity_rule:\n  window: 1h\n");
  ASSERT_FALSE(no_criterion);
  EXPECT_EQ(no_criterion.error().field, "entity_rule");
  auto bad_window = parseEntityRule("title: x\nentity_rule:\n  window: soon\n  score_sum: 5\n");
  ASSERT_FALSE(bad_window);
  EXPECT_EQ(bad_window.error().field, "entity_rule.window");
  EXPECT_NE(bad_window.error().message.find("line 3"), std::string::npos);
  EXPECT_FALSE(parseEntityRule("title: x\nentity_rule: [1, 2\n"));
  EXPECT_FALSE(parseEntityRule("entity_rule:\n  score_sum: 5\n"));  // no title
}

TEST(EntityAnalyticsTest, SummedScoreRaisesOneThreatWithTheSignalsAsEvidence) {
  EntityAnalytics ea({scoreRule()});
  std::vector<core::Detection> raised;
  ea.observe(signal("new-service", "WS-1", 40, kT0), raised);
  ea.observe(signal("odd-login", "WS-1", 40, kT0 + core::kHourMs), raised);
  ea.observe(signal("odd-login", "WS-2", 90, kT0 + core::kHourMs), raised);  // other entity
  EXPECT_TRUE(raised.empty());
  ea.observe(signal("psexec", "WS-1", 30, kT0 + 2 * core::kHourMs), raised);
  ASSERT_EQ(raised.size(), 1u);
  const auto& t = raised[0];
  EXPECT_EQ(t.kind, core::ThreatKind::kThreat);
  EXPECT_EQ(t.severity, core::Severity::kCritical);
  EXPECT_EQ(t.rule_id, "risky-host");
  EXPECT_EQ(t.entity.value, "WS-1");
  EXPECT_EQ(t.name, "Risky host on WS-1");
  auto ev = nlohmann::json::parse(t.evidence_json);
  EXPECT_EQ(ev["score_sum"], 110);
  EXPECT_EQ(ev["signals"].size(), 3u);
  EXPECT_EQ(ev["signals"][0]["rule_id"], "psexec");  // newest first
  EXPECT_EQ(t.tags, std::vector<std::string>{"T1078"});
}

TEST(EntityAnalyticsTest, StaysQuietDuringSuppressionThenRaisesAgain) {
  EntityAnalytics ea({scoreRule()});
  std::vector<core::Detection> raised;
  ea.observe(signal("a", "WS-1", 100, kT0), raised);
  ASSERT_EQ(raised.size(), 1u);
  ea.observe(signal("b", "WS-1", 100, kT0 + core::kHourMs), raised);
  EXPECT_EQ(raised.size(), 1u);
  EXPECT_EQ(ea.stats().suppressed, 1u);
  ea.observe(signal("c", "WS-1", 100, kT0 + 13 * core::kHourMs), raised);
  EXPECT_EQ(raised.size(), 2u);
}

TEST(EntityAnalyticsTest, OldSignalsLeaveTheWindow) {
  EntityAnalytics ea({scoreRule()});
  std::vector<core::Detection> raised;
  ea.observe(signal("a", "WS-1", 60, kT0), raised);
  ea.observe(signal("b", "WS-1", 60, kT0 + 25 * core::kHourMs), raised);
  EXPECT_TRUE(raised.empty());
}

TEST(EntityAnalyticsTest, DistinctRulesCriterionAndEntityTypeFilter) {
  auto r = parseEntityRule(
      "title: Many rules\nentity_rule:\n  entity: user\n  window: 1h\n  distinct_rules: 3\n");
  ASSERT_TRUE(r);
  EntityAnalytics ea({*r});
  std::vector<core::Detection> raised;
  auto user = [](std::string rule, core::TimeMs at) {
    auto d = signal(rule, "", 1, at);
    d.entity = {"user", "alice"};
    return d;
  };
  ea.observe(user("a", kT0), raised);
  ea.observe(user("a", kT0 + 1), raised);
  ea.observe(user("b", kT0 + 2), raised);
  ea.observe(signal("c", "WS-1", 1, kT0 + 3), raised);  // a host: not this rule's type
  EXPECT_TRUE(raised.empty());
  ea.observe(user("c", kT0 + 4), raised);
  ASSERT_EQ(raised.size(), 1u);
  EXPECT_EQ(raised[0].entity.value, "alice");
}

TEST(EntityAnalyticsTest, EntityMemoryIsBounded) {
  EntityAnalytics::Limits limits;
  limits.max_entities = 10;
  limits.max_signals = 4;
  EntityAnalytics ea({scoreRule()}, limits);
  std::vector<core::Detection> raised;
  for (int i = 0; i < 100; ++i) ea.observe(signal("a", "H" + std::to_string(i), 1, kT0), raised);
  for (int i = 0; i < 10; ++i) ea.observe(signal("a", "H0", 1, kT0 + i), raised);
  EXPECT_LE(ea.stats().entities, 10u);
  EXPECT_EQ(ea.stats().evicted_entities, 91u);
  EXPECT_EQ(ea.stats().dropped_signals, 6u);
}

}  // namespace
}  // namespace td::detect
