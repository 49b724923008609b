// Account routes: sign-in and sign-out, who am I, projects, users and API tokens.
#include <httplib.h>

#include <algorithm>

#include "server/auth.h"
#include "server/json_codec.h"
#include "server/server.h"

namespace td::server {
namespace {

using core::ErrorCode;
using core::fail;
using store::Role;
using store::Scope;

Json projectsJson(const std::vector<store::Project>& projects) {
  Json items = Json::array();
  for (const auto& p : projects) items.push_back(encodeProject(p));
  return items;
}

core::Result<Reply> login(RequestContext& ctx, Server& server) {
  auto& store = server.store();
  auto body = ctx.jsonBody();
  if (!body) return fail(body.error());
  auto request = decodeLogin(*body);
  if (!request) return fail(request.error());
  const auto refused = [] { return fail(ErrorCode::kUnauthenticated, "wrong email or password"); };
  auto user = store.findUserByEmail(request->email);
  if (!user) {
    if (user.error().code != ErrorCode::kNotFound) return fail(user.error());
    // Take as long as a real check so the answer time does not tell which emails exist.
    verifyDummyPassword(request->password);
    return refused();
  }
  if (!verifyPassword(user->password_hash, request->password) || user->disabled) return refused();
  const NewSession secrets = generateSession();
  store::Session session;
  session.id_hash = secrets.id_hash;
  session.user_id = user->id;
  session.csrf_token = secrets.csrf_token;
  session.created_at = core::nowMs();
  session.expires_at = session.created_at + server.options().session_ttl_ms;
  if (auto ok = store.createSession(session); !ok) return fail(ok.error());
  std::string cookie = "td_session=" + secrets.id +
                       "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                       std::to_string(server.options().session_ttl_ms / 1000);
  if (server.options().secure_cookies) cookie += "; Secure";
  Reply reply = Reply::json({{"user", encodeUser(*user)},
                             {"csrf_token", secrets.csrf_token},
                             {"expires_at", core::formatRfc3339(session.expires_at)}});
  reply.headers.emplace_back("Set-Cookie", cookie);
  return reply;
}

core::Result<store::Project> projectByNameOrId(const RequestContext& ctx, store::Store& store,
                                               const std::string& text) {
  const bool numeric =
      !text.empty() && text.size() < 18 &&
      std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (numeric) {
    if (auto p = ctx.visibleProject(std::stoll(text))) return p;
  }
  auto p = store.findProject(text);
  if (!p || !ctx.canSeeProject(*p))
    return fail(ErrorCode::kNotFound, "no project '" + text.substr(0, 64) + "'", "project");
  return p;
}

}  // namespace

void addAccountRoutes(Server& server) {
  store::Store& store = server.store();
  const Access anyUser{false, Role::kReadonly, Scope::kNone, false};
  const Access admin{false, Role::kAdmin, Scope::kNone, false};

  server.addRoute({"POST",
                   "/api/v1/auth/login",
                   {true},
                   [&server](RequestContext& ctx) { return login(ctx, server); },
                   "Sign in with email and password: session cookie and CSRF token"});

  server.addRoute({"POST", "/api/v1/auth/logout", anyUser,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     if (auto ok = store.deleteSession(ctx.principal().session->id_hash); !ok)
                       return fail(ok.error());
                     Reply r;
                     r.status = 204;
                     r.headers.emplace_back("Set-Cookie",
                                            "td_session=; Path=/; HttpOnly; SameSite=Strict; "
                                            "Max-Age=0");
                     return r;
                   },
                   "Sign out: ends the session"});

