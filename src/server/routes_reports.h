// The report routes: templates, CRUD of versioned report definitions, validation (for the UI's
// JSON editor), rendering (stored reports, templates and unsaved previews as PDF, PNG, SVG, HTML
// or CSV), schedules and their runs. Added to a Server before start() (cmd_serve, tests).
#pragma once

#include "server/server.h"

namespace td::server {

void addReportRoutes(Server& server);

}  // namespace td::server
