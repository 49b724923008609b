// One test per Sigma value modifier and value form, with the examples of the Sigma
// specification (sigma-specification: appendix "modifiers"), over flat JSON events.
#include <gtest/gtest.h>

#include <string>

#include "detect/tests/test_util.h"

namespace td::detect {
namespace {

using testing::compile;
using testing::flatRule;
using testing::matches;

std::shared_ptr<const Engine> one(const std::string& selection) {
  auto e = compile({flatRule("  sel:\n" + selection + "  condition: sel\n")});
  EXPECT_EQ(e->ruleCount(), 1u) << selection;
  return e;
}

TEST(ModifierTest, PlainValueIsCaseInsensitiveExact) {
  auto e = one("    CommandLine: 'whoami /all'\n");
  EXPECT_TRUE(matches(e, R"({"CommandLine":"WHOAMI /ALL"})"));
  EXPECT_FALSE(matches(e, R"({"CommandLine":"whoami /all x"})"));
  EXPECT_FALSE(matches(e, R"({"Other":"whoami /all"})"));
}

TEST(ModifierTest, FieldNamesMatchCaseInsensitively) {
  auto e = one("    commandline: x\n");
  EXPECT_TRUE(matches(e, R"({"CommandLine":"x"})"));
}

TEST(ModifierTest, Contains) {
  auto e = one("    CommandLine|contains: 'mimikatz'\n");
  EXPECT_TRUE(matches(e, R"({"CommandLine":"run MimiKatz.exe now"})"));
  EXPECT_FALSE(matches(e, R"({"CommandLine":"mimi katz"})"));
}

TEST(ModifierTest, StartsWithEndsWith) {
  auto s = one("    Image|startswith: 'C:\\Windows\\'\n");
  EXPECT_TRUE(matches(s, R"({"Image":"c:\\windows\\system32\\cmd.exe"})"));
  EXPECT_FALSE(matches(s, R"({"Image":"D:\\c:\\windows\\"})"));
  auto e = one("    Image|endswith: '\\cmd.exe'\n");
  EXPECT_TRUE(matches(e, R"({"Image":"C:\\Windows\\System32\\CMD.EXE"})"));
  EXPECT_FALSE(matches(e, R"({"Image":"C:\\cmd.exe.bak"})"));
}

TEST(ModifierTest, ListIsOrAndAllIsAnd) {
  auto any = one("    CommandLine|contains: [foo, bar]\n");
  EXPECT_TRUE(matches(any, R"({"CommandLine":"xbarx"})"));
  auto all = one("    CommandLine|contains|all: [foo, bar]\n");
  EXPECT_FALSE(matches(all, R"({"CommandLine":"xbarx"})"));
  EXPECT_TRUE(matches(all, R"({"CommandLine":"bar foo"})"));
}

TEST(ModifierTest, WildcardsAndEscapes) {
  // As SigmaHQ writes it: "\\*" is a backslash followed by a wildcard.
  auto e = one("    Image: 'C:\\Users\\\\*\\AppData\\\\?ocal\\x.exe'\n");
  EXPECT_TRUE(matches(e, R"({"Image":"C:\\Users\\bob\\AppData\\Local\\x.exe"})"));
  EXPECT_FALSE(matches(e, R"({"Image":"C:\\Users\\bob\\AppData\\LLocal\\x.exe"})"));
  // Escaped wildcards are literal characters.
  auto lit = one("    Value: 'a\\*b\\?c'\n");
  EXPECT_TRUE(matches(lit, R"({"Value":"a*b?c"})"));
  EXPECT_FALSE(matches(lit, R"({"Value":"axxbyc"})"));
  // A backslash before another character stays a backslash (Windows paths need no doubling).
  auto path = one("    Value: '\\\\server\\share'\n");
  EXPECT_TRUE(matches(path, R"({"Value":"\\server\\share"})"));
}

TEST(ModifierTest, StarAloneMeansAnyNonNullValue) {
  auto e = one("    Field: '*'\n");
  EXPECT_TRUE(matches(e, R"({"Field":""})"));
  EXPECT_TRUE(matches(e, R"({"Field":"x"})"));
  EXPECT_FALSE(matches(e, R"({"Field":null})"));
  EXPECT_FALSE(matches(e, R"({"Other":1})"));
}

TEST(ModifierTest, EmptyStringMatchesEmptyOnly) {
  auto e = one("    Field: ''\n");
  EXPECT_TRUE(matches(e, R"({"Field":""})"));
  EXPECT_FALSE(matches(e, R"({"Field":"x"})"));
  EXPECT_FALSE(matches(e, R"({})"));
}

TEST(ModifierTest, NullMatchesMissingOrNull) {
  auto e = one("    Field: null\n");
  EXPECT_TRUE(matches(e, R"({"Other":1})"));
  EXPECT_TRUE(matches(e, R"({"Field":null})"));
  EXPECT_FALSE(matches(e, R"({"Field":"x"})"));
}

TEST(ModifierTest, NumbersMatchNumbersAndTheirText) {
  auto e = one("    EventID: 4688\n");
  EXPECT_TRUE(matches(e, R"({"EventID":4688})"));
  EXPECT_TRUE(matches(e, R"({"EventID":"4688"})"));
  EXPECT_FALSE(matches(e, R"({"EventID":46880})"));
  auto b = one("    Enabled: true\n");
  EXPECT_TRUE(matches(b, R"({"Enabled":true})"));
}

TEST(ModifierTest, ArrayValuesMatchAnyElement) {
  auto e = one("    Tags|contains: evil\n");
  EXPECT_TRUE(matches(e, R"({"Tags":["good","very evil"]})"));
}

TEST(ModifierTest, Keywords) {
  auto e = compile(
      {flatRule("  keywords:\n    - 'mimikatz'\n    - 'sekurlsa'\n  condition: keywords\n")});
  EXPECT_TRUE(matches(e, R"({"a":"x","b":{"c":"run SEKURLSA::logonpasswords"}})"));
  EXPECT_FALSE(matches(e, R"({"a":"nothing"})"));
  auto all = compile({flatRule("  keywords:\n    '|all': [foo, bar]\n  condition: keywords\n")});
  EXPECT_TRUE(matches(all, R"({"a":"foo","b":"bar"})"));
  EXPECT_FALSE(matches(all, R"({"a":"foo"})"));
}

TEST(ModifierTest, RegexIsCaseSensitiveUnlessI) {
  auto e = one("    CommandLine|re: '^cmd\\.exe /c [a-z]+$'\n");
  EXPECT_TRUE(matches(e, R"({"CommandLine":"cmd.exe /c whoami"})"));
  EXPECT_FALSE(matches(e, R"({"CommandLine":"CMD.EXE /c whoami"})"));
  auto i = one("    CommandLine|re|i: '^cmd\\.exe'\n");
  EXPECT_TRUE(matches(i, R"({"CommandLine":"CMD.EXE /c whoami"})"));
}

TEST(ModifierTest, RegexPunctuationPrefilterNeverHidesAMatch) {
  // Regexes skip values that lack a punctuation byte every match contains; optional,
  // repeated, grouped, class and alternative parts must not be taken as required.
  struct Case {
    const char* re;
    const char* text;
    bool match;
  };
  const Case cases[] = {
      {R"(-k\s\w{1,64}(?:\s?(?:-p|-s))?)", "svchost.exe -k netsvcs", true},
      {R"(-k\s\w{1,64})", "svchost.exe k netsvcs", false},
      {R"(\w+`(?:\w+|-|.)`[\w+|\s])", "i`e`x x", true},
      {R"(\w+`(?:\w+|-|.)`[\w+|\s])", "iex x", false},
      {R"(a_?b)", "ab", true},
      {R"(a-*b)", "ab", true},
      {R"(a-{0,3}b)", "ab", true},
      {R"(a[-,]b)", "a,b", true},
      {R"(x(?:-|/)y)", "x/y", true},
      {R"(a|-b)", "a", true},
      {R"(\\+q)", "\\\\q", true},
      {R"(\.exe\(\))", "x.exe()", true},
      {R"(\.exe\(\))", "x.exe)", false},
      {R"(c{2}:)", "cc:", true},
      {R"([[:punct:]]z)", "!z", true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.re) + " on " + c.text);
    auto e = one(std::string("    Text|re: '") + c.re + "'\n");
    EXPECT_EQ(matches(e, std::string(R"({"Text":")") + c.text + "\"}"), c.match);
  }
}

TEST(ModifierTest, RegexAtomPrefilterNeverHidesAMatch) {
  // A regex runs only when one of RE2's prefilter atoms hit, or only the one atom every match
  // contains when there is one ("werfaultsecure.exe", not ".exe"): optional, repeated, grouped
  // and alternative parts must not be taken as required.
  struct Case {
    const char* re;
    const char* text;
    bool match;
  };
  const Case cases[] = {
      {R"((?i)\.exe["'']?\s+[^"]{0,64}werfaultsecure\.exe["'']?\s+\d{2,10})",
       "a.EXE  x WerFaultSecure.EXE 1234", true},
      {R"((?i)\.exe["'']?\s+[^"]{0,64}werfaultsecure\.exe["'']?\s+\d{2,10})",
       "a.exe x werfault.exe 1234", false},
      {R"(longword+x[^"]{0,64}z)", "longwordddx z", true},
      {R"(prefix(abc)?suffixx[^"]{0,64}z)", "prefixsuffixxz", true},
      {R"(hello{2}world[^"]{0,64}z)", "hellooworldz", true},
      {R"(hello{2}world[^"]{0,64}z)", "helloworldz", false},
      {R"(c:\\windows\\temp\\[a-z]+\.exe[^"]{0,64}z)", R"(c:\\windows\\temp\\ab.exe z)", true},
      {R"(c:\\windows\\temp\\[a-z]+\.exe[^"]{0,64}z)", R"(C:\\Windows\\Temp\\ab.exe z)", false},
      {R"(ab(?:cd|ef)gh[^"]{0,64}wxyz)", "abefgh wxyz", true},
      {R"(keyword\x41BC[^"]{0,64}z)", "keywordABC z", true},
      {R"(alpha_long|beta_long[^"]{0,64}z)", "beta_long z", true},
      {R"(alpha_long|beta_long[^"]{0,64}z)", "alpha_long", true},
      {R"(mid.?dle_literal[^"]{0,64}z)", "middle_literal z", true},
      {R"(tab\tstop_literal[^"]{0,64}z)", "tab\\tstop_literal z", true},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.re) + " on " + c.text);
    auto e = one(std::string("    Text|re: '") + c.re + "'\n");
    EXPECT_EQ(matches(e, std::string(R"({"Text":")") + c.text + "\"}"), c.match);
  }
}

