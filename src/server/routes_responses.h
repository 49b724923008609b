// The responses routes: CRUD of responses, presets, preview and test sends, deliveries (with
// failed ones and replay), per-user group subscriptions and notifications, and per-state
// automations. Added by `threatdesk serve` (and tests) with the dispatcher they talk to; kept out
// of server.h so that the server builds without the respond module.
#pragma once

#include "respond/dispatcher.h"
#include "server/server.h"

namespace td::server {

void addResponseRoutes(Server& server, respond::Dispatcher& dispatcher);

}  // namespace td::server
