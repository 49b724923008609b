#include "server/server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <tuple>

#include "core/text.h"
#include "server/auth.h"
#include "server/json_codec.h"

namespace td::server {
namespace {

using core::ErrorCode;
using core::fail;

constexpr std::string_view kSessionCookie = "td_session";
constexpr size_t kMaxPathLength = 2048;
// How often a token's last-use time is written: once a minute is enough to tell stale tokens
// apart and saves a write per API call.
constexpr core::TimeMs kTouchIntervalMs = core::kMinuteMs;
constexpr std::array<double, 11> kLatencyBuckets = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1,
                                                    0.25,  0.5,   1.0,  2.5,   5.0};

std::vector<std::string> splitPath(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}

bool isParam(const std::string& segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// Paths and methods come from the client: keep control characters out of the log lines.
std::string printable(std::string_view s, size_t max = 256) {
  std::string out;
  for (char c : s.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7F ? '?' : c);
  }
  if (s.size() > max) out += "...";
  return out;
}

std::string cookieValue(const std::string& header, std::string_view name) {
  for (std::string_view part : core::splitTrimmed(header, ';')) {
    const auto eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    if (core::trim(part.substr(0, eq)) == name) return std::string(core::trim(part.substr(eq + 1)));
  }
  return {};
}

bool isSafeMethod(const std::string& method) { return method == "GET" || method == "HEAD"; }

std::string promLabel(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out.push_back(c);
  }
  return out;
}

void applyReply(Reply& reply, httplib::Response& res) {
  res.status = reply.status;
  for (const auto& [k, v] : reply.headers) res.set_header(k, v);
  if (reply.stream) {
    auto stream = std::move(reply.stream);
    res.set_chunked_content_provider(reply.content_type, [stream](size_t, httplib::DataSink& sink) {
      bool ok = false;
      try {
        ok = stream(sink);
      } catch (const std::exception& e) {
        spdlog::error("stream aborted: {}", e.what());
      } catch (...) {
        spdlog::error("stream aborted");
      }
      if (ok) sink.done();
      return ok;
    });
  } else if (reply.text) {
    res.set_content(*reply.text, reply.content_type);
  } else if (reply.status != 204) {
    res.set_content(dumpJson(reply.body), "application/json");
  }
}

}  // namespace

// --- principal and request context ---------------------------------------------------------

store::Actor Principal::actor() const {
  if (user) return store::Actor{user->id, user->email};
  if (token) return store::Actor{std::nullopt, "token:" + token->name};
  return store::Actor{std::nullopt, "anonymous"};
}

std::string RequestContext::param(const std::string& name) const {
  auto it = params_.find(name);
  return it == params_.end() ? std::string() : it->second;
}

core::Result<std::int64_t> RequestContext::idParam(const std::string& name) const {
  const std::string text = param(name);
  std::int64_t id = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, id);
  if (text.empty() || ec != std::errc() || ptr != end || id <= 0)
    return fail(ErrorCode::kInvalidArgument, name + " must be a positive integer", name);
  return id;
}

core::Result<Json> RequestContext::jsonBody() const { return parseJson(req_.body); }

std::multimap<std::string, std::string> RequestContext::query() const {
  return {req_.params.begin(), req_.params.end()};
}

std::optional<std::string> RequestContext::queryValue(const std::string& name) const {
  auto it = req_.params.find(name);
  if (it == req_.params.end()) return std::nullopt;
  return it->second;
}

bool RequestContext::canSeeOrg(core::OrgId org) const {
  if (principal_.token) return false;  // tokens belong to a project, not an organisation
  const auto& orgs = principal_.visible_orgs;
  return std::find(orgs.begin(), orgs.end(), org) != orgs.end();
}

bool RequestContext::canSeeProject(const store::Project& project) const {
  if (principal_.token) return project.id == principal_.token->project_id;
  return canSeeOrg(project.org_id);
}

core::Result<store::Project> RequestContext::visibleProject(core::ProjectId id) const {
  auto project = store_.getProject(id);
  if (!project && project.error().code != ErrorCode::kNotFound) return fail(project.error());
  if (!project || !canSeeProject(*project))
    return fail(ErrorCode::kNotFound, "no project " + std::to_string(id), "project");
  return project;
}

