// The OpenAPI document stays true: every registered route is documented, every documented
// operation is a route, and the server serves the document.
#include "server/tests/api_fixture.h"

namespace td::server {
namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

TEST_F(ApiTest, OpenApiDocumentsEveryRoute) {
  auto a = get("/api/v1/openapi.json", {});
  ASSERT_EQ(a.status, 200);
  ASSERT_TRUE(a.json.is_object()) << "not JSON";
  EXPECT_EQ(a.json["openapi"].get<std::string>().rfind("3.", 0), 0u);
  ASSERT_TRUE(a.json["paths"].is_object());
  for (const auto& missing : undocumentedRoutes(*server_))
    ADD_FAILURE() << missing << " is missing from src/server/openapi.json";
}

TEST_F(ApiTest, OpenApiDocumentsNoRouteThatDoesNotExist) {
  // Operations of other modules (ingest, responses, reports) carry their own tag and are
  // checked by those modules' tests; the server's own tags must match its routes exactly.
  const std::set<std::string> own_tags = {"threats", "tags", "account", "admin", "operations"};
  std::set<std::pair<std::string, std::string>> registered;
  for (const auto& route : server_->routes())
    registered.insert({route.pattern, lower(route.method)});
  const Json doc = Json::parse(openApiDocument());
  for (const auto& [path, ops] : doc["paths"].items())
    for (const auto& [method, op] : ops.items()) {
      bool own = false;
      for (const auto& tag : op.value("tags", Json::array())) own = own || own_tags.count(tag);
      if (!own) continue;
      EXPECT_TRUE(registered.count({path, method}))
          << method << " " << path << " is documented but no route serves it";
    }
}

TEST_F(ApiTest, UndocumentedRoutesAreReported) {
  server_->stop();
  ServerOptions options;
  options.port = 0;
  Server extra(*store_, *triage_, options);
  extra.addRoute({"POST", "/api/v1/not-documented/{thing}", {}, nullptr, "test"});
  auto missing = undocumentedRoutes(extra);
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0], "POST /api/v1/not-documented/{thing}");
}

TEST_F(ApiTest, OpenApiReferencesResolve) {
  const Json doc = Json::parse(openApiDocument());
  std::function<void(const Json&)> walk = [&](const Json& j) {
    if (j.is_object()) {
      for (const auto& [k, v] : j.items()) {
        if (k == "$ref") {
          const std::string ref = v.get<std::string>();
          ASSERT_EQ(ref.rfind("#/", 0), 0u) << ref;
          EXPECT_TRUE(doc.contains(Json::json_pointer(ref.substr(1)))) << "dangling " << ref;
        } else {
          walk(v);
        }
      }
    } else if (j.is_array()) {
      for (const auto& v : j) walk(v);
    }
  };
  walk(doc);
}

}  // namespace
}  // namespace td::server
