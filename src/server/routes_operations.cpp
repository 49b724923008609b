// Operations routes: health, Prometheus metrics and the OpenAPI document.
#include "server/json_codec.h"
#include "server/server.h"

namespace td::server {

void addOperationsRoutes(Server& server) {
  store::Store& store = server.store();

  server.addRoute({"GET", "/healthz", {true},
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

  server.addRoute({"GET", "/api/v1/openapi.json", {true},
                   [](RequestContext&) -> core::Result<Reply> {
                     Reply r;
                     r.text = std::string(openApiDocument());
                     return r;
                   },
                   "This API's OpenAPI 3 document"});
}

}  // namespace td::server