TEST(ModifierTest, RegexFlagsMultilineAndDotAll) {
  auto m = one("    Text|re|m: '^second$'\n");
  EXPECT_TRUE(matches(m, R"({"Text":"first\nsecond\nthird"})"));
  auto nom = one("    Text|re: '^second$'\n");
  EXPECT_FALSE(matches(nom, R"({"Text":"first\nsecond\nthird"})"));
  auto s = one("    Text|re|s: 'first.second'\n");
  EXPECT_TRUE(matches(s, R"({"Text":"first\nsecond"})"));
  auto nos = one("    Text|re: 'first.second'\n");
  EXPECT_FALSE(matches(nos, R"({"Text":"first\nsecond"})"));
}

TEST(ModifierTest, RegexBeyondRe2RunsOnPcre2AndIsCounted) {
  // RE2 has no backreferences or lookaround: such rules load on PCRE2 with a warning.
  LoadReport report;
  auto e = compile({flatRule("  sel:\n    A|re: '(a)\\1'\n  condition: sel\n", "backref"),
                    flatRule("  sel:\n    B|re|i: '^cmd(?!\\.exe)'\n  condition: sel\n", "ahead"),
                    flatRule("  sel:\n    C|re: '(?<=user=)root'\n  condition: sel\n", "behind")},
                   &report);
  EXPECT_EQ(e->ruleCount(), 3u);
  EXPECT_EQ(report.errorCount(), 0u);
  EXPECT_EQ(report.countsByCode()[code::kRegexPcre2], 3u);
  EXPECT_TRUE(matches(e, R"({"A":"xaay"})"));
  EXPECT_FALSE(matches(e, R"({"A":"xaby"})"));
  EXPECT_TRUE(matches(e, R"({"B":"CMD /c dir"})"));  // i flag
  EXPECT_FALSE(matches(e, R"({"B":"cmd.exe /c dir"})"));
  EXPECT_TRUE(matches(e, R"({"C":"login user=root"})"));
  EXPECT_FALSE(matches(e, R"({"C":"root"})"));
}

