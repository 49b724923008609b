// Vulnerability management over HTTP against a real server and SQLite file: assets, SBOM uploads
// (good ones scanned into findings and threats; bad ones refused with what and where while the
// previous inventory stays), the inventory's history, threats closing themselves as Remediated
// when a component is upgraded, an advisory withdrawn or a VEX statement says not affected, and
// reopening when the vulnerability comes back; who may do what.
#include <gtest/gtest.h>

#include "server/routes_vuln.h"
#include "server/tests/api_fixture.h"

namespace td::server {
namespace {

// Made-up advisories: "widget" (npm) vulnerable before 2.0.0, "gizmo" (PyPI) from 1.0 to 1.4.
std::string widgetAdvisory(const std::string& modified = "2024-01-01T00:00:00Z",
                           const std::string& withdrawn = "") {
  Json a = {{"schema_version", "1.6.0"},
            {"id", "GHSA-test-wdgt-0001"},
            {"modified", modified},
            {"aliases", {"CVE-2099-0001"}},
            {"summary", "Remote code execution in widget"},
            {"severity", {{{"type", "CVSS_V3"},
                           {"score", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}}},
            {"references", {{{"type", "ADVISORY"}, {"url", "https://example.test/widget"}}}},
            {"affected",
             {{{"package", {{"ecosystem", "npm"}, {"name", "widget"}}},
               {"ranges",
                {{{"type", "SEMVER"},
                  {"events", {{{"introduced", "0"}}, {{"fixed", "2.0.0"}}}}}}}}}}};
  if (!withdrawn.empty()) a["withdrawn"] = withdrawn;
  return a.dump();
}

std::string gizmoAdvisory() {
  Json a = {{"id", "PYSEC-2099-7"},
            {"modified", "2024-02-01T00:00:00Z"},
            {"aliases", {"CVE-2099-0007"}},
            {"summary", "Path traversal in gizmo"},
            {"affected",
             {{{"package", {{"ecosystem", "PyPI"}, {"name", "gizmo"}}},
               {"ranges",
                {{{"type", "ECOSYSTEM"},
                  {"events", {{{"introduced", "1.0"}}, {{"fixed", "1.4"}}}}}}}}}},
            {"database_specific", {{"severity", "MODERATE"}}}};
  return a.dump();
}

std::string cyclonedx(const std::string& widget_version, bool with_gizmo = true,
                      const std::string& vex_state = "") {
  Json components = Json::array();
  components.push_back({{"type", "library"},
                        {"bom-ref", "widget"},
                        {"name", "widget"},
                        {"version", widget_version},
                        {"purl", "pkg:npm/widget@" + widget_version}});
  if (with_gizmo)
    components.push_back({{"type", "library"},
                          {"bom-ref", "gizmo"},
                          {"name", "gizmo"},
                          {"version", "1.2"},
                          {"purl", "pkg:pypi/gizmo@1.2"}});
  Json bom = {{"bomFormat", "CycloneDX"},
              {"specVersion", "1.5"},
              {"version", 1},
              {"metadata", {{"component", {{"type", "application"}, {"name", "shop"}}}}},
              {"components", components}};
  if (!vex_state.empty())
    bom["vulnerabilities"] = {{{"id", "CVE-2099-0001"},
                               {"analysis",
                                {{"state", vex_state},
                                 {"justification", "code_not_reachable"},
                                 {"detail", "widget's eval path is never called"}}},
                               {"affects", {{{"ref", "widget"}}}}}};
  return bom.dump();
}

class VulnApiTest : public ApiTest {
 protected:
  void addRoutes(Server& server) override {
    vuln_ = std::make_unique<VulnService>(*store_, *triage_);
    addVulnRoutes(server, *vuln_);
  }
  void TearDown() override {
    ApiTest::TearDown();
    vuln_.reset();
  }

  void importAdvisories() {
    auto a = vuln_->importAdvisoryJson("[" + widgetAdvisory() + "," + gizmoAdvisory() + "]",
                                       "test");
    ASSERT_TRUE(a) << a.error().message;
    ASSERT_EQ(a->stored, 2u);
  }

  std::int64_t createAsset(const Creds& c, const std::string& name = "shop-web",
                           const store::Project* project = nullptr) {
    const store::Project& p = project ? *project : a_prod_;
    auto a = post("/api/v1/assets?project=" + p.name, c,
                  Json{{"name", name},
                       {"host", name + ".example.test"},
                       {"owner", "web team"},
                       {"criticality", 3}});
    EXPECT_EQ(a.status, 201) << a.body;
    return a.json.value("id", std::int64_t{0});
  }

  HttpAnswer upload(std::int64_t asset, const Creds& c, const std::string& doc) {
    return call("POST", "/api/v1/assets/" + std::to_string(asset) + "/sbom", c, doc);
  }

  std::vector<core::Threat> threats(const store::Project& p) {
    store::PageRequest page;
    page.limit = 500;
    auto list = store_->listThreats(filterFor(p), page);
    EXPECT_TRUE(list);
    return list ? list->items : std::vector<core::Threat>{};
  }

  const core::Threat* threatNamed(const std::vector<core::Threat>& list, const std::string& name) {
    for (const auto& t : list)
      if (t.name == name) return &t;
    return nullptr;
  }

  bool timelineMentions(core::ThreatId id, const std::string& text) {
    auto notes = store_->listNotes(id);
    if (notes)
      for (const auto& n : *notes)
        if (n.text.find(text) != std::string::npos) return true;
    return false;
  }

  std::unique_ptr<VulnService> vuln_;
};

TEST_F(VulnApiTest, EveryRouteIsDocumented) {
  for (const auto& missing : undocumentedRoutes(*server_)) ADD_FAILURE() << missing;
}

TEST_F(VulnApiTest, UploadScansIntoFindingsAndVulnerabilityThreats) {
  importAdvisories();
  const Creds op = login("operator@provider.test");
  const auto asset = createAsset(op);
  auto a = upload(asset, op, cyclonedx("1.5.0"));
  ASSERT_EQ(a.status, 201) << a.body;
  EXPECT_EQ(a.json["sbom"]["format"], "CycloneDX");
  EXPECT_EQ(a.json["sbom"]["components"], 2);
  EXPECT_EQ(a.json["scan"]["open"], 2);
  EXPECT_EQ(a.json["scan"]["threats_created"], 2);

  auto findings = get("/api/v1/assets/" + std::to_string(asset) + "/findings", op);
  ASSERT_EQ(findings.status, 200) << findings.body;
  ASSERT_EQ(findings.json["total"], 2);
  const Json& first = findings.json["items"][0];  // CRITICAL first
  EXPECT_EQ(first["vulnerability"], "CVE-2099-0001");
  EXPECT_EQ(first["severity"], "CRITICAL");
  EXPECT_EQ(first["fixed_versions"], Json::array({"2.0.0"}));
  EXPECT_EQ(first["state"], "open");

  auto list = threats(a_prod_);
  ASSERT_EQ(list.size(), 2u);
  const core::Threat* t = threatNamed(list, "CVE-2099-0001 in widget@1.5.0");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->source, "Vulnerability");
  EXPECT_EQ(t->entity.type, "asset");
  EXPECT_EQ(t->entity.value, "shop-web");
  EXPECT_EQ(t->severity, core::Severity::kCritical);
  EXPECT_EQ(t->score, 98);
  EXPECT_EQ(t->group, "");  // the default tags have no "Patching" group
  EXPECT_NE(t->evidence_json.find("GHSA-test-wdgt-0001"), std::string::npos);
  EXPECT_EQ(first["threat_id"], t->id);
  const core::Threat* g = threatNamed(list, "CVE-2099-0007 in gizmo@1.2");
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(g->severity, core::Severity::kMedium);  // the database's MODERATE

  // The same SBOM again bumps the same threats.
  a = upload(asset, op, cyclonedx("1.5.0"));
  ASSERT_EQ(a.status, 201) << a.body;
  EXPECT_EQ(a.json["scan"]["threats_created"], 0);
  EXPECT_EQ(threats(a_prod_).size(), 2u);
  EXPECT_EQ(store_->getThreat(t->id)->count, 2);

  auto asset_json = get("/api/v1/assets/" + std::to_string(asset), op);
  EXPECT_EQ(asset_json.json["open_findings"]["CRITICAL"], 1);
  EXPECT_EQ(asset_json.json["open_findings"]["MEDIUM"], 1);
}

TEST_F(VulnApiTest, BadSbomIsRefusedWithWhereAndThePreviousInventoryStays) {
  importAdvisories();
  const Creds op = login("operator@provider.test");
  const auto asset = createAsset(op);
  ASSERT_EQ(upload(asset, op, cyclonedx("1.5.0")).status, 201);
  const auto current = get("/api/v1/assets/" + std::to_string(asset), op).json["current_sbom_id"];

  auto broken = upload(asset, op, "{\"bomFormat\": \"CycloneDX\", \"specVersion\": \"1.5\",\n  \"components\": [ {\"name\": }");
  EXPECT_EQ(broken.status, 400) << broken.body;
  EXPECT_NE(broken.json["error"]["message"].get<std::string>().find("line 2"), std::string::npos)
      << broken.body;

  auto unknown = upload(asset, op, R"({"hello": "world"})");
  EXPECT_TRUE(unknown.status == 400 || unknown.status == 422) << unknown.body;
  EXPECT_FALSE(unknown.json["error"]["message"].get<std::string>().empty());

  auto xml = upload(asset, op, "<?xml version=\"1.0\"?><bom xmlns=\"http://cyclonedx.org/schema/bom/1.5\"/>");
  EXPECT_TRUE(xml.status == 400 || xml.status == 422) << xml.body;

  Json bad_component = Json::parse(cyclonedx("1.5.0"));
  bad_component["components"][1]["hashes"] = {{{"alg", "SHA-256"}, {"content", "not-hex"}}};
  auto invalid = upload(asset, op, bad_component.dump());
  EXPECT_EQ(invalid.status, 400) << invalid.body;
  EXPECT_EQ(invalid.errorField(), "$.components[1].hashes[0].content");
  EXPECT_NE(invalid.body.find("components[1].hashes[0]"), std::string::npos) << invalid.body;

  auto asset_json = get("/api/v1/assets/" + std::to_string(asset), op);
  EXPECT_EQ(asset_json.json["current_sbom_id"], current);
  auto history = get("/api/v1/assets/" + std::to_string(asset) + "/sboms", op);
  ASSERT_EQ(history.status, 200);
  EXPECT_EQ(history.json["items"].size(), 1u);
  auto findings = get("/api/v1/assets/" + std::to_string(asset) + "/findings", op);
  EXPECT_EQ(findings.json["total"], 2);
  for (const auto& t : threats(a_prod_)) EXPECT_FALSE(t.closed) << t.name;
}

TEST_F(VulnApiTest, UpgradeClosesTheThreatAsRemediatedAndADowngradeReopensIt) {
  importAdvisories();
  const Creds op = login("operator@provider.test");
  const auto asset = createAsset(op);
  ASSERT_EQ(upload(asset, op, cyclonedx("1.5.0")).status, 201);
  const core::ThreatId id = threatNamed(threats(a_prod_), "CVE-2099-0001 in widget@1.5.0")->id;

  auto a = upload(asset, op, cyclonedx("2.0.0"));
  ASSERT_EQ(a.status, 201) << a.body;
  EXPECT_EQ(a.json["scan"]["resolved"], 1);
  EXPECT_EQ(a.json["scan"]["threats_closed"], 1);
  auto closed = store_->getThreat(id);
  ASSERT_TRUE(closed);
  EXPECT_TRUE(closed->closed);
  EXPECT_EQ(closed->outcome, "Remediated");
  EXPECT_TRUE(timelineMentions(id, "widget upgraded from 1.5.0 to 2.0.0"));

  auto resolved = get("/api/v1/assets/" + std::to_string(asset) + "/findings?state=resolved", op);
  ASSERT_EQ(resolved.json["total"], 1);
  EXPECT_EQ(resolved.json["items"][0]["reason"], "component upgraded");

  // The history shows the change.
  auto history = get("/api/v1/assets/" + std::to_string(asset) + "/sboms", op);
  ASSERT_EQ(history.json["items"].size(), 2u);
  const Json& newest = history.json["items"][0];
  ASSERT_EQ(newest["changed"].size(), 1u);
  EXPECT_EQ(newest["changed"][0]["from"], "1.5.0");
  EXPECT_EQ(newest["changed"][0]["to"], "2.0.0");
  EXPECT_EQ(history.json["items"][1]["added"].size(), 2u);

  // Removing gizmo closes the other threat with the other reason.
  a = upload(asset, op, cyclonedx("2.0.0", false));
  ASSERT_EQ(a.status, 201) << a.body;
  const core::ThreatId gizmo = threatNamed(threats(a_prod_), "CVE-2099-0007 in gizmo@1.2")->id;
  EXPECT_TRUE(store_->getThreat(gizmo)->closed);
  EXPECT_TRUE(timelineMentions(gizmo, "no longer in the inventory"));

  // Back to a vulnerable version: the same threat reopens.
  a = upload(asset, op, cyclonedx("1.9.9", false));
  ASSERT_EQ(a.status, 201) << a.body;
  EXPECT_EQ(a.json["scan"]["threats_reopened"], 1);
  auto reopened = store_->getThreat(id);
  EXPECT_FALSE(reopened->closed);
  EXPECT_EQ(reopened->outcome, "");
  EXPECT_TRUE(timelineMentions(id, "present again in widget@1.9.9"));
  EXPECT_EQ(threats(a_prod_).size(), 2u);
}

TEST_F(VulnApiTest, WithdrawnAdvisoryAndVexCloseTheirThreats) {
  importAdvisories();
  const Creds op = login("operator@provider.test");
  const auto asset = createAsset(op);
  ASSERT_EQ(upload(asset, op, cyclonedx("1.5.0")).status, 201);
  auto list = threats(a_prod_);
  const core::ThreatId widget = threatNamed(list, "CVE-2099-0001 in widget@1.5.0")->id;
  const core::ThreatId gizmo = threatNamed(list, "CVE-2099-0007 in gizmo@1.2")->id;

  // VEX in a new upload: not_affected closes the widget threat with the justification.
  auto a = upload(asset, op, cyclonedx("1.5.0", true, "not_affected"));
  ASSERT_EQ(a.status, 201) << a.body;
  EXPECT_EQ(a.json["scan"]["suppressed"], 1);
  EXPECT_TRUE(store_->getThreat(widget)->closed);
  EXPECT_TRUE(timelineMentions(widget, "code_not_reachable"));
  auto suppressed =
      get("/api/v1/assets/" + std::to_string(asset) + "/findings?state=suppressed", op);
  ASSERT_EQ(suppressed.json["total"], 1);
  EXPECT_EQ(suppressed.json["items"][0]["vex"]["state"], "not_affected");

  // Withdrawing the gizmo advisory (a newer copy) closes that threat at import.
  Json withdrawn = Json::parse(gizmoAdvisory());
  withdrawn["modified"] = "2024-06-01T00:00:00Z";
  withdrawn["withdrawn"] = "2024-06-01T00:00:00Z";
  const Creds admin = login("admin@provider.test");
  auto imported = post("/api/v1/advisories", admin, withdrawn);
  ASSERT_EQ(imported.status, 200) << imported.body;
  EXPECT_EQ(imported.json["stored"], 1);
  EXPECT_EQ(imported.json["assets_rescanned"], 1);
  EXPECT_EQ(imported.json["threats_closed"], 1);
  auto closed = store_->getThreat(gizmo);
  EXPECT_TRUE(closed->closed);
  EXPECT_EQ(closed->outcome, "Remediated");
  EXPECT_TRUE(timelineMentions(gizmo, "withdrawn"));

  // The advisory list shows it as withdrawn.
  auto listed = get("/api/v1/advisories?withdrawn=true", op);
  ASSERT_EQ(listed.status, 200) << listed.body;
  ASSERT_EQ(listed.json["total"], 1);
  EXPECT_EQ(listed.json["items"][0]["id"], "PYSEC-2099-7");
  auto one = get("/api/v1/advisories/GHSA-test-wdgt-0001", op);
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(one.json["severity"], "CRITICAL");
  EXPECT_EQ(one.json["osv"]["id"], "GHSA-test-wdgt-0001");
  EXPECT_EQ(get("/api/v1/advisories/NOPE-1", op).status, 404);
}

TEST_F(VulnApiTest, NewAdvisoriesRescanStoredInventories) {
  const Creds op = login("operator@provider.test");
  const auto asset = createAsset(op);
  ASSERT_EQ(upload(asset, op, cyclonedx("1.5.0")).status, 201);
  EXPECT_TRUE(threats(a_prod_).empty());
  const Creds admin = login("admin@provider.test");
  auto imported = call("POST", "/api/v1/advisories", admin, widgetAdvisory());
  ASSERT_EQ(imported.status, 200) << imported.body;
  EXPECT_EQ(imported.json["threats_created"], 1);
  EXPECT_NE(threatNamed(threats(a_prod_), "CVE-2099-0001 in widget@1.5.0"), nullptr);

  auto bad = call("POST", "/api/v1/advisories", admin, R"({"id": 5})");
  EXPECT_EQ(bad.status, 422) << bad.body;
  auto malformed = call("POST", "/api/v1/advisories", admin, R"({"id": )");
  EXPECT_EQ(malformed.status, 400) << malformed.body;
}

TEST_F(VulnApiTest, AssetsAreValidatedAndScopedToWhatTheCallerSees) {
  const Creds op = login("operator@provider.test");
  const auto asset = createAsset(op);
  auto dup = post("/api/v1/assets?project=a-prod", op, Json{{"name", "SHOP-WEB"}});
  EXPECT_EQ(dup.status, 409) << dup.body;
  auto bad = post("/api/v1/assets?project=a-prod", op, Json{{"name", "x"}, {"criticality", 9}});
  EXPECT_EQ(bad.status, 422);
  EXPECT_EQ(bad.errorField(), "criticality");
  auto unknown = post("/api/v1/assets?project=a-prod", op, Json{{"name", "x"}, {"colour", 1}});
  EXPECT_EQ(unknown.status, 400);
  auto patched = patch("/api/v1/assets/" + std::to_string(asset), op, Json{{"owner", "sre"}});
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.json["owner"], "sre");

