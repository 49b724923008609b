// POST /api/v1/ingest: events (NDJSON or a JSON array, gzip accepted) into the live pipeline of
// `threatdesk serve`. Needs an API token with the ingest scope (or a user with the operator
// role); the events belong to the token's project (a user picks one with ?project=). The answer
// counts accepted and rejected events and lists the first rejected lines with their reasons.
// Added before Server::start(), like every module's routes.
#pragma once

#include "server/ingest_pipeline.h"
#include "server/server.h"

namespace td::server {

void addIngestRoutes(Server& server, IngestPipeline& pipeline);

}  // namespace td::server
