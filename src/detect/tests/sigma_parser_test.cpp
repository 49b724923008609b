// The Sigma YAML parser and the condition language: forms, errors with positions, limits.
#include <gtest/gtest.h>

#include <string>

#include "detect/sigma_rule.h"
#include "detect/tests/test_util.h"

namespace td::detect {
namespace {

using testing::compile;
using testing::flatRule;
using testing::matches;

TEST(SigmaParserTest, ParsesMetadataTagsAndLevel) {
  auto rule = parseSigmaRule(R"(
title: Whoami
id: 11111111-2222-3333-4444-555555555555
status: stable
level: high
tags: [attack.discovery, attack.t1033, attack.t1059.001]
logsource: {product: windows, category: process_creation}
detection:
  selection: {Image|endswith: '\whoami.exe'}
  condition: selection
)");
  ASSERT_TRUE(rule.has_value()) << rule.error().message;
  EXPECT_EQ(rule->title, "Whoami");
  EXPECT_EQ(rule->status, RuleStatus::kStable);
  EXPECT_EQ(rule->severity(), core::Severity::kHigh);
  EXPECT_EQ(rule->attackTechniques(), (std::vector<std::string>{"T1033", "T1059.001"}));
  EXPECT_EQ(rule->logsource.category, "process_creation");
  ASSERT_EQ(rule->selections.size(), 1u);
  EXPECT_EQ(rule->selections[0].alternatives[0][0].field, "Image");
  EXPECT_EQ(rule->selections[0].alternatives[0][0].modifiers,
            std::vector<Modifier>{Modifier::kEndsWith});
}

TEST(SigmaParserTest, RejectsUnknownModifierWithPosition) {
  auto rule = parseSigmaRule(R"(title: x
logsource: {product: windows}
detection:
  sel:
    Image|endswithh: foo
  condition: sel
)");
  ASSERT_FALSE(rule.has_value());
  EXPECT_NE(rule.error().message.find("LOAD_ERR_UNKNOWN_MODIFIER"), std::string::npos);
  EXPECT_EQ(rule.error().field, "line 5:5");
}

TEST(SigmaParserTest, RejectsConditionNamingUnknownSelection) {
  auto rule = parseSigmaRule(flatRule("  sel: {a: 1}\n  condition: sel and other\n"));
  ASSERT_FALSE(rule.has_value());
  EXPECT_NE(rule.error().message.find("LOAD_ERR_UNKNOWN_SELECTION"), std::string::npos);
}

TEST(SigmaParserTest, RejectsAggregationWithCode) {
  LoadReport report;
  parseSigmaYaml(flatRule("  sel: {a: 1}\n  condition: sel | count() by b > 5\n"), "f.yml",
                 report);
  ASSERT_EQ(report.errorCount(), 1u);
  EXPECT_EQ(report.diagnostics[0].code, code::kAggregation);
  EXPECT_EQ(report.diagnostics[0].line, 8);
}

TEST(SigmaParserTest, ReportsEveryErrorNotJustTheFirst) {
  LoadReport report;
  const std::string text = flatRule("  sel: {a|bogus: 1}\n  condition: sel\n", "a") + "---\n" +
                           flatRule("  sel: {a: 1}\n  condition: nope\n", "b") + "---\n" +
                           flatRule("  sel: {a: 1}\n  condition: sel\n", "c");
  auto rules = parseSigmaYaml(text, "multi.yml", report);
  EXPECT_EQ(rules.size(), 1u);
  EXPECT_EQ(report.errorCount(), 2u);
  EXPECT_EQ(report.rules_refused, 2u);
  EXPECT_NE(report.format().find("multi.yml:"), std::string::npos);
}

TEST(SigmaParserTest, YamlSyntaxErrorHasLine) {
  LoadReport report;
  parseSigmaYaml("title: x\ndetection: [unclosed\n", "bad.yml", report);
  ASSERT_EQ(report.errorCount(), 1u);
  EXPECT_EQ(report.diagnostics[0].code, code::kYamlParse);
  EXPECT_GT(report.diagnostics[0].line, 0);
}

TEST(ConditionParserTest, PrecedenceNotAndOr) {
  auto c = parseCondition("a or not b and c");
  ASSERT_TRUE(c.has_value());
  ASSERT_EQ(c->kind, ConditionNode::Kind::kOr);
  ASSERT_EQ(c->children.size(), 2u);
  EXPECT_EQ(c->children[1].kind, ConditionNode::Kind::kAnd);
  EXPECT_EQ(c->children[1].children[0].kind, ConditionNode::Kind::kNot);
}

TEST(ConditionParserTest, QuantifiersAndParentheses) {
  auto c = parseCondition("(1 of sel_* or all of them) and not any of filter*");
  ASSERT_TRUE(c.has_value()) << c.error().message;
  EXPECT_EQ(c->kind, ConditionNode::Kind::kAnd);
  EXPECT_EQ(c->children[0].children[0].kind, ConditionNode::Kind::kOneOf);
  EXPECT_EQ(c->children[0].children[0].name, "sel_*");
  EXPECT_EQ(c->children[0].children[1].kind, ConditionNode::Kind::kAllOf);
  EXPECT_EQ(c->children[0].children[1].name, "them");
}

TEST(ConditionParserTest, RejectsMalformed) {
  for (const char* bad : {"", "a and", "(a", "a)", "1 of", "all sel", "a b", "sel*", "and a",
                          "a | count() > 3", "a near b"}) {
    EXPECT_FALSE(parseCondition(bad).has_value()) << bad;
  }
}

TEST(ConditionParserTest, RecursionDepthLimit) {
  // Falco's parser test: 100,000 open parentheses are rejected cleanly, not by a stack overflow.
  const std::string deep(100'000, '(');
  EXPECT_FALSE(parseCondition(deep + "a").has_value());
  // Under the length limit, the depth limit is what refuses it.
  auto c = parseCondition(std::string(60'000, '(') + "a");
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().message.find("nested too deeply"), std::string::npos);
  const std::string nots = [] {
    std::string s;
    for (int i = 0; i < 10'000; ++i) s += "not ";
    return s + "a";
  }();
  EXPECT_FALSE(parseCondition(nots).has_value());
  // A reasonable depth still parses.
  EXPECT_TRUE(parseCondition(std::string(50, '(') + "a" + std::string(50, ')')).has_value());
}

TEST(ConditionEvalTest, OneOfAllOfThemAndUnderscore) {
  auto engine = compile({flatRule(R"(  sel_a: {a: 1}
  sel_b: {b: 2}
  _helper: {c: 3}
  condition: all of them
)",
                                  "allthem"),
                         flatRule(R"(  sel_a: {a: 1}
  sel_b: {b: 2}
  condition: 1 of sel_*
)",
                                  "oneof")});
  EXPECT_EQ(testing::matchTitles(engine, R"({"a":1,"b":2})"),
            (std::vector<std::string>{"allthem", "oneof"}));
  EXPECT_EQ(testing::matchTitles(engine, R"({"a":1})"), std::vector<std::string>{"oneof"});
  EXPECT_TRUE(testing::matchTitles(engine, R"({"c":3})").empty());
}

TEST(ConditionEvalTest, NotAndParentheses) {
  auto engine = compile({flatRule(R"(  sel: {a: 1}
  f1: {b: x}
  f2: {c: y}
  condition: sel and not (f1 or f2)
)")});
  EXPECT_TRUE(matches(engine, R"({"a":1})"));
  EXPECT_TRUE(matches(engine, R"({"a":1,"b":"z"})"));
  EXPECT_FALSE(matches(engine, R"({"a":1,"b":"x"})"));
  EXPECT_FALSE(matches(engine, R"({"a":1,"c":"Y"})"));
  EXPECT_FALSE(matches(engine, R"({"b":"q"})"));
}

TEST(ConditionEvalTest, ListOfMapsIsOrMapIsAnd) {
  auto engine = compile({flatRule(R"(  sel:
    - {a: 1, b: 2}
    - {c: 3}
  condition: sel
)")});
  EXPECT_TRUE(matches(engine, R"({"a":1,"b":2})"));
  EXPECT_FALSE(matches(engine, R"({"a":1,"b":3})"));
  EXPECT_TRUE(matches(engine, R"({"c":"3"})"));
}

TEST(ConditionEvalTest, ConditionListIsOr) {
  auto engine = compile({flatRule(R"(  s1: {a: 1}
  s2: {b: 1}
  condition:
    - s1
    - s2
)")});
  EXPECT_TRUE(matches(engine, R"({"b":1})"));
  EXPECT_TRUE(matches(engine, R"({"a":1})"));
  EXPECT_FALSE(matches(engine, R"({"c":1})"));
}

TEST(RuleStatusTest, DeprecatedFilteredByDefault) {
  LoadReport report;
  std::string r = flatRule("  sel: {a: 1}\n  condition: sel\n");
  r.replace(r.find("status: test"), 12, "status: deprecated");
  auto engine = compile({r}, &report);
  EXPECT_EQ(engine->ruleCount(), 0u);
  EXPECT_EQ(report.rules_filtered, 1u);
  EngineOptions all;
  all.statuses = {RuleStatus::kDeprecated};
  auto engine2 = compile({r}, nullptr, all);
  EXPECT_EQ(engine2->ruleCount(), 1u);
}

}  // namespace
}  // namespace td::detect

namespace td::detect {
namespace {

// fuzz/sigma found that yaml-cpp 0.7 loops forever on an unclosed flow collection; such text is
// refused before it reaches the YAML parser.
TEST(SigmaParserTest, UnbalancedFlowCollectionIsRefusedNotHung) {
  const std::string text =
      ", Y: null}\n  condition: keywordss: ['mimikatitle: tcorletitle: kw\nl:\n  keywozds: "
      "['mimikatz', 'a*b']\n  sel: [Dextits: false, Y: null}\n  condition: keywordss: "
      "['mimikatitle: tcorler";
  LoadReport report;
  EXPECT_TRUE(parseSigmaYaml(text, "t.yml", report).empty());
  ASSERT_EQ(report.errorCount(), 1u);
  EXPECT_EQ(report.diagnostics[0].code, code::kYamlParse);
  // Brackets inside quotes, plain scalars and block scalars are not flow collections.
  LoadReport ok;
  auto rules = parseSigmaYaml(R"(title: 'a [b'
description: |
  [not flow
  {either
logsource: {product: windows, service: security}
detection:
  sel:
    CommandLine|re: '^[a-z]+\{'
    Other: x[y
  condition: sel  # [comment
)",
                              "ok.yml", ok);
  EXPECT_EQ(ok.errorCount(), 0u) << ok.format();
  EXPECT_EQ(rules.size(), 1u);
}

}  // namespace
}  // namespace td::detect
