// Checking one uploaded rule text and explaining which sample events it matches and why.
#include "detect/rule_explain.h"

#include <gtest/gtest.h>

namespace td::detect {
namespace {

const char* kRule = R"(title: Encoded PowerShell
id: 22222222-0000-0000-0000-000000000001
status: experimental
level: medium
tags: [attack.execution, attack.t1059.001]
logsource: {}
detection:
  image:
    Image|endswith: '\powershell.exe'
  encoded:
    CommandLine|contains: ' -enc '
  condition: image and encoded
)";

TEST(RuleExplainTest, CheckGivesMetadataOfAGoodRule) {
  auto c = checkRuleText(kRule);
  ASSERT_TRUE(c.ok()) << c.report.format();
  EXPECT_EQ(c.meta.uid, "22222222-0000-0000-0000-000000000001");
  EXPECT_EQ(c.meta.title, "Encoded PowerShell");
  EXPECT_EQ(c.meta.level, "medium");
  EXPECT_EQ(c.meta.kind, "sigma");
  EXPECT_EQ(c.meta.tags.size(), 2u);
}

TEST(RuleExplainTest, CheckPointsAtTheLineOfTheProblem) {
  auto c = checkRuleText(
      "title: t\nid: x\nlogsource: {}\ndetection:\n  sel:\n    Image|bogus: a\n  condition: sel\n");
  ASSERT_FALSE(c.ok());
  auto e = c.firstError();
  EXPECT_NE(e.message.find("LOAD_ERR_UNKNOWN_MODIFIER"), std::string::npos) << e.message;
  EXPECT_EQ(e.field.rfind("line 6", 0), 0u) << e.field;

  auto no_id = checkRuleText("title: t\nlogsource: {}\ndetection:\n  s: {a: 1}\n  condition: s\n");
  EXPECT_FALSE(no_id.ok());
  auto bad_yaml = checkRuleText("title: [\n");
  EXPECT_FALSE(bad_yaml.ok());
  auto entity = checkRuleText("title: E\nentity_rule:\n  score_sum: 5\n");
  ASSERT_TRUE(entity.ok());
  EXPECT_EQ(entity.meta.kind, "entity");
}

TEST(RuleExplainTest, ExplainsWhichEventsMatchAndWhichSelectionsHeld) {
  auto r = explainRule(kRule, {R"({"Image":"C:\\Windows\\powershell.exe","CommandLine":"powershell -enc AAA"})",
                               R"({"Image":"C:\\Windows\\powershell.exe","CommandLine":"powershell -File x.ps1"})",
                               "[1,2]"});
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->events.size(), 3u);
  EXPECT_TRUE(r->events[0].matched);
  EXPECT_EQ(r->events[0].selections, (std::vector<std::string>{"image", "encoded"}));
  EXPECT_EQ(r->events[0].fields.at("CommandLine"), "powershell -enc AAA");
  EXPECT_FALSE(r->events[1].matched);
  EXPECT_EQ(r->events[1].selections, std::vector<std::string>{"image"});
  EXPECT_FALSE(r->events[2].error.empty());
}

TEST(RuleExplainTest, RefusesBrokenRulesWithTheirLine) {
  auto r = explainRule("title: t\nlogsource: {}\ndetection:\n  sel: {a: 1}\n  condition: sel and\n",
                       {"{}"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kUnprocessable);
  EXPECT_EQ(r.error().field.rfind("line", 0), 0u) << r.error().field;
}

}  // namespace
}  // namespace td::detect
