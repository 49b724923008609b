// The detection routes over real HTTP: ingest (counts, bad lines, gzip, scopes), rule management
// (upload, errors at their line, enable/disable, delete, groups, actions), rules/test, and
// reloading rules while events flow. Threats come out of a real ThreatSink into the SQLite store.
#include <zlib.h>

#include <atomic>
#include <thread>

#include "detect/sigma_processor.h"
#include "server/routes_detect.h"
#include "server/routes_ingest.h"
#include "server/tests/api_fixture.h"
#include "triage/threat_sink.h"

namespace td::server {
namespace {

using store::Scope;

const char* kRule = R"(title: Mimikatz command line
id: 33333333-0000-0000-0000-000000000001
status: test
level: high
tags: [attack.credential_access, attack.t1003.001]
logsource: {}
detection:
  sel:
    CommandLine|contains: sekurlsa
  condition: sel
)";

std::string event(const std::string& cmd, const std::string& host = "WS-1") {
  return Json{{"EventID", 1}, {"Computer", host}, {"CommandLine", cmd}}.dump();
}

std::string gzip(const std::string& in) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, in.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

class DetectApiTest : public ApiTest {
 protected:
  void addRoutes(Server& server) override {
    sink_ = std::make_unique<triage::ThreatSink>(*store_);
    processor_ = std::make_unique<detect::SigmaProcessor>();
    rules_ = std::make_unique<RuleService>(*store_, *processor_);
    pipeline_ = std::make_unique<IngestPipeline>(*sink_);
    pipeline_->addProcessor(processor_.get());
    ASSERT_TRUE(rules_->reload());
    addIngestRoutes(server, *pipeline_);
    addRuleRoutes(server, *rules_);
  }
  void TearDown() override {
    ApiTest::TearDown();
    if (sink_) sink_->stop();
  }

  HttpAnswer ingest(const Creds& c, const std::string& body, bool gz = false) {
    httplib::Client client("127.0.0.1", port_);
    httplib::Headers h{{"Authorization", "Bearer " + c.bearer}};
    if (gz) h.emplace("Content-Encoding", "gzip");
    auto r = client.Post("/api/v1/ingest", h, gz ? gzip(body) : body, "application/x-ndjson");
    HttpAnswer a;
    if (!r) {
      ADD_FAILURE() << "no answer";
      return a;
    }
    a.status = r->status;
    a.body = r->body;
    a.json = Json::parse(r->body, nullptr, false);
    return a;
  }

  Json threats(const store::Project& p) {
    sink_->flush();
    auto a = get("/api/v1/threats?project=" + p.name, login("admin@provider.test"));
    EXPECT_EQ(a.status, 200) << a.body;
    return a.json["items"];
  }

  Creds uploadRule(const std::string& yaml = kRule) {
    Creds admin = login("admin@provider.test");
    auto a = post("/api/v1/rules", admin, {{"yaml", yaml}});
    EXPECT_EQ(a.status, 201) << a.body;
    return admin;
  }

  std::unique_ptr<triage::ThreatSink> sink_;
  std::unique_ptr<detect::SigmaProcessor> processor_;
  std::unique_ptr<RuleService> rules_;
  std::unique_ptr<IngestPipeline> pipeline_;
};

TEST_F(DetectApiTest, IngestCountsBadLinesAndRaisesThreatsFromTheGoodOnes) {
  uploadRule();
  Creds t = bearer(a_prod_, Scope::kIngest);
  const std::string body = event("mimikatz sekurlsa::logonpasswords") + "\n" + "{broken\n" +
                           event("notepad.exe") + "\n" + "[1]\n" +
                           event("sekurlsa::pth", "WS-2") + "\n";
  auto a = ingest(t, body);
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.json["accepted"], 3);
  EXPECT_EQ(a.json["rejected"], 2);
  ASSERT_EQ(a.json["errors"].size(), 2u);
  EXPECT_EQ(a.json["errors"][0]["line"], 2);
  EXPECT_EQ(a.json["errors"][1]["line"], 4);
  EXPECT_FALSE(a.json["errors"][0]["reason"].get<std::string>().empty());

  auto items = threats(a_prod_);
  ASSERT_EQ(items.size(), 2u);
  for (const auto& item : items) {
    EXPECT_EQ(item["source"], "Rule");
    EXPECT_EQ(item["rule_id"], "33333333-0000-0000-0000-000000000001");
    EXPECT_EQ(item["severity"], "HIGH");
  }
  EXPECT_TRUE(threats(b_prod_).empty());  // the token's project only
  auto one = get("/api/v1/threats/" + std::to_string(items[0]["id"].get<int64_t>()),
                 login("admin@provider.test"));
  EXPECT_EQ(one.json["evidence"]["rule"]["title"], "Mimikatz command line");
  EXPECT_EQ(one.json["evidence"]["rule"]["tags"][0], "T1003.001");
  EXPECT_TRUE(one.json["evidence"]["event"].contains("CommandLine"));

