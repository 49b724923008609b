// The API over real HTTP: threats, triage, notes, bulk, overview, sessions, tags, users, tokens,
// health and metrics.
#include "server/tests/api_fixture.h"

namespace td::server {
namespace {

using store::Scope;

TEST_F(ApiTest, HealthzAnswersWithoutCredentials) {
  auto a = get("/healthz", {});
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.json["status"], "ok");
}

TEST_F(ApiTest, TokenCreatesThreatWithSourceApiInItsProject) {
  Creds t = bearer(a_prod_);
  auto a = post("/api/v1/threats", t,
                {{"name", "Mimikatz on WS-042"},
                 {"description", "credential dumping"},
                 {"score", 85},
                 {"severity", "CRITICAL"},
                 {"kind", "THREAT"},
                 {"rule_id", "sigma-123"},
                 {"entity", {{"type", "host"}, {"value", "WS-042"}}},
                 {"entity_group", "workstations"},
                 {"host", "WS-042"},
                 {"tags", {"T1003.001"}},
                 {"evidence", {{"process", "mimikatz.exe"}, {"pid", 4242}}},
                 {"group", "L1 Support"}});
  ASSERT_EQ(a.status, 201) << a.body;
  EXPECT_EQ(a.json["source"], "API");
  EXPECT_EQ(a.json["project_id"], a_prod_.id);
  EXPECT_EQ(a.json["severity"], "CRITICAL");
  EXPECT_EQ(a.json["score"], 85);
  EXPECT_EQ(a.json["group"], "L1 Support");
  EXPECT_EQ(a.json["state"], "New");
  EXPECT_EQ(a.json["evidence"]["process"], "mimikatz.exe");
  EXPECT_EQ(a.json["tags"][0], "T1003.001");

  auto read = get("/api/v1/threats/" + std::to_string(a.json["id"].get<int64_t>()), t);
  ASSERT_EQ(read.status, 200) << read.body;
  EXPECT_EQ(read.json["name"], "Mimikatz on WS-042");
  EXPECT_EQ(read.json["entity"]["value"], "WS-042");
  EXPECT_TRUE(read.json["evidence_samples"].is_array());
}

TEST_F(ApiTest, SeverityAloneImpliesScoreAndScoreAloneImpliesSeverity) {
  Creds t = bearer(a_prod_);
  auto a = post("/api/v1/threats", t, {{"name", "only severity"}, {"severity", "low"}});
  ASSERT_EQ(a.status, 201) << a.body;
  EXPECT_EQ(a.json["severity"], "LOW");
  EXPECT_EQ(a.json["score"], core::scoreForSeverity(core::Severity::kLow));
  auto b = post("/api/v1/threats", t, {{"name", "only score"}, {"score", 95}});
  ASSERT_EQ(b.status, 201) << b.body;
  EXPECT_EQ(b.json["severity"], "CRITICAL");
}

TEST_F(ApiTest, DuplicateOfOpenThreatBumpsCount) {
  Creds t = bearer(a_prod_);
  Json body = {{"name", "Brute force"},
               {"rule_id", "r1"},
               {"entity", {{"type", "user"}, {"value", "alice"}}}};
  auto first = post("/api/v1/threats", t, body);
  ASSERT_EQ(first.status, 201) << first.body;
  auto second = post("/api/v1/threats", t, body);
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(second.json["id"], first.json["id"]);
  EXPECT_EQ(second.json["count"], 2);
}

TEST_F(ApiTest, ListFiltersSortsAndPagesWithCursor) {
  for (int i = 0; i < 12; ++i)
    seedThreat(a_prod_, "threat " + std::to_string(i),
               i % 3 == 0 ? core::Severity::kCritical : core::Severity::kLow,
               "HOST-" + std::to_string(i));
  seedThreat(b_prod_, "other customer", core::Severity::kCritical);
  Creds t = bearer(a_prod_);

  auto all = get("/api/v1/threats", t);
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(all.json["total"], 12);

  auto critical = get("/api/v1/threats?severity=CRITICAL", t);
  ASSERT_EQ(critical.status, 200);
  EXPECT_EQ(critical.json["total"], 4);
  for (const auto& item : critical.json["items"]) EXPECT_EQ(item["severity"], "CRITICAL");

  auto text = get("/api/v1/threats?text=HOST-11", t);
  ASSERT_EQ(text.status, 200);
  EXPECT_EQ(text.json["total"], 1);

  std::set<int64_t> seen;
  std::string cursor;
  int pages = 0;
  do {
    auto page = get("/api/v1/threats?sort=score&order=desc&limit=5" +
                        (cursor.empty() ? "" : "&cursor=" + cursor),
                    t);
    ASSERT_EQ(page.status, 200) << page.body;
    int last_score = 101;
    for (const auto& item : page.json["items"]) {
      seen.insert(item["id"].get<int64_t>());
      EXPECT_LE(item["score"].get<int>(), last_score);
      last_score = item["score"];
    }
    cursor =
        page.json["next_cursor"].is_string() ? page.json["next_cursor"].get<std::string>() : "";
    ++pages;
  } while (!cursor.empty() && pages < 10);
  EXPECT_EQ(seen.size(), 12u);
  EXPECT_EQ(pages, 3);
}

TEST_F(ApiTest, TriageThroughPatchRecordsTimeline) {
  auto threat = seedThreat(a_prod_, "Suspicious PowerShell");
  const std::string path = "/api/v1/threats/" + std::to_string(threat.id);
  Creds s = login("operator@provider.test");

  auto assigned = patch(
      path, s, {{"group", "L2 Support"}, {"owner", "operator@a.test"}, {"state", "In Progress"}});
  ASSERT_EQ(assigned.status, 200) << assigned.body;
  EXPECT_EQ(assigned.json["group"], "L2 Support");
  EXPECT_EQ(assigned.json["owner"], "operator@a.test");
  EXPECT_EQ(assigned.json["state"], "In Progress");

  auto no_outcome = patch(path, s, {{"state", "Closed"}});
  EXPECT_EQ(no_outcome.status, 422);
  EXPECT_EQ(no_outcome.errorField(), "outcome");

  auto closed = patch(path, s, {{"state", "Closed"}, {"outcome", "False Positive"}});
  ASSERT_EQ(closed.status, 200) << closed.body;
  EXPECT_TRUE(closed.json["closed"]);
  EXPECT_EQ(closed.json["outcome"], "False Positive");

  auto reopened = patch(path, s, {{"state", "New"}});
  ASSERT_EQ(reopened.status, 200) << reopened.body;
  EXPECT_FALSE(reopened.json["closed"]);
  EXPECT_TRUE(reopened.json["outcome"].is_null());

  auto cleared = patch(path, s, {{"group", nullptr}, {"owner", ""}});
  ASSERT_EQ(cleared.status, 200) << cleared.body;
  EXPECT_TRUE(cleared.json["group"].is_null());
  EXPECT_TRUE(cleared.json["owner"].is_null());

  auto timeline = get(path + "/timeline", s);
  ASSERT_EQ(timeline.status, 200) << timeline.body;
  std::set<std::string> actions;
  for (const auto& e : timeline.json["items"]) {
    actions.insert(e["action"].get<std::string>());
    if (e["action"] != "created") {
      EXPECT_EQ(e["actor"], "operator@provider.test");
    }
  }
  for (const char* a :
       {"created", "assigned_group", "assigned_owner", "state", "closed", "reopened"})
    EXPECT_TRUE(actions.count(a)) << "missing timeline action " << a << " in " << timeline.body;
}

TEST_F(ApiTest, NotesAreAddedAndListed) {
  auto threat = seedThreat(a_prod_, "Beaconing");
  const std::string path = "/api/v1/threats/" + std::to_string(threat.id) + "/notes";
  Creds t = bearer(a_prod_);
  auto added = post(path, t, {{"text", "Looks like Cobalt Strike"}});
  ASSERT_EQ(added.status, 201) << added.body;
  EXPECT_EQ(added.json["author"], "token:test");
  auto listed = get(path, t);
  ASSERT_EQ(listed.status, 200);
  ASSERT_EQ(listed.json["items"].size(), 1u);
  EXPECT_EQ(listed.json["items"][0]["text"], "Looks like Cobalt Strike");
  auto empty = post(path, t, {{"text", "   "}});
  EXPECT_EQ(empty.status, 422);
}

TEST_F(ApiTest, BulkByIdsReportsWhatDidNotChange) {
  auto a1 = seedThreat(a_prod_, "one");
  auto a2 = seedThreat(a_prod_, "two");
  auto b1 = seedThreat(b_prod_, "elsewhere");
  Creds t = bearer(a_prod_);
  auto r = post("/api/v1/threats/bulk", t,
                {{"ids", {a1.id, a2.id, b1.id, 999999}},
                 {"change", {{"state", "Closed"}, {"outcome", "Benign"}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json["matched"], 4);
  EXPECT_EQ(r.json["changed"], 2);
  ASSERT_EQ(r.json["failed"].size(), 2u);
  for (const auto& f : r.json["failed"]) EXPECT_EQ(f["error"]["code"], "not_found");
  EXPECT_TRUE(store_->getThreat(a1.id)->closed);
  EXPECT_FALSE(store_->getThreat(b1.id)->closed);
}

TEST_F(ApiTest, BulkByFilterChangesOnlyMatches) {
  for (int i = 0; i < 5; ++i)
    seedThreat(a_prod_, "crit " + std::to_string(i), core::Severity::kCritical);
  for (int i = 0; i < 3; ++i) seedThreat(a_prod_, "low " + std::to_string(i), core::Severity::kLow);
  seedThreat(b_prod_, "crit elsewhere", core::Severity::kCritical);
  Creds s = login("operator@a.test");
  auto r = call("POST", "/api/v1/threats/bulk?project=a-prod", s,
                Json{{"filter", {{"severity", {"CRITICAL"}}}},
                     {"change", {{"group", "L2 Support"}, {"note", "escalated in bulk"}}}}
                    .dump());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json["changed"], 5);
  auto l2 = get("/api/v1/threats?project=a-prod&group=L2%20Support", s);
  EXPECT_EQ(l2.json["total"], 5);
  auto b = store_->listThreats(filterFor(b_prod_), {});
  ASSERT_TRUE(b);
  EXPECT_EQ(b->items.at(0).group, "");
}

TEST_F(ApiTest, OverviewAnswersInOneCall) {
  for (int i = 0; i < 6; ++i)
    seedThreat(a_prod_, "t" + std::to_string(i),
               i < 2 ? core::Severity::kCritical : core::Severity::kMedium);
  Creds t = bearer(a_prod_, Scope::kRead);
  auto o = get("/api/v1/overview?limit=3", t);
  ASSERT_EQ(o.status, 200) << o.body;
  EXPECT_EQ(o.json["open_by_severity"]["CRITICAL"], 2);
  EXPECT_EQ(o.json["open_by_severity"]["MEDIUM"], 4);
  EXPECT_EQ(o.json["threats"]["items"].size(), 3u);
  EXPECT_TRUE(o.json["timeline"].is_array());
  EXPECT_TRUE(o.json["by_source"].is_array());
  auto by_group = get("/api/v1/overview?split=group", t);
  EXPECT_EQ(by_group.status, 200) << by_group.body;
}

TEST_F(ApiTest, LoginSetsStrictHttpOnlyCookieAndLogoutEndsSession) {
  auto a = call("POST", "/api/v1/auth/login", {},
                Json{{"email", "operator@a.test"}, {"password", kPassword}}.dump());
  ASSERT_EQ(a.status, 200) << a.body;
  const std::string cookie = a.headers["Set-Cookie"];
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
  EXPECT_FALSE(a.json["csrf_token"].get<std::string>().empty());
  EXPECT_FALSE(a.json["user"].contains("password_hash"));

  Creds s = login("operator@a.test");
  auto me = get("/api/v1/me", s);
  ASSERT_EQ(me.status, 200) << me.body;
  EXPECT_EQ(me.json["user"]["email"], "operator@a.test");
  EXPECT_EQ(me.json["csrf_token"], s.csrf);
  EXPECT_EQ(me.json["projects"].size(), 2u);

  auto out = call("POST", "/api/v1/auth/logout", s);
  EXPECT_EQ(out.status, 204);
  EXPECT_EQ(get("/api/v1/me", s).status, 401);
}

TEST_F(ApiTest, WrongPasswordAndUnknownEmailLookAlike) {
  auto wrong = call("POST", "/api/v1/auth/login", {},
                    Json{{"email", "operator@a.test"}, {"password", "not the password"}}.dump());
  auto unknown = call("POST", "/api/v1/auth/login", {},
                      Json{{"email", "nobody@a.test"}, {"password", "not the password"}}.dump());
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(unknown.status, 401);
  EXPECT_EQ(wrong.json["error"]["message"], unknown.json["error"]["message"]);
}

TEST_F(ApiTest, ExpiredSessionIsRefused) {
  const NewSession secrets = generateSession();
  store::Session session;
  session.id_hash = secrets.id_hash;
  session.user_id = store_->findUserByEmail("operator@a.test")->id;
  session.csrf_token = secrets.csrf_token;
  session.created_at = core::nowMs() - 2 * core::kDayMs;
  session.expires_at = core::nowMs() - core::kDayMs;
  ASSERT_TRUE(store_->createSession(session));
  Creds c;
  c.cookie = "td_session=" + secrets.id;
  EXPECT_EQ(get("/api/v1/me", c).status, 401);
}

TEST_F(ApiTest, TagsAreManagedAndDeletionInUseNeedsReplacement) {
  Creds m = login("manager@provider.test");
  auto groups = get("/api/v1/tags/group?project=a-prod", m);
  ASSERT_EQ(groups.status, 200) << groups.body;
  EXPECT_EQ(groups.json["items"].size(), 2u);

  auto added = post("/api/v1/tags/group?project=a-prod", m, {{"name", "Patching"}});
  ASSERT_EQ(added.status, 201) << added.body;
  const auto patching_id = added.json["id"].get<int64_t>();
  EXPECT_EQ(post("/api/v1/tags/group?project=a-prod", m, {{"name", "Patching"}}).status, 409);

  auto renamed = patch("/api/v1/tags/group/" + std::to_string(patching_id) + "?project=a-prod", m,
                       {{"name", "Patch Management"}});
  ASSERT_EQ(renamed.status, 200) << renamed.body;
  EXPECT_EQ(renamed.json["name"], "Patch Management");

  auto threat = seedThreat(a_prod_, "CVE-2024-1234 on payments-api");
  ASSERT_EQ(
      patch("/api/v1/threats/" + std::to_string(threat.id), m, {{"group", "Patch Management"}})
          .status,
      200);
  auto refused =
      call("DELETE", "/api/v1/tags/group/" + std::to_string(patching_id) + "?project=a-prod", m);
  EXPECT_EQ(refused.status, 409) << refused.body;
  auto deleted = call("DELETE",
                      "/api/v1/tags/group/" + std::to_string(patching_id) +
                          "?project=a-prod&replacement=L1%20Support",
                      m);
  EXPECT_EQ(deleted.status, 204) << deleted.body;
  EXPECT_EQ(store_->getThreat(threat.id)->group, "L1 Support");

  EXPECT_EQ(get("/api/v1/tags/colour?project=a-prod", m).status, 404);
  auto states = get("/api/v1/tags/threat_state?project=a-prod", m);
  ASSERT_EQ(states.status, 200);
  EXPECT_EQ(states.json["items"].back()["name"], "Closed");
}

TEST_F(ApiTest, AdminCreatesUserWithGeneratedPasswordWhoCanSignIn) {
  Creds admin = login("admin@provider.test");
  auto created = post("/api/v1/users", admin,
                      {{"email", "new.analyst@a.test"},
                       {"role", "operator"},
                       {"org", "CustomerA"},
                       {"time_zone", "Europe/Berlin"}});
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string password = created.json["password"];
  EXPECT_GE(password.size(), kMinPasswordLength);
  EXPECT_EQ(created.json["org_id"], customer_a_.id);
  EXPECT_FALSE(created.json.contains("password_hash"));
  Creds s = login("new.analyst@a.test", password);
  EXPECT_FALSE(s.cookie.empty());

  EXPECT_EQ(
      post("/api/v1/users", admin, {{"email", "new.analyst@a.test"}, {"role", "operator"}}).status,
      409);
  EXPECT_EQ(post("/api/v1/users", admin,
                 {{"email", "weak@a.test"}, {"role", "operator"}, {"password", "short"}})
                .status,
            422);
  EXPECT_EQ(post("/api/v1/users", admin,
                 {{"email", "tz@a.test"}, {"role", "operator"}, {"time_zone", "Mars/Olympus"}})
                .status,
            422);

  auto users = get("/api/v1/users", admin);
  ASSERT_EQ(users.status, 200);
  for (const auto& u : users.json["items"]) EXPECT_FALSE(u.contains("password_hash"));
}

TEST_F(ApiTest, AdminCreatesAndRevokesTokens) {
  Creds admin = login("admin@a.test");
  auto created = post("/api/v1/tokens", admin,
                      {{"project", "a-staging"}, {"name", "ci"}, {"scopes", {"read"}}});
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string secret = created.json["token"];
  EXPECT_EQ(secret.rfind("tdk_", 0), 0u);
  EXPECT_FALSE(created.json.contains("token_hash"));
  EXPECT_EQ(created.json["project_id"], a_staging_.id);

  Creds t;
  t.bearer = secret;
  EXPECT_EQ(get("/api/v1/threats", t).status, 200);
  EXPECT_EQ(post("/api/v1/threats", t, {{"name", "x"}}).status, 403);  // read scope only

  auto listed = get("/api/v1/tokens", admin);
  ASSERT_EQ(listed.status, 200);
  ASSERT_EQ(listed.json["items"].size(), 1u);
  EXPECT_EQ(listed.json["items"][0]["prefix"], secret.substr(0, kTokenShownPrefix));

  const auto id = created.json["id"].get<int64_t>();
  EXPECT_EQ(call("DELETE", "/api/v1/tokens/" + std::to_string(id), admin).status, 204);
  auto revoked = get("/api/v1/threats", t);
  EXPECT_EQ(revoked.status, 401);

  // A project of another customer is not theirs to mint tokens for.
  EXPECT_EQ(
      post("/api/v1/tokens", admin, {{"project", "b-prod"}, {"name", "x"}, {"scopes", "read"}})
          .status,
      404);
}

TEST_F(ApiTest, MetricsCountThreatsAndRequests) {
  seedThreat(a_prod_, "m1", core::Severity::kHigh);
  Creds t = bearer(a_prod_);
  get("/api/v1/threats", t);
  auto m = get("/metrics", {});
  ASSERT_EQ(m.status, 200);
  EXPECT_NE(m.body.find("threatdesk_threats{state=\"New\",severity=\"HIGH\"} 1"), std::string::npos)
      << m.body;
  EXPECT_NE(m.body.find("threatdesk_http_requests_total{route=\"/api/v1/threats\",method=\"GET\","
                        "status=\"200\"} 1"),
            std::string::npos)
      << m.body;
  EXPECT_NE(
      m.body.find("threatdesk_http_request_duration_seconds_bucket{route=\"/api/v1/threats\""),
      std::string::npos);
}

TEST_F(ApiTest, StopIsIdempotentAndRefusesNewConnections) {
  server_->stop();
  server_->stop();
  httplib::Client client("127.0.0.1", port_);
  client.set_connection_timeout(1, 0);
  auto r = client.Get("/healthz");
  EXPECT_FALSE(r);
}

TEST_F(ApiTest, TokenUseIsRecorded) {
  Creds t = bearer(a_prod_, Scope::kRead);
  get("/api/v1/threats", t);
  auto tokens = store_->listTokens(a_prod_.id);
  ASSERT_TRUE(tokens);
  ASSERT_EQ(tokens->size(), 1u);
  EXPECT_TRUE(tokens->front().last_used_at.has_value());
}

}  // namespace
}  // namespace td::server
