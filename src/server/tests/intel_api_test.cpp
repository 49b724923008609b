// The intel routes over real HTTP: feeds CRUD with the secret never shown, an upload with a bad
// line reported and the good ones kept, a malformed upload refused with the indicators kept,
// import reports, indicator search, a TAXII feed imported from a real loopback TAXII server, and
// who may do what.
#include <fstream>

#include "intel/sync/feed_service.h"
#include "server/routes_intel.h"
#include "server/tests/api_fixture.h"
#include "tests/support/taxii_server.h"

namespace td::server {
namespace {

class IntelApiTest : public ApiTest {
 protected:
  void addRoutes(Server& server) override {
    intel::sync::FeedServiceOptions o;
    o.allow_local_sources = false;  // as `threatdesk serve` runs it
    feeds_ = std::make_unique<intel::sync::FeedService>(*store_, o);
    addIntelRoutes(server, *feeds_);
  }
  void TearDown() override {
    ApiTest::TearDown();
    feeds_.reset();
  }
  HttpAnswer upload(int64_t feed, const Creds& c, const std::string& body,
                    const std::string& project = "") {
    return call("POST",
                "/api/v1/intel/feeds/" + std::to_string(feed) + "/upload" +
                    (project.empty() ? "" : "?project=" + project),
                c, body, "text/csv");
  }
  int64_t createFeed(const Creds& c, const Json& body, const std::string& project = "") {
    auto a = post("/api/v1/intel/feeds" + (project.empty() ? "" : "?project=" + project), c, body);
    EXPECT_EQ(a.status, 201) << a.body;
    return a.json.value("id", int64_t{0});
  }
  std::unique_ptr<intel::sync::FeedService> feeds_;
};

TEST_F(IntelApiTest, FeedsAreCreatedListedChangedAndDeletedWithoutShowingTheSecret) {
  Creds admin = login("admin@a.test");
  auto a = post("/api/v1/intel/feeds", admin,
                {{"name", "abuse"},
                 {"type", "csv"},
                 {"source", "https://feeds.example/abuse.csv"},
                 {"mapping", {{"column", "dst_ip"}, {"type", "ip"}}},
                 {"refresh_minutes", 60},
                 {"username", "me"},
                 {"secret", "hunter2"}});
  ASSERT_EQ(a.status, 201) << a.body;
  EXPECT_EQ(a.body.find("hunter2"), std::string::npos);
  EXPECT_TRUE(a.json["has_secret"].get<bool>());
  EXPECT_EQ(a.json["mapping"]["column"], "dst_ip");
  EXPECT_FALSE(a.json["next_run_at"].is_null());
  const auto id = a.json["id"].get<int64_t>();
  const std::string path = "/api/v1/intel/feeds/" + std::to_string(id);

  auto list = get("/api/v1/intel/feeds", admin);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.json["items"].size(), 1u);
  EXPECT_EQ(list.body.find("hunter2"), std::string::npos);

  auto changed = patch(path, admin, {{"enabled", false}, {"refresh_minutes", 0}});
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_FALSE(changed.json["enabled"].get<bool>());
  EXPECT_TRUE(changed.json["next_run_at"].is_null());
  EXPECT_TRUE(changed.json["has_secret"].get<bool>());  // untouched by a patch without it

  auto dup = post("/api/v1/intel/feeds", admin,
                  {{"name", "ABUSE"}, {"type", "csv"}, {"source", "upload"}});
  EXPECT_EQ(dup.status, 409);
  EXPECT_EQ(dup.errorField(), "name");
  auto bad_type = post("/api/v1/intel/feeds", admin,
                       {{"name", "x"}, {"type", "rss"}, {"source", "upload"}});
  EXPECT_EQ(bad_type.status, 422);
  EXPECT_EQ(bad_type.errorField(), "type");
  auto local = post("/api/v1/intel/feeds", admin,
                    {{"name", "x"}, {"type", "csv"}, {"source", "/etc/passwd"}});
  EXPECT_EQ(local.status, 422);
  EXPECT_EQ(local.errorField(), "source");
  auto typo = post("/api/v1/intel/feeds", admin,
                   {{"name", "x"}, {"type", "csv"}, {"source", "upload"}, {"sorce", "y"}});
  EXPECT_EQ(typo.status, 400);
  auto missing = post("/api/v1/intel/feeds", admin, {{"name", "x"}, {"type", "csv"}});
  EXPECT_EQ(missing.status, 422);
  EXPECT_EQ(missing.errorField(), "source");

