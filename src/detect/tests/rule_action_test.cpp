// Rule actions: parsing with the JSON path of each problem, canonical encoding, name templates.
#include "detect/rule_action.h"

#include <gtest/gtest.h>

namespace td::detect {
namespace {

TEST(RuleActionTest, EmptyTextIsTheDefaultAction) {
  auto a = parseRuleAction("");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->type, RuleAction::Type::kCreateThreat);
  EXPECT_EQ(a->effectiveKind(), core::ThreatKind::kThreat);
  EXPECT_EQ(a->source, "Rule");
  EXPECT_EQ(a->check_by, core::kDefaultCheckBy);
}

TEST(RuleActionTest, ParsesEveryMemberAndRoundTrips) {
  auto a = parseRuleAction(R"({"type":"create_signal","score":30,"severity":"low",
    "source":"EDR rules","name":"{{rule.title}} on {{host}}",
    "entity":[{"type":"user","field":"TargetUserName"},{"type":"host","field":"host"}],
    "check_by":["rule","entity"],"group":"L1 Support"})");
  ASSERT_TRUE(a) << a.error().message << " " << a.error().field;
  EXPECT_EQ(a->effectiveKind(), core::ThreatKind::kSignal);
  EXPECT_EQ(a->score, 30);
  EXPECT_EQ(a->severity, core::Severity::kLow);
  EXPECT_EQ(a->entity.size(), 2u);
  EXPECT_EQ(a->check_by, core::CheckBy::kRule | core::CheckBy::kEntity);
  auto again = parseRuleAction(encodeRuleAction(*a));
  ASSERT_TRUE(again);
  EXPECT_EQ(encodeRuleAction(*again), encodeRuleAction(*a));
  EXPECT_EQ(parseRuleAction(R"({"check_by":"rule,source"})")->check_by,
            core::CheckBy::kRule | core::CheckBy::kSource);
}

TEST(RuleActionTest, ErrorsNameTheMember) {
  struct Case {
    const char* json;
    const char* field;
  };
  for (const Case& c : std::vector<Case>{{R"({"score":101})", "action.score"},
                                         {R"({"score":"high"})", "action.score"},
                                         {R"({"severity":"huge"})", "action.severity"},
                                         {R"({"kind":"ALERT"})", "action.kind"},
                                         {R"({"type":"page_someone"})", "action.type"},
                                         {R"({"check_by":["rule","colour"]})", "action.check_by"},
                                         {R"({"entity":[{"field":"x"}]})", "action.entity[0].type"},
                                         {R"({"entity":[{"type":"host","x":1}]})",
                                          "action.entity[0].x"},
                                         {R"({"source":""})", "action.source"},
                                         {R"({"colour":"red"})", "action.colour"},
                                         {R"([1])", "action"},
                                         {R"({)", "action"}}) {
    auto a = parseRuleAction(c.json);
    ASSERT_FALSE(a) << c.json;
    EXPECT_EQ(a.error().field, c.field) << c.json;
  }
}

TEST(RuleActionTest, TemplatesReplaceKnownVariablesAndDropUnknownOnes) {
  auto lookup = [](std::string_view v) -> std::string {
    if (v == "rule.title") return "Mimikatz";
    if (v == "host") return "WS-1";
    return "";
  };
  EXPECT_EQ(renderTemplate("{{rule.title}} on {{ host }}", lookup), "Mimikatz on WS-1");
  EXPECT_EQ(renderTemplate("x {{nope}} y", lookup), "x  y");
  EXPECT_EQ(renderTemplate("broken {{host", lookup), "broken {{host");
}

}  // namespace
}  // namespace td::detect
