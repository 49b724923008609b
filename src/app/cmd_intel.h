// `threatdesk intel check` and `threatdesk intel match`: threat-intelligence feeds from the
// command line, without a server or a store.
#pragma once

#include <CLI/CLI.hpp>

#include <memory>
#include <string>
#include <vector>

#include "intel/matcher.h"

namespace td::app {

void registerIntelCommands(CLI::App& app);

// Feeds from files matched offline, for commands beside `intel match` (`threatdesk ingest
// --offline --intel FILE…`): the options they take and the matcher they load.
struct OfflineIntelOptions {
  std::vector<std::string> files;  // --intel
  std::string format = "auto", column, type, warninglists, fields, allow;
  bool ignore_validity = false;
};
// --intel FILE (repeatable), --intel-format, --intel-column, --intel-type, --warninglists,
// --intel-fields, --intel-allow, --intel-ignore-validity.
void addOfflineIntelOptions(CLI::App* command, OfflineIntelOptions& options);

struct OfflineIntel {
  std::shared_ptr<intel::LiveIndex> index;
  std::shared_ptr<intel::Matcher> matcher;
  size_t indicators = 0;
  size_t memory_bytes = 0;
  double load_seconds = 0;
};
// Loads every feed (a malformed one ends the command naming file and position); with `report`,
// one line per feed and a total on standard error.
OfflineIntel loadOfflineIntel(const OfflineIntelOptions& options, bool report);

}  // namespace td::app