TEST(ModifierTest, RegexPcre2MatchLimitStopsCatastrophicBacktracking) {
  // Exponential backtracking on purpose (optimisations that would avoid it switched off in the
  // pattern itself, as a hostile rule could): the match limit ends it, the value does not match
  // and the event is still evaluated against the other rules.
  const std::string evil =
      "  sel:\n    A|re: '(*NO_START_OPT)(*NO_AUTO_POSSESS)^(a+)+(?=b)b'\n  condition: sel\n";
  auto e =
      compile({flatRule(evil, "evil"), flatRule("  sel:\n    B: ok\n  condition: sel\n", "ok")});
  ASSERT_EQ(e->ruleCount(), 2u);
  EXPECT_TRUE(matches(e, R"({"A":"aaab"})"));
  const std::string many_a(64, 'a');
  EXPECT_EQ(testing::matchTitles(e, R"({"A":")" + many_a + R"(!","B":"ok"})"),
            std::vector<std::string>{"ok"});
}

TEST(ModifierTest, RegexRefusedByRe2AndPcre2IsAnError) {
  LoadReport report;
  auto e = compile({flatRule("  sel:\n    A|re: '(unclosed'\n  condition: sel\n")}, &report);
  EXPECT_EQ(e->ruleCount(), 0u);
  ASSERT_EQ(report.errorCount(), 1u);
  EXPECT_EQ(report.diagnostics[0].code, code::kBadRegex);
}

