// Sigma correlation rules over base-rule matches, with bounded group memory.
#include <gtest/gtest.h>

#include <string>

#include "detect/correlation.h"
#include "detect/tests/test_util.h"

namespace td::detect {
namespace {

const char* kBase = R"(title: Failed logon
id: failed-logon
name: failed_logon
logsource: {}
detection:
  sel: {EventID: 4625}
  condition: sel
---
title: Success logon
id: success-logon
name: success_logon
logsource: {}
detection:
  sel: {EventID: 4624}
  condition: sel
)";

struct Stream {
  std::shared_ptr<const Engine> engine;
  std::unique_ptr<Matcher> matcher;
  std::unique_ptr<CorrelationEngine> corr;
  explicit Stream(const std::string& correlation, size_t cap = 100'000) {
    EngineOptions opts;
    opts.correlation_max_groups = cap;
    LoadReport report;
    engine = testing::compile({std::string(kBase) + "---\n" + correlation}, &report, opts);
    EXPECT_EQ(report.errorCount(), 0u) << report.format();
    matcher = std::make_unique<Matcher>(engine);
    corr = std::make_unique<CorrelationEngine>(engine);
  }
  // Returns the titles of correlations fired by this event.
  std::vector<std::string> feed(int event_id, const std::string& user, int second,
                                const std::string& ip = "1.1.1.1") {
    const std::string json = "{\"EventID\":" + std::to_string(event_id) + ",\"User\":\"" + user +
                             "\",\"IpAddress\":\"" + ip + "\",\"@timestamp\":\"2026-01-01T00:" +
                             (second / 60 < 10 ? "0" : "") + std::to_string(second / 60) + ":" +
                             (second % 60 < 10 ? "0" : "") + std::to_string(second % 60) + "Z\"}";
    std::vector<std::uint32_t> hits;
    EXPECT_TRUE(matcher->evaluate(json, hits).has_value());
    std::vector<CorrelationHit> fired;
    corr->observe(*matcher, hits, fired);
    std::vector<std::string> out;
    for (const auto& f : fired) out.push_back(engine->rule(f.rule).title);
    return out;
  }
};

TEST(CorrelationTest, EventCountPerGroupWithinTimespan) {
  Stream run(R"(title: Brute force
id: brute
correlation:
  type: event_count
  rules: [failed_logon]
  group-by: [User]
  timespan: 1m
  condition: {gte: 3}
level: high
)");
  EXPECT_TRUE(run.feed(4625, "bob", 0).empty());
  EXPECT_TRUE(run.feed(4625, "alice", 1).empty());
  EXPECT_TRUE(run.feed(4625, "bob", 10).empty());
  EXPECT_EQ(run.feed(4625, "bob", 20), std::vector<std::string>{"Brute force"});
  // Outside the window: old events no longer count.
  EXPECT_TRUE(run.feed(4625, "alice", 100).empty());
  EXPECT_TRUE(run.feed(4625, "alice", 110).empty());
}

TEST(CorrelationTest, ValueCountDistinctValues) {
  Stream run(R"(title: Spray
id: spray
correlation:
  type: value_count
  rules: failed-logon
  group-by: [IpAddress]
  timespan: 5m
  condition: {field: User, gte: 3}
)");
  EXPECT_TRUE(run.feed(4625, "a", 0).empty());
  EXPECT_TRUE(run.feed(4625, "a", 1).empty());
  EXPECT_TRUE(run.feed(4625, "b", 2).empty());
  EXPECT_EQ(run.feed(4625, "c", 3), std::vector<std::string>{"Spray"});
}

TEST(CorrelationTest, TemporalAndOrdered) {
  Stream t(R"(title: Both
id: both
correlation:
  type: temporal
  rules: [success_logon, failed_logon]
  group-by: [User]
  timespan: 1m
)");
  EXPECT_TRUE(t.feed(4624, "bob", 0).empty());
  EXPECT_EQ(t.feed(4625, "bob", 5), std::vector<std::string>{"Both"});
  Stream o(R"(title: Fail then success
id: ordered
correlation:
  type: temporal_ordered
  rules: [failed_logon, success_logon]
  group-by: [User]
  timespan: 1m
)");
  EXPECT_TRUE(o.feed(4624, "bob", 0).empty());
  EXPECT_TRUE(o.feed(4625, "bob", 5).empty());
  EXPECT_EQ(o.feed(4624, "bob", 10), std::vector<std::string>{"Fail then success"});
  EXPECT_TRUE(o.feed(4625, "eve", 20).empty());
  EXPECT_TRUE(o.feed(4624, "eve", 200).empty());  // too late
}

TEST(CorrelationTest, GroupMemoryIsBoundedAndEvictionsCounted) {
  Stream run(R"(title: Brute force
id: brute
correlation:
  type: event_count
  rules: [failed_logon]
  group-by: [User]
  timespan: 1h
  condition: {gte: 1000}
)",
          100);
  for (int i = 0; i < 1000; ++i) run.feed(4625, "user" + std::to_string(i), i % 3000);
  const auto s = run.corr->stats();
  EXPECT_EQ(s.groups, 100u);
  EXPECT_EQ(s.evicted_groups, 900u);
}

TEST(CorrelationTest, UnknownBaseRuleIsReported) {
  LoadReport report;
  testing::compile({std::string(kBase) + R"(---
title: Bad
id: bad
correlation:
  type: event_count
  rules: [nope]
  timespan: 1m
  condition: {gte: 2}
)"},
                   &report);
  EXPECT_EQ(report.countsByCode()[code::kBadCorrelation], 1u);
}

}  // namespace
}  // namespace td::detect
