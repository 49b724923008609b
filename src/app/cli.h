// Shared plumbing of the `threatdesk` subcommands: opening the store named by --store, turning a
// core::Error into the one-line message and non-zero exit the CLI promises, and reading secrets
// from standard input.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>

#include <CLI/CLI.hpp>

#include "core/error.h"
#include "store/store.h"

namespace td::app {

inline constexpr const char* kDefaultStore = "sqlite:var/threatdesk.db";

// Thrown by a subcommand to end the program with a one-line message and exit status 2; caught in
// main(), never crosses a module boundary.
class CommandFailed : public std::runtime_error {
 public:
  explicit CommandFailed(const core::Error& error);
  explicit CommandFailed(const std::string& message) : std::runtime_error(message) {}
};

// Unwraps a Result or ends the command with its error.
template <typename T>
T orFail(core::Result<T> result) {
  if (!result) throw CommandFailed(result.error());
  if constexpr (!std::is_void_v<T>) return std::move(*result);
}

std::unique_ptr<store::Store> openStoreOrFail(const std::string& url);
// Adds `--store URL` to a subcommand.
void addStoreOption(CLI::App* command, std::string& url);
// One line from standard input without its line ending (for --password-stdin).
std::string readSecretLine();

}  // namespace td::app
