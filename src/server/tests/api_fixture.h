// A real server for API tests: a fresh SQLite store in a temporary directory, the triage service
// and a Server on 127.0.0.1 port 0, reached over real HTTP with cpp-httplib's client.
//
// Organisations nest: Provider (parent) holds CustomerA and CustomerB. Each has default tags and
// one project (provider-soc, a-prod, b-prod; CustomerA also a-staging). Users of every role sit
// in Provider; CustomerA and CustomerB have their own operators and admin.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <map>
#include <memory>
#include <string>

#include "server/auth.h"
#include "server/json_codec.h"
#include "server/server.h"
#include "store/store.h"
#include "tests/support/temp_dir.h"
#include "triage/service.h"

namespace td::server {

constexpr const char* kPassword = "a long test password";

// Credentials for one request: none, a session (cookie + CSRF token) or a bearer token.
struct Creds {
  std::string cookie;
  std::string csrf;
  std::string bearer;
  bool send_csrf = true;
};

struct HttpAnswer {
  int status = 0;
  std::string body;
  Json json;
  std::map<std::string, std::string> headers;
  std::string errorCode() const {
    return json.is_object() && json.contains("error") ? json["error"].value("code", "") : "";
  }
  std::string errorField() const {
    if (!json.is_object() || !json.contains("error")) return "";
    const auto& f = json["error"]["field"];
    return f.is_string() ? f.get<std::string>() : "";
  }
};

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::openStore("sqlite:" + dir_.file("threatdesk.db"));
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
    triage_ = std::make_unique<triage::TriageService>(*store_);

    provider_ = store_->createOrg("Provider", std::nullopt).value();
    customer_a_ = store_->createOrg("CustomerA", provider_.id).value();
    customer_b_ = store_->createOrg("CustomerB", provider_.id).value();
    for (const auto& org : {provider_, customer_a_, customer_b_})
      ASSERT_TRUE(triage_->seedDefaultTags(org.id));
    provider_soc_ = store_->createProject(provider_.id, "provider-soc").value();
    a_prod_ = store_->createProject(customer_a_.id, "a-prod").value();
    a_staging_ = store_->createProject(customer_a_.id, "a-staging").value();
    b_prod_ = store_->createProject(customer_b_.id, "b-prod").value();

    addUser("admin@provider.test", provider_.id, store::Role::kAdmin);
    addUser("manager@provider.test", provider_.id, store::Role::kManager);
    addUser("operator@provider.test", provider_.id, store::Role::kOperator);
    addUser("readonly@provider.test", provider_.id, store::Role::kReadonly);
    addUser("admin@a.test", customer_a_.id, store::Role::kAdmin);
    addUser("operator@a.test", customer_a_.id, store::Role::kOperator);
    addUser("operator@b.test", customer_b_.id, store::Role::kOperator);

