#include "app/cmd_detect.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
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
#ifdef TD_WITH_INTEL
#include <map>
#include <mutex>

#include "app/cmd_intel.h"
#endif
#ifdef TD_WITH_RULES
#include <httplib.h>
#include <zlib.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "detect/rule_action.h"
#include "server/rule_service.h"
#endif

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
  std::string url = "http://127.0.0.1:8080";
  std::string token;  // default: $THREATDESK_TOKEN
  bool gzip = false;
  size_t batch_bytes = 4 << 20;
#ifdef TD_WITH_INTEL
  OfflineIntelOptions intel;
#endif
};

// A line of the summary table that is not a Sigma rule (an indicator that matched).
struct ExtraRow {
  std::string title, level;
  std::uint64_t count = 0;
};

#ifdef TD_WITH_INTEL
// The intel matcher as a stage of the offline ingest: one JSON object per match (the indicator
// with its type, value and id in its feed, the field, the matched value, the line and the event).
// Counts per indicator are kept per worker and merged when the worker ends.
struct IntelTally {
  std::mutex mutex;
  std::map<std::pair<std::string, std::string>, std::uint64_t> per_indicator;  // (type:value, level)
};

class IntelIngestStage : public detect::IngestStage {
 public:
  IntelIngestStage(std::shared_ptr<intel::Matcher> matcher, IntelTally& tally)
      : matcher_(std::move(matcher)), tally_(tally) {}
  ~IntelIngestStage() override {
    std::lock_guard<std::mutex> lock(tally_.mutex);
    for (auto& [k, n] : counts_) tally_.per_indicator[k] += n;
  }

  long event(std::string_view line, bool /*padded*/, std::uint64_t line_no, std::string& out,
             std::vector<core::Detection>* detections) noexcept override {
    found_.clear();
    if (!matcher_->match(line, found_)) return -1;
    try {
      for (const auto& m : found_) {
        std::string json = intel::matchJson(m, line);
        json.pop_back();  // reopen to add the line number, as the Sigma lines have it
        json += ",\"line\":";
        json += std::to_string(line_no);
        json += "}\n";
        out += json;
        // The summary's row: the indicator and the severity its confidence gives.
        const intel::Index& ix = *m.index;
        const int confidence = ix.confidence(m.indicator);
        std::string level(core::severityName(core::severityForScore(
            std::clamp(confidence < 0 ? 50 : confidence, core::kMinScore, core::kMaxScore))));
        for (auto& c : level) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        ++counts_[{std::string(intel::indicatorTypeName(ix.type(m.indicator))) + ":" +
                       ix.value(m.indicator),
                   std::move(level)}];
        if (detections) detections->push_back(matcher_->toDetection(m, line));
      }
    } catch (...) {
      // Out of memory while formatting: the matches of this event are lost, the run goes on.
    }
    return static_cast<long>(found_.size());
  }

 private:
  std::shared_ptr<intel::Matcher> matcher_;
  IntelTally& tally_;
  std::vector<intel::Match> found_;
  std::map<std::pair<std::string, std::string>, std::uint64_t> counts_;
};
#endif

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

