// Detection benchmark. Builds (once) the corpus events replicated REPLICAS times (default 10:
// 233,710 events, ~268 MB, as the peer measurement in corpus/events/MANIFEST.md), loads the whole
// SigmaHQ Windows rule set, then measures in one run:
//   ParseOnly      simdjson DOM parse of every line, every field touched (the ceiling)
//   Ingest/1, /2   runOfflineIngest (= `threatdesk ingest --offline`) with 1 and 2 threads,
//                  detections written to /dev/null
// Counters: events/s, bytes/s (MB/s), ratio to the parse-only ceiling, peak RSS.
// Environment: THREATDESK_CORPUS (default <source>/../shared/corpus), TD_BENCH_REPLICAS,
// TD_BENCH_RULES (default <corpus>/sigma/rules/windows), TD_BENCH_FILE (replicated file path).
#include <benchmark/benchmark.h>
#include <simdjson.h>
#include <sys/resource.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "detect/ingest.h"
#include "detect/rule_loader.h"

namespace {
namespace fs = std::filesystem;

std::string env(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v && *v ? v : fallback;
}

std::string corpus() { return env("THREATDESK_CORPUS", std::string(TD_SOURCE_DIR) + "/../shared/corpus"); }

// CPU seconds (user + system) of the whole process, every thread included.
double processCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

long peakRssMb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss / 1024;
}

struct Data {
  std::string file;
  std::uint64_t events = 0;
  std::uint64_t bytes = 0;
  std::shared_ptr<const td::detect::Engine> engine;
  size_t rules = 0;
  double ceiling_events_per_s = 0;
};

Data& data() {
  static Data d = [] {
    Data out;
    const int replicas = std::stoi(env("TD_BENCH_REPLICAS", "10"));
    out.file = env("TD_BENCH_FILE", (fs::temp_directory_path() / "threatdesk-bench-events.ndjson").string());
    const std::string src = corpus() + "/events/hayabusa-sample.ndjson.gz";
    if (!fs::exists(src)) {
      std::cerr << "corpus events not found at " << src << " (set THREATDESK_CORPUS)\n";
      std::exit(1);
    }
    // Replicate the sample (idempotent: rebuilt only when missing).
    if (!fs::exists(out.file)) {
      std::string sample;
      gzFile gz = gzopen(src.c_str(), "rb");
      char buf[1 << 16];
      int n;
      while ((n = gzread(gz, buf, sizeof buf)) > 0) sample.append(buf, static_cast<size_t>(n));
      gzclose(gz);
      std::ofstream o(out.file, std::ios::binary);
      for (int i = 0; i < replicas; ++i) o << sample;
    }
    std::ifstream in(out.file, std::ios::binary);
    std::string line;
    while (std::getline(in, line)) {
      ++out.events;
      out.bytes += line.size() + 1;
    }
    const std::string rules = env("TD_BENCH_RULES", corpus() + "/sigma/rules/windows");
    auto loaded = td::detect::loadRules({rules});
    if (!loaded) {
      std::cerr << "cannot load rules: " << loaded.error().message << "\n";
      std::exit(1);
    }
    out.engine = loaded->engine;
    out.rules = loaded->report.rules_loaded;
    std::cerr << "events file " << out.file << ": " << out.events << " events, " << out.bytes
              << " bytes; rules " << rules << ": " << out.rules << " loaded, "
              << out.engine->patternCount() << " literal patterns\n";
    return out;
  }();
  return d;
}

void touch(simdjson::dom::element e, std::uint64_t& sink) {
  switch (e.type()) {
    case simdjson::dom::element_type::OBJECT: {
      simdjson::dom::object obj;
      if (e.get_object().get(obj) != simdjson::SUCCESS) return;
      for (auto f : obj) {
        sink += f.key.size();
        touch(f.value, sink);
      }
      break;
    }
    case simdjson::dom::element_type::ARRAY: {
      simdjson::dom::array arr;
      if (e.get_array().get(arr) != simdjson::SUCCESS) return;
      for (auto v : arr) touch(v, sink);
      break;
    }
    case simdjson::dom::element_type::STRING: {
      std::string_view s;
      if (e.get_string().get(s) == simdjson::SUCCESS) sink += s.size();
      break;
    }
    default: sink += 1;
  }
}

