// The intel benchmark (issue 4): load time and memory of 1,000,000 mixed indicators, matcher
// throughput over the corpus's real Windows events replicated to about 250 MB, with 10,000 and
// 1,000,000 indicators loaded, and the simdjson + hash-set anchor over the same bytes.
//
// Environment: THREATDESK_CORPUS (default ../shared/corpus from the source tree),
// TD_BENCH_DATA (where generated files go; default build/bench-data/intel), TD_BENCH_MB (size of
// the replicated event file, default 250). Generated files: events.ndjson, indicators-1m.txt,
// indicators-10k.txt and the rg pattern files (plain values, one a line) for the `rg -F -f`
// anchor run by hand (docs/benchmarks.md).
#include <benchmark/benchmark.h>
#include <simdjson.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <unordered_set>

#include "intel/feeds.h"
#include "intel/matcher.h"

namespace fs = std::filesystem;
using namespace td::intel;

namespace {

struct Data {
  std::string events;                   // replicated NDJSON
  std::vector<std::string_view> lines;
  std::vector<std::string> values_1m;   // indicator values as written to the feed files
  fs::path dir;
  std::shared_ptr<LiveIndex> live_1m, live_10k;
  double load_1m_s = 0;
  size_t index_bytes = 0;
};

std::uint64_t splitmix(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::string randomLabel(std::uint64_t& s, int min, int max) {
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  int n = min + static_cast<int>(splitmix(s) % static_cast<std::uint64_t>(max - min + 1));
  std::string out;
  for (int i = 0; i < n; ++i) out.push_back(kChars[splitmix(s) % (i == 0 ? 26 : 36)]);
  return out;
}

std::string randomHex(std::uint64_t& s, int digits) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < digits; ++i) out.push_back(kHex[splitmix(s) & 15]);
  return out;
}

// A realistic mix: 40% IPv4, 4% CIDR, 2% IPv6, 25% domains, 10% URLs, 17% hashes, 2% email.
std::string randomIndicator(std::uint64_t& s) {
  static const char* kTlds[] = {"com", "net", "org", "ru", "top", "xyz", "info", "cn", "io", "biz"};
  auto domain = [&] {
    std::string d = randomLabel(s, 5, 14) + "." + kTlds[splitmix(s) % 10];
    if (splitmix(s) % 3 == 0) d = randomLabel(s, 2, 8) + "." + d;
    return d;
  };
  std::uint64_t r = splitmix(s) % 100;
  if (r < 40) {
    std::uint32_t ip = static_cast<std::uint32_t>(splitmix(s));
    if ((ip >> 24) == 10 || (ip >> 24) == 127 || (ip >> 24) == 0) ip ^= 0x40000000;
    return formatIpv4(ip);
  }
  if (r < 44) {
    int len = 16 + static_cast<int>(splitmix(s) % 13);
    std::uint32_t ip = static_cast<std::uint32_t>(splitmix(s)) & (~0u << (32 - len));
    return formatIpv4(ip) + "/" + std::to_string(len);
  }
  if (r < 46) {
    std::array<std::uint8_t, 16> a{};
    a[0] = 0x2a;
    for (int i = 1; i < 16; ++i) a[i] = static_cast<std::uint8_t>(splitmix(s));
    return formatIpv6(a);
  }
  if (r < 71) return domain();
  if (r < 81)
    return std::string(splitmix(s) % 2 ? "http://" : "https://") + domain() + "/" +
           randomLabel(s, 3, 10) + "/" + randomLabel(s, 4, 12) + ".php?id=" + randomHex(s, 8);
  if (r < 90) return randomHex(s, 64);
  if (r < 95) return randomHex(s, 32);
  if (r < 98) return randomHex(s, 40);
  return randomLabel(s, 3, 10) + "@" + domain();
}

fs::path corpusDir() {
  if (const char* c = std::getenv("THREATDESK_CORPUS")) return c;
  return fs::path(TD_SOURCE_DIR) / ".." / "shared" / "corpus";
}

