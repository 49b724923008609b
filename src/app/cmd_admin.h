// `threatdesk org|project|user|token …`: the operator's commands for tenants and credentials.
#pragma once

#include <CLI/CLI.hpp>

namespace td::app {

void registerAdminCommands(CLI::App& app);

}  // namespace td::app