// The ceiling: read the same file, parse every line with simdjson and touch every field.
void ParseOnly(benchmark::State& state) {
  Data& d = data();
  for (auto _ : state) {
    const auto start = std::chrono::steady_clock::now();
    simdjson::dom::parser parser;
    std::ifstream in(d.file, std::ios::binary);
    std::string line;
    std::uint64_t sink = 0, n = 0;
    while (std::getline(in, line)) {
      simdjson::dom::element root;
      if (parser.parse(line).get(root) == simdjson::SUCCESS) touch(root, sink);
      ++n;
    }
    benchmark::DoNotOptimize(sink);
    state.counters["events"] = static_cast<double>(n);
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    d.ceiling_events_per_s = static_cast<double>(n) / secs;
  }
  state.SetBytesProcessed(static_cast<int64_t>(d.bytes) * state.iterations());
  state.SetItemsProcessed(static_cast<int64_t>(d.events) * state.iterations());
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(d.events) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["peak_rss_MB"] = static_cast<double>(peakRssMb());
}

void Ingest(benchmark::State& state) {
  Data& d = data();
  td::detect::IngestOptions opts;
  opts.inputs = {d.file};
  opts.out = "/dev/null";
  opts.threads = static_cast<int>(state.range(0));
  std::uint64_t detections = 0;
  double seconds = 0;
  const double cpu_start = processCpuSeconds();
  for (auto _ : state) {
    auto s = td::detect::runOfflineIngest(d.engine, opts);
    if (!s) {
      state.SkipWithError(s.error().message.c_str());
      return;
    }
    detections = s->detections;
    seconds += s->seconds;
  }
  state.SetBytesProcessed(static_cast<int64_t>(d.bytes) * state.iterations());
  state.SetItemsProcessed(static_cast<int64_t>(d.events) * state.iterations());
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(d.events) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["detections"] = static_cast<double>(detections);
  // The CPU column counts the calling thread only; with threads > 1 it is the reader's.
  state.counters["process_cpu_s"] =
      (processCpuSeconds() - cpu_start) / static_cast<double>(state.iterations());
  if (d.ceiling_events_per_s > 0 && seconds > 0) {
    state.counters["pct_of_parse_ceiling"] =
        100.0 * (static_cast<double>(d.events) * state.iterations() / seconds) /
        d.ceiling_events_per_s;
  }
  state.counters["rules"] = static_cast<double>(d.rules);
  state.counters["peak_rss_MB"] = static_cast<double>(peakRssMb());
}

// The matcher alone over events already in memory (no reading, no output): where the time of
// an ingest goes.
void MatchOnly(benchmark::State& state) {
  Data& d = data();
  std::vector<std::string> lines;
  {
    std::ifstream in(d.file, std::ios::binary);
    std::string line;
    while (std::getline(in, line) && lines.size() < 100'000) lines.push_back(line);
  }
  td::detect::Matcher m(d.engine);
  std::vector<std::uint32_t> hits;
  std::uint64_t bytes = 0;
  for (auto _ : state) {
    for (const auto& l : lines) {
      hits.clear();
      (void)m.evaluate(l, hits);
      bytes += l.size();
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["events_per_s"] = benchmark::Counter(
      static_cast<double>(lines.size()) * state.iterations(), benchmark::Counter::kIsRate);
  state.counters["rules_evaluated_per_event"] =
      static_cast<double>(m.stats().rules_evaluated) / static_cast<double>(m.stats().events);
}

BENCHMARK(ParseOnly)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();
BENCHMARK(MatchOnly)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();
BENCHMARK(Ingest)->Arg(1)->Arg(2)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