  // Hit counts reach the store.
  ASSERT_TRUE(rules_->flushHits());
  auto list = get("/api/v1/rules", login("readonly@provider.test"));
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.json["items"][0]["hits"], 2);
}

TEST_F(DetectApiTest, IngestTakesJsonArraysAndGzipOnlyThere) {
  uploadRule();
  Creds t = bearer(a_prod_, Scope::kIngest);
  auto arr = ingest(t, "[" + event("sekurlsa") + ", 5]");
  ASSERT_EQ(arr.status, 200) << arr.body;
  EXPECT_EQ(arr.json["accepted"], 1);
  EXPECT_EQ(arr.json["rejected"], 1);
  std::string many;
  for (int i = 0; i < 500; ++i) many += event("sekurlsa", "H" + std::to_string(i)) + "\n";
  auto gz = ingest(t, many, true);
  ASSERT_EQ(gz.status, 200) << gz.body;
  EXPECT_EQ(gz.json["accepted"], 500);
  sink_->flush();
  auto listed = get("/api/v1/threats?project=a-prod", login("admin@provider.test"));
  EXPECT_EQ(listed.json["total"], 501);  // one threat per host, and the array's event on WS-1

  auto corrupt = [&] {
    httplib::Client client("127.0.0.1", port_);
    return client.Post("/api/v1/ingest",
                       {{"Authorization", "Bearer " + t.bearer}, {"Content-Encoding", "gzip"}},
                       std::string("not gzip at all"), "application/x-ndjson");
  }();
  ASSERT_TRUE(corrupt);
  EXPECT_EQ(corrupt->status, 400);
  // Other routes still refuse compressed bodies.
  httplib::Client client("127.0.0.1", port_);
  auto other = client.Post("/api/v1/threats",
                           {{"Authorization", "Bearer " + bearer(a_prod_).bearer},
                            {"Content-Encoding", "gzip"}},
                           gzip("{\"name\":\"x\"}"), "application/json");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 415);
}

TEST_F(DetectApiTest, IngestNeedsTheIngestScope) {
  auto no_scope = ingest(bearer(a_prod_, Scope::kRead | Scope::kWrite), event("x"));
  EXPECT_EQ(no_scope.status, 403) << no_scope.body;
  auto none = ingest(Creds{}, event("x"));
  EXPECT_EQ(none.status, 401);
  // An ingest token reads nothing.
  EXPECT_EQ(get("/api/v1/threats", bearer(a_prod_, Scope::kIngest)).status, 403);
  EXPECT_EQ(get("/api/v1/rules", bearer(a_prod_, Scope::kIngest)).status, 403);
}

TEST_F(DetectApiTest, CustomRulesUploadEditDisableDelete) {
  Creds admin = login("admin@provider.test");
  auto bad = post("/api/v1/rules", admin,
                  {{"yaml", "title: t\nid: x\nlogsource: {}\ndetection:\n  sel:\n    "
                            "Image|bogus: a\n  condition: sel\n"}});
  ASSERT_EQ(bad.status, 422) << bad.body;
  EXPECT_EQ(bad.errorField().rfind("line 6", 0), 0u) << bad.body;
  EXPECT_FALSE(bad.json["diagnostics"].empty());

  auto created = post("/api/v1/rules", admin, {{"yaml", kRule}, {"action", {{"score", 95}}}});
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string path = "/api/v1/rules/" + std::to_string(created.json["id"].get<int64_t>());
  EXPECT_EQ(created.json["group"], "Custom Rules");
  EXPECT_EQ(created.json["action"]["score"], 95);
  EXPECT_EQ(post("/api/v1/rules", admin, {{"yaml", kRule}}).status, 409);  // same id

  auto bad_action = patch(path, admin, {{"action", {{"severity", "apocalyptic"}}}});
  EXPECT_EQ(bad_action.status, 422);
  EXPECT_EQ(bad_action.errorField(), "action.severity");

  Creds t = bearer(a_prod_, Scope::kIngest);
  ASSERT_EQ(ingest(t, event("sekurlsa", "A")).status, 200);
  auto items = threats(a_prod_);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0]["score"], 95);

  ASSERT_EQ(patch(path, admin, {{"enabled", false}}).status, 200);
  ASSERT_EQ(ingest(t, event("sekurlsa", "B")).status, 200);
  EXPECT_EQ(threats(a_prod_).size(), 1u);

  // A project's own action: signals for b-prod.
  auto pa = patch(path, admin,
                  {{"enabled", true},
                   {"project_action", {{"project", "b-prod"}, {"action", {{"type", "create_signal"}}}}}});
  ASSERT_EQ(pa.status, 200) << pa.body;
  ASSERT_EQ(ingest(bearer(b_prod_, Scope::kIngest), event("sekurlsa", "C")).status, 200);
  auto b_items = threats(b_prod_);
  ASSERT_EQ(b_items.size(), 1u);
  EXPECT_EQ(b_items[0]["kind"], "SIGNAL");

  auto edited = patch(path, admin, {{"yaml", std::string(kRule) + "falsepositives: [none]\n"}});
  ASSERT_EQ(edited.status, 200) << edited.body;
  EXPECT_NE(edited.json["yaml"].get<std::string>().find("falsepositives"), std::string::npos);

  // Customers' managers cannot change shared rules.
  Creds customer = login("admin@a.test");
  EXPECT_EQ(patch(path, customer, {{"enabled", false}}).status, 403);
  EXPECT_EQ(call("DELETE", path, customer).status, 403);

  auto groups = get("/api/v1/rule-groups", admin);
  ASSERT_EQ(groups.status, 200);
  ASSERT_EQ(groups.json["items"].size(), 1u);
  EXPECT_EQ(groups.json["items"][0]["rule_count"], 1);
  const std::string gpath =
      "/api/v1/rule-groups/" + std::to_string(groups.json["items"][0]["id"].get<int64_t>());
  ASSERT_EQ(patch(gpath, admin, {{"enabled", false}}).status, 200);
  ASSERT_EQ(ingest(t, event("sekurlsa", "D")).status, 200);
  EXPECT_EQ(threats(a_prod_).size(), 1u);

  EXPECT_EQ(call("DELETE", path, admin).status, 204);
  EXPECT_EQ(get(path, admin).status, 404);
}

