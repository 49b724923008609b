// Operations routes: health, Prometheus metrics and the OpenAPI document.
#include <cctype>

#include "server/json_codec.h"
#include "server/server.h"

namespace td::server {

std::vector<std::string> undocumentedRoutes(const Server& server) {
  std::vector<std::string> missing;
  const Json doc = Json::parse(openApiDocument(), nullptr, false);
  const Json paths = doc.is_object() ? doc.value("paths", Json::object()) : Json::object();
  for (const auto& route : server.routes()) {
    std::string method = route.method;
    for (auto& c : method) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const std::string name = route.method + " " + route.pattern;
    if (!paths.contains(route.pattern) || !paths[route.pattern].contains(method)) {
      missing.push_back(name);
      continue;
    }
    const Json& op = paths[route.pattern][method];
    for (size_t at = route.pattern.find('{'); at != std::string::npos;
         at = route.pattern.find('{', at + 1)) {
      const std::string param = route.pattern.substr(at + 1, route.pattern.find('}', at) - at - 1);
      bool declared = false;
      for (const auto& p : op.value("parameters", Json::array()))
        declared = declared || (p.value("in", "") == "path" && p.value("name", "") == param);
      if (!declared) missing.push_back(name + " (path parameter " + param + ")");
    }
  }
  return missing;
}

void addOperationsRoutes(Server& server) {
  store::Store& store = server.store();

  server.addRoute({"GET",
                   "/healthz",
                   {true},
                   [&store](RequestContext&) -> core::Result<Reply> {
                     // Answers only when the store answers: a load balancer should not send
                     // traffic to a node whose database is gone.
                     if (auto orgs = store.listOrgs(); !orgs)
                       return core::fail(core::ErrorCode::kUnavailable,
                                         "the store does not answer");
                     return Reply::json({{"status", "ok"}});
                   },
                   "Liveness and store health"});

  const Access metrics_access = server.options().public_metrics
                                    ? Access{true}
                                    : Access{false, store::Role::kReadonly, store::Scope::kRead};
  server.addRoute({"GET", "/metrics", metrics_access,
                   [&server](RequestContext&) -> core::Result<Reply> {
                     Reply r;
                     r.text = server.metricsText();
                     r.content_type = "text/plain; version=0.0.4; charset=utf-8";
                     return r;
                   },
                   "Prometheus metrics"});

  server.addRoute({"GET",
                   "/api/v1/openapi.json",
                   {true},
                   [](RequestContext&) -> core::Result<Reply> {
                     Reply r;
                     r.text = std::string(openApiDocument());
                     return r;
                   },
                   "This API's OpenAPI 3 document"});
}

}  // namespace td::server
