#include "server/json_codec.h"

#include <gtest/gtest.h>

namespace td::server {
namespace {

Json parse(const std::string& s) { return parseJson(s).value(); }

TEST(JsonCodecTest, DecodesFullDetection) {
  auto d = decodeDetection(parse(R"({
    "name":"Mimikatz","description":"dump","score":90,"severity":"critical","kind":"signal",
    "rule_id":"r1","rule_group":"creds","entity":{"type":"host","value":"WS-1"},
    "entity_group":"ws","host":"WS-1","tags":["T1003"],"evidence":{"a":[1,2]},
    "check_by":["rule","entity"],"group":"L1 Support","seen_at":"2026-11-23T10:00:00Z"})"));
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->name, "Mimikatz");
  EXPECT_EQ(d->score, 90);
  EXPECT_EQ(d->severity, core::Severity::kCritical);
  EXPECT_EQ(d->kind, core::ThreatKind::kSignal);
  EXPECT_EQ(d->entity, (core::Entity{"host", "WS-1"}));
  EXPECT_EQ(d->tags, std::vector<std::string>{"T1003"});
  EXPECT_EQ(parse(d->evidence_json), parse(R"({"a":[1,2]})"));
  EXPECT_EQ(d->check_by, core::CheckBy::kRule | core::CheckBy::kEntity);
  EXPECT_EQ(d->group, "L1 Support");
  EXPECT_EQ(d->seen_at, core::parseRfc3339("2026-11-23T10:00:00Z").value());
}

TEST(JsonCodecTest, DefaultsScoreAndSeverityFromEachOther) {
  auto none = decodeDetection(parse(R"({"name":"x"})")).value();
  EXPECT_EQ(none.score, 50);
  EXPECT_EQ(none.severity, core::Severity::kMedium);
  EXPECT_EQ(none.evidence_json, "{}");
  auto sev = decodeDetection(parse(R"({"name":"x","severity":"HIGH"})")).value();
  EXPECT_EQ(sev.score, core::scoreForSeverity(core::Severity::kHigh));
  auto score = decodeDetection(parse(R"({"name":"x","score":5})")).value();
  EXPECT_EQ(score.severity, core::Severity::kInfo);
}

TEST(JsonCodecTest, DetectionErrorsNameTheirField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"name":1})", "name"},
      {R"({})", "name"},
      {R"({"name":"x","score":"1"})", "score"},
      {R"({"name":"x","score":101})", "score"},
      {R"({"name":"x","severity":"NOPE"})", "severity"},
      {R"({"name":"x","entity":{"type":"host"}})", "entity"},
      {R"({"name":"x","entity":{"type":"host","value":"a","x":1}})", "entity.x"},
      {R"({"name":"x","tags":[1]})", "tags[0]"},
      {R"({"name":"x","tags":[""]})", "tags[0]"},
      {R"({"name":"x","check_by":7})", "check_by"},
      {R"({"name":"x","bogus":null})", "bogus"},
  };
  for (const auto& [text, field] : cases) {
    auto d = decodeDetection(parse(text));
    ASSERT_FALSE(d) << text;
    EXPECT_EQ(d.error().field, field) << text << ": " << d.error().message;
  }
}

TEST(JsonCodecTest, ChangeRequestDistinguishesClearFromAbsent) {
  auto r = decodeChangeRequest(parse(R"({"group":null,"owner":"a@b.c","state":"Closed",
                                         "outcome":"Benign","score":10,"severity":"LOW",
                                         "note":"done"})"))
               .value();
  ASSERT_TRUE(r.group);
  EXPECT_EQ(*r.group, "");
  EXPECT_EQ(*r.owner, "a@b.c");
  EXPECT_EQ(*r.state, "Closed");
  EXPECT_EQ(*r.outcome, "Benign");
  EXPECT_EQ(*r.score, 10);
  EXPECT_EQ(*r.severity, core::Severity::kLow);
  EXPECT_EQ(*r.note, "done");
  auto empty = decodeChangeRequest(parse("{}")).value();
  EXPECT_FALSE(empty.group);
  EXPECT_FALSE(empty.owner);
  auto bad = decodeChangeRequest(parse(R"({"state":""})"), "change");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().field, "change.state");
}

TEST(JsonCodecTest, BulkRequestTakesIdsOrFilter) {
  auto ids = decodeBulkRequest(parse(R"({"ids":[1,2,3],"change":{"state":"New"}})")).value();
  EXPECT_EQ(ids.ids, (std::vector<core::ThreatId>{1, 2, 3}));
  EXPECT_FALSE(ids.filter);
  auto filter = decodeBulkRequest(parse(R"({"filter":{"severity":"HIGH","state":["New","On Hold"],
      "open":true,"from":"2026-11-01","text":"x"},"change":{"group":"L2 Support"}})"))
                    .value();
  ASSERT_TRUE(filter.filter);
  EXPECT_EQ(filter.filter->severities, std::vector<core::Severity>{core::Severity::kHigh});
  EXPECT_EQ(filter.filter->states.size(), 2u);
  EXPECT_EQ(filter.filter->open, true);
  EXPECT_TRUE(filter.filter->from);
  EXPECT_FALSE(decodeBulkRequest(parse(R"({"change":{}})")));
  EXPECT_FALSE(decodeBulkRequest(parse(R"({"ids":[1],"filter":{},"change":{}})")));
}

