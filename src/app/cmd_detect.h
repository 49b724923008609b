// The detection commands of `threatdesk`: `ingest --offline` (hunt over a log dump with Sigma
// rules, detections out as NDJSON) and `rules check` (the load report of a rule folder).
#pragma once

#include <CLI/CLI.hpp>

namespace td::app {

// Adds `ingest` and `rules check` to the command line.
void registerDetectCommands(CLI::App& app);

}  // namespace td::app
