// Vulnerability engine benchmarks over the shared corpus:
//   BM_ImportCorpus     import rate of the real OSV advisories (corpus/osv: Go, PyPI, crates.io,
//                       AlmaLinux, GitHub), from files on disk
//   BM_ParseSbom        parse a 5,000-component CycloneDX SBOM built from the corpus's real SBOMs
//   BM_Scan             scan those 5,000 components against >= 100,000 advisories: the real ones
//                       plus copies made in memory (half keep their package, so popular
//                       packages have many candidate advisories, half move to a new package)
// Memory: resident set size growth while the 100,000-advisory database is built.
// The corpus is $THREATDESK_CORPUS or <source>/../shared/corpus.
#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "vuln/advisory_db.h"
#include "vuln/scanner.h"

namespace {

using namespace td::vuln;
namespace fs = std::filesystem;

fs::path corpus() {
  if (const char* env = std::getenv("THREATDESK_CORPUS"); env && *env) return env;
  return fs::path(TD_SOURCE_DIR) / ".." / "shared" / "corpus";
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

long rssKiB() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

constexpr size_t kComponents = 5000;
constexpr size_t kAdvisories = 100000;

// 5,000 distinct components from the real SBOMs; when the corpus has fewer distinct ones, more
// are made by giving real components a further patch release ("1.2.3" -> "1.2.3.1"), which keeps
// their package (and so their advisory lookups) real.
std::string buildSbom() {
  std::vector<nlohmann::json> comps;
  std::set<std::string> seen;
  for (const auto& e : fs::recursive_directory_iterator(corpus() / "sbom" / "SBOM")) {
    if (e.path().extension() != ".json") continue;
    auto doc = nlohmann::json::parse(slurp(e.path()), nullptr, false);
    if (!doc.is_object() || !doc.contains("components")) continue;
    for (const auto& c : doc["components"]) {
      if (!c.contains("purl") || !c["purl"].is_string()) continue;
      if (seen.insert(c["purl"].get<std::string>()).second) comps.push_back(c);
    }
  }
  size_t real = comps.size();
  for (size_t i = 0; comps.size() < kComponents && real > 0; ++i) {
    nlohmann::json c = comps[i % real];
    std::string suffix = "." + std::to_string(1 + i / real);
    c["version"] = c.value("version", "1") + suffix;
    std::string purl = c["purl"];
    size_t at = purl.rfind('@');
    size_t q = purl.find('?', at == std::string::npos ? 0 : at);
    if (at != std::string::npos) {
      purl.insert(q == std::string::npos ? purl.size() : q, suffix);
    }
    c["purl"] = purl;
    c.erase("bom-ref");
    comps.push_back(c);
  }
  comps.resize(std::min(comps.size(), kComponents));
  nlohmann::json bom = {{"bomFormat", "CycloneDX"}, {"specVersion", "1.4"}, {"version", 1},
                        {"components", comps}};
  std::cerr << "sbom: " << real << " distinct real components, " << comps.size() << " in total\n";
  return bom.dump();
}

struct Fixture {
  AdvisoryDb db;
  Sbom sbom;
  long rss_growth_kib = 0;
  size_t real_advisories = 0;
};

Fixture& fixture() {
  static Fixture* f = [] {
    auto* fx = new Fixture;
    long before = rssKiB();
    std::vector<Advisory> originals;
    for (const auto& e : fs::recursive_directory_iterator(corpus() / "osv")) {
      if (e.path().extension() != ".json") continue;
      auto a = parseOsvAdvisory(slurp(e.path()), e.path().string());
      if (a) originals.push_back(std::move(*a));
    }
    fx->real_advisories = originals.size();
    for (const auto& a : originals) fx->db.add(a);
    for (size_t copy = 1; fx->db.size() < kAdvisories && !originals.empty(); ++copy) {
      for (const auto& a : originals) {
        if (fx->db.size() >= kAdvisories) break;
        Advisory c = a;
        c.id = a.id + "-COPY" + std::to_string(copy);
        if (copy % 2 == 0) {
          for (auto& p : c.affected) {
            p.name += "-synthetic" + std::to_string(copy);
            p.normalised_name = normalisePackageName(p.ecosystem.kind, p.name);
          }
        }
        fx->db.add(std::move(c));
      }
    }
    fx->rss_growth_kib = rssKiB() - before;
    auto s = parseSbom(buildSbom());
    if (!s) {
      std::cerr << "SBOM: " << s.error().message << "\n";
      std::exit(1);
    }
    fx->sbom = std::move(*s);
    std::cerr << "advisories: " << fx->real_advisories << " real, " << fx->db.size()
              << " in the database (" << fx->db.packageEntries() << " affected entries), RSS +"
              << fx->rss_growth_kib / 1024 << " MiB\n";
    return fx;
  }();
  return *f;
}

void BM_ImportCorpus(benchmark::State& state) {
  size_t advisories = 0, bytes = 0;
  for (auto _ : state) {
    AdvisoryDb db;
    auto r = db.importPath(corpus() / "osv");
    if (!r) state.SkipWithError(r.error().message.c_str());
    advisories = db.size();
    bytes = r->bytes;
  }
  state.counters["advisories"] = static_cast<double>(advisories);
  state.counters["advisories_per_s"] =
      benchmark::Counter(static_cast<double>(advisories), benchmark::Counter::kIsIterationInvariantRate);
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * state.iterations());
}
BENCHMARK(BM_ImportCorpus)->Unit(benchmark::kMillisecond)->Iterations(3);

void BM_ParseSbom(benchmark::State& state) {
  std::string doc = buildSbom();
  size_t n = 0;
  for (auto _ : state) {
    auto s = parseSbom(doc);
    n = s->components.size();
    benchmark::DoNotOptimize(s);
  }
  state.counters["components"] = static_cast<double>(n);
  state.SetBytesProcessed(static_cast<int64_t>(doc.size()) * state.iterations());
}
BENCHMARK(BM_ParseSbom)->Unit(benchmark::kMillisecond);

void BM_Scan(benchmark::State& state) {
  Fixture& fx = fixture();
  size_t findings = 0;
  for (auto _ : state) {
    ScanResult r = scan(fx.sbom, fx.db);
    findings = r.findings.size();
    benchmark::DoNotOptimize(r);
  }
  state.counters["components"] = static_cast<double>(fx.sbom.components.size());
  state.counters["advisories"] = static_cast<double>(fx.db.size());
  state.counters["findings"] = static_cast<double>(findings);
  state.counters["db_rss_MiB"] = static_cast<double>(fx.rss_growth_kib) / 1024.0;
}
BENCHMARK(BM_Scan)->Unit(benchmark::kMillisecond);

void BM_ScanToDetections(benchmark::State& state) {
  Fixture& fx = fixture();
  Asset asset{"bench-asset"};
  for (auto _ : state) {
    ScanResult r = scan(fx.sbom, fx.db);
    auto d = toDetections(r, asset);
    benchmark::DoNotOptimize(d);
  }
}
BENCHMARK(BM_ScanToDetections)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
