// `threatdesk serve`: the HTTP API and web UI over one store, until SIGTERM or SIGINT.
#pragma once

#include <CLI/CLI.hpp>

namespace td::app {

void registerServeCommand(CLI::App& app);

}  // namespace td::app
