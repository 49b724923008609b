#include "app/cmd_detect.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <iomanip>
#include <cstdio>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>

#include "app/cli.h"
#include "core/text.h"
#include "detect/field_map.h"
#include "detect/ingest.h"
#include "detect/rule_loader.h"

namespace td::app {
namespace {

struct IngestArgs {
  std::vector<std::string> inputs;
  std::vector<std::string> rules;
  std::string field_map;
  std::string out = "-";
  std::string statuses;
  int threads = 1;
  bool offline = false;
  bool quiet = false;
};

std::string human(double v, const char* unit) {
  static const char* kPrefix[] = {"", "k", "M", "G", "T"};
  int i = 0;
  while (v >= 1000 && i < 4) {
    v /= 1000;
    ++i;
  }
  char buf[64];
  std::snprintf(buf, sizeof buf, i ? "%.1f %s%s" : "%.0f %s%s", v, kPrefix[i], unit);
  return buf;
}

detect::EngineOptions engineOptions(const std::string& field_map, const std::string& statuses) {
  detect::EngineOptions opts;
  if (!field_map.empty()) opts.field_map = orFail(detect::loadFieldMap(field_map));
  for (auto s : core::splitTrimmed(statuses, ',')) {
    const auto st = detect::parseRuleStatus(s);
    if (st == detect::RuleStatus::kUnknown && !core::equalsIgnoreCase(s, "unknown")) {
      throw CommandFailed(core::Error{core::ErrorCode::kInvalidArgument,
                                      "unknown rule status '" + std::string(s) +
                                          "' (stable, test, experimental, deprecated, "
                                          "unsupported, unknown)",
                                      "--status"});
    }
    opts.statuses.insert(st);
  }
  return opts;
}

void printSummary(const detect::Engine& engine, const detect::IngestSummary& s) {
  std::vector<std::uint32_t> fired;
  for (std::uint32_t r = 0; r < s.per_rule.size(); ++r) {
    if (s.per_rule[r]) fired.push_back(r);
  }
  static const char* kLevels[] = {"informational", "low", "medium", "high", "critical"};
  auto rank = [&](std::uint32_t r) {
    const auto& lvl = engine.rule(r).level;
    for (int i = 0; i < 5; ++i) {
      if (lvl == kLevels[i]) return i;
    }
    return 2;
  };
  std::sort(fired.begin(), fired.end(), [&](auto a, auto b) {
    if (rank(a) != rank(b)) return rank(a) > rank(b);
    if (s.per_rule[a] != s.per_rule[b]) return s.per_rule[a] > s.per_rule[b];
    return engine.rule(a).title < engine.rule(b).title;
  });
  std::ostringstream out;
  out << "\n" << std::string(100, '-') << "\n";
  char line[512];
  std::snprintf(line, sizeof line, "%-72s %-13s %12s\n", "rule", "level", "detections");
  out << line << std::string(100, '-') << "\n";
  std::array<std::uint64_t, 5> by_level{};
  for (auto r : fired) {
    std::string title = engine.rule(r).title;
    if (title.size() > 72) title = title.substr(0, 69) + "...";
    std::snprintf(line, sizeof line, "%-72s %-13s %12llu\n", title.c_str(),
                  engine.rule(r).level.c_str(), static_cast<unsigned long long>(s.per_rule[r]));
    out << line;
    by_level[static_cast<size_t>(rank(r))] += s.per_rule[r];
  }
  out << std::string(100, '-') << "\n";
  out << "by level:";
  for (int i = 4; i >= 0; --i) out << " " << kLevels[i] << " " << by_level[static_cast<size_t>(i)];
  out << "\n";
  const double secs = std::max(s.seconds, 1e-9);
  out << "events " << s.events << " (" << s.bad_events << " bad), " << human(double(s.bytes), "B")
      << " in " << std::fixed << std::setprecision(2) << s.seconds << " s: "
      << human(double(s.events) / secs, "events/s") << ", " << human(double(s.bytes) / secs, "B/s")
      << "\n"
      << "detections " << s.detections << " from " << fired.size() << " of "
      << engine.ruleCount() << " rules\n";
  if (s.correlation_evictions) {
    out << "correlation groups evicted (memory cap): " << s.correlation_evictions << "\n";
  }
  for (const auto& b : s.bad_lines) out << "bad line " << b.line << ": " << b.reason << "\n";
  std::cerr << out.str();
}

void runIngest(const IngestArgs& a) {
  if (!a.offline) {
    throw CommandFailed(
        "sending events to a running server is not available in this build; use --offline to "
        "evaluate locally");
  }
  if (a.rules.empty()) throw CommandFailed("--offline needs at least one --rules DIR");
  const bool tty = isatty(2) && !a.quiet;
  auto loaded = orFail(detect::loadRules(a.rules, engineOptions(a.field_map, a.statuses)));
  const auto& r = loaded.report;
  if (!a.quiet) {
    std::cerr << "rules: " << r.rules_loaded << " loaded, " << r.correlations_loaded
              << " correlations, " << r.rules_refused << " refused, " << r.rules_filtered
              << " filtered by status (" << r.errorCount() << " errors, " << r.warningCount()
              << " warnings; `threatdesk rules check` shows them)\n";
  }
  std::uint64_t total = 0;
  for (const auto& in : a.inputs) {
    struct stat st {};
    if (in != "-" && in.size() > 3 && in.substr(in.size() - 3) != ".gz" &&
        ::stat(in.c_str(), &st) == 0) {
      total += static_cast<std::uint64_t>(st.st_size);
    } else {
      total = 0;
      break;
    }
  }
  detect::IngestOptions opts;
  opts.inputs = a.inputs;
  opts.out = a.out;
  opts.threads = a.threads;
  if (tty) {
    opts.progress = [total](const detect::IngestProgress& p) {
      const double rate = p.seconds > 0 ? double(p.events) / p.seconds : 0;
      if (total) {
        const double frac = std::min(1.0, double(p.bytes) / double(total));
        const int width = 30;
        const int filled = static_cast<int>(frac * width);
        std::fprintf(stderr, "\r[%s%s] %3.0f%%  %llu events  %s  %llu detections ",
                     std::string(static_cast<size_t>(filled), '#').c_str(),
                     std::string(static_cast<size_t>(width - filled), ' ').c_str(), frac * 100,
                     static_cast<unsigned long long>(p.events), human(rate, "ev/s").c_str(),
                     static_cast<unsigned long long>(p.detections));
      } else {
        std::fprintf(stderr, "\r%llu events  %s read  %s  %llu detections ",
                     static_cast<unsigned long long>(p.events), human(double(p.bytes), "B").c_str(),
                     human(rate, "ev/s").c_str(), static_cast<unsigned long long>(p.detections));
      }
      std::fflush(stderr);
    };
  }
  auto summary = orFail(detect::runOfflineIngest(loaded.engine, opts));
  if (tty) std::fprintf(stderr, "\n");
  if (!a.quiet) printSummary(*loaded.engine, summary);
}

CLI::App* rulesCommand(CLI::App& app) {
  for (auto* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_name() == "rules") return sub;
  }
  auto* rules = app.add_subcommand("rules", "Detection rules");
  rules->require_subcommand(1);
  return rules;
}

}  // namespace