    ServerOptions options;
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 4;
    options.max_body_bytes = maxBodyBytes();
    options.password_params = kTestPasswordHashParams;
    server_ = std::make_unique<Server>(*store_, *triage_, options);
    addRoutes(*server_);
    auto port = server_->start();
    ASSERT_TRUE(port) << port.error().message;
    port_ = *port;
  }

  void TearDown() override {
    if (server_) server_->stop();
  }

  virtual size_t maxBodyBytes() const { return 1024 * 1024; }
  // Modules that add routes (intel, detect, ...) add them here, before the server starts.
  virtual void addRoutes(Server& server) {}

  store::User addUser(const std::string& email, core::OrgId org, store::Role role) {
    store::User u;
    u.org_id = org;
    u.email = email;
    u.role = role;
    u.password_hash = hashPassword(kPassword, kTestPasswordHashParams).value();
    auto created = store_->createUser(u);
    EXPECT_TRUE(created) << (created ? "" : created.error().message);
    return created ? *created : u;
  }

  // A bearer token straight from the store (the CLI's way).
  std::string token(const store::Project& project, store::Scope scopes,
                    const std::string& name = "test") {
    const NewToken t = generateToken();
    store::ApiToken row;
    row.project_id = project.id;
    row.name = name;
    row.token_hash = t.hash;
    row.prefix = t.prefix;
    row.scopes = scopes;
    row.created_at = core::nowMs();
    auto created = store_->createToken(row);
    EXPECT_TRUE(created) << (created ? "" : created.error().message);
    return t.secret;
  }

  Creds bearer(const store::Project& project,
               store::Scope scopes = store::Scope::kRead | store::Scope::kWrite) {
    Creds c;
    c.bearer = token(project, scopes);
    return c;
  }

  // Signs in over HTTP; fails the test when that does not work.
  Creds login(const std::string& email, const std::string& password = kPassword) {
    auto a = call("POST", "/api/v1/auth/login", {},
                  Json{{"email", email}, {"password", password}}.dump());
    EXPECT_EQ(a.status, 200) << a.body;
    Creds c;
    const std::string set_cookie = a.headers["Set-Cookie"];
    const auto start = set_cookie.find("td_session=");
    const auto end = set_cookie.find(';', start);
    if (start != std::string::npos) c.cookie = set_cookie.substr(start, end - start);
    if (a.json.contains("csrf_token")) c.csrf = a.json["csrf_token"];
    return c;
  }

  HttpAnswer call(const std::string& method, const std::string& path, const Creds& creds = {},
                  const std::string& body = "",
                  const std::string& content_type = "application/json") {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(30, 0);
    httplib::Headers headers;
    if (!creds.cookie.empty()) headers.emplace("Cookie", creds.cookie);
    if (!creds.csrf.empty() && creds.send_csrf) headers.emplace("X-CSRF-Token", creds.csrf);
    if (!creds.bearer.empty()) headers.emplace("Authorization", "Bearer " + creds.bearer);
    httplib::Result r = [&] {
      if (method == "POST") return client.Post(path, headers, body, content_type);
      if (method == "PATCH") return client.Patch(path, headers, body, content_type);
      if (method == "PUT") return client.Put(path, headers, body, content_type);
      if (method == "DELETE") return client.Delete(path, headers, body, content_type);
      return client.Get(path, headers);
    }();
    HttpAnswer a;
    if (!r) {
      ADD_FAILURE() << method << " " << path << ": no answer (" << httplib::to_string(r.error())
                    << ")";
      return a;
    }
    a.status = r->status;
    a.body = r->body;
    for (const auto& [k, v] : r->headers) a.headers[k] = v;
    if (!r->body.empty()) a.json = Json::parse(r->body, nullptr, false);
    return a;
  }

  HttpAnswer get(const std::string& path, const Creds& c) { return call("GET", path, c); }
  HttpAnswer post(const std::string& path, const Creds& c, const Json& body) {
    return call("POST", path, c, body.dump());
  }
  HttpAnswer patch(const std::string& path, const Creds& c, const Json& body) {
    return call("PATCH", path, c, body.dump());
  }

  // A threat created through the store-facing service, for tests that read or change one.
  core::Threat seedThreat(const store::Project& project, const std::string& name,
                          core::Severity severity = core::Severity::kHigh,
                          const std::string& host = "WS-042") {
    core::Detection d;
    d.project_id = project.id;
    d.name = name;
    d.source = std::string(core::source::kRule);
    d.rule_id = name;
    d.entity = {"host", host};
    d.host = host;
    d.severity = severity;
    d.score = core::scoreForSeverity(severity);
    auto t = triage_->createThreat(d, store::Actor{std::nullopt, "system"});
    EXPECT_TRUE(t) << (t ? "" : t.error().message);
    return t ? *t : core::Threat{};
  }

  static store::ThreatFilter filterFor(const store::Project& project) {
    store::ThreatFilter f;
    f.project_id = project.id;
    return f;
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<triage::TriageService> triage_;
  std::unique_ptr<Server> server_;
  int port_ = 0;
  store::Org provider_, customer_a_, customer_b_;
  store::Project provider_soc_, a_prod_, a_staging_, b_prod_;
};

}  // namespace td::server
