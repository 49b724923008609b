// The dispatcher against real parts on loopback: a SQLite store in a temporary directory, an HTTP
// receiver and an SMTP server (python3-aiosmtpd) started by the test. Asserts on what arrived:
// requests, signatures, idempotency keys, recipients, subjects, bodies; and on what the store
// recorded. The clock is injected where time matters (digests, escalation).
#include "respond/dispatcher.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "respond/responses.h"
#include "respond/tests/loopback.h"
#include "store/store.h"
#include "tests/support/temp_dir.h"

namespace td::respond {
namespace {

using namespace std::chrono_literals;
using testing::ChildProcess;
using testing::readJsonLines;
using testing::readMessages;
using testing::scriptPath;

constexpr const char* kPython = "/usr/bin/python3";

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.file("threatdesk.db");
    open();
    seed();
  }
  void open() {
    auto s = store::openStore("sqlite:" + db_);
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }
  void seed() {
    org_ = *store_->createOrg("Acme", std::nullopt);
    project_ = *store_->createProject(org_.id, "acme-prod");
    int i = 0;
    for (const char* s : {"New", "In Progress", "On Hold", "Closed"})
      states_.push_back(*store_->addTag(org_.id, store::TagKind::kState, s, i++));
    i = 0;
    for (const char* s : {"Malicious", "Benign"})
      outcomes_.push_back(*store_->addTag(org_.id, store::TagKind::kOutcome, s, i++));
    group_ = *store_->addTag(org_.id, store::TagKind::kGroup, "L1 Support", 0);
  }

  void startReceiver() {
    log_ = dir_.file("requests.jsonl");
    receiver_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{kPython, scriptPath("webhook_receiver.py"), log_});
    ASSERT_GT(receiver_->port(), 0) << "the webhook receiver did not start";
  }
  void startSmtp(const std::string& auth = "") {
    mail_dir_ = dir_.file("mail");
    std::filesystem::create_directories(mail_dir_);
    std::vector<std::string> argv{kPython, scriptPath("smtp_sink.py"), mail_dir_};
    if (!auth.empty()) {
      argv.push_back("--auth");
      argv.push_back(auth);
    }
    smtp_ = std::make_unique<ChildProcess>(argv);
    ASSERT_GT(smtp_->port(), 0) << "the SMTP server (python3-aiosmtpd) did not start";
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(receiver_->port()) + path;
  }
  void plan(const std::string& answers) {
    httplib::Client c("127.0.0.1", receiver_->port());
    auto r = c.Post("/_plan", "{\"answers\":" + answers + "}", "application/json");
    ASSERT_TRUE(r && r->status == 200);
  }

  store::ResponseRecord addResponse(Json body) {
    auto r = createResponse(*store_, org_.id, body);
    EXPECT_TRUE(r) << (r ? "" : r.error().message + " at " + r.error().field);
    return r ? *r : store::ResponseRecord{};
  }

  core::Threat raise(const std::string& rule, const std::string& entity,
                     core::Severity sev = core::Severity::kHigh, bool grouped = false) {
    core::Detection d;
    d.project_id = project_.id;
    d.name = "Rule " + rule + " on " + entity;
    d.rule_id = rule;
    d.severity = sev;
    d.score = core::scoreForSeverity(sev);
    d.entity = {"host", entity};
    d.host = entity;
    d.evidence_json = R"({"process":{"command_line":"whoami /all"}})";
    std::vector<std::optional<core::TagId>> groups{grouped ? std::optional(group_.id)
                                                           : std::nullopt};
    auto r = store_->applyDetections({d}, groups, {std::nullopt, "system"});
    EXPECT_TRUE(r) << (r ? "" : r.error().message);
    return *store_->getThreat(r->threat_ids.front());
  }

  DispatcherOptions options() {
    DispatcherOptions o;
    o.public_url = "https://td.example.test";
    o.workers = 2;
    o.poll_ms = 5;
    o.seed = 42;
    if (smtp_) {
      SmtpConfig c;
      c.url = "smtp://127.0.0.1:" + std::to_string(smtp_->port());
      c.tls = SmtpConfig::Tls::kNone;
      c.from = "threatdesk@acme.test";
      o.smtp = c;
    }
    return o;
  }

  // Drains with the real clock until `done` holds (retries wait for their backoff).
  template <typename Pred>
  bool driveUntil(Dispatcher& d, Pred done, std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      auto s = d.drain();
      EXPECT_TRUE(s) << (s ? "" : s.error().message);
      if (done()) return true;
      std::this_thread::sleep_for(10ms);
    }
    return done();
  }

  std::vector<store::Delivery> deliveries(std::int64_t response) {
    store::DeliveryFilter f;
    f.response_id = response;
    f.limit = 1000;
    return *store_->responses().listDeliveries(f);
  }

  td::testing::TempDir dir_;
  std::string db_, log_, mail_dir_;
  std::unique_ptr<store::Store> store_;
  store::Org org_;
  store::Project project_;
  std::vector<store::TagValue> states_, outcomes_;
  store::TagValue group_;
  std::unique_ptr<ChildProcess> receiver_, smtp_;
};