core::Result<std::vector<store::Project>> RequestContext::visibleProjects() const {
  auto all = store_.listProjects();
  if (!all) return fail(all.error());
  std::vector<store::Project> out;
  for (auto& p : *all)
    if (canSeeProject(p)) out.push_back(std::move(p));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

core::Result<core::Threat> RequestContext::visibleThreat(core::ThreatId id) const {
  auto threat = store_.getThreat(id);
  const auto missing = [&] {
    return fail(ErrorCode::kNotFound, "no threat " + std::to_string(id), "id");
  };
  if (!threat) {
    if (threat.error().code == ErrorCode::kNotFound) return missing();
    return fail(threat.error());
  }
  auto project = store_.getProject(threat->project_id);
  if (!project) return missing();
  // A threat of a project the caller cannot see is answered as missing: its existence is not
  // theirs to learn.
  if (!canSeeProject(*project)) return missing();
  return threat;
}

Reply errorReply(const core::Error& error) {
  Reply r;
  r.status = httpStatus(error.code);
  core::Error shown = error;
  // Internal errors may carry SQL or paths; the log has the detail, the client a stable text.
  if (error.code == ErrorCode::kInternal) shown.message = "internal error";
  r.body = encodeError(shown);
  return r;
}

// --- metrics ---------------------------------------------------------------------------------

struct Server::Metrics {
  struct Histogram {
    std::array<std::uint64_t, kLatencyBuckets.size()> buckets{};
    std::uint64_t count = 0;
    double sum = 0;
  };
  std::mutex mutex;
  std::map<std::tuple<std::string, std::string, int>, std::uint64_t> requests;  // guarded
  std::map<std::string, Histogram> latency;                                     // guarded
};

void Server::record(const std::string& route, const std::string& method, int status, double ms) {
  std::lock_guard lock(metrics_->mutex);
  ++metrics_->requests[{route, method, status}];
  auto& h = metrics_->latency[route];
  const double seconds = ms / 1000.0;
  for (size_t i = 0; i < kLatencyBuckets.size(); ++i)
    if (seconds <= kLatencyBuckets[i]) ++h.buckets[i];
  ++h.count;
  h.sum += seconds;
}

std::string Server::metricsText() {
  std::ostringstream out;
  out << "# HELP threatdesk_threats Threats by state and severity, over all projects.\n"
         "# TYPE threatdesk_threats gauge\n";
  if (auto counts = store_.countsByStateAndSeverity()) {
    for (const auto& [state, by_severity] : *counts)
      for (int s = 0; s < core::kSeverityCount; ++s)
        out << "threatdesk_threats{state=\"" << promLabel(state) << "\",severity=\""
            << core::severityName(static_cast<core::Severity>(s)) << "\"} " << by_severity[s]
            << "\n";
  } else {
    spdlog::warn("metrics: cannot count threats: {}", counts.error().message);
  }
  std::lock_guard lock(metrics_->mutex);
  out << "# HELP threatdesk_http_requests_total HTTP requests by route, method and status.\n"
         "# TYPE threatdesk_http_requests_total counter\n";
  for (const auto& [key, n] : metrics_->requests) {
    const auto& [route, method, status] = key;
    out << "threatdesk_http_requests_total{route=\"" << promLabel(route) << "\",method=\""
        << promLabel(method) << "\",status=\"" << status << "\"} " << n << "\n";
  }
  out << "# HELP threatdesk_http_request_duration_seconds Time to answer, by route.\n"
         "# TYPE threatdesk_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : metrics_->latency) {
    const std::string label = promLabel(route);
    for (size_t i = 0; i < kLatencyBuckets.size(); ++i)
      out << "threatdesk_http_request_duration_seconds_bucket{route=\"" << label << "\",le=\""
          << kLatencyBuckets[i] << "\"} " << h.buckets[i] << "\n";
    out << "threatdesk_http_request_duration_seconds_bucket{route=\"" << label << "\",le=\"+Inf\"} "
        << h.count << "\n";
    out << "threatdesk_http_request_duration_seconds_sum{route=\"" << label << "\"} " << h.sum
        << "\n";
    out << "threatdesk_http_request_duration_seconds_count{route=\"" << label << "\"} " << h.count
        << "\n";
  }
  return out.str();
}

