// `threatdesk intel check` and `threatdesk intel match`: threat-intelligence feeds from the
// command line, without a server or a store.
#pragma once

#include <CLI/CLI.hpp>

namespace td::app {

void registerIntelCommands(CLI::App& app);

}  // namespace td::app