Json webhook(const std::string& name, const std::string& url, Json extra = Json::object()) {
  Json w = {{"url", url}, {"secret", "top-secret"}, {"backoff_ms", 10}};
  w.merge_patch(extra);
  return {{"name", name}, {"type", "webhook"}, {"webhook", w}};
}

std::string hmac(const std::string& key, const std::string& body) {
  return "sha256=" + hmacSha256Hex(key, body);
}

TEST_F(DispatcherTest, WebhookArrivesSignedWithIdempotencyKeyAndIsRecorded) {
  startReceiver();
  auto r = addResponse(
      webhook("hook", url("/hook/{{threat_id}}?host={{host}}"), {{"preset", "generic"}}));
  auto t = raise("r1", "WS 1 & co");
  Dispatcher d(*store_, options());
  ASSERT_TRUE(d.drain());
  auto got = readJsonLines(log_);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0]["path"], "/hook/" + std::to_string(t.id) + "?host=WS%201%20%26%20co");
  const std::string body = got[0]["body"];
  EXPECT_EQ(got[0]["headers"]["x-threatdesk-signature"], hmac("top-secret", body));
  EXPECT_FALSE(got[0]["headers"]["idempotency-key"].get<std::string>().empty());
  auto j = Json::parse(body);
  EXPECT_EQ(j["event"], "threat.created");
  EXPECT_EQ(j["threat"]["id"], t.id);
  EXPECT_EQ(j["threat"]["entity"]["value"], "WS 1 & co");
  EXPECT_EQ(j["threat"]["link"], "https://td.example.test/threats/" + std::to_string(t.id));
  auto ds = deliveries(r.id);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].status, store::DeliveryStatus::kDelivered);
  EXPECT_EQ(ds[0].threat_id, t.id);
  auto tries = *store_->responses().listAttempts(ds[0].id);
  ASSERT_EQ(tries.size(), 1u);
  EXPECT_EQ(tries[0].status, 200);
  // ... and on the threat's timeline.
  const auto timeline = store_->timeline(t.id).value();
  ASSERT_FALSE(timeline.empty());
  EXPECT_EQ(timeline.back().action, "response");
  EXPECT_EQ(timeline.back().from, "webhook");
  EXPECT_EQ(timeline.back().to, "hook: delivered (200)");
  // The outbox event is acknowledged: nothing more goes out.
  ASSERT_TRUE(d.drain());
  EXPECT_EQ(readJsonLines(log_).size(), 1u);
}

