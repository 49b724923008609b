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
  const Json& paths = a.json["paths"];
  ASSERT_TRUE(paths.is_object());

  std::set<std::pair<std::string, std::string>> registered;
  for (const auto& route : server_->routes()) {
    registered.insert({route.pattern, lower(route.method)});
    ASSERT_TRUE(paths.contains(route.pattern))
        << route.method << " " << route.pattern << " is missing from src/server/openapi.json";
    EXPECT_TRUE(paths[route.pattern].contains(lower(route.method)))
        << route.method << " " << route.pattern << " is missing from src/server/openapi.json";
    // Every path parameter of the route is declared.
    const Json& op = paths[route.pattern][lower(route.method)];
    for (size_t at = route.pattern.find('{'); at != std::string::npos;
         at = route.pattern.find('{', at + 1)) {
      const std::string name =
          route.pattern.substr(at + 1, route.pattern.find('}', at) - at - 1);
      bool declared = false;
      for (const auto& p : op.value("parameters", Json::array()))
        declared = declared || (p["in"] == "path" && p["name"] == name);
      EXPECT_TRUE(declared) << route.method << " " << route.pattern << " lacks parameter " << name;
    }
  }
  for (const auto& [path, ops] : paths.items())
    for (const auto& [method, op] : ops.items())
      EXPECT_TRUE(registered.count({path, method}))
          << method << " " << path << " is documented but no route serves it";
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
