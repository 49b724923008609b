// The Sigma processor: stored rules with actions (global, per group, per project) raise
// detections with bounded evidence; signals feed entity rules; hit counts; swapping rulesets
// while batches run.
#include "detect/sigma_processor.h"

#include <gtest/gtest.h>

#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

namespace td::detect {
namespace {

const char* kMimikatz = R"(title: Mimikatz command line
id: 11111111-0000-0000-0000-000000000001
status: test
level: high
tags: [attack.credential_access, attack.t1003.001]
logsource: {}
detection:
  sel:
    CommandLine|contains: sekurlsa
  condition: sel
)";

const char* kLogin = R"(title: Interactive login
id: 11111111-0000-0000-0000-000000000002
status: test
level: low
logsource: {}
detection:
  sel:
    EventID: 4624
  condition: sel
)";

const char* kEntityRule = R"(title: Busy user
id: busy-user
level: critical
entity_rule:
  entity: user
  window: 1h
  score_sum: 50
)";

struct CollectingSink : core::DetectionSink {
  std::mutex mu;
  std::vector<core::Detection> got;
  void submit(std::vector<core::Detection> batch) override {
    std::lock_guard lock(mu);
    for (auto& d : batch) got.push_back(std::move(d));
  }
};

std::string event(const std::string& cmd, const std::string& host = "WS-1",
                  const std::string& user = "alice", int event_id = 1) {
  return nlohmann::json{{"EventID", event_id},
                        {"Computer", host},
                        {"User", user},
                        {"CommandLine", cmd},
                        {"@timestamp", "2026-01-01T00:00:00Z"}}
      .dump();
}

std::shared_ptr<Ruleset> compile(const std::vector<RuleSource>& sources) {
  auto rs = compileRuleset(sources, 1);
  EXPECT_TRUE(rs) << rs.error().message;
  EXPECT_EQ((*rs)->report.errorCount(), 0u) << (*rs)->report.format();
  return *rs;
}

TEST(SigmaProcessorTest, MatchRaisesThreatWithRuleEvidenceAndDefaults) {
  SigmaProcessor p;
  p.swap(compile({{7, "Custom Rules", kMimikatz, "", "", {}, {}}}));
  CollectingSink sink;
  const std::string hit = event("mimikatz sekurlsa::logonpasswords");
  const std::string miss = event("notepad.exe");
  p.process({miss, hit, "not json"}, 42, sink);
  ASSERT_EQ(sink.got.size(), 1u);
  const auto& d = sink.got[0];
  EXPECT_EQ(d.project_id, 42);
  EXPECT_EQ(d.name, "Mimikatz command line");
  EXPECT_EQ(d.kind, core::ThreatKind::kThreat);
  EXPECT_EQ(d.severity, core::Severity::kHigh);
  EXPECT_EQ(d.source, "Rule");
  EXPECT_EQ(d.rule_group, "Custom Rules");
  EXPECT_EQ(d.entity, (core::Entity{"host", "WS-1"}));
  EXPECT_EQ(d.tags, std::vector<std::string>{"T1003.001"});
  auto ev = nlohmann::json::parse(d.evidence_json);
  EXPECT_EQ(ev["rule"]["id"], "11111111-0000-0000-0000-000000000001");
  EXPECT_EQ(ev["rule"]["title"], "Mimikatz command line");
  EXPECT_EQ(ev["rule"]["tags"][0], "T1003.001");
  EXPECT_EQ(ev["event"]["CommandLine"], "mimikatz sekurlsa::logonpasswords");
  EXPECT_EQ(p.stats().bad_events, 1u);
  auto hits = p.takeHits();
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0], (std::pair<std::int64_t, std::int64_t>{7, 1}));
  EXPECT_TRUE(p.takeHits().empty());
}

