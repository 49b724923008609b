// The authorisation matrix: roles x routes x projects, nested organisations, token scopes and
// projects, CSRF. Every refused change is also checked to have changed nothing.
#include "server/tests/api_fixture.h"

namespace td::server {
namespace {

using store::Scope;

class AuthzTest : public ApiTest {
 protected:
  std::string threatPath(const core::Threat& t, const std::string& suffix = "") {
    return "/api/v1/threats/" + std::to_string(t.id) + suffix;
  }

  // The threat as stored and its timeline length: what "changed nothing" compares.
  std::pair<core::Threat, size_t> snapshot(const core::Threat& t) {
    return {store_->getThreat(t.id).value(), store_->timeline(t.id).value().size()};
  }
  void expectUnchanged(const core::Threat& t, const std::pair<core::Threat, size_t>& before) {
    auto now = snapshot(t);
    EXPECT_EQ(now.first.state, before.first.state);
    EXPECT_EQ(now.first.group, before.first.group);
    EXPECT_EQ(now.first.owner, before.first.owner);
    EXPECT_EQ(now.first.severity, before.first.severity);
    EXPECT_EQ(now.first.score, before.first.score);
    EXPECT_EQ(now.second, before.second) << "the timeline grew";
    EXPECT_TRUE(store_->listNotes(t.id).value().empty());
  }
};

TEST_F(AuthzTest, NoCredentialsIsUnauthenticatedEverywhereButPublicRoutes) {
  for (const auto& route : server_->routes()) {
    std::string path = route.pattern;
    for (auto [from, to] : {std::pair{"{id}", "1"}, std::pair{"{kind}", "group"}}) {
      auto at = path.find(from);
      if (at != std::string::npos) path.replace(at, std::string(from).size(), to);
    }
    auto a = call(route.method, path, {}, "{}");
    if (route.access.is_public) {
      EXPECT_NE(a.status, 401) << route.method << " " << route.pattern;
    } else {
      EXPECT_EQ(a.status, 401) << route.method << " " << route.pattern << ": " << a.body;
      EXPECT_EQ(a.errorCode(), "unauthenticated");
    }
  }
}

TEST_F(AuthzTest, ReadonlyReadsButChangesNothing) {
  auto threat = seedThreat(provider_soc_, "read me");
  auto before = snapshot(threat);
  Creds r = login("readonly@provider.test");
  EXPECT_EQ(get("/api/v1/threats", r).status, 200);
  EXPECT_EQ(get(threatPath(threat), r).status, 200);
  EXPECT_EQ(get(threatPath(threat, "/timeline"), r).status, 200);
  EXPECT_EQ(get("/api/v1/overview", r).status, 200);
  EXPECT_EQ(get("/api/v1/threats/export", r).status, 200);
  EXPECT_EQ(get("/api/v1/tags/state", r).status, 200);

  EXPECT_EQ(post("/api/v1/threats", r, {{"name", "nope"}}).status, 403);
  EXPECT_EQ(patch(threatPath(threat), r, {{"state", "In Progress"}}).status, 403);
  EXPECT_EQ(patch(threatPath(threat), r, {{"severity", "LOW"}}).status, 403);
  EXPECT_EQ(post(threatPath(threat, "/notes"), r, {{"text", "nope"}}).status, 403);
  EXPECT_EQ(
      post("/api/v1/threats/bulk", r, {{"ids", {threat.id}}, {"change", {{"group", "L2 Support"}}}})
          .status,
      403);
  EXPECT_EQ(post("/api/v1/tags/group", r, {{"name", "Nope"}}).status, 403);
  EXPECT_EQ(post("/api/v1/users", r, {{"email", "x@y.z"}, {"role", "admin"}}).status, 403);
  EXPECT_EQ(post("/api/v1/tokens", r, {{"name", "x"}, {"scopes", "read"}}).status, 403);
  expectUnchanged(threat, before);
  EXPECT_EQ(store_->listThreats(filterFor(provider_soc_), {})->total, 1);
}

TEST_F(AuthzTest, OperatorWorksThreatsButDeletesNothing) {
  auto threat = seedThreat(provider_soc_, "work me");
  Creds o = login("operator@provider.test");
  EXPECT_EQ(post("/api/v1/threats", o, {{"name", "manual"}}).status, 201);
  EXPECT_EQ(patch(threatPath(threat), o, {{"state", "In Progress"}}).status, 200);
  EXPECT_EQ(post(threatPath(threat, "/notes"), o, {{"text", "on it"}}).status, 201);
  EXPECT_EQ(
      post("/api/v1/threats/bulk", o, {{"ids", {threat.id}}, {"change", {{"group", "L2 Support"}}}})
          .status,
      200);

  auto groups = store_->listTags(provider_.id, store::TagKind::kGroup).value();
  const std::string tag_path = "/api/v1/tags/group/" + std::to_string(groups.front().id);
  EXPECT_EQ(call("DELETE", tag_path, o).status, 403);
  EXPECT_EQ(post("/api/v1/tags/group", o, {{"name", "Mine"}}).status, 403);
  EXPECT_EQ(patch(tag_path, o, {{"name", "Renamed"}}).status, 403);
  EXPECT_EQ(store_->listTags(provider_.id, store::TagKind::kGroup)->size(), groups.size());

  Creds admin = login("admin@provider.test");
  auto tok = post("/api/v1/tokens", admin, {{"name", "ci"}, {"scopes", "read"}});
  ASSERT_EQ(tok.status, 201) << tok.body;
  EXPECT_EQ(
      call("DELETE", "/api/v1/tokens/" + std::to_string(tok.json["id"].get<int64_t>()), o).status,
      403);
  EXPECT_FALSE(store_->listTokens(std::nullopt)->front().revoked_at.has_value());
  EXPECT_EQ(post("/api/v1/users", o, {{"email", "x@y.z"}, {"role", "admin"}}).status, 403);
}

TEST_F(AuthzTest, ManagerChangesTagsButNotUsersOrTokens) {
  Creds m = login("manager@provider.test");
  EXPECT_EQ(post("/api/v1/tags/group", m, {{"name", "Threat Hunting"}}).status, 201);
  EXPECT_EQ(post("/api/v1/users", m, {{"email", "x@y.z"}, {"role", "admin"}}).status, 403);
  EXPECT_EQ(post("/api/v1/tokens", m, {{"name", "x"}, {"scopes", "read"}}).status, 403);
  EXPECT_EQ(get("/api/v1/tokens", m).status, 403);
}

TEST_F(AuthzTest, ParentOrganisationSeesChildProjects) {
  auto in_a = seedThreat(a_prod_, "customer A threat");
  auto in_b = seedThreat(b_prod_, "customer B threat");
  Creds o = login("operator@provider.test");
  auto projects = get("/api/v1/projects", o);
  ASSERT_EQ(projects.status, 200);
  EXPECT_EQ(projects.json["items"].size(), 4u);
  EXPECT_EQ(get("/api/v1/threats?project=a-prod", o).json["total"], 1);
  EXPECT_EQ(get("/api/v1/threats?project=" + std::to_string(b_prod_.id), o).json["total"], 1);
  EXPECT_EQ(get(threatPath(in_a), o).status, 200);
  EXPECT_EQ(patch(threatPath(in_b), o, {{"state", "On Hold"}}).status, 200);
}

TEST_F(AuthzTest, ChildOrganisationSeesNeitherParentNorSibling) {
  auto parent = seedThreat(provider_soc_, "provider threat");
  auto sibling = seedThreat(b_prod_, "sibling threat");
  auto parent_before = snapshot(parent);
  auto sibling_before = snapshot(sibling);
  Creds o = login("operator@a.test");

  auto projects = get("/api/v1/projects", o);
  ASSERT_EQ(projects.status, 200);
  ASSERT_EQ(projects.json["items"].size(), 2u);
  for (const auto& p : projects.json["items"]) EXPECT_EQ(p["org_id"], customer_a_.id);

  for (const std::string& project :
       std::vector<std::string>{"provider-soc", "b-prod", std::to_string(b_prod_.id)}) {
    auto a = get("/api/v1/threats?project=" + project, o);
    EXPECT_EQ(a.status, 404) << project;
    EXPECT_EQ(a.errorField(), "project");
  }
  // Invisible threats look exactly like missing ones.
  auto missing = get("/api/v1/threats/987654", o);
  for (const auto& t : {parent, sibling}) {
    auto a = get(threatPath(t), o);
    EXPECT_EQ(a.status, 404);
    EXPECT_EQ(a.errorCode(), missing.errorCode());
    EXPECT_EQ(patch(threatPath(t), o, {{"state", "In Progress"}}).status, 404);
    EXPECT_EQ(post(threatPath(t, "/notes"), o, {{"text", "hello"}}).status, 404);
    EXPECT_EQ(get(threatPath(t, "/timeline"), o).status, 404);
    EXPECT_EQ(get(threatPath(t, "/notes"), o).status, 404);
  }
  auto bulk = post("/api/v1/threats/bulk", o,
                   {{"ids", {parent.id, sibling.id}}, {"change", {{"state", "On Hold"}}}});
  ASSERT_EQ(bulk.status, 200);
  EXPECT_EQ(bulk.json["changed"], 0);
  expectUnchanged(parent, parent_before);
  expectUnchanged(sibling, sibling_before);

  // Tags of the parent's organisation are not theirs either.
  auto groups = store_->listTags(provider_.id, store::TagKind::kGroup).value();
  Creds admin_a = login("admin@a.test");
  EXPECT_EQ(
      call("DELETE", "/api/v1/tags/group/" + std::to_string(groups.front().id), admin_a).status,
      404);
  EXPECT_EQ(get("/api/v1/tags/group?project=provider-soc", admin_a).status, 404);
  // Nor may their admin create users above them.
  EXPECT_EQ(post("/api/v1/users", admin_a,
                 {{"email", "evil@a.test"}, {"role", "admin"}, {"org", "Provider"}})
                .status,
            404);
  auto users = get("/api/v1/users", o);
  for (const auto& u : users.json["items"]) EXPECT_EQ(u["org_id"], customer_a_.id);
}

TEST_F(AuthzTest, TokenOfProjectANeitherReadsNorChangesProjectB) {
  auto in_a = seedThreat(a_prod_, "mine");
  auto in_b = seedThreat(b_prod_, "theirs");
  auto b_before = snapshot(in_b);
  Creds t = bearer(a_prod_, Scope::kRead | Scope::kWrite);

  EXPECT_EQ(get(threatPath(in_a), t).status, 200);
  EXPECT_EQ(get(threatPath(in_b), t).status, 404);
  EXPECT_EQ(get(threatPath(in_b, "/timeline"), t).status, 404);
  EXPECT_EQ(patch(threatPath(in_b), t, {{"state", "Closed"}, {"outcome", "Benign"}}).status, 404);
  EXPECT_EQ(post(threatPath(in_b, "/notes"), t, {{"text", "x"}}).status, 404);
  auto bulk =
      post("/api/v1/threats/bulk", t, {{"ids", {in_b.id}}, {"change", {{"state", "On Hold"}}}});
  EXPECT_EQ(bulk.json["changed"], 0);
  // A token names its project; asking for another one is refused, not silently redirected.
  EXPECT_EQ(get("/api/v1/threats?project=b-prod", t).status, 403);
  auto list = get("/api/v1/threats", t);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.json["total"], 1);
  EXPECT_EQ(list.json["items"][0]["id"], in_a.id);
  // Created threats land in the token's project whatever else the caller says.
  auto created = post("/api/v1/threats?project=a-prod", t, {{"name", "new"}});
  EXPECT_EQ(created.json["project_id"], a_prod_.id);
  auto projects = get("/api/v1/projects", t);
  ASSERT_EQ(projects.json["items"].size(), 1u);
  expectUnchanged(in_b, b_before);
}

TEST_F(AuthzTest, TokenScopesAreChecked) {
  auto threat = seedThreat(a_prod_, "scoped");
  Creds read = bearer(a_prod_, Scope::kRead);
  Creds write = bearer(a_prod_, Scope::kWrite);
  Creds ingest = bearer(a_prod_, Scope::kIngest);
  EXPECT_EQ(get("/api/v1/threats", read).status, 200);
  EXPECT_EQ(post("/api/v1/threats", read, {{"name", "x"}}).status, 403);
  EXPECT_EQ(patch(threatPath(threat), read, {{"state", "On Hold"}}).status, 403);
  EXPECT_EQ(get("/api/v1/threats", write).status, 403);
  EXPECT_EQ(post("/api/v1/threats", write, {{"name", "x"}}).status, 201);
  EXPECT_EQ(get("/api/v1/threats", ingest).status, 403);
  EXPECT_EQ(post("/api/v1/threats", ingest, {{"name", "y"}}).status, 403);
  // Administration is for people, never tokens.
  Creds all = bearer(a_prod_, Scope::kRead | Scope::kWrite | Scope::kIngest);
  EXPECT_EQ(get("/api/v1/users", all).status, 403);
  EXPECT_EQ(post("/api/v1/tokens", all, {{"name", "x"}, {"scopes", "read"}}).status, 403);
  EXPECT_EQ(post("/api/v1/tags/group", all, {{"name", "x"}}).status, 403);
}

TEST_F(AuthzTest, BadTokensAreUnauthenticated) {
  Creds garbage;
  garbage.bearer = "tdk_" + std::string(40, 'A');
  EXPECT_EQ(get("/api/v1/threats", garbage).status, 401);
  Creds shape;
  shape.bearer = "' OR 1=1 --";
  EXPECT_EQ(get("/api/v1/threats", shape).status, 401);
  HttpAnswer basic = [&] {
    httplib::Client c("127.0.0.1", port_);
    auto r = c.Get("/api/v1/threats", {{"Authorization", "Basic YWxhZGRpbjpvcGVuc2VzYW1l"}});
    HttpAnswer a;
    a.status = r ? r->status : 0;
    return a;
  }();
  EXPECT_EQ(basic.status, 401);
}

TEST_F(AuthzTest, StateChangesWithoutCsrfTokenAreForbidden) {
  auto threat = seedThreat(provider_soc_, "csrf target");
  auto before = snapshot(threat);
  Creds s = login("admin@provider.test");
  Creds no_csrf = s;
  no_csrf.send_csrf = false;
  Creds wrong = s;
  wrong.csrf = "x" + s.csrf.substr(1);

  for (const Creds& c : {no_csrf, wrong}) {
    auto a = patch(threatPath(threat), c, {{"state", "In Progress"}});
    EXPECT_EQ(a.status, 403);
    EXPECT_EQ(a.errorField(), "X-CSRF-Token");
    EXPECT_EQ(post("/api/v1/threats", c, {{"name", "x"}}).status, 403);
    EXPECT_EQ(post(threatPath(threat, "/notes"), c, {{"text", "x"}}).status, 403);
    EXPECT_EQ(post("/api/v1/users", c, {{"email", "x@y.z"}, {"role", "admin"}}).status, 403);
    EXPECT_EQ(call("POST", "/api/v1/auth/logout", c).status, 403);
  }
  // Reads need no CSRF token.
  EXPECT_EQ(get("/api/v1/threats", no_csrf).status, 200);
  expectUnchanged(threat, before);
  EXPECT_EQ(get("/api/v1/me", s).status, 200);  // the session survived the refused logout
}

TEST_F(AuthzTest, OneSessionsCsrfTokenDoesNotWorkForAnother) {
  Creds alice = login("operator@a.test");
  Creds bob = login("operator@provider.test");
  Creds mixed = alice;
  mixed.csrf = bob.csrf;
  EXPECT_EQ(post("/api/v1/threats", mixed, {{"name", "x"}}).status, 403);
}

}  // namespace
}  // namespace td::server