TEST_F(DispatcherTest, RetriesOn500And429HonouringRetryAfterWithTheSameKey) {
  startReceiver();
  plan(R"([{"status":500},{"status":429,"retry_after":1},{"status":200}])");
  auto r = addResponse(webhook("hook", url("/hook")));
  raise("r1", "h1");
  Dispatcher d(*store_, options());
  ASSERT_TRUE(driveUntil(d, [&] { return readJsonLines(log_).size() >= 3; }));
  ASSERT_TRUE(driveUntil(
      d, [&] { return deliveries(r.id)[0].status == store::DeliveryStatus::kDelivered; }));
  auto got = readJsonLines(log_);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0]["status"], 500);
  EXPECT_EQ(got[1]["status"], 429);
  EXPECT_EQ(got[2]["status"], 200);
  for (const auto& g : got) {
    EXPECT_EQ(g["headers"]["idempotency-key"], got[0]["headers"]["idempotency-key"]);
    EXPECT_EQ(g["body"], got[0]["body"]);
    EXPECT_EQ(g["headers"]["x-threatdesk-signature"], hmac("top-secret", g["body"]));
  }
  // Retry-After: 1 second, not the 10 ms backoff.
  EXPECT_GE(got[2]["at"].get<double>() - got[1]["at"].get<double>(), 0.9);
  EXPECT_EQ(store_->responses().listAttempts(deliveries(r.id)[0].id)->size(), 3u);
}

TEST_F(DispatcherTest, TimeoutsAndDroppedConnectionsAreRetried) {
  startReceiver();
  plan(R"([{"status":200,"delay":1.0},{"drop":true},{"status":200}])");
  auto r = addResponse(webhook("hook", url("/slow"), {{"timeout_ms", 300}}));
  raise("r1", "h1");
  Dispatcher d(*store_, options());
  ASSERT_TRUE(driveUntil(d, [&] {
    auto ds = deliveries(r.id);
    return !ds.empty() && ds[0].status == store::DeliveryStatus::kDelivered;
  }));
  auto tries = *store_->responses().listAttempts(deliveries(r.id)[0].id);
  ASSERT_EQ(tries.size(), 3u);
  EXPECT_FALSE(tries[0].status.has_value());
  EXPECT_NE(tries[0].error.find("imeout"), std::string::npos) << tries[0].error;
  EXPECT_FALSE(tries[1].status.has_value());
  EXPECT_EQ(tries[2].status, 200);
}

// The same through libcurl, which still sends https://, host names and anything behind a proxy
// (plain http:// to an address goes through the lean client by default).
TEST_F(DispatcherTest, TheLibcurlPathTimesOutRetriesAndHonoursRetryAfterTheSame) {
  startReceiver();
  plan(R"([{"status":200,"delay":1.0},{"drop":true},{"status":429,"retry_after":"1"},
           {"status":200}])");
  auto r = addResponse(webhook("hook", url("/slow"), {{"timeout_ms", 300}}));
  raise("r1", "h1");
  auto o = options();
  o.lean_http = false;
  Dispatcher d(*store_, o);
  ASSERT_TRUE(driveUntil(d, [&] {
    auto ds = deliveries(r.id);
    return !ds.empty() && ds[0].status == store::DeliveryStatus::kDelivered;
  }));
  auto tries = *store_->responses().listAttempts(deliveries(r.id)[0].id);
  ASSERT_EQ(tries.size(), 4u);
  EXPECT_FALSE(tries[0].status.has_value());
  EXPECT_NE(tries[0].error.find("imeout"), std::string::npos) << tries[0].error;
  EXPECT_FALSE(tries[1].status.has_value());
  EXPECT_EQ(tries[2].status, 429);
  EXPECT_EQ(tries[3].status, 200);
  // The receiver logs a request when it answers (the slow one a second late): by status.
  const auto got = readJsonLines(log_);
  ASSERT_EQ(got.size(), 4u);
  double too_many_at = 0, last_at = 0;
  for (const auto& g : got) {
    if (g["status"] == 429) too_many_at = g["at"].get<double>();
    last_at = std::max(last_at, g["at"].get<double>());
    EXPECT_EQ(g["headers"]["idempotency-key"], got[0]["headers"]["idempotency-key"]);
  }
  EXPECT_GE(last_at - too_many_at, 0.9);  // Retry-After: 1
}