TEST(SigmaProcessorTest, ActionsResolveRuleThenGroupPerProject) {
  RuleSource src{7, "Custom Rules", kMimikatz, "", R"({"score":90,"name":"{{rule.title}} on {{host}}"})",
                 {}, {}};
  src.group_project_actions[2] = R"({"score":10})";
  src.project_actions[3] =
      R"({"type":"create_signal","entity":[{"type":"user","field":"User"}],"source":"EDR"})";
  SigmaProcessor p;
  p.swap(compile({src}));
  CollectingSink sink;
  const std::string hit = event("sekurlsa");
  p.process({hit}, 1, sink);
  p.process({hit}, 2, sink);
  p.process({hit}, 3, sink);
  ASSERT_EQ(sink.got.size(), 3u);
  EXPECT_EQ(sink.got[0].score, 90);
  EXPECT_EQ(sink.got[0].severity, core::Severity::kCritical);
  EXPECT_EQ(sink.got[0].name, "Mimikatz command line on WS-1");
  EXPECT_EQ(sink.got[1].score, 10);
  EXPECT_EQ(sink.got[2].kind, core::ThreatKind::kSignal);
  EXPECT_EQ(sink.got[2].entity, (core::Entity{"user", "alice"}));
  EXPECT_EQ(sink.got[2].source, "EDR");
}

TEST(SigmaProcessorTest, SignalsFeedEntityRulesPerProject) {
  SigmaProcessor p;
  p.swap(compile({{1, "Custom Rules", kLogin,
                   R"({"type":"create_signal","score":20,"entity":[{"type":"user","field":"User"}]})",
                   "", {}, {}},
                  {2, "Custom Rules", kEntityRule, "", "", {}, {}}}));
  CollectingSink sink;
  const std::string login = event("", "WS-1", "bob", 4624);
  p.process({login, login}, 1, sink);
  p.process({login, login}, 2, sink);  // another project: its own windows
  for (const auto& d : sink.got) EXPECT_EQ(d.kind, core::ThreatKind::kSignal);
  p.process({login}, 1, sink);
  ASSERT_EQ(sink.got.size(), 6u);
  const auto& t = sink.got.back();
  EXPECT_EQ(t.kind, core::ThreatKind::kThreat);
  EXPECT_EQ(t.rule_id, "busy-user");
  EXPECT_EQ(t.entity.value, "bob");
  EXPECT_EQ(t.project_id, 1);
  EXPECT_EQ(p.stats().entity_threats, 1u);
  auto hits = p.takeHits();
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].second, 5);
  EXPECT_EQ(hits[1].second, 1);
}

TEST(SigmaProcessorTest, BadRulesAndActionsAreReportedNotFatal) {
  auto rs = compileRuleset({{1, "g", "title: broken\ndetection: [\n", "", "", {}, {}},
                            {2, "g", kMimikatz, R"({"score":500})", "", {}, {}}});
  ASSERT_TRUE(rs);
  EXPECT_GE((*rs)->report.errorCount(), 2u);
  EXPECT_NE((*rs)->report.format().find("rule 1"), std::string::npos);
  ASSERT_TRUE((*rs)->engine);
  EXPECT_EQ((*rs)->engine->ruleCount(), 1u);
}

TEST(SigmaProcessorTest, SwappingWhileBatchesRunLosesNoEvent) {
  SigmaProcessor p;
  auto one = compile({{7, "g", kMimikatz, "", "", {}, {}}});
  auto two = compile({{7, "g", kMimikatz, R"({"score":5})", "", {}, {}}});
  p.swap(one);
  CollectingSink sink;
  const std::string hit = event("sekurlsa");
  std::vector<std::string_view> batch(50, hit);
  std::thread swapper([&] {
    for (int i = 0; i < 50; ++i) p.swap(i % 2 ? one : two);
  });
  std::thread a([&] {
    for (int i = 0; i < 20; ++i) p.process(batch, 1, sink);
  });
  std::thread b([&] {
    for (int i = 0; i < 20; ++i) p.process(batch, 1, sink);
  });
  swapper.join();
  a.join();
  b.join();
  EXPECT_EQ(sink.got.size(), 2000u);
  std::int64_t total = 0;
  for (const auto& [row, n] : p.takeHits()) total += n;
  EXPECT_EQ(total, 2000);
}

}  // namespace
}  // namespace td::detect