// --- server ----------------------------------------------------------------------------------

Server::Server(store::Store& store, triage::TriageService& triage, ServerOptions options)
    : store_(store),
      triage_(triage),
      options_(std::move(options)),
      http_(std::make_unique<httplib::Server>()),
      metrics_(std::make_unique<Metrics>()) {
  addThreatRoutes(*this);
  addTagRoutes(*this);
  addAccountRoutes(*this);
  addOperationsRoutes(*this);
}

Server::~Server() { stop(); }

void Server::addRoute(RouteSpec route) { routes_.push_back(std::move(route)); }

const RouteSpec* Server::match(const std::string& method, const std::string& path,
                               std::map<std::string, std::string>& params, bool& path_known) const {
  const auto segments = splitPath(path);
  const RouteSpec* best = nullptr;
  int best_params = 0;
  path_known = false;
  for (const auto& route : routes_) {
    const auto pattern = splitPath(route.pattern);
    if (pattern.size() != segments.size()) continue;
    int n_params = 0;
    bool ok = true;
    for (size_t i = 0; i < pattern.size() && ok; ++i) {
      if (isParam(pattern[i]))
        ++n_params;
      else
        ok = pattern[i] == segments[i];
    }
    if (!ok) continue;
    path_known = true;
    if (route.method != method && !(method == "HEAD" && route.method == "GET")) continue;
    if (best == nullptr || n_params < best_params) {
      best = &route;
      best_params = n_params;
    }
  }
  if (best) {
    const auto pattern = splitPath(best->pattern);
    for (size_t i = 0; i < pattern.size(); ++i)
      if (isParam(pattern[i])) params[pattern[i].substr(1, pattern[i].size() - 2)] = segments[i];
  }
  return best;
}

core::Status Server::authenticate(RequestContext& ctx) {
  const Access& access = ctx.route_.access;
  const auto& req = ctx.req_;
  const std::string authorization = req.get_header_value("Authorization");
  if (!authorization.empty()) {
    constexpr std::string_view kBearer = "Bearer ";
    if (authorization.size() <= kBearer.size() ||
        !core::equalsIgnoreCase(std::string_view(authorization).substr(0, kBearer.size()), kBearer))
      return fail(ErrorCode::kUnauthenticated, "Authorization must be 'Bearer <token>'",
                  "Authorization");
    const std::string secret(core::trim(std::string_view(authorization).substr(kBearer.size())));
    if (!looksLikeToken(secret))
      return fail(ErrorCode::kUnauthenticated, "invalid API token", "Authorization");
    auto token = store_.findTokenByHash(hashToken(secret));
    if (!token) {
      if (token.error().code == ErrorCode::kNotFound)
        return fail(ErrorCode::kUnauthenticated, "invalid API token", "Authorization");
      return fail(token.error());
    }
    if (token->revoked_at)
      return fail(ErrorCode::kUnauthenticated, "this API token was revoked", "Authorization");
    if (access.scope == store::Scope::kNone)
      return fail(ErrorCode::kForbidden, "API tokens cannot use this route; sign in as a user");
    if (!store::has(token->scopes, access.scope))
      return fail(ErrorCode::kForbidden,
                  "this API token lacks the '" + store::scopeNames(access.scope) + "' scope");
    const core::TimeMs now = core::nowMs();
    if (!token->last_used_at || now - *token->last_used_at > kTouchIntervalMs) {
      if (auto touched = store_.touchToken(token->id, now); !touched)
        spdlog::warn("cannot record the use of token {}: {}", token->id, touched.error().message);
    }
    ctx.principal_.token = std::move(*token);
    return {};
  }

  const std::string cookie = cookieValue(req.get_header_value("Cookie"), kSessionCookie);
  if (cookie.empty() || cookie.size() > 128)
    return fail(ErrorCode::kUnauthenticated,
                "authentication required: sign in or send 'Authorization: Bearer <token>'");
  const std::string id_hash = sha256Hex(cookie);
  auto session = store_.findSession(id_hash);
  if (!session) {
    if (session.error().code == ErrorCode::kNotFound)
      return fail(ErrorCode::kUnauthenticated, "the session is unknown or has ended; sign in");
    return fail(session.error());
  }
  if (session->expires_at <= core::nowMs()) {
    (void)store_.deleteSession(id_hash);
    return fail(ErrorCode::kUnauthenticated, "the session has expired; sign in again");
  }
  auto user = store_.getUser(session->user_id);
  if (!user || user->disabled)
    return fail(ErrorCode::kUnauthenticated, "the session's user is disabled or gone");
  // Cookies ride along on cross-site requests; the CSRF token, which only our pages can read,
  // proves the request comes from them.
  if (!isSafeMethod(req.method)) {
    const std::string csrf = req.get_header_value("X-CSRF-Token");
    if (csrf.empty() || !constantTimeEquals(csrf, session->csrf_token))
      return fail(ErrorCode::kForbidden, "missing or wrong X-CSRF-Token header", "X-CSRF-Token");
  }
  if (user->role < access.min_role)
    return fail(ErrorCode::kForbidden,
                "this needs the " + std::string(store::roleName(access.min_role)) +
                    " role; you are " + std::string(store::roleName(user->role)));
  auto orgs = store_.orgSubtree(user->org_id);
  if (!orgs) return fail(orgs.error());
  ctx.principal_.visible_orgs = std::move(*orgs);
  ctx.principal_.user = std::move(*user);
  ctx.principal_.session = std::move(*session);
  return {};
}

