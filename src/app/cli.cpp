#include "app/cli.h"

#include <iostream>

namespace td::app {

CommandFailed::CommandFailed(const core::Error& error)
    : std::runtime_error(error.field.empty() ? error.message
                                             : error.field + ": " + error.message) {}

std::unique_ptr<store::Store> openStoreOrFail(const std::string& url) {
  return orFail(store::openStore(url));
}

void addStoreOption(CLI::App* command, std::string& url) {
  command->add_option("--store", url, "Store URL: sqlite:PATH or postgresql://user@host/db")
      ->capture_default_str();
}

std::string readSecretLine() {
  std::string line;
  if (!std::getline(std::cin, line)) throw CommandFailed("expected a line on standard input");
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}

}  // namespace td::app
