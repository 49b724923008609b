// The template language: variables, sections, inverted sections, lists, fields.<path>, escaping
// for each context, and refusal (with position) of templates that do not parse or name unknown
// variables.
#include "respond/template.h"

#include <gtest/gtest.h>

#include <memory>

namespace td::respond {
namespace {

Vars sample() {
  Vars v;
  v.set("name", "Beacon <to> \"evil\" & co");
  v.set("threat_id", "42");
  v.set("entity.value", "10.0.0.1");
  v.set("owner", "");
  v.set("group", "L1 Support");
  v.setFields(std::make_shared<const nlohmann::json>(nlohmann::json::parse(
      R"({"process":{"command_line":"cmd /c \"whoami\""},"EventData.Image":"C:\\x.exe","n":3})")));
  return v;
}

std::string render(const std::string& src, Escape e = Escape::kText) {
  auto t = Template::parse(src, &threatSchema());
  EXPECT_TRUE(t) << (t ? "" : t.error().message);
  return t ? t->render(sample(), e) : "";
}

TEST(TemplateTest, RendersVariablesAndLiteralText) {
  EXPECT_EQ(render("Threat {{threat_id}}: {{ name }}"), "Threat 42: Beacon <to> \"evil\" & co");
  EXPECT_EQ(render("no tags at all"), "no tags at all");
  EXPECT_EQ(render("{{! a comment }}x"), "x");
}

TEST(TemplateTest, SectionsAndInvertedSections) {
  EXPECT_EQ(render("{{#owner}}owned by {{owner}}{{/owner}}{{^owner}}unowned{{/owner}}"), "unowned");
  EXPECT_EQ(render("{{#group}}in {{group}}{{/group}}"), "in L1 Support");
  EXPECT_EQ(render("{{#rule_id}}x{{/rule_id}}"), "");  // absent is false
}

TEST(TemplateTest, ListsIterateWithItemScope) {
  auto t = Template::parse("{{count}}:{{#threats}}[{{threat_id}} {{name}}]{{/threats}}",
                           &digestSchema());
  ASSERT_TRUE(t) << t.error().message;
  Vars a, b, v;
  a.set("threat_id", "1");
  a.set("name", "one");
  b.set("threat_id", "2");
  b.set("name", "two");
  v.set("count", "2");
  v.setList("threats", {a, b});
  EXPECT_EQ(t->render(v, Escape::kText), "2:[1 one][2 two]");
}

TEST(TemplateTest, FieldsResolveNestedAndDottedKeys) {
  EXPECT_EQ(render("{{fields.process.command_line}}"), "cmd /c \"whoami\"");
  EXPECT_EQ(render("{{fields.EventData.Image}}"), "C:\\x.exe");
  EXPECT_EQ(render("{{fields.n}}"), "3");
  EXPECT_EQ(render("[{{fields.missing.path}}]"), "[]");
}

TEST(TemplateTest, EscapesHtml) {
  EXPECT_EQ(render("<b>{{name}}</b>", Escape::kHtml),
            "<b>Beacon &lt;to&gt; &quot;evil&quot; &amp; co</b>");
}

TEST(TemplateTest, EscapesJsonStrings) {
  const auto out =
      render(R"({"name":"{{name}}","cmd":"{{fields.process.command_line}}"})", Escape::kJson);
  auto j = nlohmann::json::parse(out);
  EXPECT_EQ(j["name"], "Beacon <to> \"evil\" & co");
  EXPECT_EQ(j["cmd"], "cmd /c \"whoami\"");
  EXPECT_EQ(escapeValue("a\nb\x01", Escape::kJson), "a\\nb\\u0001");
}

TEST(TemplateTest, PercentEncodesUrls) {
  EXPECT_EQ(render("https://x.test/t/{{threat_id}}?q={{name}}", Escape::kUrl),
            "https://x.test/t/42?q=Beacon%20%3Cto%3E%20%22evil%22%20%26%20co");
  EXPECT_EQ(escapeValue("a/b?c=d&e", Escape::kUrl), "a%2Fb%3Fc%3Dd%26e");
}

TEST(TemplateTest, HeadersDropLineBreaks) {
  EXPECT_EQ(escapeValue("x\r\nBcc: victim@example.com", Escape::kHeader),
            "xBcc: victim@example.com");
}

TEST(TemplateTest, RefusesUnknownVariableWithPosition) {
  auto t = Template::parse("Hello\n  {{nmae}}", &threatSchema(), "email.subject");
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().field, "email.subject:2:3");
  EXPECT_NE(t.error().message.find("unknown variable 'nmae'"), std::string::npos);
}

TEST(TemplateTest, RefusesMalformedTemplates) {
  for (const char* bad :
       {"{{name", "{{#group}}x", "{{/group}}", "{{#group}}x{{/owner}}", "{{}}", "{{{name}}}",
        "{{na me}}", "{{.name}}", "{{name..x}}", "{{#threats}}{{/threats}}"}) {
    auto t = Template::parse(bad, &threatSchema());
    EXPECT_FALSE(t) << bad;
    if (!t) {
      EXPECT_FALSE(t.error().field.empty()) << bad;
    }
  }
}

TEST(TemplateTest, ListNamesOnlyAsSections) {
  auto t = Template::parse("{{threats}}", &digestSchema());
  EXPECT_FALSE(t);
}

TEST(TemplateTest, NestingIsBounded) {
  std::string deep;
  for (int i = 0; i < kMaxDepth + 1; ++i) deep += "{{#group}}";
  for (int i = 0; i < kMaxDepth + 1; ++i) deep += "{{/group}}";
  auto t = Template::parse(deep, &threatSchema());
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message.find("deeper"), std::string::npos);
  std::string huge(kMaxTemplateBytes + 1, 'x');
  EXPECT_FALSE(Template::parse(huge));
}

TEST(TemplateTest, WithoutSchemaAnyNameParses) {
  auto t = Template::parse("{{anything.at_all}}");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->render(Vars{}, Escape::kText), "");
}

// Hot-path payloads are written by hand: the same text as nlohmann::json's dump() for UTF-8, and
// text it parses back (U+FFFD in place) for bytes that are not UTF-8, where dump() would throw.
TEST(TemplateTest, JsonStringsAreWrittenAsDumpWritesThem) {
  std::string all_ascii;
  for (int c = 1; c < 128; ++c) all_ascii += static_cast<char>(c);
  for (const std::string& s :
       {std::string(), std::string("plain"), std::string("q\"b\\s/"), all_ascii,
        std::string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), std::string(1, '\0') + "nul"}) {
    std::string out;
    appendJsonString(out, s);
    EXPECT_EQ(out, nlohmann::json(s).dump()) << s;
  }
  // Not UTF-8: a lone continuation byte, a cut sequence, an overlong '/', a surrogate, and past
  // U+10FFFF.
  for (const std::string bad :
       {"\x80", "\xe2\x82", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
    std::string out;
    appendJsonString(out, "a" + bad + "b");
    auto back = nlohmann::json::parse(out, nullptr, false);
    ASSERT_TRUE(back.is_string()) << out;
    const std::string text = back.get<std::string>();
    EXPECT_NE(text.find("\xef\xbf\xbd"), std::string::npos) << out;
    EXPECT_EQ(text.front(), 'a');
    EXPECT_EQ(text.back(), 'b');
  }
  std::string cut;  // a lead byte at the very end
  appendJsonString(cut, "ab\xe2");
  EXPECT_EQ(nlohmann::json::parse(cut).get<std::string>(), "ab\xef\xbf\xbd");
}

}  // namespace
}  // namespace td::respond
