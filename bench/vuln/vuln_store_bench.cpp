// Vulnerability management through the store (SQLite), over the shared corpus:
//   BM_StoreImportCorpus  `advisories import --store` of the real OSV advisories (corpus/osv):
//                         parse, keep in memory, write to the store; advisories per second
//   BM_StoreLoad          what `threatdesk serve` does at start: rebuild the in-memory database
//                         from a store holding 100,000 advisories (the real ones plus copies)
//   BM_UploadScan         upload of a 5,000-component SBOM (built from the corpus's real SBOMs)
//                         for an asset of that store: parse, keep the upload and its components,
//                         scan, compare with the stored findings, write findings and threats
// The corpus is $THREATDESK_CORPUS or <source>/../shared/corpus.
#include <benchmark/benchmark.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <set>
#include <sstream>

#include "server/vuln_service.h"
#include "store/store.h"
#include "triage/service.h"

namespace {

namespace fs = std::filesystem;
using td::server::VulnService;

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
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return 0;
}

fs::path tempDir(const std::string& name) {
  std::random_device rd;
  fs::path p = fs::temp_directory_path() / ("td-vuln-bench-" + name + "-" + std::to_string(rd()));
  fs::create_directories(p);
  return p;
}

constexpr size_t kComponents = 5000;
constexpr size_t kAdvisories = 100000;

// The same 5,000-component SBOM as vuln_bench: the corpus's distinct real components, topped up
// with further patch releases of real ones.
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
    if (at != std::string::npos) purl.insert(q == std::string::npos ? purl.size() : q, suffix);
    c["purl"] = purl;
    c.erase("bom-ref");
    comps.push_back(c);
  }
  comps.resize(std::min(comps.size(), kComponents));
  nlohmann::json bom = {{"bomFormat", "CycloneDX"}, {"specVersion", "1.4"}, {"version", 1},
                        {"components", comps}};
  return bom.dump();
}

struct Env {
  fs::path dir;
  std::unique_ptr<td::store::Store> store;
  std::unique_ptr<td::triage::TriageService> triage;
  std::unique_ptr<VulnService> vuln;
};

Env open(const fs::path& dir) {
  Env e;
  e.dir = dir;
  auto s = td::store::openStore("sqlite:" + (dir / "td.db").string());
  if (!s) {
    std::cerr << s.error().message << "\n";
    std::exit(1);
  }
  e.store = std::move(*s);
  e.triage = std::make_unique<td::triage::TriageService>(*e.store);
  e.vuln = std::make_unique<VulnService>(*e.store, *e.triage);
  return e;
}

// A store with 100,000 advisories: the real ones imported, then copies of their documents with
// new ids (every other copy moved to a new package name), written in batches.
const fs::path& bigStore() {
  static const fs::path dir = [] {
    fs::path d = tempDir("big");
    Env e = open(d);
    auto imported = e.vuln->importAdvisories(corpus() / "osv");
    if (!imported) {
      std::cerr << imported.error().message << "\n";
      std::exit(1);
    }
    std::vector<td::store::AdvisoryRecord> originals;
    (void)e.store->vuln().forEachAdvisory([&](const td::store::AdvisoryRecord& r) {
      originals.push_back(r);
      return true;
    });
    size_t total = originals.size();
    std::vector<td::store::AdvisoryRecord> batch;
    for (size_t copy = 1; total < kAdvisories; ++copy) {
      for (const auto& r : originals) {
        if (total >= kAdvisories) break;
        auto doc = nlohmann::json::parse(r.document, nullptr, false);
        if (!doc.is_object()) continue;
        td::store::AdvisoryRecord c = r;
        c.id = r.id + "-COPY" + std::to_string(copy);
        doc["id"] = c.id;
        if (copy % 2 == 0 && doc.contains("affected") && doc["affected"].is_array())
          for (auto& a : doc["affected"])
            if (a.contains("package") && a["package"].is_object() && a["package"].contains("name"))
              a["package"]["name"] =
                  a["package"]["name"].get<std::string>() + "-synthetic" + std::to_string(copy);
        c.document = doc.dump();
        batch.push_back(std::move(c));
        ++total;
        if (batch.size() == 5000) {
          (void)e.store->vuln().putAdvisories(batch);
          batch.clear();
        }
      }
    }
    (void)e.store->vuln().putAdvisories(batch);
    std::cerr << "store: " << imported->stored << " real advisories, "
              << *e.store->vuln().countAdvisories() << " in total\n";
    return d;
  }();
  return dir;
}

void BM_StoreImportCorpus(benchmark::State& state) {
  size_t stored = 0;
  for (auto _ : state) {
    state.PauseTiming();
    fs::path d = tempDir("import");
    {
      Env e = open(d);
      state.ResumeTiming();
      auto r = e.vuln->importAdvisories(corpus() / "osv");
      state.PauseTiming();
      if (!r) state.SkipWithError(r.error().message.c_str());
      stored = r ? r->stored : 0;
    }
    fs::remove_all(d);
    state.ResumeTiming();
  }
  state.counters["advisories"] = static_cast<double>(stored);
  state.counters["advisories_per_s"] =
      benchmark::Counter(static_cast<double>(stored), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_StoreImportCorpus)->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();

void BM_StoreLoad(benchmark::State& state) {
  const fs::path& d = bigStore();
  size_t loaded = 0;
  long rss_growth = 0;
  for (auto _ : state) {
    state.PauseTiming();
    Env e = open(d);
    long before = rssKiB();
    state.ResumeTiming();
    auto r = e.vuln->loadAdvisories();
    state.PauseTiming();
    rss_growth = rssKiB() - before;
    if (!r) state.SkipWithError(r.error().message.c_str());
    loaded = e.vuln->advisoryCount();
    state.ResumeTiming();
  }
  state.counters["advisories"] = static_cast<double>(loaded);
  state.counters["rss_growth_MiB"] = static_cast<double>(rss_growth) / 1024.0;
}
BENCHMARK(BM_StoreLoad)->Unit(benchmark::kMillisecond)->Iterations(2)->UseRealTime();

void BM_UploadScan(benchmark::State& state) {
  const fs::path& d = bigStore();
  Env e = open(d);
  (void)e.vuln->loadAdvisories();
  auto org = e.store->createOrg("Bench " + std::to_string(std::random_device{}()), std::nullopt);
  (void)e.triage->seedDefaultTags(org->id);
  auto project = e.store->createProject(org->id, org->name + " apps");
  td::store::AssetRecord a;
  a.project_id = project->id;
  a.name = "bench-asset";
  auto asset = e.store->vuln().createAsset(a);
  const std::string sbom = buildSbom();
  const td::store::Actor actor{std::nullopt, "bench"};
  td::server::ScanSummary last;
  for (auto _ : state) {
    auto r = e.vuln->uploadSbom(asset->id, sbom, actor);
    if (!r) {
      state.SkipWithError(r.error().message.c_str());
      break;
    }
    last = r->scan;
  }
  state.counters["components"] = static_cast<double>(last.components);
  state.counters["findings"] = static_cast<double>(last.open);
}
// The first upload raises the threats; later ones bump them (the steady state of a pipeline).
BENCHMARK(BM_UploadScan)->Unit(benchmark::kMillisecond)->Iterations(5)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