// CPU seconds (user + system) of the whole process so far.
double processCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return double(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         double(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void printSummary(const detect::Engine& engine, const detect::IngestSummary& s,
                  std::vector<ExtraRow> extra = {}, bool sigma = true, double cpu_seconds = 0) {
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
  std::sort(extra.begin(), extra.end(), [](const ExtraRow& a, const ExtraRow& b) {
    return a.count != b.count ? a.count > b.count : a.title < b.title;
  });
  constexpr size_t kMaxExtraRows = 50;
  std::uint64_t extra_total = 0;
  for (size_t i = 0; i < extra.size(); ++i) {
    extra_total += extra[i].count;
    if (i >= kMaxExtraRows) continue;
    std::string title = extra[i].title;
    if (title.size() > 72) title = title.substr(0, 69) + "...";
    std::snprintf(line, sizeof line, "%-72s %-13s %12llu\n", title.c_str(), extra[i].level.c_str(),
                  static_cast<unsigned long long>(extra[i].count));
    out << line;
  }
  if (extra.size() > kMaxExtraRows) {
    out << "(" << extra.size() - kMaxExtraRows << " more indicators matched; see --out)\n";
  }
  out << std::string(100, '-') << "\n";
  out << "by level:";
  for (int i = 4; i >= 0; --i) out << " " << kLevels[i] << " " << by_level[static_cast<size_t>(i)];
  out << "\n";
  const double secs = std::max(s.seconds, 1e-9);
  out << "events " << s.events << " (" << s.bad_events << " bad), " << human(double(s.bytes), "B")
      << " in " << std::fixed << std::setprecision(2) << s.seconds << " s: "
      << human(double(s.events) / secs, "events/s") << ", " << human(double(s.bytes) / secs, "B/s")
      << "\n";
  if (cpu_seconds > 0) {
    // The rates per CPU second: what a busy machine does not distort.
    out << "cpu " << std::setprecision(2) << cpu_seconds << " s: "
        << human(double(s.events) / cpu_seconds, "events/s") << ", "
        << human(double(s.bytes) / cpu_seconds, "B/s") << " per CPU second\n";
  }
  if (sigma) {
    out << "detections " << s.detections << " from " << fired.size() << " of "
        << engine.ruleCount() << " rules\n";
  }
  if (!s.per_stage.empty()) {
    out << "intel matches " << extra_total << " of " << extra.size() << " indicators\n";
  }
  if (s.correlation_evictions) {
    out << "correlation groups evicted (memory cap): " << s.correlation_evictions << "\n";
  }
  for (const auto& b : s.bad_lines) out << "bad line " << b.line << ": " << b.reason << "\n";
  std::cerr << out.str();
}


#ifdef TD_WITH_RULES
// --- sending events to a running server ----------------------------------------------------------

std::string gzipBytes(const std::string& in) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, static_cast<uLong>(in.size())) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

struct SendTotals {
  std::uint64_t lines = 0, accepted = 0, rejected = 0, bytes = 0;
  std::vector<std::pair<std::uint64_t, std::string>> rejects;  // global line, reason
};

// POSTs one batch; `first_line` is the global number of the batch's first line.
void sendBatch(httplib::Client& client, const IngestArgs& a, const std::string& token,
               const std::string& body, std::uint64_t first_line, SendTotals& t) {
  httplib::Headers h{{"Authorization", "Bearer " + token}};
  if (a.gzip) h.emplace("Content-Encoding", "gzip");
  auto r = client.Post("/api/v1/ingest", h, a.gzip ? gzipBytes(body) : body,
                       "application/x-ndjson");
  if (!r)
    throw CommandFailed(core::Error{core::ErrorCode::kUnavailable,
                                    "no answer from " + a.url + " (" +
                                        httplib::to_string(r.error()) + ")",
                                    "--url"});
  auto j = nlohmann::json::parse(r->body, nullptr, false);
  if (r->status != 200) {
    std::string msg = "the server answered " + std::to_string(r->status);
    if (j.is_object() && j.contains("error") && j["error"].is_object())
      msg += ": " + j["error"].value("message", "");
    throw CommandFailed(core::Error{core::ErrorCode::kUnavailable, msg,
                                    "line " + std::to_string(first_line)});
  }
  t.accepted += j.value("accepted", 0ull);
  t.rejected += j.value("rejected", 0ull);
  if (j.contains("errors") && j["errors"].is_array())
    for (const auto& e : j["errors"])
      if (t.rejects.size() < 100)
        t.rejects.emplace_back(first_line + e.value("line", 1ull) - 1, e.value("reason", ""));
}

void runIngestOnline(const IngestArgs& a) {
  std::string token = a.token;
  if (token.empty())
    if (const char* env = std::getenv("THREATDESK_TOKEN")) token = env;
  if (token.empty())
    throw CommandFailed(core::Error{core::ErrorCode::kInvalidArgument,
                                    "an API token with the ingest scope is needed: --token or "
                                    "$THREATDESK_TOKEN (`threatdesk token create --scopes ingest`)",
                                    "--token"});
  httplib::Client client(a.url);
  if (!client.is_valid())
    throw CommandFailed(core::Error{core::ErrorCode::kInvalidArgument,
                                    "expected a URL such as http://127.0.0.1:8080", "--url"});
  client.set_read_timeout(120, 0);
  client.set_write_timeout(120, 0);
  const bool tty = isatty(2) && !a.quiet;
  SendTotals t;
  const auto started = std::chrono::steady_clock::now();
  auto last_progress = started;
  std::string batch;
  std::uint64_t batch_first = 1;
  for (const auto& in : a.inputs) {
    gzFile f = in == "-" ? gzdopen(dup(0), "rb") : gzopen(in.c_str(), "rb");
    if (!f)
      throw CommandFailed(core::Error{core::ErrorCode::kNotFound, "cannot open", in});
    std::string pending;
    char buf[1 << 16];
    bool eof = false;
    while (!eof) {
      const int n = gzread(f, buf, sizeof buf);
      if (n < 0) {
        gzclose(f);
        throw CommandFailed(core::Error{core::ErrorCode::kInvalidArgument,
                                        "cannot read (corrupt gzip?)", in});
      }
      if (n == 0) {
        eof = true;
        if (!pending.empty() && pending.back() != '\n') pending.push_back('\n');
      } else {
        pending.append(buf, static_cast<size_t>(n));
        t.bytes += static_cast<std::uint64_t>(n);
      }
      size_t start = 0;
      while (true) {
        const size_t nl = pending.find('\n', start);
        if (nl == std::string::npos) break;
        batch.append(pending, start, nl - start + 1);
        ++t.lines;
        start = nl + 1;
        if (batch.size() >= a.batch_bytes) {
          sendBatch(client, a, token, batch, batch_first, t);
          batch.clear();
          batch_first = t.lines + 1;
        }
      }
      pending.erase(0, start);
      const auto now = std::chrono::steady_clock::now();
      if (tty && now - last_progress > std::chrono::milliseconds(250)) {
        last_progress = now;
        const double secs = std::chrono::duration<double>(now - started).count();
        std::fprintf(stderr, "\r%llu lines read  %s  %llu accepted  %llu rejected  %s ",
                     static_cast<unsigned long long>(t.lines), human(double(t.bytes), "B").c_str(),
                     static_cast<unsigned long long>(t.accepted),
                     static_cast<unsigned long long>(t.rejected),
                     human(secs > 0 ? double(t.lines) / secs : 0, "lines/s").c_str());
        std::fflush(stderr);
      }
    }
    gzclose(f);
  }
  if (!batch.empty()) sendBatch(client, a, token, batch, batch_first, t);
  if (tty) std::fprintf(stderr, "\n");
  if (a.quiet) return;
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::ostringstream out;
  out << "sent " << t.lines << " lines (" << human(double(t.bytes), "B") << ") to " << a.url
      << " in " << std::fixed << std::setprecision(2) << secs << " s: " << t.accepted
      << " accepted, " << t.rejected << " rejected\n";
  for (const auto& [line, reason] : t.rejects) out << "rejected line " << line << ": " << reason << "\n";
  if (t.rejected > t.rejects.size())
    out << "(" << t.rejected - t.rejects.size() << " more rejected lines not listed)\n";
  std::cerr << out.str();
}
#endif

void runIngest(const IngestArgs& a) {
  if (!a.offline) {
#ifdef TD_WITH_INTEL
    if (!a.intel.files.empty())
      throw CommandFailed(core::Error{core::ErrorCode::kInvalidArgument,
                                      "--intel is for --offline; a server uses its stored feeds",
                                      "--intel"});
#endif
#ifdef TD_WITH_RULES
    if (!a.rules.empty())
      throw CommandFailed(core::Error{core::ErrorCode::kInvalidArgument,
                                      "--rules is for --offline; a server uses its stored rules",
                                      "--rules"});
    runIngestOnline(a);
    return;
#else
    throw CommandFailed(
        "sending events to a running server is not available in this build; use --offline to "
        "evaluate locally");
#endif
  }
  bool with_intel = false;
#ifdef TD_WITH_INTEL
  with_intel = !a.intel.files.empty();
#endif
  if (a.rules.empty() && !with_intel) {
#ifdef TD_WITH_INTEL
    throw CommandFailed("--offline needs --rules DIR, --intel FILE or both");
#else
    throw CommandFailed("--offline needs at least one --rules DIR");
#endif
  }
  const bool tty = isatty(2) && !a.quiet;
  detect::LoadedRules loaded;
  if (a.rules.empty()) {
    loaded.engine = orFail(detect::Engine::build({}, engineOptions(a.field_map, a.statuses),
                                                 loaded.report));
  } else {
    loaded = orFail(detect::loadRules(a.rules, engineOptions(a.field_map, a.statuses)));
  }
  const auto& r = loaded.report;
  if (!a.quiet && !a.rules.empty()) {
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
  std::vector<ExtraRow> extra;
#ifdef TD_WITH_INTEL
  auto tally = std::make_shared<IntelTally>();
  if (with_intel) {
    OfflineIntel intel = loadOfflineIntel(a.intel, !a.quiet);
    opts.stages.push_back([m = intel.matcher, tally]() -> std::unique_ptr<detect::IngestStage> {
      return std::make_unique<IntelIngestStage>(m, *tally);
    });
  }
#endif
  const double cpu_before = processCpuSeconds();
  auto summary = orFail(detect::runOfflineIngest(loaded.engine, opts));
  const double cpu = processCpuSeconds() - cpu_before;
  if (tty) std::fprintf(stderr, "\n");
#ifdef TD_WITH_INTEL
  for (auto& [key, n] : tally->per_indicator) {
    extra.push_back({"Threat intelligence: " + key.first, key.second, n});
  }
#endif
  if (!a.quiet) printSummary(*loaded.engine, summary, std::move(extra), !a.rules.empty(), cpu);
}

CLI::App* rulesCommand(CLI::App& app) {
  for (auto* sub : app.get_subcommands([](CLI::App*) { return true; })) {
    if (sub->get_name() == "rules") return sub;
  }
  auto* rules = app.add_subcommand("rules", "Detection rules");
  rules->require_subcommand(1);
  return rules;
}


#ifdef TD_WITH_RULES
// --- rules in the store ------------------------------------------------------------------------

std::string readFileOrFail(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw CommandFailed(core::Error{core::ErrorCode::kNotFound, "cannot read", path});
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

store::RuleGroup groupOrFail(store::RuleStore& rules, const std::string& name) {
  auto g = rules.findGroup(name);
  if (!g) throw CommandFailed(core::Error{g.error().code, g.error().message, "--group"});
  return *g;
}

void registerRuleStoreCommands(CLI::App* rules) {
  struct Opts {
    std::string store = kDefaultStore;
    std::string path;
    std::string group;
    std::string text;
    std::string project;
    std::string action;
    std::int64_t id = 0;
    int limit = 100;
    bool warnings = false;
    bool disabled = false;
  };

  {
    auto o = std::make_shared<Opts>();
    auto* cmd = rules->add_subcommand(
        "install", "Install a rule pack (SigmaHQ repository folder or release .zip) as Managed Rules");
    addStoreOption(cmd, o->store);
    cmd->add_option("pack", o->path, "Folder or .zip of Sigma rules")->required();
    cmd->add_option("--group", o->group, "Managed group to install into")
        ->default_str(server::kManagedGroup);
    cmd->add_flag("--warnings", o->warnings, "List every warning, not only their counts");
    cmd->callback([o] {
      auto store = openStoreOrFail(o->store);
      auto done = orFail(server::installRulePack(store->rules(), o->path,
                                                 o->group.empty() ? server::kManagedGroup : o->group));
      std::cout << done.report.format(o->warnings);
      std::cout << done.group.name << ": " << done.stored << " rules stored ("
                << done.stored_disabled << " disabled: deprecated or unsupported); "
                << done.counts.added << " added, " << done.counts.updated << " updated, "
                << done.counts.unchanged << " unchanged, " << done.counts.removed << " removed\n"
                << "A running server picks the change up within seconds.\n";
    });
  }
  {
    auto o = std::make_shared<Opts>();
    auto* cmd = rules->add_subcommand("groups", "List rule groups with rule and hit counts");
    addStoreOption(cmd, o->store);
    cmd->callback([o] {
      auto store = openStoreOrFail(o->store);
      auto groups = orFail(store->rules().listGroups());
      std::printf("%-6s %-28s %-8s %-8s %8s %8s %10s\n", "id", "name", "kind", "enabled", "rules",
                  "on", "hits");
      for (const auto& g : groups)
        std::printf("%-6lld %-28s %-8s %-8s %8lld %8lld %10lld\n", static_cast<long long>(g.id),
                    g.name.substr(0, 28).c_str(),
                    std::string(store::ruleGroupKindName(g.kind)).c_str(),
                    g.enabled ? "yes" : "no", static_cast<long long>(g.rule_count),
                    static_cast<long long>(g.enabled_rules), static_cast<long long>(g.hits));
    });
  }
  {
    auto o = std::make_shared<Opts>();
    auto* cmd = rules->add_subcommand("list", "List rules with their state and hit counts");
    addStoreOption(cmd, o->store);
    cmd->add_option("--group", o->group, "Only this group");
    cmd->add_option("--text", o->text, "Only rules whose title or id contains this");
    cmd->add_option("--limit", o->limit, "At most this many")->capture_default_str()
        ->check(CLI::Range(1, 1000));
    cmd->callback([o] {
      auto store = openStoreOrFail(o->store);
      store::RuleFilter f;
      if (!o->group.empty()) f.group_id = groupOrFail(store->rules(), o->group).id;
      f.text = o->text;
      f.limit = o->limit;
      auto page = orFail(store->rules().listRules(f));
      std::printf("%-7s %-16s %-4s %-13s %8s  %s\n", "id", "group", "on", "level", "hits", "title");
      for (const auto& r : page.items)
        std::printf("%-7lld %-16s %-4s %-13s %8lld  %s\n", static_cast<long long>(r.id),
                    r.group.substr(0, 16).c_str(), r.enabled && r.group_enabled ? "yes" : "no",
                    r.level.c_str(), static_cast<long long>(r.hits), r.title.c_str());
      std::printf("%lld of %lld rules\n", static_cast<long long>(page.items.size()),
                  static_cast<long long>(page.total));
    });
  }
  {
    auto o = std::make_shared<Opts>();
    auto* cmd = rules->add_subcommand("add", "Add a custom rule from a YAML file");
    addStoreOption(cmd, o->store);
    cmd->add_option("file", o->path, "Sigma rule or entity rule (YAML)")->required();
    cmd->add_option("--group", o->group, "Custom group")->default_str(server::kCustomGroup);
    cmd->add_option("--action", o->action, "Action as JSON, e.g. {\"type\":\"create_signal\"}");
    cmd->add_flag("--disabled", o->disabled, "Store the rule disabled");
    cmd->callback([o] {
      auto store = openStoreOrFail(o->store);
      std::string action;
      if (!o->action.empty()) {
        auto a = detect::parseRuleAction(o->action, "--action");
        if (!a) throw CommandFailed(a.error());
        action = detect::encodeRuleAction(*a);
      }
      detect::RuleCheck check;
      auto created = server::addCustomRule(store->rules(), readFileOrFail(o->path),
                                           o->group.empty() ? server::kCustomGroup : o->group,
                                           !o->disabled, &check);
      if (!created) {
        // The first error ends the command (one line); any further problems are listed before it.
        bool first_error = true;
        for (const auto& d : check.report.diagnostics) {
          if (d.level == detect::DiagnosticLevel::kError && first_error) {
            first_error = false;
            continue;
          }
          auto copy = d;
          copy.file = o->path;
          std::cerr << copy.format() << "\n";
        }
        auto e = created.error();
        if (!check.ok()) e.field = o->path + ": " + e.field;
        throw CommandFailed(e);
      }
      if (!action.empty()) orFail(store->rules().changeRule(created->id, {std::nullopt, action, std::nullopt}));
      std::cout << "rule " << created->id << " added to " << created->group << ": "
                << created->title << "\n";
    });
  }
  for (const bool enable : {true, false}) {
    auto o = std::make_shared<Opts>();
    auto* cmd = rules->add_subcommand(enable ? "enable" : "disable",
                                      enable ? "Enable a rule or a group" : "Disable a rule or a group");
    addStoreOption(cmd, o->store);
    cmd->add_option("id", o->id, "Rule id (see `rules list`)");
    cmd->add_option("--group", o->group, "A whole group instead");
    cmd->callback([o, enable] {
      auto store = openStoreOrFail(o->store);
      if (!o->group.empty()) {
        auto g = groupOrFail(store->rules(), o->group);
        orFail(store->rules().changeGroup(g.id, {enable, std::nullopt, std::nullopt}));
        std::cout << "group " << g.name << (enable ? " enabled\n" : " disabled\n");
        return;
      }
      if (o->id <= 0) throw CommandFailed("name a rule id or --group");
      auto r = orFail(store->rules().changeRule(o->id, {enable, std::nullopt, std::nullopt}));
      std::cout << "rule " << r.id << (enable ? " enabled: " : " disabled: ") << r.title << "\n";
    });
  }
  {
    auto o = std::make_shared<Opts>();
    auto* cmd = rules->add_subcommand("delete", "Delete a custom rule");
    addStoreOption(cmd, o->store);
    cmd->add_option("id", o->id, "Rule id")->required();
    cmd->callback([o] {
      auto store = openStoreOrFail(o->store);
      auto r = orFail(store->rules().getRule(o->id));
      auto g = orFail(store->rules().getGroup(r.group_id));
      if (g.kind != store::RuleGroupKind::kCustom)
        throw CommandFailed(core::Error{core::ErrorCode::kConflict,
                                        "managed rules are not deleted one by one; disable it", "id"});
      orFail(store->rules().deleteRule(o->id));
      std::cout << "rule " << o->id << " deleted\n";
    });
  }
  {
    auto o = std::make_shared<Opts>();
    auto* cmd = rules->add_subcommand(
        "action", "Set the action of a rule or group (JSON; \"\" clears), globally or for a project");
    addStoreOption(cmd, o->store);
    cmd->add_option("action", o->action, "e.g. {\"score\":90,\"name\":\"{{rule.title}} on {{host}}\"}")
        ->required();
    cmd->add_option("--rule", o->id, "Rule id");
    cmd->add_option("--group", o->group, "Group name");
    cmd->add_option("--project", o->project, "Only for this project");
    cmd->callback([o] {
      auto store = openStoreOrFail(o->store);
      std::string action;
      if (!o->action.empty()) {
        auto a = detect::parseRuleAction(o->action, "action");
        if (!a) throw CommandFailed(a.error());
        action = detect::encodeRuleAction(*a);
      }
      if ((o->id > 0) == !o->group.empty()) throw CommandFailed("name either --rule or --group");
      const bool is_group = !o->group.empty();
      const std::int64_t target = is_group ? groupOrFail(store->rules(), o->group).id : o->id;
      if (!o->project.empty()) {
        auto p = store->findProject(o->project);
        if (!p) throw CommandFailed(core::Error{p.error().code, p.error().message, "--project"});
        orFail(store->rules().setProjectAction(
            {is_group ? store::ProjectRuleAction::Target::kGroup : store::ProjectRuleAction::Target::kRule,
             target, p->id, action}));
      } else if (is_group) {
        orFail(store->rules().changeGroup(target, {std::nullopt, std::nullopt, action}));
      } else {
        orFail(store->rules().changeRule(target, {std::nullopt, action, std::nullopt}));
      }
      std::cout << "action set\n";
    });
  }
}
#endif
}  // namespace

void registerDetectCommands(CLI::App& app) {
  auto a = std::make_shared<IngestArgs>();
  auto* ingest = app.add_subcommand(
      "ingest",
      "Send events (NDJSON, plain or .gz) to a running server, or evaluate them locally with "
      "--offline");
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
#ifdef TD_WITH_INTEL
  addOfflineIntelOptions(ingest, a->intel);
#endif
#ifdef TD_WITH_RULES
  ingest->add_option("--url", a->url, "Server to send events to (without --offline)")
      ->capture_default_str();
  ingest->add_option("--token", a->token,
                     "API token with the ingest scope (default: $THREATDESK_TOKEN)");
  ingest->add_flag("--gzip", a->gzip, "Compress each batch sent to the server");
#endif
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
#ifdef TD_WITH_RULES
  registerRuleStoreCommands(rulesCommand(app));
#endif
}

}  // namespace td::app
