// The report commands of `threatdesk`: render a stored report, a shipped template or a report
// file (PDF, PNG, SVG, HTML, CSV); check a report document; list templates; save reports (each
// save a new version); list them; add and list schedules and their runs.
#pragma once

#include <CLI/CLI.hpp>

namespace td::app {

void registerReportCommands(CLI::App& app);

}  // namespace td::app