  // Another customer sees nothing of it.
  const Creds other = login("operator@b.test");
  EXPECT_EQ(get("/api/v1/assets/" + std::to_string(asset), other).status, 404);
  EXPECT_EQ(upload(asset, other, cyclonedx("1.0.0")).status, 404);
  EXPECT_EQ(get("/api/v1/assets?project=a-prod", other).status, 404);
  auto own = get("/api/v1/assets", other);
  ASSERT_EQ(own.status, 200);
  EXPECT_TRUE(own.json["items"].empty());

  // Readonly users read, never write; tokens need the write scope to upload.
  const Creds ro = login("readonly@provider.test");
  EXPECT_EQ(get("/api/v1/assets?project=a-prod", ro).status, 200);
  EXPECT_EQ(upload(asset, ro, cyclonedx("1.0.0")).status, 403);
  EXPECT_EQ(upload(asset, bearer(a_prod_, store::Scope::kRead), cyclonedx("1.0.0")).status, 403);
  EXPECT_EQ(upload(asset, bearer(a_prod_), cyclonedx("1.0.0")).status, 201);
  EXPECT_EQ(upload(asset, bearer(b_prod_), cyclonedx("1.0.0")).status, 404);
  // Deleting is for managers, never tokens.
  EXPECT_EQ(call("DELETE", "/api/v1/assets/" + std::to_string(asset), bearer(a_prod_)).status,
            403);
  EXPECT_EQ(call("DELETE", "/api/v1/assets/" + std::to_string(asset), op).status, 403);

  // Advisories: shared by every tenant, so only a top-level organisation's admins import.
  EXPECT_EQ(call("POST", "/api/v1/advisories", op, widgetAdvisory()).status, 403);
  EXPECT_EQ(call("POST", "/api/v1/advisories", login("admin@a.test"), widgetAdvisory()).status,
            403);
  EXPECT_EQ(call("POST", "/api/v1/advisories", bearer(a_prod_), widgetAdvisory()).status, 403);
  EXPECT_EQ(call("GET", "/api/v1/advisories", {}).status, 401);

  const Creds manager = login("manager@provider.test");
  EXPECT_EQ(call("DELETE", "/api/v1/assets/" + std::to_string(asset), manager).status, 204);
  EXPECT_EQ(get("/api/v1/assets/" + std::to_string(asset), manager).status, 404);
}

}  // namespace
}  // namespace td::server
