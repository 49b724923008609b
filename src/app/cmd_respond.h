// The responses commands of `threatdesk`: `response list|add|show|update|delete|deliveries|
// replay|test|preview|presets`, on the store named by --store.
#pragma once

#include <CLI/CLI.hpp>

namespace td::app {

void registerRespondCommands(CLI::App& app);

}  // namespace td::app