TEST(ModifierTest, Base64) {
  // Spec: "/bin/bash" | base64 -> L2Jpbi9iYXNo
  auto e = one("    Data|base64: '/bin/bash'\n");
  EXPECT_TRUE(matches(e, R"({"Data":"L2Jpbi9iYXNo"})"));
  auto c = one("    Data|base64|contains: '/bin/bash'\n");
  EXPECT_TRUE(matches(c, R"({"Data":"xxL2Jpbi9iYXNoyy"})"));
}

TEST(ModifierTest, Base64OffsetFindsTheValueAtAnyOffset) {
  // Spec example: base64offset of /bin/bash -> L2Jpbi9iYXNo, 9iaW4vYmFza, vYmluL2Jhc2
  auto e = one("    CommandLine|base64offset|contains: '/bin/bash'\n");
  EXPECT_TRUE(matches(e, R"({"CommandLine":"echo L2Jpbi9iYXNo"})"));
  EXPECT_TRUE(matches(e, R"({"CommandLine":"x9iaW4vYmFza"})"));
  EXPECT_TRUE(matches(e, R"({"CommandLine":"vYmluL2Jhc2g="})"));
  EXPECT_FALSE(matches(e, R"({"CommandLine":"/bin/bash"})"));
}

TEST(ModifierTest, Utf16AndWideWithBase64) {
  // "ping" as UTF-16LE then base64: cABpAG4AZwA=
  auto e = one("    CommandLine|wide|base64: 'ping'\n");
  EXPECT_TRUE(matches(e, R"({"CommandLine":"cABpAG4AZwA="})"));
  auto le = one("    CommandLine|utf16le|base64offset|contains: 'ping'\n");
  EXPECT_TRUE(matches(le, R"({"CommandLine":"-enc cABpAG4AZwA"})"));
  auto be = one("    CommandLine|utf16be|base64: 'ping'\n");
  EXPECT_TRUE(matches(be, R"({"CommandLine":"AHAAaQBuAGc="})"));
}