TEST_F(DispatcherTest, GivesUpKeepsFailedFallsBackAndReplays) {
  startReceiver();
  plan(R"([{"status":503},{"status":503}])");
  auto fallback = addResponse(webhook("fallback", url("/fallback"), {{"events", nullptr}}));
  // The fallback only fires as a fallback: an event list it never sees.
  ASSERT_TRUE(updateResponse(*store_, fallback, Json{{"events", {"threat.reopened"}}}));
  auto r = addResponse(webhook("primary", url("/primary"),
                               {{"max_attempts", 2}, {"fallback_response", fallback.id}}));
  auto t = raise("r1", "h1");
  Dispatcher d(*store_, options());
  ASSERT_TRUE(driveUntil(d, [&] {
    auto ds = deliveries(r.id);
    return !ds.empty() && ds[0].status == store::DeliveryStatus::kFailed &&
           deliveries(fallback.id).size() == 1 &&
           deliveries(fallback.id)[0].status == store::DeliveryStatus::kDelivered;
  }));
  auto got = readJsonLines(log_);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0]["path"], "/primary");
  EXPECT_EQ(got[1]["path"], "/primary");
  EXPECT_EQ(got[2]["path"], "/fallback");
  EXPECT_EQ(deliveries(fallback.id)[0].threat_id, t.id);
  // Failed deliveries are listed, and a user can replay one.
  store::DeliveryFilter failed;
  failed.status = store::DeliveryStatus::kFailed;
  auto list = *store_->responses().listDeliveries(failed);
  ASSERT_EQ(list.size(), 1u);
  ASSERT_TRUE(store_->responses().replayDelivery(list[0].id, core::nowMs()));
  ASSERT_TRUE(driveUntil(
      d, [&] { return deliveries(r.id)[0].status == store::DeliveryStatus::kDelivered; }));
  got = readJsonLines(log_);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[3]["path"], "/primary");
  EXPECT_EQ(got[3]["headers"]["idempotency-key"], got[0]["headers"]["idempotency-key"]);
}

TEST_F(DispatcherTest, ClientErrorsAreNotRetried) {
  startReceiver();
  plan(R"([{"status":400}])");
  auto r = addResponse(webhook("hook", url("/hook")));
  raise("r1", "h1");
  Dispatcher d(*store_, options());
  ASSERT_TRUE(d.drain());
  auto ds = deliveries(r.id);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_EQ(ds[0].status, store::DeliveryStatus::kFailed);
  EXPECT_EQ(ds[0].last_status, 400);
  EXPECT_EQ(readJsonLines(log_).size(), 1u);
}

TEST_F(DispatcherTest, ThrottleHoldsBackPerKeyAndCounts) {
  startReceiver();
  Json body = webhook("hook", url("/hook"));
  body["throttle"] = {{"key", "{{entity.value}}"}, {"window_seconds", 600}};
  auto r = addResponse(body);
  raise("r1", "h1");
  raise("r2", "h1");
  raise("r3", "h1");
  raise("r1", "h2");
  Dispatcher d(*store_, options());
  ASSERT_TRUE(d.drain());
  auto got = readJsonLines(log_);
  ASSERT_EQ(got.size(), 2u);
  auto rec = *store_->responses().getResponse(r.id);
  EXPECT_EQ(rec.held_back, 2);
  auto shown = encodeResponse(rec, store_->responses());
  ASSERT_EQ(shown["held_back_by_key"].size(), 1u);
  EXPECT_EQ(shown["held_back_by_key"][0]["key"], "h1");
  EXPECT_EQ(shown["held_back_by_key"][0]["held_back"], 2);
}

TEST_F(DispatcherTest, ScopeSeverityAndOverridesDecideWhatFires) {
  startReceiver();
  Json body = webhook("hook", url("/hook"));
  body["min_severity"] = "HIGH";
  auto r = addResponse(body);
  raise("r1", "low", core::Severity::kLow);
  raise("r1", "crit", core::Severity::kCritical);
  Dispatcher d(*store_, options());
  ASSERT_TRUE(d.drain());
  auto got = readJsonLines(log_);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(deliveries(r.id).size(), 1u);
}

