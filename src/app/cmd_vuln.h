// `threatdesk sbom scan` and `threatdesk advisories check`: the vulnerability engine offline,
// against a local directory, file or zip archive of OSV advisories.
#pragma once

#include <CLI/CLI.hpp>

namespace td::app {

void registerVulnCommands(CLI::App& app);

}  // namespace td::app
