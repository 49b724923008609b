// The report routes over real HTTP: templates, CRUD with versions and conflicts, validation with
// JSON paths, rendering (PDF, CSV), visibility across organisations, schedules, OpenAPI.
#include <gtest/gtest.h>

#include "server/routes_reports.h"
#include "server/tests/api_fixture.h"

namespace td::server {
namespace {

class ReportApiTest : public ApiTest {
 protected:
  void addRoutes(Server& server) override { addReportRoutes(server); }

  HttpAnswer put(const std::string& path, const Creds& c, const Json& body) {
    return call("PUT", path, c, body.dump());
  }
};

TEST_F(ReportApiTest, TemplatesAreListedAndRender) {
  EXPECT_EQ(get("/api/v1/reports/templates", {}).status, 401);
  auto a = login("operator@a.test");
  auto list = get("/api/v1/reports/templates", a);
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(list.json["items"].size(), 4u);
  EXPECT_TRUE(list.json["items"][0]["spec"].is_object());
  seedThreat(a_prod_, "r1");
  auto pdf = get("/api/v1/reports/templates/weekly-soc-summary/render?project=a-prod", a);
  ASSERT_EQ(pdf.status, 200) << pdf.body;
  EXPECT_EQ(pdf.headers["Content-Type"], "application/pdf");
  EXPECT_EQ(pdf.body.rfind("%PDF-", 0), 0u);
  EXPECT_EQ(get("/api/v1/reports/templates/nope/render", a).status, 404);
}

TEST_F(ReportApiTest, ReportsAreVersionedAndValidatedWithPaths) {
  auto a = login("operator@a.test");
  auto created = post("/api/v1/reports?project=a-prod", a,
                      {{"name", "Weekly"}, {"template", "weekly-soc-summary"}});
  ASSERT_EQ(created.status, 201) << created.body;
  const auto id = std::to_string(created.json["id"].get<std::int64_t>());
  EXPECT_EQ(created.json["version"], 1);
  EXPECT_EQ(created.json["title"], "Weekly SOC summary");
  EXPECT_EQ(post("/api/v1/reports?project=a-prod", a,
                 {{"name", "weekly"}, {"template", "weekly-soc-summary"}})
                .status,
            409);

  Json spec = created.json["spec"];
  spec["title"] = "Weekly, edited";
  auto v2 = put("/api/v1/reports/" + id, a, {{"spec", spec}, {"version", 1}});
  ASSERT_EQ(v2.status, 200) << v2.body;
  EXPECT_EQ(v2.json["version"], 2);
  EXPECT_EQ(v2.json["updated_by"], "operator@a.test");
  auto stale = put("/api/v1/reports/" + id, a, {{"spec", spec}, {"version", 1}});
  EXPECT_EQ(stale.status, 409);
  EXPECT_EQ(stale.errorField(), "version");

  Json bad = spec;
  bad["widgets"][2] = {{"type", "chart"}, {"chart", {{"kind", "bar"}, {"dimension", "colour"}}}};
  auto refused = put("/api/v1/reports/" + id, a, {{"spec", bad}});
  EXPECT_EQ(refused.status, 422);
  EXPECT_EQ(refused.errorField(), "spec.widgets[2].chart.dimension");

  auto validated = call("POST", "/api/v1/reports/validate", a, bad.dump());
  ASSERT_EQ(validated.status, 200) << validated.body;
  EXPECT_FALSE(validated.json["valid"].get<bool>());
  EXPECT_EQ(validated.json["errors"][0]["field"], "widgets[2].chart.dimension");
  EXPECT_TRUE(call("POST", "/api/v1/reports/validate", a, spec.dump()).json["valid"].get<bool>());

  auto versions = get("/api/v1/reports/" + id + "/versions", a);
  ASSERT_EQ(versions.status, 200);
  ASSERT_EQ(versions.json["items"].size(), 2u);
  EXPECT_EQ(versions.json["items"][1]["spec"]["title"], "Weekly SOC summary");
  ASSERT_EQ(get("/api/v1/reports?project=a-prod", a).json["items"].size(), 1u);
  EXPECT_EQ(get("/api/v1/reports?project=a-staging", a).json["items"].size(), 0u);
}

TEST_F(ReportApiTest, RenderFormatsAndVisibility) {
  auto a = login("operator@a.test");
  seedThreat(a_prod_, "r1", core::Severity::kCritical);
  seedThreat(a_prod_, "r2", core::Severity::kHigh);
  seedThreat(b_prod_, "r3", core::Severity::kHigh);  // another customer's: never counted
  auto created = post("/api/v1/reports?project=a-prod", a,
                      {{"name", "Weekly"}, {"template", "weekly-soc-summary"}});
  ASSERT_EQ(created.status, 201);
  const auto base = "/api/v1/reports/" + std::to_string(created.json["id"].get<int>());
  auto pdf = get(base + "/render?format=pdf", a);
  ASSERT_EQ(pdf.status, 200) << pdf.body;
  EXPECT_EQ(pdf.body.rfind("%PDF-", 0), 0u);
  EXPECT_NE(pdf.headers["Content-Disposition"].find("Weekly.pdf"), std::string::npos);
  auto csv = get(base + "/render?format=csv&widget=new", a);
  ASSERT_EQ(csv.status, 200) << csv.body;
  EXPECT_EQ(csv.body, "metric,value,previous,unit,samples\r\nnew,2,0,threats,2\r\n");
  auto html = get(base + "/render?format=html", a);
  EXPECT_EQ(html.headers["Content-Type"], "text/html; charset=utf-8");
  auto png = get(base + "/render?format=png&width=600", a);
  EXPECT_EQ(png.headers["Content-Type"], "image/png");
  EXPECT_EQ(get(base + "/render?format=docx", a).errorField(), "format");
  EXPECT_EQ(get(base + "/render?format=csv&widget=zzz", a).status, 404);
  EXPECT_EQ(get(base + "/render?version=7", a).status, 404);
  // Another customer's operator does not see it; the provider's readonly user does.
  auto b = login("operator@b.test");
  EXPECT_EQ(get(base, b).status, 404);
  EXPECT_EQ(get(base + "/render", b).status, 404);
  EXPECT_EQ(get(base, login("readonly@provider.test")).status, 200);
  // Readonly users read but do not save or delete.
  auto ro = login("readonly@provider.test");
  EXPECT_EQ(post("/api/v1/reports?project=a-prod", ro,
                 {{"name", "Mine"}, {"template", "backlog-by-queue"}})
                .status,
            403);
  EXPECT_EQ(call("DELETE", base, a).status, 403);  // operators do not delete
  EXPECT_EQ(call("DELETE", base, login("manager@provider.test")).status, 204);
  EXPECT_EQ(get(base, a).status, 404);
}

TEST_F(ReportApiTest, PreviewRendersAnUnsavedDocument) {
  auto a = login("operator@a.test");
  Json doc = {{"title", "Preview"},
              {"time_range", "last_7_days"},
              {"widgets", {{{"type", "kpi"}, {"kpi", {{"metric", "open"}}}}}}};
  auto html = call("POST", "/api/v1/reports/preview?project=a-prod", a, doc.dump());
  ASSERT_EQ(html.status, 200) << html.body;
  EXPECT_NE(html.body.find("<h1>Preview</h1>"), std::string::npos);
  doc["widgets"][0]["kpi"]["metric"] = "speed";
  auto bad = call("POST", "/api/v1/reports/preview?project=a-prod", a, doc.dump());
  EXPECT_EQ(bad.status, 422);
  EXPECT_EQ(bad.errorField(), "widgets[0].kpi.metric");
}

TEST_F(ReportApiTest, Schedules) {
  auto a = login("operator@a.test");
  auto created = post("/api/v1/reports?project=a-prod", a,
                      {{"name", "Weekly"}, {"template", "weekly-soc-summary"}});
  ASSERT_EQ(created.status, 201);
  const auto base = "/api/v1/reports/" + std::to_string(created.json["id"].get<int>());
  Json schedule = {{"cron", "0 8 * * MON"},
                   {"time_zone", "Europe/Berlin"},
                   {"recipients", {"soc@example.com"}}};
  EXPECT_EQ(post(base + "/schedules", a, schedule).status, 403);  // managers schedule mail
  auto m = login("manager@provider.test");
  auto s = post(base + "/schedules", m, schedule);
  ASSERT_EQ(s.status, 201) << s.body;
  EXPECT_EQ(s.json["format"], "pdf");
  const std::string next = s.json["next_run_at"];
  // Mondays 08:00 in Berlin in winter are 07:00 UTC.
  EXPECT_NE(next.find("T07:00:00Z"), std::string::npos) << next;
  schedule["cron"] = "0 8 * * FUNDAY";
  auto bad = post(base + "/schedules", m, schedule);
  EXPECT_EQ(bad.status, 422);
  EXPECT_EQ(bad.errorField(), "cron");
  schedule["cron"] = "0 8 * * 1";
  schedule["recipients"] = {"soc@example.com", "not an address"};
  EXPECT_EQ(post(base + "/schedules", m, schedule).errorField(), "recipients[1]");
  // Users of the report's organisation (or its provider), by e-mail or id; others are refused.
  schedule["recipients"] = Json::array();
  schedule["users"] = {"operator@a.test", "nobody@a.test"};
  auto unknown = post(base + "/schedules", m, schedule);
  EXPECT_EQ(unknown.status, 422);
  EXPECT_EQ(unknown.errorField(), "users[1]");
  schedule["users"] = {"operator@b.test"};  // another customer's user
  EXPECT_EQ(post(base + "/schedules", m, schedule).errorField(), "users[0]");
  schedule["users"] = {true};
  EXPECT_EQ(post(base + "/schedules", m, schedule).errorField(), "users[0]");
  schedule["users"] = Json::array();
  EXPECT_EQ(post(base + "/schedules", m, schedule).errorField(), "recipients");  // nobody at all
  schedule["users"] = {"operator@a.test", "manager@provider.test"};
  auto with_users = post(base + "/schedules", m, schedule);
  ASSERT_EQ(with_users.status, 201) << with_users.body;
  ASSERT_EQ(with_users.json["users"].size(), 2u);
  EXPECT_EQ(with_users.json["users"][0]["email"], "operator@a.test");
  // The listed form goes back as it came.
  const auto wid = std::to_string(with_users.json["id"].get<int>());
  auto same = patch(base + "/schedules/" + wid, m, {{"users", with_users.json["users"]}});
  ASSERT_EQ(same.status, 200) << same.body;
  EXPECT_EQ(same.json["users"], with_users.json["users"]);
  EXPECT_EQ(call("DELETE", base + "/schedules/" + wid, m).status, 204);
  EXPECT_EQ(get(base + "/runs/1/file", a).status, 404);
  const auto sid = std::to_string(s.json["id"].get<int>());
  auto off = patch(base + "/schedules/" + sid, m, {{"enabled", false}});
  ASSERT_EQ(off.status, 200) << off.body;
  EXPECT_TRUE(off.json["next_run_at"].is_null());
  EXPECT_EQ(get(base + "/schedules", a).json["items"].size(), 1u);
  EXPECT_EQ(get(base + "/runs", a).json["items"].size(), 0u);
  EXPECT_EQ(call("DELETE", base + "/schedules/" + sid, m).status, 204);
}

TEST_F(ReportApiTest, EveryRouteIsDocumented) {
  EXPECT_EQ(undocumentedRoutes(*server_), std::vector<std::string>{});
}

}  // namespace
}  // namespace td::server
