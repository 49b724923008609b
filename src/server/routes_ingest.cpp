#include "server/routes_ingest.h"

#include <httplib.h>

namespace td::server {

using core::fail;
using store::Role;
using store::Scope;

void addIngestRoutes(Server& server, IngestPipeline& pipeline) {
  RouteSpec route{"POST", "/api/v1/ingest", Access{false, Role::kOperator, Scope::kIngest, true},
                  [&pipeline](RequestContext& ctx) -> core::Result<Reply> {
                    auto result = pipeline.ingest(ctx.request().body, ctx.project().id);
                    if (!result) return fail(result.error());
                    Json errors = Json::array();
                    for (const auto& r : result->rejects)
                      errors.push_back({{"line", r.line}, {"reason", r.reason}});
                    return Reply::json({{"accepted", result->accepted},
                                        {"rejected", result->rejected},
                                        {"errors", errors},
                                        {"project", ctx.project().name}});
                  },
                  "Send events (NDJSON or a JSON array; gzip accepted) to the live pipeline"};
  route.accepts_gzip = true;
  server.addRoute(std::move(route));
}

}  // namespace td::server