TEST_F(DispatcherTest, RealtimeEmailIsMultipartWithDeepLinkAndAuth) {
  startSmtp("td:pa55");
  store::User u;
  u.org_id = org_.id;
  u.email = "ana@acme.test";
  u.role = store::Role::kOperator;
  ASSERT_TRUE(store_->createUser(u));
  Json body = {{"name", "mail"},
               {"type", "email"},
               {"email",
                {{"to_user", "ana@acme.test"},
                 {"to_addresses", {"soc@acme.test"}},
                 {"subject", "[{{severity}}] {{name}}"},
                 {"html", "<p>{{name}}</p><a href=\"{{link}}\">open</a>"}}}};
  auto r = addResponse(body);
  auto t = raise("r<1>", "h1");
  auto o = options();
  o.smtp->username = "td";
  o.smtp->password = "pa55";
  Dispatcher d(*store_, o);
  ASSERT_TRUE(d.drain());
  auto msgs = readMessages(mail_dir_);
  ASSERT_EQ(msgs.size(), 2u);
  std::set<std::string> rcpts;
  for (const auto& m : msgs) {
    ASSERT_EQ(m["rcpt_tos"].size(), 1u);
    rcpts.insert(m["rcpt_tos"][0]);
    EXPECT_EQ(m["mail_from"], "threatdesk@acme.test");
    EXPECT_EQ(m["subject"], "[HIGH] Rule r<1> on h1");
    EXPECT_TRUE(m["multipart"]);
    const std::string link = "https://td.example.test/threats/" + std::to_string(t.id);
    EXPECT_NE(m["text"].get<std::string>().find(link), std::string::npos);
    EXPECT_NE(m["html"].get<std::string>().find("<p>Rule r&lt;1&gt; on h1</p>"), std::string::npos)
        << m["html"];
    EXPECT_NE(m["html"].get<std::string>().find("href=\"" + link + "\""), std::string::npos);
  }
  EXPECT_EQ(rcpts, (std::set<std::string>{"ana@acme.test", "soc@acme.test"}));
  for (const auto& del : deliveries(r.id)) EXPECT_EQ(del.status, store::DeliveryStatus::kDelivered);
}

TEST_F(DispatcherTest, EmailGoesOverStartTlsWithAuthentication) {
  // A throwaway self-signed certificate for the SMTP server (openssl from Debian's package).
  const std::string cert = dir_.file("cert.pem"), key = dir_.file("key.pem");
  const std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -days 1 "
      "-keyout " +
      key + " -out " + cert + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << "openssl could not make a certificate";
  mail_dir_ = dir_.file("mail");
  std::filesystem::create_directories(mail_dir_);
  smtp_ = std::make_unique<ChildProcess>(std::vector<std::string>{
      kPython, scriptPath("smtp_sink.py"), mail_dir_, "--auth", "td:pa55", "--tls", cert, key});
  ASSERT_GT(smtp_->port(), 0);
  Json body = {
      {"name", "mail"}, {"type", "email"}, {"email", {{"to_addresses", {"soc@acme.test"}}}}};
  auto r = addResponse(body);
  raise("r1", "h1");
  auto o = options();
  o.smtp->tls = SmtpConfig::Tls::kRequired;
  o.smtp->verify_peer = false;  // self-signed
  o.smtp->username = "td";
  o.smtp->password = "pa55";
  Dispatcher d(*store_, o);
  ASSERT_TRUE(d.drain());
  auto msgs = readMessages(mail_dir_);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_TRUE(msgs[0]["tls"]);
  EXPECT_EQ(msgs[0]["rcpt_tos"][0], "soc@acme.test");
  EXPECT_EQ(deliveries(r.id)[0].status, store::DeliveryStatus::kDelivered);
}