TEST(ModifierTest, WindashMatchesEveryOptionCharacter) {
  auto e = one("    CommandLine|windash|contains: ' -exec bypass'\n");
  EXPECT_TRUE(matches(e, R"({"CommandLine":"powershell -exec bypass"})"));
  EXPECT_TRUE(matches(e, R"({"CommandLine":"powershell /exec bypass"})"));
  EXPECT_TRUE(matches(e,
                      "{\"CommandLine\":\"powershell \xe2\x80\x93"
                      "exec bypass\"}"));
  EXPECT_TRUE(matches(e,
                      "{\"CommandLine\":\"powershell \xe2\x80\x94"
                      "exec bypass\"}"));
  EXPECT_TRUE(matches(e,
                      "{\"CommandLine\":\"powershell \xe2\x80\x95"
                      "exec bypass\"}"));
  EXPECT_FALSE(matches(e, R"({"CommandLine":"powershell +exec bypass"})"));
}

TEST(ModifierTest, Cidr) {
  auto e = one("    DestinationIp|cidr: ['10.0.0.0/8', '192.168.1.0/24', 'fe80::/10']\n");
  EXPECT_TRUE(matches(e, R"({"DestinationIp":"10.20.30.40"})"));
  EXPECT_TRUE(matches(e, R"({"DestinationIp":"192.168.1.255"})"));
  EXPECT_FALSE(matches(e, R"({"DestinationIp":"192.168.2.1"})"));
  EXPECT_TRUE(matches(e, R"({"DestinationIp":"fe80::1"})"));
  EXPECT_FALSE(matches(e, R"({"DestinationIp":"not an ip"})"));
  LoadReport report;
  auto bad = compile({flatRule("  sel:\n    Ip|cidr: '10.0.0.0/40'\n  condition: sel\n")}, &report);
  EXPECT_EQ(bad->ruleCount(), 0u);
  EXPECT_EQ(report.diagnostics.at(0).code, code::kBadModifierValue);
}

TEST(ModifierTest, Exists) {
  auto yes = one("    Field|exists: true\n");
  EXPECT_TRUE(matches(yes, R"({"Field":""})"));
  EXPECT_FALSE(matches(yes, R"({"Other":""})"));
  auto no = one("    Field|exists: false\n");
  EXPECT_TRUE(matches(no, R"({"Other":""})"));
  EXPECT_FALSE(matches(no, R"({"Field":1})"));
}

TEST(ModifierTest, NumericComparisons) {
  auto lt = one("    Count|lt: 10\n");
  EXPECT_TRUE(matches(lt, R"({"Count":9})"));
  EXPECT_FALSE(matches(lt, R"({"Count":10})"));
  auto lte = one("    Count|lte: 10\n");
  EXPECT_TRUE(matches(lte, R"({"Count":"10"})"));
  auto gt = one("    Count|gt: 10\n");
  EXPECT_TRUE(matches(gt, R"({"Count":10.5})"));
  EXPECT_FALSE(matches(gt, R"({"Count":"abc"})"));
  auto gte = one("    Count|gte: 10\n");
  EXPECT_TRUE(matches(gte, R"({"Count":10})"));
  EXPECT_FALSE(matches(gte, R"({"Count":9})"));
}