  EXPECT_EQ(call("DELETE", path, admin).status, 204);
  EXPECT_EQ(get(path, admin).status, 404);
}

TEST_F(IntelApiTest, AnUploadKeepsTheGoodLinesReportsTheBadOneAndIsSearchable) {
  Creds admin = login("admin@a.test");
  const auto id = createFeed(admin, {{"name", "c2"}, {"type", "csv"}, {"source", "upload"}});
  auto a = upload(id, admin, "ip,malware\n198.51.100.1,Emotet\n999.1.1.1,bad\nevil.example,QakBot\n");
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_TRUE(a.json["ok"].get<bool>());
  EXPECT_EQ(a.json["added"], 2);
  EXPECT_EQ(a.json["rejected"], 1);
  ASSERT_EQ(a.json["report"]["rejections"].size(), 1u);
  EXPECT_NE(a.json["report"]["rejections"][0]["where"].get<std::string>().find("3"),
            std::string::npos);

  auto feed = get("/api/v1/intel/feeds/" + std::to_string(id), admin);
  EXPECT_EQ(feed.json["indicator_count"], 2);
  EXPECT_EQ(feed.json["last_status"], "ok");
  EXPECT_EQ(feed.json["last_import"]["rejected"], 1);

  // A malformed upload is refused with the reason; the indicators stay. As CSV: no row holds an
  // indicator; as STIX: not JSON.
  auto bad = call("POST", "/api/v1/intel/feeds/" + std::to_string(id) + "/upload", admin,
                  "{\"type\":\"bundle\",\"objects\":[", "application/json");
  EXPECT_EQ(bad.status / 100, 4) << bad.body;
  ASSERT_EQ(patch("/api/v1/intel/feeds/" + std::to_string(id), admin, {{"type", "stix"}}).status,
            200);
  bad = call("POST", "/api/v1/intel/feeds/" + std::to_string(id) + "/upload", admin,
             "{\"type\":\"bundle\",\"objects\":[", "application/json");
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_FALSE(bad.json["error"]["message"].get<std::string>().empty());
  EXPECT_EQ(get("/api/v1/intel/feeds/" + std::to_string(id), admin).json["indicator_count"], 2);
  auto imports = get("/api/v1/intel/feeds/" + std::to_string(id) + "/imports", admin);
  ASSERT_EQ(imports.json["items"].size(), 3u);
  EXPECT_FALSE(imports.json["items"][0]["ok"].get<bool>());

  auto found = get("/api/v1/intel/indicators?value=198.51.100.1", admin);
  ASSERT_EQ(found.status, 200) << found.body;
  ASSERT_EQ(found.json["items"].size(), 1u);
  EXPECT_EQ(found.json["items"][0]["feed"], "c2");
  EXPECT_EQ(found.json["items"][0]["context"]["malware"], "Emotet");
  ASSERT_EQ(found.json["matches"].size(), 1u);
  // A subdomain is not stored, but an event carrying it matches the parent domain.
  auto sub = get("/api/v1/intel/indicators?value=WWW.Evil.Example.", admin);
  EXPECT_TRUE(sub.json["items"].empty());
  ASSERT_EQ(sub.json["matches"].size(), 1u);
  EXPECT_EQ(sub.json["matches"][0]["value"], "evil.example");
  EXPECT_EQ(get("/api/v1/intel/indicators", admin).status, 400);

  auto rows = get("/api/v1/intel/feeds/" + std::to_string(id) + "/indicators?limit=1", admin);
  ASSERT_EQ(rows.status, 200);
  EXPECT_EQ(rows.json["items"].size(), 1u);
  EXPECT_EQ(rows.json["total"], 2);
}

TEST_F(IntelApiTest, OnlyManagersChangeFeedsAndOtherOrganisationsSeeNothing) {
  Creds admin_a = login("admin@a.test");
  const auto id = createFeed(admin_a, {{"name", "c2"}, {"type", "csv"}, {"source", "upload"}});
  ASSERT_EQ(upload(id, admin_a, "198.51.100.1\n").status, 200);
  const std::string path = "/api/v1/intel/feeds/" + std::to_string(id);

  Creds op_a = login("operator@a.test");
  EXPECT_EQ(get(path, op_a).status, 200);  // operators read
  EXPECT_EQ(post("/api/v1/intel/feeds", op_a,
                 {{"name", "x"}, {"type", "csv"}, {"source", "upload"}})
                .status,
            403);
  EXPECT_EQ(patch(path, op_a, {{"enabled", false}}).status, 403);
  EXPECT_EQ(upload(id, op_a, "203.0.113.1\n").status, 403);

  Creds op_b = login("operator@b.test");
  EXPECT_EQ(get(path, op_b).status, 404);
  EXPECT_TRUE(get("/api/v1/intel/feeds", op_b).json["items"].empty());
  EXPECT_TRUE(get("/api/v1/intel/indicators?value=198.51.100.1", op_b).json["items"].empty());

  // Tokens: read lists; write uploads content; no token manages feeds.
  Creds reader = bearer(a_prod_, store::Scope::kRead);
  EXPECT_EQ(get(path, reader).status, 200);
  EXPECT_EQ(upload(id, reader, "203.0.113.1\n").status, 403);
  Creds writer = bearer(a_prod_, store::Scope::kRead | store::Scope::kWrite);
  EXPECT_EQ(upload(id, writer, "203.0.113.1\n").status, 200);
  EXPECT_EQ(call("DELETE", path, writer).status, 403);
  Creds b_writer = bearer(b_prod_, store::Scope::kRead | store::Scope::kWrite);
  EXPECT_EQ(upload(id, b_writer, "203.0.113.1\n").status, 404);

  EXPECT_EQ(get("/api/v1/intel/feeds", Creds{}).status, 401);
}

TEST_F(IntelApiTest, ATaxiiFeedImportsFromALoopbackServerAndAWrongPasswordIsAClearError) {
  const std::string bundle = dir_.file("taxii.json");
  std::ofstream(bundle) << R"({"type":"bundle","objects":[
    {"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000001",
     "created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z",
     "pattern":"[domain-name:value = 'c2.example'] OR [ipv4-addr:value = '198.51.100.9']",
     "pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"},
    {"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000002",
     "created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z",
     "pattern":"[file:name MATCHES '^x.*']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}]})";
  testing::TaxiiServer taxii(bundle, "reader", "right", 1);
  ASSERT_GT(taxii.port(), 0);
  Creds admin = login("admin@a.test");
  const auto id = createFeed(admin, {{"name", "taxii"},
                                     {"type", "taxii"},
                                     {"source", taxii.collectionUrl()},
                                     {"username", "reader"},
                                     {"secret", "right"}});
  const std::string path = "/api/v1/intel/feeds/" + std::to_string(id);
  auto a = post(path + "/import", admin, Json::object());
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.json["added"], 2);
  EXPECT_EQ(a.json["rejected"], 1);  // MATCHES cannot be matched exactly: reported
  EXPECT_FALSE(get(path, admin).json["cursor"].get<std::string>().empty());

  ASSERT_EQ(patch(path, admin, {{"secret", "wrong"}}).status, 200);
  auto refused = post(path + "/import", admin, Json::object());
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_EQ(refused.errorField(), "credentials");
  EXPECT_NE(refused.body.find("HTTP 401"), std::string::npos) << refused.body;
  EXPECT_EQ(get(path, admin).json["indicator_count"], 2);
}

TEST_F(IntelApiTest, AFeedWhosePathTheCliSetIsRefreshedAndChangedButNoPathComesOverTheApi) {
  const std::string file = dir_.file("local.txt");
  std::ofstream(file) << "198.51.100.44\n";
  store::IntelFeed f;
  f.org_id = customer_a_.id;
  f.name = "from-cli";
  f.type = "csv";
  f.source = file;
  auto created = store_->intel().createFeed(f);  // as `threatdesk intel import` stores it
  ASSERT_TRUE(created);
  Creds admin = login("admin@a.test");
  const std::string path = "/api/v1/intel/feeds/" + std::to_string(created->id);
  auto a = post(path + "/import", admin, Json::object());
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.json["added"], 1);
  EXPECT_EQ(patch(path, admin, {{"refresh_minutes", 30}}).status, 200);
  auto moved = patch(path, admin, {{"source", "/etc/passwd"}});
  EXPECT_EQ(moved.status, 422);
  EXPECT_EQ(moved.errorField(), "source");
}