TEST_F(DispatcherTest, RequiredTlsIsNotDowngraded) {
  startSmtp();  // offers no STARTTLS
  Json body = {
      {"name", "mail"}, {"type", "email"}, {"email", {{"to_addresses", {"soc@acme.test"}}}}};
  auto r = addResponse(body);
  raise("r1", "h1");
  auto o = options();
  o.smtp->tls = SmtpConfig::Tls::kRequired;
  Dispatcher d(*store_, o);
  ASSERT_TRUE(d.drain());
  EXPECT_TRUE(readMessages(mail_dir_).empty());
  auto ds = deliveries(r.id);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_NE(ds[0].status, store::DeliveryStatus::kDelivered);
  EXPECT_FALSE(ds[0].last_error.empty());
}

TEST_F(DispatcherTest, WrongSmtpCredentialsAreRecordedAsAFailure) {
  startSmtp("td:pa55");
  Json body = {
      {"name", "mail"}, {"type", "email"}, {"email", {{"to_addresses", {"soc@acme.test"}}}}};
  auto r = addResponse(body);
  raise("r1", "h1");
  auto o = options();
  o.smtp->username = "td";
  o.smtp->password = "wrong";
  Dispatcher d(*store_, o);
  ASSERT_TRUE(d.drain());
  EXPECT_TRUE(readMessages(mail_dir_).empty());
  auto ds = deliveries(r.id);
  ASSERT_EQ(ds.size(), 1u);
  EXPECT_NE(ds[0].status, store::DeliveryStatus::kDelivered);
  EXPECT_FALSE(ds[0].last_error.empty());
}

TEST_F(DispatcherTest, DigestsGoOutAtNineInEachRecipientsTimeZone) {
  startSmtp();
  for (const auto& [email, tz] : std::vector<std::pair<std::string, std::string>>{
           {"alice@acme.test", "Europe/Berlin"}, {"bob@acme.test", "America/New_York"}}) {
    store::User u;
    u.org_id = org_.id;
    u.email = email;
    u.time_zone = tz;
    u.role = store::Role::kOperator;
    ASSERT_TRUE(store_->createUser(u));
  }
  Json body = {
      {"name", "digest"},
      {"type", "email"},
      {"email",
       {{"to_org", true}, {"mode", "digest"}, {"digest", {{"every", "daily"}, {"at", "09:00"}}}}}};
  addResponse(body);
  std::atomic<core::TimeMs> clock{*core::parseRfc3339("2026-07-15T05:00:00Z")};
  auto o = options();
  o.clock = [&] { return clock.load(); };
  Dispatcher d(*store_, o);
  raise("r1", "h1");
  raise("r2", "h2");
  ASSERT_TRUE(d.drain());
  EXPECT_TRUE(readMessages(mail_dir_).empty());         // 07:00 in Berlin, 01:00 in New York
  clock = *core::parseRfc3339("2026-07-15T07:01:00Z");  // 09:01 Berlin
  ASSERT_TRUE(d.drain());
  auto msgs = readMessages(mail_dir_);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0]["rcpt_tos"][0], "alice@acme.test");
  EXPECT_NE(msgs[0]["subject"].get<std::string>().find("2 threat(s)"), std::string::npos);
  EXPECT_NE(msgs[0]["text"].get<std::string>().find("Rule r1 on h1"), std::string::npos);
  EXPECT_NE(msgs[0]["text"].get<std::string>().find("Rule r2 on h2"), std::string::npos);
  clock = *core::parseRfc3339("2026-07-15T12:59:00Z");  // 08:59 New York
  ASSERT_TRUE(d.drain());
  EXPECT_EQ(readMessages(mail_dir_).size(), 1u);
  clock = *core::parseRfc3339("2026-07-15T13:00:00Z");  // 09:00 New York
  ASSERT_TRUE(d.drain());
  msgs = readMessages(mail_dir_);
  ASSERT_EQ(msgs.size(), 2u);
  EXPECT_EQ(msgs[1]["rcpt_tos"][0], "bob@acme.test");
  // Nothing new: no empty digest the next day.
  clock = *core::parseRfc3339("2026-07-16T13:00:00Z");
  ASSERT_TRUE(d.drain());
  EXPECT_EQ(readMessages(mail_dir_).size(), 2u);
}

