// A stand-alone driver for the detection commands (same code as `threatdesk ingest` and
// `threatdesk rules check`), so they can be run without the server and store modules.
#include <CLI/CLI.hpp>

#include <iostream>

#include "app/cli.h"
#include "app/cmd_detect.h"

namespace td::app {
// The one piece of app/cli.cpp the detect commands use (cli.cpp itself needs the store).
CommandFailed::CommandFailed(const core::Error& error)
    : std::runtime_error(error.field.empty() ? error.message
                                             : error.field + ": " + error.message) {}
}  // namespace td::app

int main(int argc, char** argv) {
  CLI::App app{"ThreatDesk detection commands", "td_detect_cli"};
  app.require_subcommand(1);
  td::app::registerDetectCommands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const td::app::CommandFailed& e) {
    std::cerr << "td_detect_cli: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "td_detect_cli: unexpected error: " << e.what() << "\n";
    return 3;
  }
  return 0;
}