TEST_F(DetectApiTest, RuleTestSaysWhichEventsMatchAndWhy) {
  Creds op = login("operator@provider.test");
  auto a = post("/api/v1/rules/test", op,
                {{"rule", kRule},
                 {"events", Json::array({Json::parse(event("sekurlsa::x")),
                                         Json::parse(event("calc.exe"))})}});
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.json["matched"], 1);
  EXPECT_TRUE(a.json["events"][0]["matched"]);
  EXPECT_EQ(a.json["events"][0]["selections"][0], "sel");
  EXPECT_EQ(a.json["events"][0]["fields"]["CommandLine"], "sekurlsa::x");
  EXPECT_FALSE(a.json["events"][1]["matched"]);

  auto broken = post("/api/v1/rules/test", op, {{"rule", "title: x\ndetection: ["}, {"events", Json::array()}});
  EXPECT_EQ(broken.status, 422) << broken.body;
  EXPECT_EQ(post("/api/v1/rules/test", op, {{"rule", kRule}}).status, 400);
}

TEST_F(DetectApiTest, ReloadWhileIngestingLosesNothing) {
  Creds admin = uploadRule();
  Creds t = bearer(a_prod_, Scope::kIngest);
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0}, bad{0};
  std::thread sender([&] {
    std::string body;
    for (int i = 0; i < 20; ++i) body += event("sekurlsa", "WS-1") + "\n";
    while (!stop) {
      auto a = ingest(t, body);
      (a.status == 200 && a.json["accepted"] == 20 ? ok : bad)++;
    }
  });
  for (int i = 0; i < 10; ++i) {
    auto r = post("/api/v1/rules/reload", admin, Json::object());
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.json["rules"], 1);
  }
  stop = true;
  sender.join();
  EXPECT_GT(ok.load(), 0);
  EXPECT_EQ(bad.load(), 0);
  auto items = threats(a_prod_);
  ASSERT_EQ(items.size(), 1u);  // one host, one rule: folded into one threat
  EXPECT_EQ(items[0]["count"].get<int>(), ok.load() * 20);
}

TEST_F(DetectApiTest, EveryDetectRouteIsDocumentedAndNoMore) {
  EXPECT_EQ(undocumentedRoutes(*server_), std::vector<std::string>{});
  std::set<std::pair<std::string, std::string>> registered;
  for (const auto& route : server_->routes()) {
    std::string method = route.method;
    for (auto& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    registered.insert({route.pattern, method});
  }
  const Json doc = Json::parse(openApiDocument());
  int detection_ops = 0;
  for (const auto& [path, ops] : doc["paths"].items())
    for (const auto& [method, op] : ops.items())
      for (const auto& tag : op.value("tags", Json::array()))
        if (tag == "detection") {
          ++detection_ops;
          EXPECT_TRUE(registered.count({path, method})) << method << " " << path;
        }
  EXPECT_EQ(detection_ops, 11);
}

}  // namespace
}  // namespace td::server