TEST(ModifierTest, FieldRef) {
  auto e = one("    TargetFilename|fieldref: Image\n");
  EXPECT_TRUE(matches(e, R"({"TargetFilename":"C:\\a.exe","Image":"c:\\A.exe"})"));
  EXPECT_FALSE(matches(e, R"({"TargetFilename":"C:\\a.exe","Image":"C:\\b.exe"})"));
  EXPECT_FALSE(matches(e, R"({"TargetFilename":"C:\\a.exe"})"));
  auto ends = one("    TargetFilename|fieldref|endswith: Name\n");
  EXPECT_TRUE(matches(ends, R"({"TargetFilename":"C:\\dir\\a.exe","Name":"a.exe"})"));
}

TEST(ModifierTest, CasedIsCaseSensitive) {
  auto e = one("    CommandLine|cased|contains: 'FromBase64String'\n");
  EXPECT_TRUE(matches(e, R"J({"CommandLine":"[x]::FromBase64String(y)"})J"));
  EXPECT_FALSE(matches(e, R"J({"CommandLine":"[x]::frombase64string(y)"})J"));
}

TEST(ModifierTest, ExpandPlaceholderMatchesAnythingWithWarning) {
  LoadReport report;
  auto e = compile({flatRule("  sel:\n    User|expand: '%Admins%'\n  condition: sel\n")}, &report);
  EXPECT_TRUE(matches(e, R"({"User":"bob"})"));
  EXPECT_EQ(report.countsByCode()[code::kPlaceholder], 1u);
}

TEST(ModifierTest, ManyRulesOnOneFieldShareOneScan) {
  std::vector<std::string> rules;
  for (int i = 0; i < 500; ++i) {
    rules.push_back(flatRule(
        "  sel:\n    CommandLine|contains: 'tool" + std::to_string(i) + ".exe'\n  condition: sel\n",
        "r" + std::to_string(i)));
  }
  auto e = compile(rules);
  EXPECT_EQ(e->ruleCount(), 500u);
  EXPECT_EQ(testing::matchTitles(e, R"({"CommandLine":"run tool42.exe"})"),
            std::vector<std::string>{"r42"});
  Matcher m(e);
  std::vector<std::uint32_t> hits;
  ASSERT_TRUE(m.evaluate(R"({"CommandLine":"nothing here"})", hits).has_value());
  // No literal hit: no rule needed evaluating at all.
  EXPECT_EQ(m.stats().rules_evaluated, 0u);
}

TEST(ModifierTest, RuleOfAnotherEventIdIsNotEvaluated) {
  // Triggered by the user name (the rarer literal), gated by its EventID: a 4625 of the same
  // user never reaches the rule's condition.
  auto e = compile({flatRule(
      "  sel:\n    EventID: 4624\n    TargetUserName|startswith: 'Administr'\n  condition: sel\n")});
  Matcher m(e);
  std::vector<std::uint32_t> hits;
  ASSERT_TRUE(m.evaluate(R"({"EventID":4625,"TargetUserName":"Administrator"})", hits).has_value());
  EXPECT_TRUE(hits.empty());
  EXPECT_EQ(m.stats().rules_evaluated, 0u);
  ASSERT_TRUE(m.evaluate(R"({"EventID":"04624","TargetUserName":"Administrator"})", hits).has_value());
  EXPECT_TRUE(hits.empty());
  ASSERT_TRUE(m.evaluate(R"({"EventID":4624,"TargetUserName":"Administrator"})", hits).has_value());
  EXPECT_EQ(hits.size(), 1u);
  hits.clear();
  ASSERT_TRUE(m.evaluate(R"({"EventID":"4624","TargetUserName":"administrator"})", hits).has_value());
  EXPECT_EQ(hits.size(), 1u);
}

}  // namespace
}  // namespace td::detect