  server.addRoute({"GET",
                   "/api/v1/me",
                   {false, Role::kReadonly, Scope::kRead, false},
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto projects = ctx.visibleProjects();
                     if (!projects) return fail(projects.error());
                     const Principal& p = ctx.principal();
                     Json j = {{"projects", projectsJson(*projects)}};
                     if (p.user) {
                       j["kind"] = "user";
                       j["user"] = encodeUser(*p.user);
                       if (auto org = store.getOrg(p.user->org_id)) j["org"] = encodeOrg(*org);
                       // The UI reloads and needs the CSRF token again; a cross-site page
                       // cannot read this answer.
                       j["csrf_token"] = p.session->csrf_token;
                     } else {
                       j["kind"] = "token";
                       j["token"] = encodeToken(*p.token);
                     }
                     return Reply::json(std::move(j));
                   },
                   "The caller: user (or token), organisation and visible projects"});

  server.addRoute({"GET",
                   "/api/v1/projects",
                   {false, Role::kReadonly, Scope::kRead, false},
                   [](RequestContext& ctx) -> core::Result<Reply> {
                     auto projects = ctx.visibleProjects();
                     if (!projects) return fail(projects.error());
                     return Reply::json({{"items", projectsJson(*projects)}});
                   },
                   "Projects the caller can see"});

  server.addRoute({"GET", "/api/v1/users", anyUser,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto users = store.listUsers();
                     if (!users) return fail(users.error());
                     Json items = Json::array();
                     for (const auto& u : *users)
                       if (ctx.canSeeOrg(u.org_id)) items.push_back(encodeUser(u));
                     return Reply::json({{"items", std::move(items)}});
                   },
                   "Users of the caller's organisation and those below it"});

  server.addRoute(
      {"POST", "/api/v1/users", admin,
       [&server, &store](RequestContext& ctx) -> core::Result<Reply> {
         auto body = ctx.jsonBody();
         if (!body) return fail(body.error());
         auto request = decodeNewUser(*body);
         if (!request) return fail(request.error());
         store::User user;
         user.org_id = ctx.principal().user->org_id;
         if (request->org) {
           auto org = store.findOrg(*request->org);
           if (!org || !ctx.canSeeOrg(org->id))
             return fail(ErrorCode::kNotFound,
                         "no organisation '" + request->org->substr(0, 64) + "'", "org");
           user.org_id = org->id;
         }
         const bool generated = !request->password;
         const std::string password = generated ? generatePassword() : *request->password;
         if (auto ok = checkPasswordPolicy(password); !ok) return fail(ok.error());
         auto hash = hashPassword(password, server.options().password_params);
         if (!hash) return fail(hash.error());
         user.email = request->email;
         user.display_name = request->display_name;
         user.role = request->role;
         user.time_zone = request->time_zone;
         user.password_hash = *hash;
         user.created_at = core::nowMs();
         auto created = store.createUser(user);
         if (!created) return fail(created.error());
         Json j = encodeUser(*created);
         if (generated) j["password"] = password;  // shown once
         return Reply::json(std::move(j), 201);
       },
       "Create a user (admin)"});

  server.addRoute({"GET", "/api/v1/tokens", admin,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto tokens = store.listTokens(std::nullopt);
                     if (!tokens) return fail(tokens.error());
                     auto projects = ctx.visibleProjects();
                     if (!projects) return fail(projects.error());
                     Json items = Json::array();
                     for (const auto& t : *tokens) {
                       const bool visible =
                           std::any_of(projects->begin(), projects->end(),
                                       [&](const auto& p) { return p.id == t.project_id; });
                       if (visible) items.push_back(encodeToken(t));
                     }
                     return Reply::json({{"items", std::move(items)}});
                   },
                   "API tokens of the projects the admin can see"});

  server.addRoute({"POST",
                   "/api/v1/tokens",
                   {false, Role::kAdmin, Scope::kNone, true},
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto body = ctx.jsonBody();
                     if (!body) return fail(body.error());
                     auto request = decodeNewToken(*body);
                     if (!request) return fail(request.error());
                     store::Project project = ctx.project();
                     if (request->project) {
                       auto p = projectByNameOrId(ctx, store, *request->project);
                       if (!p) return fail(p.error());
                       project = *p;
                     }
                     const NewToken secret = generateToken();
                     store::ApiToken token;
                     token.project_id = project.id;
                     token.name = request->name;
                     token.token_hash = secret.hash;
                     token.prefix = secret.prefix;
                     token.scopes = request->scopes;
                     token.created_by = ctx.principal().user->id;
                     token.created_at = core::nowMs();
                     auto created = store.createToken(token);
                     if (!created) return fail(created.error());
                     Json j = encodeToken(*created);
                     j["token"] = secret.secret;  // shown once; only its hash is kept
                     return Reply::json(std::move(j), 201);
                   },
                   "Create an API token for a project (admin); the secret is shown once"});

  server.addRoute({"DELETE", "/api/v1/tokens/{id}", admin,
                   [&store](RequestContext& ctx) -> core::Result<Reply> {
                     auto id = ctx.idParam("id");
                     if (!id) return fail(id.error());
                     auto tokens = store.listTokens(std::nullopt);
                     if (!tokens) return fail(tokens.error());
                     auto it = std::find_if(tokens->begin(), tokens->end(),
                                            [&](const auto& t) { return t.id == *id; });
                     if (it == tokens->end() || !ctx.visibleProject(it->project_id))
                       return fail(ErrorCode::kNotFound, "no token " + std::to_string(*id), "id");
                     if (auto ok = store.revokeToken(*id); !ok) return fail(ok.error());
                     Reply r;
                     r.status = 204;
                     return r;
                   },
                   "Revoke an API token (admin)"});
}

}  // namespace td::server
