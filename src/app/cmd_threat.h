// `threatdesk threat create` and `threatdesk export`: threats from the command line.
#pragma once

#include <CLI/CLI.hpp>

namespace td::app {

void registerThreatCommands(CLI::App& app);

}  // namespace td::app
