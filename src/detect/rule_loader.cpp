#include "detect/rule_loader.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace td::detect {
namespace fs = std::filesystem;
namespace {

bool isRuleFile(const fs::path& p) {
  const auto ext = p.extension().string();
  return ext == ".yml" || ext == ".yaml";
}

void readFile(const fs::path& p, std::vector<SigmaRule>& out, LoadReport& report) {
  ++report.files;
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  if (ec) {
    report.add({DiagnosticLevel::kError, code::kIo, ec.message(), p.string(), 0, 0, "", ""});
    ++report.rules_refused;
    return;
  }
  if (size > kMaxRuleFileBytes) {
    report.add({DiagnosticLevel::kError, code::kTooLarge, "rule file larger than 1 MiB",
                p.string(), 0, 0, "", ""});
    ++report.rules_refused;
    return;
  }
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  if (!in && !in.eof()) {
    report.add({DiagnosticLevel::kError, code::kIo, "cannot read file", p.string(), 0, 0, "", ""});
    ++report.rules_refused;
    return;
  }
  auto rules = parseSigmaYaml(ss.str(), p.string(), report);
  for (auto& r : rules) out.push_back(std::move(r));
}

}  // namespace

std::vector<SigmaRule> readRules(const std::vector<std::string>& paths, LoadReport& report) {
  std::vector<SigmaRule> rules;
  for (const auto& path : paths) {
    std::error_code ec;
    const fs::path root(path);
    if (fs::is_regular_file(root, ec)) {
      readFile(root, rules, report);
      continue;
    }
    if (!fs::is_directory(root, ec)) {
      report.add({DiagnosticLevel::kError, code::kIo, "no such file or folder", path, 0, 0, "",
                  ""});
      continue;
    }
    std::vector<fs::path> files;
    for (fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied,
                                             ec),
         end;
         !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file(ec) && isRuleFile(it->path())) files.push_back(it->path());
    }
    if (ec) {
      report.add({DiagnosticLevel::kError, code::kIo, ec.message(), path, 0, 0, "", ""});
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) readFile(f, rules, report);
  }
  return rules;
}

core::Result<LoadedRules> loadRules(const std::vector<std::string>& paths,
                                    const EngineOptions& options) {
  LoadedRules out;
  for (const auto& p : paths) {
    std::error_code ec;
    if (!fs::exists(p, ec)) {
      return core::fail(core::ErrorCode::kNotFound, "no such file or folder: " + p, "--rules");
    }
  }
  auto rules = readRules(paths, out.report);
  auto engine = Engine::build(std::move(rules), options, out.report);
  if (!engine) return core::fail(engine.error());
  out.engine = std::move(*engine);
  return out;
}

}  // namespace td::detect