core::Status Server::selectProject(RequestContext& ctx) {
  const auto wanted = ctx.queryValue("project");
  if (ctx.principal_.token) {
    auto project = store_.getProject(ctx.principal_.token->project_id);
    if (!project) return fail(project.error());
    // A token selects its project; naming another one is a mistake worth telling about.
    if (wanted && !wanted->empty() && *wanted != project->name &&
        *wanted != std::to_string(project->id))
      return fail(ErrorCode::kForbidden,
                  "this API token belongs to project '" + project->name + "'", "project");
    ctx.project_ = std::move(*project);
    return {};
  }
  if (!wanted || wanted->empty()) {
    auto visible = ctx.visibleProjects();
    if (!visible) return fail(visible.error());
    if (visible->empty()) return fail(ErrorCode::kNotFound, "you can see no project", "project");
    ctx.project_ = visible->front();
    return {};
  }
  const auto missing = [&] {
    return fail(ErrorCode::kNotFound, "no project '" + printable(*wanted, 64) + "'", "project");
  };
  core::Result<store::Project> project = missing();
  const bool numeric =
      std::all_of(wanted->begin(), wanted->end(), [](char c) { return c >= '0' && c <= '9'; });
  if (numeric && wanted->size() < 18) project = store_.getProject(std::stoll(*wanted));
  if (!project || !numeric) {
    auto by_name = store_.findProject(*wanted);
    if (by_name) project = std::move(by_name);
  }
  if (!project) {
    if (project.error().code != ErrorCode::kNotFound) return fail(project.error());
    return missing();
  }
  if (!ctx.canSeeProject(*project)) return missing();
  ctx.project_ = std::move(*project);
  return {};
}