void registerDetectCommands(CLI::App& app) {
  auto a = std::make_shared<IngestArgs>();
  auto* ingest = app.add_subcommand("ingest", "Evaluate events (NDJSON, plain or .gz) with rules");
  ingest->add_option("events", a->inputs, "NDJSON event files (.gz allowed) or - for stdin")
      ->required();
  ingest->add_flag("--offline", a->offline, "Evaluate locally, write detections to --out");
  ingest->add_option("--rules", a->rules, "Sigma rule folder or file (repeatable)");
  ingest->add_option("--field-map", a->field_map,
                     "windows_raw, ecs, flat or a field map YAML file (default: by event shape)");
  ingest->add_option("--out", a->out, "Detections as NDJSON (- for stdout)")->capture_default_str();
  ingest->add_option("--threads", a->threads, "Matcher threads")->capture_default_str()
      ->check(CLI::Range(1, 256));
  ingest->add_option("--status", a->statuses,
                     "Rule statuses to load, comma separated (default: all but deprecated and "
                     "unsupported)");
  ingest->add_flag("--quiet", a->quiet, "No progress, no summary");
  ingest->callback([a] { runIngest(*a); });

  auto c = std::make_shared<std::vector<std::string>>();
  auto verbose = std::make_shared<bool>(false);
  auto* check = rulesCommand(app)->add_subcommand("check", "Load rules and print the load report");
  check->add_option("paths", *c, "Rule folders or files")->required();
  check->add_flag("--warnings", *verbose, "List every warning, not only their counts");
  check->callback([c, verbose] {
    auto loaded = orFail(detect::loadRules(*c));
    std::cout << loaded.report.format(*verbose);
    if (loaded.report.errorCount() > 0) {
      throw CommandFailed(std::to_string(loaded.report.errorCount()) +
                          " errors: " + std::to_string(loaded.report.rules_refused) +
                          " rules refused");
    }
  });
}

}  // namespace td::app