TEST(JsonCodecTest, QueryParametersBecomeFilterAndPage) {
  QueryParams p = {{"severity", "HIGH,critical"},
                   {"state", "New"},
                   {"state", "On Hold"},
                   {"group", ""},
                   {"open", "true"},
                   {"sort", "score"},
                   {"order", "asc"},
                   {"limit", "20"},
                   {"cursor", "abc"},
                   {"text", "100%"},
                   {"project", "p1"},
                   {"split", "group"}};
  auto q = decodeThreatQuery(p, {"project"});
  ASSERT_TRUE(q) << q.error().message;
  EXPECT_EQ(q->filter.severities.size(), 2u);
  EXPECT_EQ(q->filter.states, (std::vector<std::string>{"New", "On Hold"}));
  EXPECT_EQ(q->filter.groups, std::vector<std::string>{""});
  EXPECT_EQ(q->filter.open, true);
  EXPECT_EQ(q->page.sort, store::ThreatSort::kScore);
  EXPECT_FALSE(q->page.descending);
  EXPECT_EQ(q->page.limit, 20);
  EXPECT_EQ(q->page.cursor, "abc");
  EXPECT_EQ(q->filter.text, "100%");
  EXPECT_EQ(q->split, store::TimelineSplit::kGroup);

  auto unknown = decodeThreatQuery({{"project", "p1"}});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().field, "project");
  EXPECT_EQ(decodeThreatQuery({{"limit", "-1"}}).error().field, "limit");
  EXPECT_EQ(decodeThreatQuery({{"limit", "12abc"}}).error().code,
            core::ErrorCode::kInvalidArgument);
}

TEST(JsonCodecTest, ParseJsonRefusesDeepNestingAndGarbage) {
  EXPECT_TRUE(parseJson(std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']')));
  EXPECT_FALSE(
      parseJson(std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']')));
  // Brackets inside strings do not count.
  EXPECT_TRUE(parseJson("\"" + std::string(1000, '[') + "\""));
  EXPECT_FALSE(parseJson("{"));
  EXPECT_FALSE(parseJson(""));
  EXPECT_EQ(parseJson("{").error().code, core::ErrorCode::kInvalidArgument);
}

TEST(JsonCodecTest, ErrorBodyHasCodeMessageAndField) {
  Json e = encodeError({core::ErrorCode::kUnprocessable, "bad score", "score"});
  EXPECT_EQ(e["error"]["code"], "unprocessable");
  EXPECT_EQ(e["error"]["message"], "bad score");
  EXPECT_EQ(e["error"]["field"], "score");
  EXPECT_TRUE(encodeError({core::ErrorCode::kNotFound, "x", ""})["error"]["field"].is_null());
  EXPECT_EQ(httpStatus(core::ErrorCode::kTooLarge), 413);
  EXPECT_EQ(httpStatus(core::ErrorCode::kUnprocessable), 422);
}

TEST(JsonCodecTest, EncodersNeverLeakSecrets) {
  store::User u;
  u.email = "a@b.c";
  u.password_hash = "$argon2id$secret";
  EXPECT_EQ(encodeUser(u).dump().find("argon2"), std::string::npos);
  store::ApiToken t;
  t.token_hash = "deadbeef";
  t.scopes = store::Scope::kRead | store::Scope::kIngest;
  Json j = encodeToken(t);
  EXPECT_EQ(j.dump().find("deadbeef"), std::string::npos);
  EXPECT_EQ(j["scopes"], Json({"read", "ingest"}));
}

TEST(JsonCodecTest, ThreatEncodesTimesAndEvidence) {
  core::Threat t;
  t.id = 7;
  t.name = "x";
  t.evidence_json = R"({"k":"v"})";
  t.created_at = core::parseRfc3339("2026-11-23T10:00:00Z").value();
  Json j = encodeThreat(t);
  EXPECT_EQ(j["created_at"], "2026-11-23T10:00:00Z");
  EXPECT_EQ(j["evidence"]["k"], "v");
  EXPECT_TRUE(j["closed_at"].is_null());
  EXPECT_FALSE(encodeThreat(t, false).contains("evidence"));
  t.evidence_json = "not json";
  EXPECT_EQ(encodeThreat(t)["evidence"], "not json");
  t.name = "bad \xff utf8";
  EXPECT_NO_THROW(dumpJson(encodeThreat(t)));
}

TEST(JsonCodecTest, EmailsAndTimeZones) {
  EXPECT_TRUE(validateEmail("alice@example.com", "email"));
  EXPECT_FALSE(validateEmail("alice", "email"));
  EXPECT_FALSE(validateEmail("a@b@c", "email"));
  EXPECT_FALSE(validateEmail("a b@c", "email"));
  EXPECT_FALSE(validateEmail("@c", "email"));
  EXPECT_TRUE(validateTimeZone("UTC", "tz"));
  EXPECT_TRUE(validateTimeZone("Europe/Berlin", "tz"));
  EXPECT_FALSE(validateTimeZone("Europe/Atlantis", "tz"));
  EXPECT_FALSE(validateTimeZone("../../etc/passwd", "tz"));
  EXPECT_FALSE(validateTimeZone("/etc/passwd", "tz"));
}

TEST(JsonCodecTest, NewTokenAndUserRequests) {
  auto t = decodeNewToken(parse(R"({"project":"p","name":"ci","scopes":"read,write"})")).value();
  EXPECT_EQ(t.scopes, store::Scope::kRead | store::Scope::kWrite);
  auto byid = decodeNewToken(parse(R"({"project":3,"name":"ci","scopes":["ingest"]})")).value();
  EXPECT_EQ(*byid.project, "3");
  EXPECT_FALSE(decodeNewToken(parse(R"({"name":"ci","scopes":["root"]})")));
  auto u = decodeNewUser(parse(R"({"email":"a@b.c","role":"manager"})")).value();
  EXPECT_EQ(u.role, store::Role::kManager);
  EXPECT_EQ(u.time_zone, "UTC");
  EXPECT_FALSE(u.password);
}

}  // namespace
}  // namespace td::server
