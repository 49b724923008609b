// The detection routes: rule management (/api/v1/rule-groups, /api/v1/rules, rules/test, rules/reload). Added by
// `threatdesk serve` (and tests) before Server::start(), because they need the pipeline and the
// rule service that serve builds.
//
// Who may do what: reading rules needs any user role or a token with the read scope; changing
// rules, groups and their global actions needs the manager role in a top-level organisation
// (rules are shared by every project of the installation); a project's own action for a rule or
// group needs the manager role and sight of that project. (POST /api/v1/ingest: routes_ingest.h.)
#pragma once

#include "server/rule_service.h"
#include "server/server.h"

namespace td::server {

void addRuleRoutes(Server& server, RuleService& rules);

}  // namespace td::server