void Server::dispatch(const httplib::Request& req, httplib::Response& res) {
  const auto started = std::chrono::steady_clock::now();
  std::string route_label = "unmatched";
  std::string who = "-";
  try {
    std::map<std::string, std::string> params;
    bool path_known = false;
    const RouteSpec* route = match(req.method, req.path, params, path_known);
    Reply reply;
    if (route == nullptr) {
      const bool api = req.path.rfind("/api/", 0) == 0;
      if (!path_known && !api && isSafeMethod(req.method) && !options_.static_dir.empty() &&
          std::filesystem::exists(std::filesystem::path(options_.static_dir) / "index.html")) {
        // The web UI routes on the client: unknown non-API paths get its index page.
        std::ifstream in(std::filesystem::path(options_.static_dir) / "index.html",
                         std::ios::binary);
        std::ostringstream content;
        content << in.rdbuf();
        route_label = "static";
        reply.text = content.str();
        reply.content_type = "text/html; charset=utf-8";
      } else if (path_known) {
        reply = errorReply({ErrorCode::kInvalidArgument,
                            "method " + printable(req.method, 16) + " is not allowed here", ""});
        reply.status = 405;
      } else {
        reply = errorReply({ErrorCode::kNotFound, "no route " + printable(req.path, 128), ""});
      }
    } else {
      route_label = route->pattern;
      RequestContext ctx(req, *route, store_);
      ctx.params_ = std::move(params);
      core::Result<Reply> result = [&]() -> core::Result<Reply> {
        if (!route->access.is_public) {
          if (auto ok = authenticate(ctx); !ok) return fail(ok.error());
          who = ctx.principal_.actor().name;
          if (route->access.needs_project) {
            if (auto ok = selectProject(ctx); !ok) return fail(ok.error());
          }
        }
        return route->handler(ctx);
      }();
      if (result) {
        reply = std::move(*result);
      } else {
        if (result.error().code == ErrorCode::kInternal ||
            result.error().code == ErrorCode::kUnavailable)
          spdlog::error("{} {}: {}", printable(req.method), printable(req.path),
                        result.error().message);
        reply = errorReply(result.error());
      }
    }
    reply.headers.emplace_back("X-Content-Type-Options", "nosniff");
    if (route_label != "static") reply.headers.emplace_back("Cache-Control", "no-store");
    applyReply(reply, res);
  } catch (const std::exception& e) {
    spdlog::error("{} {}: unhandled exception: {}", printable(req.method), printable(req.path),
                  e.what());
    Reply reply = errorReply({ErrorCode::kInternal, e.what(), ""});
    applyReply(reply, res);
  } catch (...) {
    spdlog::error("{} {}: unhandled exception", printable(req.method), printable(req.path));
    Reply reply = errorReply({ErrorCode::kInternal, "unknown", ""});
    applyReply(reply, res);
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  record(route_label, req.method, res.status, ms);
  spdlog::info("http method={} path={} status={} ms={:.1f} by={}", printable(req.method, 16),
               printable(req.path), res.status, ms, printable(who, 128));
}

void Server::installHandlers() {
  auto& http = *http_;
  http.set_payload_max_length(options_.max_body_bytes);
  // Without it, Nagle's algorithm holds a response's last segment until the client's delayed
  // ACK: measured +40 ms on every keep-alive request (docs/benchmarks.md, overview over HTTP).
  http.set_tcp_nodelay(true);
  // cpp-httplib serves a connection on one worker thread until it closes, and a browser keeps up
  // to six idle keep-alive connections open: with the library's 5 s default, two tabs stalled
  // every request for 5 s (seen in the UI's end-to-end tests). Idle connections go after 1 s.
  http.set_keep_alive_timeout(1);
  const int threads = std::max(1, options_.threads);
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  if (!options_.static_dir.empty()) {
    if (!http.set_mount_point("/", options_.static_dir))
      spdlog::warn("static UI directory {} does not exist; serving the API only",
                   options_.static_dir);
  }
  // Runs before routing: bounds what the route regular expressions below ever see (libstdc++'s
  // regex matcher recurses per character).
  //
  // It also refuses compressed request bodies: cpp-httplib 0.11 inflates them without applying
  // the body limit to the inflated size, so 64 KiB of gzip could become gigabytes in memory.
  // Runs before the body is read, so nothing is inflated.
  //
  // Routes that opt in (RouteSpec::accepts_gzip) take gzip: their bodies are read through a
  // content reader below that stops at max_inflated_body_bytes of inflated data.
  std::vector<std::string> gzip_patterns;
  for (const auto& route : routes_)
    if (route.accepts_gzip && route.method == "POST") gzip_patterns.push_back(route.pattern);
  http.set_pre_routing_handler([gzip_patterns](const httplib::Request& req,
                                               httplib::Response& res) {
    const std::string encoding = req.get_header_value("Content-Encoding");
    const bool gzip_route =
        req.method == "POST" && core::equalsIgnoreCase(encoding, "gzip") &&
        std::find(gzip_patterns.begin(), gzip_patterns.end(), req.path) != gzip_patterns.end();
    if (!encoding.empty() && !core::equalsIgnoreCase(encoding, "identity") && !gzip_route) {
      res.status = 415;
      res.set_header("Connection", "close");
      res.set_content(
          dumpJson(encodeError({ErrorCode::kInvalidArgument,
                                "compressed request bodies are not accepted", "Content-Encoding"})),
          "application/json");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.path.size() <= kMaxPathLength) return httplib::Server::HandlerResponse::Unhandled;
    res.status = 400;
    res.set_content(
        dumpJson(encodeError({ErrorCode::kInvalidArgument, "the path is too long", ""})),
        "application/json");
    return httplib::Server::HandlerResponse::Handled;
  });
  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    dispatch(req, res);
  };
  for (const auto& pattern : gzip_patterns) {
    // Literal paths only (the pre-routing check compares paths as they are).
    http.Post(pattern, [this](const httplib::Request& req, httplib::Response& res,
                              const httplib::ContentReader& read) {
      std::string body;
      bool too_large = false;
      const size_t limit = core::equalsIgnoreCase(req.get_header_value("Content-Encoding"), "gzip")
                               ? options_.max_inflated_body_bytes
                               : options_.max_body_bytes;
      const bool ok = read([&](const char* data, size_t n) {
        if (body.size() + n > limit) {
          too_large = true;
          return false;
        }
        body.append(data, n);
        return true;
      });
      if (!ok) {
        Reply reply = errorReply(
            too_large ? core::Error{ErrorCode::kTooLarge,
                                    "the request body is over the server's limit of " +
                                        std::to_string(limit) + " bytes (after inflating)",
                                    "body"}
                      : core::Error{ErrorCode::kInvalidArgument,
                                    "the request body could not be read (corrupt gzip data?)",
                                    "Content-Encoding"});
        reply.headers.emplace_back("Connection", "close");
        applyReply(reply, res);
        return;
      }
      httplib::Request inflated = req;
      inflated.body = std::move(body);
      inflated.headers.erase("Content-Encoding");
      dispatch(inflated, res);
    });
  }
  http.Get("/.*", handler);
  http.Post("/.*", handler);
  http.Patch("/.*", handler);
  http.Put("/.*", handler);
  http.Delete("/.*", handler);
  // Errors cpp-httplib answers by itself (body over the limit, malformed request line) get the
  // same JSON shape as ours.
  http.set_error_handler(
      httplib::Server::HandlerWithResponse([](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        core::Error e{ErrorCode::kInvalidArgument, "bad request", ""};
        if (res.status == 413) {
          e = {ErrorCode::kTooLarge, "the request body is over the server's limit", ""};
        } else if (res.status == 404) {
          e = {ErrorCode::kNotFound, "not found", ""};
        } else if (res.status == 405) {
          e = {ErrorCode::kInvalidArgument, "method not allowed", ""};
        } else if (res.status >= 500) {
          e = {ErrorCode::kInternal, "internal error", ""};
        }
        res.set_content(dumpJson(encodeError(e)), "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }));
  http.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown";
        try {
          if (ep) std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        spdlog::error("{} {}: exception: {}", printable(req.method), printable(req.path), what);
        res.status = 500;
        res.set_content(dumpJson(encodeError({ErrorCode::kInternal, "internal error", ""})),
                        "application/json");
      });
}

core::Result<int> Server::start() {
  if (thread_.joinable()) return fail(ErrorCode::kConflict, "the server is running already");
  installHandlers();
  int port = -1;
  if (options_.port == 0) {
    port = http_->bind_to_any_port(options_.host);
  } else if (http_->bind_to_port(options_.host, options_.port)) {
    port = options_.port;
  }
  if (port <= 0)
    return fail(ErrorCode::kUnavailable,
                "cannot listen on " + options_.host + ":" + std::to_string(options_.port),
                "listen");
  port_ = port;
  thread_ = std::thread([this] {
    if (!http_->listen_after_bind()) spdlog::error("the HTTP server stopped with an error");
  });
  // stop() only takes effect once the accept loop runs, so wait for it here.
  for (int i = 0; i < 5000 && !http_->is_running(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  running_ = true;
  spdlog::info("serving http://{}:{}", options_.host, port_);
  return port_;
}

void Server::stop() {
  if (!thread_.joinable()) return;
  http_->stop();  // closes the listening socket; workers finish the requests they hold
  thread_.join();
  running_ = false;
  spdlog::info("server on port {} stopped", port_);
}

}  // namespace td::server
