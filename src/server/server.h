// The HTTP server of ThreatDesk: the REST API (/api/v1/...), /healthz, /metrics, the OpenAPI
// document and the static web UI, on cpp-httplib.
//
// Routes are data: a RouteSpec names method, path pattern, who may call it (minimum role for
// users, scope for API tokens, or public) and its handler. The server authenticates, authorises
// and selects the project in one place (dispatch) before any handler runs, so a handler only
// checks what is specific to it (e.g. that a threat id belongs to a project the caller sees).
// Other modules add their routes with addRoute() before start().
//
// Thread safety: addRoute() only before start(). start() and stop() from one controlling thread.
// Handlers run concurrently on the server's worker threads; they share the Store and the
// TriageService, which are thread-safe. Metrics are guarded internally.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/error.h"
#include "server/auth.h"
#include "store/store.h"
#include "triage/service.h"

namespace httplib {
class Server;
struct Request;
struct Response;
class DataSink;
}  // namespace httplib

namespace td::server {

using Json = nlohmann::json;

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                           // 0: any free port; start() says which
  size_t max_body_bytes = 10 * 1024 * 1024;  // larger bodies get 413
  size_t max_inflated_body_bytes = 64 * 1024 * 1024;  // gzip bodies inflated beyond: 413
  int threads = 8;                           // worker threads serving requests
  std::string static_dir;                    // the built web UI; empty: none served
  core::TimeMs session_ttl_ms = 12 * core::kHourMs;
  bool secure_cookies = false;         // add "Secure" when served behind TLS
  bool public_metrics = true;          // /metrics without credentials (loopback scrapes)
  PasswordHashParams password_params;  // for users created through the API
};

// Who may call a route. Users need at least `min_role`; API tokens need `scope` (kNone: tokens
// may not call it at all). Public routes take no credentials.
struct Access {
  bool is_public = false;
  store::Role min_role = store::Role::kReadonly;
  store::Scope scope = store::Scope::kNone;
  bool needs_project = false;  // resolve the caller's project (token's, or ?project= for users)
};

// The authenticated caller of a request.
struct Principal {
  std::optional<store::User> user;  // browser session
  std::optional<store::Session> session;
  std::optional<store::ApiToken> token;   // or API token
  std::vector<core::OrgId> visible_orgs;  // a user's organisation and those below it

  bool isUser() const { return user.has_value(); }
  bool isToken() const { return token.has_value(); }
  store::Actor actor() const;
};

struct RouteSpec;

// What a handler sees of one request.
class RequestContext {
 public:
  RequestContext(const httplib::Request& req, const RouteSpec& route, store::Store& store)
      : req_(req), route_(route), store_(store) {}

  const httplib::Request& request() const { return req_; }
  const RouteSpec& route() const { return route_; }
  const Principal& principal() const { return principal_; }
  // The selected project (routes with Access::needs_project).
  const store::Project& project() const { return *project_; }
  bool hasProject() const { return project_.has_value(); }

  // A path parameter ("{id}" in the pattern) as text or as a positive id (400 otherwise).
  std::string param(const std::string& name) const;
  core::Result<std::int64_t> idParam(const std::string& name) const;
  // The request body as JSON (400 for malformed or too deeply nested JSON).
  core::Result<Json> jsonBody() const;
  // Query parameters as a multimap.
  std::multimap<std::string, std::string> query() const;
  std::optional<std::string> queryValue(const std::string& name) const;

  // Whether the caller may see a project: a token only its own, a user those of their
  // organisation subtree.
  bool canSeeProject(const store::Project& project) const;
  // A project by id that the caller may see; kNotFound otherwise (existence is not leaked).
  core::Result<store::Project> visibleProject(core::ProjectId id) const;
  // Every project the caller may see, ordered by id.
  core::Result<std::vector<store::Project>> visibleProjects() const;
  // A threat the caller may see (404 otherwise).
  core::Result<core::Threat> visibleThreat(core::ThreatId id) const;
  bool canSeeOrg(core::OrgId org) const;

 private:
  friend class Server;
  const httplib::Request& req_;
  const RouteSpec& route_;
  store::Store& store_;
  Principal principal_;
  std::optional<store::Project> project_;
  std::map<std::string, std::string> params_;
};

// A handler's answer. By default `body` is sent as JSON with `status`; `text` (with
// `content_type`) replaces it; `stream` sends a chunked body produced on the fly (export).
struct Reply {
  int status = 200;
  Json body;
  std::optional<std::string> text;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  // Called once on the worker thread; writes with sink.write and returns false to abort the
  // connection (an error after the status line has gone out).
  std::function<bool(httplib::DataSink& sink)> stream;

  static Reply json(Json body, int status = 200) {
    Reply r;
    r.status = status;
    r.body = std::move(body);
    return r;
  }
};

using RouteHandler = std::function<core::Result<Reply>(RequestContext&)>;

struct RouteSpec {
  std::string method;   // GET, POST, PATCH, PUT, DELETE
  std::string pattern;  // "/api/v1/threats/{id}"; segments in braces are parameters
  Access access;
  RouteHandler handler;
  std::string summary;  // one line for logs and docs
  // Accept a gzip-encoded body (POST only); it is inflated up to
  // ServerOptions::max_inflated_body_bytes before the handler sees it. Other routes answer 415.
  bool accepts_gzip = false;
};

class Server {
 public:
  Server(store::Store& store, triage::TriageService& triage, ServerOptions options = {});
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Adds a route; before start() only. Literal segments win over parameters when both match.
  void addRoute(RouteSpec route);
  const std::vector<RouteSpec>& routes() const { return routes_; }

  // Binds and serves on a background thread. Returns the bound port.
  core::Result<int> start();
  // Stops accepting, lets in-flight requests finish, joins the workers. Idempotent.
  void stop();
  int port() const { return port_; }

  store::Store& store() { return store_; }
  triage::TriageService& triage() { return triage_; }
  const ServerOptions& options() const { return options_; }

  // The Prometheus text of /metrics.
  std::string metricsText();

 private:
  struct Metrics;
  void installHandlers();
  void dispatch(const httplib::Request& req, httplib::Response& res);
  const RouteSpec* match(const std::string& method, const std::string& path,
                         std::map<std::string, std::string>& params, bool& path_known) const;
  core::Status authenticate(RequestContext& ctx);
  core::Status selectProject(RequestContext& ctx);
  void record(const std::string& route, const std::string& method, int status, double ms);

  store::Store& store_;
  triage::TriageService& triage_;
  ServerOptions options_;
  std::vector<RouteSpec> routes_;
  std::unique_ptr<httplib::Server> http_;
  std::unique_ptr<Metrics> metrics_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<bool> running_{false};
};

// Adds the built-in routes (threats, overview, export, tags, projects, users, tokens, auth,
// health, metrics, OpenAPI). The Server constructor calls this.
void addThreatRoutes(Server& server);
void addTagRoutes(Server& server);
void addAccountRoutes(Server& server);
void addOperationsRoutes(Server& server);

// The OpenAPI 3 document served at /api/v1/openapi.json (src/server/openapi.json, embedded).
std::string_view openApiDocument();
// "METHOD /pattern" of every route of `server` that the OpenAPI document lacks (or whose path
// parameters it does not declare). A module that adds routes asserts this is empty in its tests.
std::vector<std::string> undocumentedRoutes(const Server& server);

// The JSON error reply of an Error.
Reply errorReply(const core::Error& error);

}  // namespace td::server