// Values that occur in the events, so that the matcher has real hits to report.
std::vector<std::string> valuesInEvents(std::string_view text, size_t max) {
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  for (std::string_view key : {"\"DestinationIp\":\"", "\"IpAddress\":\"", "\"QueryName\":\"",
                               "\"SHA256=", "\"DestinationHostname\":\""}) {
    size_t pos = 0, taken = 0;
    while (taken < max / 5 && (pos = text.find(key, pos)) != std::string_view::npos) {
      pos += key.size();
      size_t end = text.find_first_of("\",", pos);
      if (end == std::string_view::npos) break;
      std::string v(text.substr(pos, end - pos));
      if (v.size() > 3 && v != "-" && v != "127.0.0.1" && normalizeGuess(v) && seen.insert(v).second) {
        out.push_back(v);
        ++taken;
      }
    }
  }
  return out;
}

Data& data() {
  static Data* d = [] {
    auto* d = new Data;
    const char* dir = std::getenv("TD_BENCH_DATA");
    d->dir = dir ? dir : fs::path(TD_BINARY_DIR) / "bench-data" / "intel";
    fs::create_directories(d->dir);
    size_t target_mb = 250;
    if (const char* mb = std::getenv("TD_BENCH_MB")) target_mb = std::strtoul(mb, nullptr, 10);
    auto src = readFileText((corpusDir() / "events" / "hayabusa-sample.ndjson.gz").string());
    if (!src) {
      std::cerr << "intel_bench: " << src.error().field << ": " << src.error().message << "\n";
      std::exit(2);
    }
    if (!src->empty() && src->back() != '\n') src->push_back('\n');
    while (d->events.size() < target_mb * 1000 * 1000) d->events += *src;
    std::ofstream(d->dir / "events.ndjson", std::ios::binary) << d->events;
    std::string_view all = d->events;
    size_t pos = 0;
    while (pos < all.size()) {
      size_t end = all.find('\n', pos);
      if (end == std::string_view::npos) end = all.size();
      if (end > pos) d->lines.push_back(all.substr(pos, end - pos));
      pos = end + 1;
    }
    auto present = valuesInEvents(*src, 500);
    std::uint64_t seed = 42;
    d->values_1m.reserve(1000000);
    for (size_t i = 0; i < present.size(); ++i) d->values_1m.push_back(present[i]);
    while (d->values_1m.size() < 1000000) d->values_1m.push_back(randomIndicator(seed));
    // The 10k set: the present values plus the first random ones.
    {
      std::ofstream f1(d->dir / "indicators-1m.txt"), f10(d->dir / "indicators-10k.txt");
      for (size_t i = 0; i < d->values_1m.size(); ++i) {
        f1 << d->values_1m[i] << "\n";
        if (i < 10000) f10 << d->values_1m[i] << "\n";
      }
    }
    // Load (read + parse + normalise + build) the million, timed: the "load time" figure.
    auto t0 = std::chrono::steady_clock::now();
    auto batch = loadFeed((d->dir / "indicators-1m.txt").string(), FeedFormat::kCsv);
    if (!batch) std::exit(3);
    IndexBuilder b1;
    b1.add(std::move(*batch));
    auto ix = b1.build();
    d->load_1m_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    d->index_bytes = ix->memoryBytes();
    d->live_1m = std::make_shared<LiveIndex>();
    d->live_1m->store(ix);
    auto b10 = loadFeed((d->dir / "indicators-10k.txt").string(), FeedFormat::kCsv);
    IndexBuilder bb;
    bb.add(std::move(*b10));
    d->live_10k = std::make_shared<LiveIndex>();
    d->live_10k->store(bb.build());
    std::cerr << "intel_bench: " << d->lines.size() << " events, " << d->events.size() / 1e6
              << " MB; " << present.size() << " indicators taken from the events; data in "
              << d->dir << "\n";
    return d;
  }();
  return *d;
}

