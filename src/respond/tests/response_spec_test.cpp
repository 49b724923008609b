// Response specs: what the API accepts, what it refuses (with the field), presets, and when a
// response fires (scope, minimum severity, overrides).
#include "respond/response_spec.h"

#include <gtest/gtest.h>

namespace td::respond {
namespace {

Json webhookBody() {
  return Json::parse(R"({"name":"hook","type":"webhook","scope":"THREAT","min_severity":"MEDIUM",
    "webhook":{"url":"https://hooks.example.test/t/{{threat_id}}","secret":"s3cret",
               "payload":"{\"id\":{{threat_id}},\"name\":\"{{name}}\"}"}})");
}

core::Threat threat(core::Severity sev, core::ThreatKind kind = core::ThreatKind::kThreat) {
  core::Threat t;
  t.severity = sev;
  t.kind = kind;
  t.source = "Rule";
  t.rule_group = "Sigma";
  return t;
}

TEST(ResponseSpecTest, ParsesAndEncodesWebhook) {
  auto s = parseResponseSpec(webhookBody());
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->webhook->method, "POST");
  EXPECT_EQ(s->webhook->secret, "s3cret");
  auto shown = encodeResponseSpec(*s, false);
  EXPECT_FALSE(shown["webhook"].contains("secret"));
  EXPECT_TRUE(shown["webhook"]["secret_set"]);
  auto stored = encodeResponseSpec(*s, true);
  auto again = parseResponseSpec(stored);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(encodeResponseSpec(*again, true), stored);
}

TEST(ResponseSpecTest, RefusesBadInputNamingTheField) {
  struct Case {
    const char* patch;
    const char* field;
  };
  for (const auto& c : std::vector<Case>{
           {R"({"scope":"SOME"})", "scope"},
           {R"({"min_severity":"HUGE"})", "min_severity"},
           {R"({"webhook":{"url":"ftp://x/"}})", "webhook.url"},
           {R"({"webhook":{"url":"https://{{host}}/x"}})", "webhook.url"},
           {R"({"webhook":{"url":"https://x.test/{{nope}}"}})", "webhook.url:1:16"},
           {R"({"webhook":{"url":"https://x.test/","payload":"{\"a\":{{name}}}"}})",
            "webhook.payload"},
           {R"({"webhook":{"url":"https://x.test/","headers":{"Idempotency-Key":"x"}}})",
            "webhook.headers.Idempotency-Key"},
           {R"({"webhook":{"url":"https://x.test/","preset":"pager"}})", "webhook.preset"},
           {R"({"webhook":{"url":"https://x.test/","max_attempts":0}})", "webhook.max_attempts"},
           {R"({"overrides":[{"rule_group":"Sigma"}]})", "overrides[0]"},
           {R"({"events":["threat.exploded"]})", "events[0]"},
           {R"({"colour":"red"})", "colour"},
       }) {
    Json body = webhookBody();
    body.merge_patch(Json::parse(c.patch));
    if (Json::parse(c.patch).contains("webhook")) {
      body["webhook"] = Json::parse(c.patch)["webhook"];
    }
    auto s = parseResponseSpec(body);
    ASSERT_FALSE(s) << c.patch;
    EXPECT_EQ(s.error().field, c.field) << c.patch << ": " << s.error().message;
  }
}

TEST(ResponseSpecTest, EmailNeedsRecipientsAndValidSchedule) {
  Json body = Json::parse(R"({"name":"mail","type":"email","email":{}})");
  auto s = parseResponseSpec(body);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().field, "email");
  body["email"] = Json::parse(R"({"to_addresses":["soc@example.test"],"mode":"digest",
      "digest":{"every":"weekly","day":"friday","at":"17:30"},"time_zone":"Europe/Berlin",
      "quiet_hours":{"start":"22:00","end":"07:00"},
      "escalation":{"after_minutes":30,"to":["lead@example.test"]}})");
  s = parseResponseSpec(body);
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_TRUE(s->email->digest);
  EXPECT_EQ(s->email->schedule.day, 5);
  EXPECT_EQ(s->email->schedule.at_minute, 17 * 60 + 30);
  body["email"]["digest"]["at"] = "25:00";
  s = parseResponseSpec(body);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().field, "email.digest.at");
  body["email"]["digest"]["at"] = "08:00";
  body["email"]["time_zone"] = "Mars/Olympus";
  s = parseResponseSpec(body);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().field, "email.time_zone");
  body["email"]["time_zone"] = "UTC";
  body["email"]["subject"] = "{{#group}}open";
  s = parseResponseSpec(body);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().field, "email.subject:1:1");
}

TEST(ResponseSpecTest, EveryPresetParsesAndRendersJson) {
  for (const auto& [name, preset] : webhookPresets().items()) {
    Json body = {{"name", name},
                 {"type", "webhook"},
                 {"webhook", {{"preset", name}, {"url", "https://x.test/hook"}}}};
    auto s = parseResponseSpec(body);
    ASSERT_TRUE(s) << name << ": " << s.error().message;
    Vars v;
    v.set("name", "A \"quoted\" name\nwith a line break");
    v.set("threat_id", "7");
    v.set("score", "70");
    v.set("project_id", "1");
    v.set("organisation_id", "1");
    v.set("count", "1");
    auto body_text = s->webhook->payload.render(v, Escape::kJson);
    EXPECT_TRUE(Json::accept(body_text)) << name << ": " << body_text;
  }
}

TEST(ResponseSpecTest, FiresByScopeSeverityAndOverrides) {
  auto s = *parseResponseSpec(webhookBody());
  EXPECT_TRUE(matches(s, threat(core::Severity::kHigh)));
  EXPECT_FALSE(matches(s, threat(core::Severity::kLow)));
  EXPECT_FALSE(matches(s, threat(core::Severity::kHigh, core::ThreatKind::kSignal)));
  Json body = webhookBody();
  body["overrides"] = Json::parse(R"([{"rule_group":"Sigma","min_severity":"CRITICAL"},
                                      {"source":"Threat Intelligence","disabled":true}])");
  s = *parseResponseSpec(body);
  EXPECT_FALSE(matches(s, threat(core::Severity::kHigh)));
  EXPECT_TRUE(matches(s, threat(core::Severity::kCritical)));
  auto intel = threat(core::Severity::kCritical);
  intel.rule_group = "";
  intel.source = "Threat Intelligence";
  EXPECT_FALSE(matches(s, intel));
}

}  // namespace
}  // namespace td::respond
