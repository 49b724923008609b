// The `threatdesk` command: the server and the operator's tools in one binary.
#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "app/cli.h"
#include "app/cmd_admin.h"
#include "app/cmd_serve.h"
#include "app/cmd_threat.h"
// Engine commands join as their modules land (src/app/CMakeLists.txt defines TD_WITH_*).
#ifdef TD_WITH_DETECT
#include "app/cmd_detect.h"
#endif
#ifdef TD_WITH_INTEL
#include "app/cmd_intel.h"
#endif
#ifdef TD_WITH_VULN
#include "app/cmd_vuln.h"
#endif
#ifdef TD_WITH_REPORT
#include "app/cmd_report.h"
#endif
#ifdef TD_WITH_RESPOND
#include "app/cmd_respond.h"
#endif

int main(int argc, char** argv) {
  // Logs go to stderr, one line per event, UTC timestamps and a level key, so that stdout stays
  // for what a command prints (a token, an id) and log shippers can split fields.
  auto logger = spdlog::stderr_logger_mt("threatdesk");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
  spdlog::set_default_logger(logger);
  CLI::App app{"ThreatDesk: detections, intel and vulnerabilities in, one queue of threats out.",
               "threatdesk"};
  app.set_version_flag("--version", "threatdesk 0.1.0");
  app.require_subcommand(1);
  app.fallthrough(false);
  // One line on a usage error, as every failure of the CLI.
  app.failure_message([](const CLI::App*, const CLI::Error& e) {
    return std::string("threatdesk: ") + e.what() + " (see --help)\n";
  });
  td::app::registerServeCommand(app);
  td::app::registerThreatCommands(app);
  td::app::registerAdminCommands(app);
#ifdef TD_WITH_DETECT
  td::app::registerDetectCommands(app);
#endif
#ifdef TD_WITH_INTEL
  td::app::registerIntelCommands(app);
#endif
#ifdef TD_WITH_VULN
  td::app::registerVulnCommands(app);
#endif
#ifdef TD_WITH_REPORT
  td::app::registerReportCommands(app);
#endif
#ifdef TD_WITH_RESPOND
  td::app::registerRespondCommands(app);
#endif
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const td::app::CommandFailed& e) {
    std::cerr << "threatdesk: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "threatdesk: unexpected error: " << e.what() << "\n";
    return 3;
  }
  return 0;
}