TEST_F(DispatcherTest, EscalatesOnlyUnacknowledgedThreats) {
  startSmtp();
  Json body = {{"name", "mail"},
               {"type", "email"},
               {"email",
                {{"to_addresses", {"soc@acme.test"}},
                 {"escalation", {{"after_minutes", 30}, {"to", {"lead@acme.test"}}}}}}};
  auto r = addResponse(body);
  std::atomic<core::TimeMs> clock{core::nowMs()};
  auto o = options();
  o.clock = [&] { return clock.load(); };
  Dispatcher d(*store_, o);
  auto left = raise("r1", "left-alone");
  auto worked = raise("r2", "worked-on");
  ASSERT_TRUE(d.drain());
  EXPECT_EQ(readMessages(mail_dir_).size(), 2u);  // the two real-time e-mails
  store::ThreatChange change;
  change.state_id = states_[1].id;  // In Progress
  ASSERT_TRUE(store_->changeThreat(worked.id, change, {std::nullopt, "ana"}));
  clock = clock.load() + 31 * core::kMinuteMs;
  ASSERT_TRUE(d.drain());
  auto msgs = readMessages(mail_dir_);
  ASSERT_EQ(msgs.size(), 3u);
  EXPECT_EQ(msgs[2]["rcpt_tos"][0], "lead@acme.test");
  EXPECT_NE(msgs[2]["subject"].get<std::string>().find("ESCALATION"), std::string::npos);
  EXPECT_NE(msgs[2]["subject"].get<std::string>().find("left-alone"), std::string::npos);
  int skipped = 0;
  for (const auto& del : deliveries(r.id))
    if (del.kind == "escalation" && del.status == store::DeliveryStatus::kSkipped) ++skipped;
  EXPECT_EQ(skipped, 1);
  (void)left;
}

TEST_F(DispatcherTest, SubscribersAreNotifiedAndStatesWriteTheirNotes) {
  store::User u;
  u.org_id = org_.id;
  u.email = "ana@acme.test";
  u.role = store::Role::kOperator;
  auto ana = *store_->createUser(u);
  ASSERT_TRUE(store_->responses().putSubscription({ana.id, group_.id, true, true}));
  ASSERT_TRUE(store_->responses().putStateAutomation(
      {org_.id, states_[2].id, "Parked by {{actor}} (was {{previous_state}})", true}));
  Dispatcher d(*store_, options());
  auto t = raise("r1", "h1", core::Severity::kHigh, /*grouped=*/true);
  ASSERT_TRUE(d.drain());
  auto notes = *store_->responses().listNotifications(ana.id, false, 10);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].kind, "assigned");
  EXPECT_EQ(notes[0].threat_id, t.id);

  store::ThreatChange change;
  change.state_id = states_[2].id;  // On Hold
  ASSERT_TRUE(store_->changeThreat(t.id, change, {std::nullopt, "bob@acme.test"}));
  ASSERT_TRUE(d.drain());
  notes = *store_->responses().listNotifications(ana.id, false, 10);
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_NE(notes[0].text.find("On Hold"), std::string::npos);
  auto threat_notes = *store_->listNotes(t.id);
  ASSERT_EQ(threat_notes.size(), 1u);
  EXPECT_EQ(threat_notes[0].text, "Parked by bob@acme.test (was New)");
  EXPECT_EQ(threat_notes[0].author, "system");
  // The automatic note is on the timeline.
  bool on_timeline = false;
  const auto timeline = store_->timeline(t.id).value();
  for (const auto& e : timeline)
    if (e.action == "note" && e.to == threat_notes[0].text) on_timeline = true;
  EXPECT_TRUE(on_timeline);

  // A person's note reaches the subscribers; the automatic one above did not.
  ASSERT_TRUE(store_->addNote(t.id, "Called the owner", {std::nullopt, "bob@acme.test"}));
  ASSERT_TRUE(d.drain());
  notes = *store_->responses().listNotifications(ana.id, false, 10);
  ASSERT_EQ(notes.size(), 3u);
  EXPECT_NE(notes[0].text.find("bob@acme.test added a note"), std::string::npos) << notes[0].text;
  EXPECT_NE(notes[0].text.find("Called the owner"), std::string::npos);
}

