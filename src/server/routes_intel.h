// Threat-intelligence routes: an organisation's feeds (CRUD), imports from the feed's source or
// an uploaded file with the import report, the import history, a feed's indicators, and the
// indicator search the UI uses. The organisation is the selected project's.
#pragma once

#include "intel/sync/feed_service.h"
#include "server/server.h"

namespace td::server {

// Adds the /api/v1/intel/... routes; `feeds` must outlive the server.
void addIntelRoutes(Server& server, intel::sync::FeedService& feeds);

}  // namespace td::server
