// Loading rule sets from disk: every .yml/.yaml file under the given folders (or the files
// themselves), parsed and compiled into an Engine, with a LoadReport that lists every problem of
// every rule. A bad rule is refused and reported; it never stops the others from loading.
// Stateless functions; safe to call from any thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "detect/diagnostics.h"
#include "detect/engine.h"
#include "detect/sigma_rule.h"

namespace td::detect {

constexpr size_t kMaxRuleFileBytes = 1 << 20;

// Parses every rule file under `paths` (folders are walked recursively, in sorted order).
std::vector<SigmaRule> readRules(const std::vector<std::string>& paths, LoadReport& report);

struct LoadedRules {
  std::shared_ptr<const Engine> engine;
  LoadReport report;
};

// readRules + Engine::build. Fails only when a path does not exist or nothing can be built.
core::Result<LoadedRules> loadRules(const std::vector<std::string>& paths,
                                    const EngineOptions& options = {});

}  // namespace td::detect
