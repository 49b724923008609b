// The responses API over real HTTP: CRUD with validation errors that name the field (and the
// template position), who may manage responses, a test send to a real receiver (an in-process
// cpp-httplib server) with its signature, preview, deliveries with failed ones and replay,
// subscriptions and notifications, state automations, and the OpenAPI document.
#include <gtest/gtest.h>
#include <httplib.h>

#include <mutex>
#include <thread>

#include "respond/dispatcher.h"
#include "respond/transport.h"
#include "server/routes_responses.h"
#include "server/tests/api_fixture.h"

namespace td::server {
namespace {

// A webhook receiver on 127.0.0.1: answers `status` and keeps what it got.
class Receiver {
 public:
  Receiver() {
    server_.Post(".*", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard lock(mu_);
      bodies_.push_back(req.body);
      signatures_.push_back(req.get_header_value("X-ThreatDesk-Signature"));
      res.status = status_;
      res.set_header("Connection", "close");
      res.set_content("thanks", "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ~Receiver() {
    server_.stop();
    thread_.join();
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  void answer(int status) {
    std::lock_guard lock(mu_);
    status_ = status;
  }
  std::vector<std::string> bodies() {
    std::lock_guard lock(mu_);
    return bodies_;
  }
  std::vector<std::string> signatures() {
    std::lock_guard lock(mu_);
    return signatures_;
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mu_;
  int status_ = 200;
  std::vector<std::string> bodies_, signatures_;
};

class RespondApiTest : public ApiTest {
 protected:
  void addRoutes(Server& server) override {
    respond::DispatcherOptions o;
    o.public_url = "https://td.example.test";
    o.seed = 1;
    dispatcher_ = std::make_unique<respond::Dispatcher>(*store_, o);
    addResponseRoutes(server, *dispatcher_);
  }
  void TearDown() override {
    ApiTest::TearDown();
    dispatcher_.reset();
  }
  Json hook(const std::string& url) {
    return {{"name", "hook"},
            {"type", "webhook"},
            {"scope", "ALL"},
            {"min_severity", "LOW"},
            {"webhook",
             {{"method", "POST"},
              {"url", url},
              {"headers", {{"X-Team", "soc"}}},
              {"payload", "{\"id\":{{threat_id}},\"name\":\"{{name}}\"}"},
              {"secret", "s3cret"},
              {"max_attempts", 1}}}};
  }
  std::unique_ptr<respond::Dispatcher> dispatcher_;
};

TEST_F(RespondApiTest, ManagerCreatesListsChangesAndDeletesResponses) {
  auto c = login("manager@provider.test");
  auto created = post("/api/v1/responses?project=a-prod", c, hook("https://x.test/h"));
  ASSERT_EQ(created.status, 201) << created.body;
  const auto id = created.json["id"].get<std::int64_t>();
  EXPECT_FALSE(created.json["webhook"].contains("secret"));
  EXPECT_TRUE(created.json["webhook"]["secret_set"]);
  EXPECT_EQ(created.json["held_back"], 0);
  auto list = get("/api/v1/responses?project=a-prod", c);
  ASSERT_EQ(list.status, 200);
  ASSERT_EQ(list.json["items"].size(), 1u);
  // Another organisation does not see it.
  EXPECT_EQ(get("/api/v1/responses?project=b-prod", c).json["items"].size(), 0u);
  EXPECT_EQ(get("/api/v1/responses/" + std::to_string(id) + "?project=b-prod", c).status, 404);
  auto changed = patch("/api/v1/responses/" + std::to_string(id) + "?project=a-prod", c,
                       {{"min_severity", "HIGH"}, {"enabled", false}});
  ASSERT_EQ(changed.status, 200) << changed.body;
  EXPECT_EQ(changed.json["min_severity"], "HIGH");
  EXPECT_FALSE(changed.json["enabled"]);
  EXPECT_TRUE(changed.json["webhook"]["secret_set"]);  // kept
  auto del = call("DELETE", "/api/v1/responses/" + std::to_string(id) + "?project=a-prod", c);
  EXPECT_EQ(del.status, 204);
  EXPECT_EQ(get("/api/v1/responses/" + std::to_string(id) + "?project=a-prod", c).status, 404);
}

TEST_F(RespondApiTest, RefusesBadTemplatesWithTheirPosition) {
  auto c = login("manager@provider.test");
  Json body = hook("https://x.test/h");
  body["webhook"]["payload"] = "{\"id\":{{threat_id}},\n\"x\":\"{{nmae}}\"}";
  auto a = post("/api/v1/responses?project=a-prod", c, body);
  EXPECT_EQ(a.status, 422);
  EXPECT_EQ(a.errorField(), "webhook.payload:2:6");
  body = hook("https://x.test/h");
  body["scope"] = "EVERYTHING";
  a = post("/api/v1/responses?project=a-prod", c, body);
  EXPECT_EQ(a.status, 422);
  EXPECT_EQ(a.errorField(), "scope");
  a = call("POST", "/api/v1/responses?project=a-prod", c, "{not json");
  EXPECT_EQ(a.status, 400);
}

TEST_F(RespondApiTest, OnlyManagersAndAdminsManageResponses) {
  auto op = login("operator@provider.test");
  EXPECT_EQ(post("/api/v1/responses?project=a-prod", op, hook("https://x.test/h")).status, 403);
  EXPECT_EQ(get("/api/v1/responses?project=a-prod", op).status, 200);
  auto token = bearer(a_prod_);
  EXPECT_EQ(post("/api/v1/responses", token, hook("https://x.test/h")).status, 403);
}

TEST_F(RespondApiTest, TestSendShowsWhatWasSentAndWhatCameBack) {
  Receiver receiver;
  auto c = login("manager@provider.test");
  auto created = post("/api/v1/responses?project=a-prod", c, hook(receiver.url("/in")));
  ASSERT_EQ(created.status, 201) << created.body;
  const auto id = std::to_string(created.json["id"].get<std::int64_t>());
  auto t = seedThreat(a_prod_, "Beacon \"C2\"");
  auto sent = post("/api/v1/responses/" + id + "/test?project=a-prod", c, {{"threat_id", t.id}});
  ASSERT_EQ(sent.status, 200) << sent.body;
  EXPECT_TRUE(sent.json["results"][0]["ok"]);
  EXPECT_EQ(sent.json["results"][0]["status"], 200);
  ASSERT_EQ(receiver.bodies().size(), 1u);
  const std::string body = receiver.bodies()[0];
  EXPECT_EQ(Json::parse(body)["name"], "Beacon \"C2\"");
  EXPECT_EQ(receiver.signatures()[0], "sha256=" + respond::hmacSha256Hex("s3cret", body));
  EXPECT_EQ(sent.json["webhook"]["body"], body);
  // Without a threat: a sample.
  sent = post("/api/v1/responses/" + id + "/test?project=a-prod", c, Json::object());
  ASSERT_EQ(sent.status, 200) << sent.body;
  EXPECT_TRUE(sent.json["sample"]);
  // A threat of another organisation is not found.
  auto other = seedThreat(b_prod_, "elsewhere");
  EXPECT_EQ(post("/api/v1/responses/" + id + "/test?project=a-prod", login("admin@a.test"),
                 {{"threat_id", other.id}})
                .status,
            404);
}

TEST_F(RespondApiTest, PreviewRendersEveryTemplateEscapedForItsPlace) {
  auto c = login("manager@provider.test");
  Json body = {{"response",
                {{"name", "mail"},
                 {"type", "email"},
                 {"email",
                  {{"to_addresses", {"soc@a.test"}},
                   {"subject", "{{severity}}: {{name}}"},
                   {"html", "<b>{{name}}</b> {{link}}"}}}}}};
  auto t = seedThreat(a_prod_, "<script>alert(1)</script>");
  body["threat_id"] = t.id;
  auto a = post("/api/v1/responses/preview?project=a-prod", c, body);
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.json["email"]["html"],
            "<b>&lt;script&gt;alert(1)&lt;/script&gt;</b> https://td.example.test/threats/" +
                std::to_string(t.id));
  EXPECT_EQ(a.json["email"]["to"][0], "soc@a.test");
}

TEST_F(RespondApiTest, FailedDeliveriesAreListedAndReplayed) {
  Receiver receiver;
  receiver.answer(500);
  auto c = login("manager@provider.test");
  auto created = post("/api/v1/responses?project=a-prod", c, hook(receiver.url("/in")));
  ASSERT_EQ(created.status, 201);
  const auto id = std::to_string(created.json["id"].get<std::int64_t>());
  auto t = seedThreat(a_prod_, "one");
  ASSERT_TRUE(dispatcher_->drain());
  auto failed = get("/api/v1/responses/" + id + "/deliveries?project=a-prod&status=failed", c);
  ASSERT_EQ(failed.status, 200) << failed.body;
  ASSERT_EQ(failed.json["items"].size(), 1u);
  const auto did = std::to_string(failed.json["items"][0]["id"].get<std::int64_t>());
  EXPECT_EQ(failed.json["items"][0]["last_status"], 500);
  auto one = get("/api/v1/deliveries/" + did + "?project=a-prod", c);
  ASSERT_EQ(one.status, 200);
  ASSERT_EQ(one.json["attempts_made"].size(), 1u);
  EXPECT_NE(one.json["attempts_made"][0]["request"].get<std::string>().find("POST "),
            std::string::npos);
  EXPECT_EQ(get("/api/v1/threats/" + std::to_string(t.id) + "/deliveries?project=a-prod", c)
                .json["items"]
                .size(),
            1u);
  receiver.answer(200);
  auto replay = post("/api/v1/deliveries/" + did + "/replay?project=a-prod", c, Json::object());
  ASSERT_EQ(replay.status, 200) << replay.body;
  EXPECT_EQ(replay.json["status"], "pending");
  ASSERT_TRUE(dispatcher_->drain());
  EXPECT_EQ(get("/api/v1/deliveries/" + did + "?project=a-prod", c).json["status"], "delivered");
  EXPECT_EQ(post("/api/v1/deliveries/" + did + "/replay?project=a-prod", c, Json::object()).status,
            409);
  EXPECT_EQ(get("/api/v1/deliveries?project=a-prod&status=bogus", c).status, 422);
}

TEST_F(RespondApiTest, UsersSubscribeToGroupsAndReadNotifications) {
  auto c = login("operator@a.test");
  auto groups = store_->listTags(customer_a_.id, store::TagKind::kGroup).value();
  ASSERT_FALSE(groups.empty());
  const auto gid = std::to_string(groups[0].id);
  auto put = call("PUT", "/api/v1/me/subscriptions/" + gid, c,
                  Json{{"on_assign", true}, {"on_change", false}}.dump());
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.json["group"], groups[0].name);
  // A group of another organisation cannot be subscribed to.
  auto other = store_->listTags(customer_b_.id, store::TagKind::kGroup).value();
  EXPECT_EQ(call("PUT", "/api/v1/me/subscriptions/" + std::to_string(other[0].id), c, "{}").status,
            404);
  EXPECT_EQ(get("/api/v1/me/subscriptions", c).json["items"].size(), 1u);
  core::Detection d;
  d.project_id = a_prod_.id;
  d.name = "grouped";
  d.rule_id = "g";
  d.entity = {"host", "h"};
  d.group = groups[0].name;
  ASSERT_TRUE(triage_->createThreat(d, {std::nullopt, "system"}));
  ASSERT_TRUE(dispatcher_->drain());
  auto notes = get("/api/v1/me/notifications?unread=true", c);
  ASSERT_EQ(notes.status, 200);
  ASSERT_EQ(notes.json["items"].size(), 1u);
  EXPECT_EQ(notes.json["items"][0]["kind"], "assigned");
  ASSERT_EQ(post("/api/v1/me/notifications/read", c, Json::object()).status, 200);
  EXPECT_EQ(get("/api/v1/me/notifications?unread=true", c).json["items"].size(), 0u);
  EXPECT_EQ(call("DELETE", "/api/v1/me/subscriptions/" + gid, c).status, 204);
  // Tokens have no "me".
  EXPECT_EQ(get("/api/v1/me/subscriptions", bearer(a_prod_)).status, 403);
}

TEST_F(RespondApiTest, StateAutomationsAreValidated) {
  auto c = login("admin@a.test");
  auto states = store_->listTags(customer_a_.id, store::TagKind::kState).value();
  const auto sid = std::to_string(states[2].id);
  auto a = call("PUT", "/api/v1/state-automations/" + sid + "?project=a-prod", c,
                Json{{"note", "Parked: {{nope}}"}}.dump());
  EXPECT_EQ(a.status, 422);
  EXPECT_EQ(a.errorField(), "note:1:9");
  a = call("PUT", "/api/v1/state-automations/" + sid + "?project=a-prod", c,
           Json{{"note", "Parked by {{actor}}"}, {"notify", true}}.dump());
  ASSERT_EQ(a.status, 200) << a.body;
  auto list = get("/api/v1/state-automations?project=a-prod", c);
  ASSERT_EQ(list.json["items"].size(), 1u);
  EXPECT_EQ(list.json["items"][0]["note"], "Parked by {{actor}}");
}

TEST_F(RespondApiTest, EveryRouteIsDocumented) {
  for (const auto& missing : undocumentedRoutes(*server_)) ADD_FAILURE() << missing;
  auto c = login("manager@provider.test");
  auto presets = get("/api/v1/responses/presets?project=a-prod", c);
  ASSERT_EQ(presets.status, 200);
  EXPECT_EQ(presets.json["items"].size(), 6u);
}

}  // namespace
}  // namespace td::server