TEST_F(IntelApiTest, ProjectSettingsAreReadByAllChangedByManagersAndCheckedMemberByMember) {
  Creds admin = login("admin@a.test");
  auto none = get("/api/v1/intel/settings?project=a-prod", admin);
  ASSERT_EQ(none.status, 200) << none.body;
  EXPECT_EQ(none.json["suppression_minutes"], 1440);
  EXPECT_TRUE(none.json["allow"].empty());
  EXPECT_TRUE(none.json["updated_at"].is_null());

  const Json body = {{"allow", {"10.0.0.0/8", "corp.example", "203.0.113.9"}},
                     {"min_bytes", 512},
                     {"ignore_ports", {137, 138}},
                     {"unsafe_ports", {23}},
                     {"suppression_minutes", 60}};
  auto put = call("PUT", "/api/v1/intel/settings?project=a-prod", admin, body.dump());
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.json["allow"].size(), 3u);
  EXPECT_FALSE(put.json["updated_at"].is_null());
  auto got = get("/api/v1/intel/settings?project=a-prod", admin);
  EXPECT_EQ(got.json["ignore_ports"], Json({137, 138}));
  EXPECT_EQ(got.json["min_bytes"], 512);
  EXPECT_EQ(got.json["suppression_minutes"], 60);
  // Per project: the other project of the organisation still has the defaults.
  EXPECT_TRUE(get("/api/v1/intel/settings?project=a-staging", admin).json["updated_at"].is_null());

  auto bad = [&](const Json& b) {
    return call("PUT", "/api/v1/intel/settings?project=a-prod", admin, b.dump());
  };
  auto a = bad({{"allow", {"10.0.0.1", "not a value!"}}});
  EXPECT_EQ(a.status, 422) << a.body;
  EXPECT_EQ(a.errorField(), "allow[1]");
  a = bad({{"allow", "10.0.0.1"}});
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.errorField(), "allow");
  a = bad({{"unsafe_ports", {23, 0}}});
  EXPECT_EQ(a.status, 422);
  EXPECT_EQ(a.errorField(), "unsafe_ports[1]");
  a = bad({{"ignore_ports", {445}}, {"unsafe_ports", {445}}});
  EXPECT_EQ(a.status, 422);
  EXPECT_EQ(a.errorField(), "unsafe_ports[0]");
  a = bad({{"min_bytes", -1}});
  EXPECT_EQ(a.status, 422);
  EXPECT_EQ(a.errorField(), "min_bytes");
  a = bad({{"suppression_minutes", "a day"}});
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.errorField(), "suppression_minutes");
  a = bad({{"allowlist", Json::array()}});
  EXPECT_EQ(a.status, 400);
  EXPECT_EQ(a.errorField(), "allowlist");
  // Refused changes changed nothing.
  EXPECT_EQ(get("/api/v1/intel/settings?project=a-prod", admin).json["allow"].size(), 3u);

  Creds op = login("operator@a.test");
  EXPECT_EQ(get("/api/v1/intel/settings?project=a-prod", op).status, 200);
  EXPECT_EQ(call("PUT", "/api/v1/intel/settings?project=a-prod", op, body.dump()).status, 403);
  Creds writer = bearer(a_prod_, store::Scope::kRead | store::Scope::kWrite);
  EXPECT_EQ(get("/api/v1/intel/settings", writer).json["min_bytes"], 512);
  EXPECT_EQ(call("PUT", "/api/v1/intel/settings", writer, body.dump()).status, 403);
  Creds op_b = login("operator@b.test");
  EXPECT_NE(get("/api/v1/intel/settings?project=a-prod", op_b).status, 200);
  EXPECT_EQ(get("/api/v1/intel/settings", Creds{}).status, 401);
}

TEST_F(IntelApiTest, EveryIntelRouteIsDocumented) {
  EXPECT_EQ(undocumentedRoutes(*server_), std::vector<std::string>{});
}

}  // namespace
}  // namespace td::server
