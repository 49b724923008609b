// The vulnerability management routes (assets, SBOM uploads and history, findings, advisories),
// added to a Server before start() by whoever owns the VulnService (cmd_serve, tests).
#pragma once

#include "server/server.h"
#include "server/vuln_service.h"

namespace td::server {

// `vuln` must outlive the server.
void addVulnRoutes(Server& server, VulnService& vuln);

}  // namespace td::server