TEST_F(DispatcherTest, RunsOnItsOwnThreadsAndStopsCleanly) {
  startReceiver();
  addResponse(webhook("hook", url("/hook")));
  Dispatcher d(*store_, options());
  d.start();
  for (int i = 0; i < 20; ++i) raise("r" + std::to_string(i), "h");
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (readJsonLines(log_).size() < 20 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  d.stop();
  EXPECT_EQ(readJsonLines(log_).size(), 20u);
}

// A dispatcher process is killed with SIGKILL in the middle of a burst and a new one takes over:
// every delivery owed arrives, and none that the receiver acknowledged (recorded as delivered)
// is sent again.
TEST_F(DispatcherTest, SurvivesSigkillMidBurstWithoutLossOrRepeats) {
  startReceiver();
  plan(R"([)" + [] {
    std::string s;
    for (int i = 0; i < 400; ++i)
      s += std::string(i ? "," : "") + R"({"status":200,"delay":0.005})";
    return s;
  }() + "]");
  auto r = addResponse(webhook("hook", url("/hook")));
  constexpr int kThreats = 300;
  std::set<core::ThreatId> ids;
  for (int i = 0; i < kThreats; ++i) ids.insert(raise("r" + std::to_string(i), "h").id);
  store_.reset();  // the child opens its own connections; none are shared across fork

  auto opts = options();
  // Short leases so the restart need not wait long, yet longer than a batch of sends takes even
  // under ASan on a loaded machine: a lease that runs out under a live sender means a second
  // send by design (at least once), which this test would count as a repeat.
  opts.outbox_lease_ms = 3000;
  opts.delivery_lease_ms = 3000;
  // Small batches, so that what may be in flight at the kill (sent, not yet recorded) is a small
  // part of the burst and the bound below means something.
  opts.delivery_batch = 8;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto s = store::openStore("sqlite:" + db_);
    if (!s) _exit(3);
    Dispatcher d(**s, opts);
    d.start();
    while (true) pause();
  }
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (readJsonLines(log_).size() < kThreats / 3 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(2ms);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  const size_t before = readJsonLines(log_).size();
  ASSERT_GT(before, 0u);
  ASSERT_LT(before, static_cast<size_t>(kThreats)) << "the burst finished before the kill";

  open();
  std::set<std::string> acked;
  for (const auto& del : deliveries(r.id))
    if (del.status == store::DeliveryStatus::kDelivered) acked.insert(del.idempotency_key);
  {
    Dispatcher d(*store_, opts);
    d.start();
    const auto until = std::chrono::steady_clock::now() + 30s;
    auto all_delivered = [&] {
      auto ds = deliveries(r.id);
      if (ds.size() < kThreats) return false;
      for (const auto& x : ds)
        if (x.status != store::DeliveryStatus::kDelivered) return false;
      return true;
    };
    while (!all_delivered() && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(20ms);
    d.stop();
    ASSERT_TRUE(all_delivered());
  }
  std::map<std::string, int> times;
  std::set<std::string> threats_seen;
  for (const auto& g : readJsonLines(log_)) {
    ++times[g["headers"]["idempotency-key"].get<std::string>()];
    threats_seen.insert(Json::parse(g["body"].get<std::string>())["threat"]["id"].dump());
  }
  EXPECT_EQ(threats_seen.size(), static_cast<size_t>(kThreats));  // nothing lost
  for (const auto& key : acked) EXPECT_EQ(times[key], 1) << key;  // nothing acknowledged resent
  int repeats = 0;
  for (const auto& [k, n] : times) repeats += n - 1;
  // Only what was in flight at the kill may arrive twice (with the same key).
  EXPECT_LE(repeats, 2 * opts.workers * opts.delivery_batch);
}

}  // namespace
}  // namespace td::respond