void runMatcher(benchmark::State& state, const std::shared_ptr<LiveIndex>& live) {
  Data& d = data();
  MatcherOptions o;
  o.check_validity = false;
  Matcher m(live, MatchConfig::defaults(), std::move(o));
  std::vector<Match> out;
  size_t matches = 0;
  for (auto _ : state) {
    for (std::string_view line : d.lines) {
      out.clear();
      m.match(line, out, 1);
      matches += out.size();
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * d.events.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * d.lines.size()));
  state.counters["matches_per_pass"] = static_cast<double>(matches) / state.iterations();
  state.counters["indicators"] = static_cast<double>(live->load()->size());
}

void BM_Load1M(benchmark::State& state) {
  Data& d = data();
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    auto batch = loadFeed((d.dir / "indicators-1m.txt").string(), FeedFormat::kCsv);
    IndexBuilder b;
    b.add(std::move(*batch));
    auto ix = b.build();
    benchmark::DoNotOptimize(ix);
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    state.counters["indicators"] = static_cast<double>(ix->size());
    state.counters["bytes_per_indicator"] =
        static_cast<double>(ix->memoryBytes()) / static_cast<double>(ix->size());
  }
}

void BM_Match10k(benchmark::State& state) { runMatcher(state, data().live_10k); }
void BM_Match1M(benchmark::State& state) { runMatcher(state, data().live_1m); }

// Anchor: simdjson DOM over each event, every string value looked up in a hash set of the
// million values (no normalisation, no field selection).
void visitStrings(simdjson::dom::element e, const std::unordered_set<std::string_view>& set,
                  size_t& hits) {
  switch (e.type()) {
    case simdjson::dom::element_type::OBJECT: {
      simdjson::dom::object obj;
      if (e.get_object().get(obj) != simdjson::SUCCESS) return;
      for (auto f : obj) visitStrings(f.value, set, hits);
      return;
    }
    case simdjson::dom::element_type::ARRAY: {
      simdjson::dom::array arr;
      if (e.get_array().get(arr) != simdjson::SUCCESS) return;
      for (auto v : arr) visitStrings(v, set, hits);
      return;
    }
    case simdjson::dom::element_type::STRING: {
      std::string_view sv;
      if (e.get_string().get(sv) == simdjson::SUCCESS) hits += set.count(sv);
      return;
    }
    default: return;
  }
}

void BM_AnchorSimdjsonHashSet1M(benchmark::State& state) {
  Data& d = data();
  std::unordered_set<std::string_view> set(d.values_1m.begin(), d.values_1m.end());
  simdjson::dom::parser parser;
  size_t hits = 0;
  for (auto _ : state) {
    for (std::string_view line : d.lines) {
      simdjson::dom::element doc;
      if (parser.parse(line.data(), line.size(), true).get(doc) == simdjson::SUCCESS)
        visitStrings(doc, set, hits);
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * d.events.size()));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * d.lines.size()));
  state.counters["hits_per_pass"] = static_cast<double>(hits) / state.iterations();
}

void BM_IndexMemory1M(benchmark::State& state) {
  Data& d = data();
  for (auto _ : state) benchmark::DoNotOptimize(d.index_bytes);
  auto ix = d.live_1m->load();
  state.counters["indicators"] = static_cast<double>(ix->size());
  state.counters["index_MB"] = static_cast<double>(d.index_bytes) / 1e6;
  state.counters["bytes_per_indicator"] =
      static_cast<double>(d.index_bytes) / static_cast<double>(ix->size());
  state.counters["first_load_s"] = d.load_1m_s;
}

}  // namespace

BENCHMARK(BM_IndexMemory1M)->Iterations(1)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Load1M)->Iterations(3)->UseManualTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Match10k)->Iterations(2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Match1M)->Iterations(2)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AnchorSimdjsonHashSet1M)->Iterations(2)->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
