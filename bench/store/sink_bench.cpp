// Sink write speed: N detections (a share of them duplicates of open threats) through
// Store::applyDetections in batches, against the ceiling of a plain batched INSERT of the same
// rows into the same schema, measured in the same run on the same disk.
//
//   store_sink_bench [detections=1000000] [batch=2000] [duplicate_share=0.3]
//
// TD_BENCH_PG=postgresql://… runs both against PostgreSQL instead of SQLite (each in a new
// database made on that server); TD_BENCH_NODES=N (PostgreSQL) feeds the sink through N stores
// on the same database from N threads at once, as N nodes would, the batches dealt round-robin.
// On PostgreSQL the process's CPU time leaves out the server's: read the wall-clock ratio.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "bench_common.h"
#include "store/store.h"

using namespace td;

namespace {

double processCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// The detection stream: which unique key each position carries. Duplicates repeat a key already
// sent (its threat is open), spread through the stream.
std::vector<std::int64_t> keyStream(std::int64_t n, double dup_share, std::mt19937_64& rng) {
  const auto dups = static_cast<std::int64_t>(static_cast<double>(n) * dup_share);
  std::vector<char> is_dup(static_cast<size_t>(n), 0);
  std::fill(is_dup.begin(), is_dup.begin() + dups, 1);
  std::shuffle(is_dup.begin(), is_dup.end(), rng);
  is_dup[0] = 0;
  std::vector<std::int64_t> keys;
  keys.reserve(static_cast<size_t>(n));
  std::int64_t next = 0;
  for (std::int64_t i = 0; i < n; ++i)
    keys.push_back(is_dup[static_cast<size_t>(i)] ? static_cast<std::int64_t>(rng() % next)
                                                  : next++);
  return keys;
}

std::string tagsJson(const std::vector<std::string>& tags) {
  std::string out = "[";
  for (size_t i = 0; i < tags.size(); ++i) out += (i ? ",\"" : "\"") + tags[i] + "\"";
  return out + "]";
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n = argc > 1 ? std::atoll(argv[1]) : 1'000'000;
  const size_t batch = argc > 2 ? static_cast<size_t>(std::atoll(argv[2])) : 2000;
  const double dup_share = argc > 3 ? std::atof(argv[3]) : 0.3;
  const core::TimeMs t0 = core::nowMs() - 30 * core::kDayMs;

  std::mt19937_64 key_rng(7);
  const auto keys = keyStream(n, dup_share, key_rng);

  // --- the sink ---------------------------------------------------------------------------------
  double sink_seconds = 0, sink_cpu = 0;
  std::int64_t created = 0, folded = 0;
  std::int64_t refreshed = 0;  // rows the nodes' read models read again to follow the others
  const char* nodes_env = std::getenv("TD_BENCH_NODES");
  const int nodes = std::max(1, nodes_env ? std::atoi(nodes_env) : 1);
  {
    bench::ScratchDir dir;
    std::string url;
    auto opened = bench::openBenchStore(dir, "sink", &url);
    if (!opened) {
      std::fprintf(stderr, "open: %s\n", opened.error().message.c_str());
      return 1;
    }
    std::vector<std::unique_ptr<store::Store>> stores;
    stores.push_back(std::move(*opened));
    auto tenant = bench::makeTenant(*stores[0], 5);
    for (int k = 1; k < nodes; ++k) {
      if (url.empty()) {
        std::fprintf(stderr, "TD_BENCH_NODES needs TD_BENCH_PG\n");
        return 1;
      }
      auto more = store::openStore(url);
      if (!more) return 1;
      stores.push_back(std::move(*more));
    }
    // Every node builds its batches up front (as events would arrive), then all write at once.
    std::vector<std::vector<std::vector<core::Detection>>> work(static_cast<size_t>(nodes));
    std::mt19937_64 rng(11);
    size_t b = 0;
    for (std::int64_t i = 0; i < n; i += static_cast<std::int64_t>(batch), ++b) {
      std::vector<core::Detection> detections;
      for (std::int64_t j = i; j < std::min<std::int64_t>(n, i + static_cast<std::int64_t>(batch));
           ++j)
        detections.push_back(
            bench::detectionFor(tenant.project.id, keys[static_cast<size_t>(j)], t0 + j, rng));
      work[b % static_cast<size_t>(nodes)].push_back(std::move(detections));
    }
    std::vector<std::int64_t> node_created(static_cast<size_t>(nodes)),
        node_folded(static_cast<size_t>(nodes));
    std::atomic<bool> failed{false};
    const auto start = std::chrono::steady_clock::now();
    const double cpu0 = processCpuSeconds();
    std::vector<std::thread> threads;
    for (int k = 0; k < nodes; ++k) {
      threads.emplace_back([&, k] {
        store::Actor actor{std::nullopt, "bench"};
        for (const auto& detections : work[static_cast<size_t>(k)]) {
          auto r = stores[static_cast<size_t>(k)]->applyDetections(detections, {}, actor);
          if (!r) {
            std::fprintf(stderr, "applyDetections: %s\n", r.error().message.c_str());
            failed = true;
            return;
          }
          node_created[static_cast<size_t>(k)] += r->created;
          node_folded[static_cast<size_t>(k)] += r->updated;
        }
      });
    }
    for (auto& t : threads) t.join();
    sink_cpu = processCpuSeconds() - cpu0;
    sink_seconds = bench::secondsSince(start);
    if (failed) return 1;
    for (const auto& st : stores)
      refreshed += dynamic_cast<store::sqlite::SqliteStore&>(*st).refreshedRows();
    for (int k = 0; k < nodes; ++k) {
      created += node_created[static_cast<size_t>(k)];
      folded += node_folded[static_cast<size_t>(k)];
    }
  }

  // --- the ceiling: plain batched INSERT of one row per detection ------------------------------
  double plain_seconds = 0, plain_cpu = 0;
  {
    bench::ScratchDir dir;
    std::string url;
    auto opened = bench::openBenchStore(dir, "plain", &url);
    if (!opened) return 1;
    auto& s = dynamic_cast<store::sqlite::SqliteStore&>(**opened);
    auto tenant = bench::makeTenant(s, 5);
    auto& c = s.writerForBenchmarks();
    std::mt19937_64 rng(11);
    std::vector<core::Detection> detections;
    std::vector<std::string> dedup;
    for (std::int64_t i = 0; i < n; i += static_cast<std::int64_t>(batch)) {
      detections.clear();
      dedup.clear();
      for (std::int64_t j = i; j < std::min<std::int64_t>(n, i + static_cast<std::int64_t>(batch));
           ++j) {
        detections.push_back(
            bench::detectionFor(tenant.project.id, keys[static_cast<size_t>(j)], t0 + j, rng));
        // Repeated keys get a suffix: a plain INSERT cannot fold them, and the open-key unique
        // index (kept, so both runs maintain the same indexes) would refuse them.
        dedup.push_back(core::dedupKey(detections.back()) + "#" + std::to_string(j));
      }
      const auto start = std::chrono::steady_clock::now();
      const double cpu0 = processCpuSeconds();
      if (!c.beginWrite()) return 1;
      auto st = c.prepare(
          "INSERT INTO threats (project_id, name, description, score, severity, kind, source, "
          "rule_id, rule_group, entity_type, entity_value, entity_group, host, tags, evidence, "
          "group_id, state_id, closed, count, created_at, last_seen, updated_at, dedup_key, "
          "created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 1, ?, ?, ?, "
          "?, ?)");
      if (!st) return 1;
      for (size_t k = 0; k < detections.size(); ++k) {
        const auto& d = detections[k];
        auto* p = *st;
        p->reset();
        p->bind(1, d.project_id).bind(2, d.name).bind(3, d.description).bind(4, d.score);
        p->bind(5, static_cast<int>(d.severity)).bind(6, static_cast<int>(d.kind));
        p->bind(7, d.source).bind(8, d.rule_id).bind(9, d.rule_group).bind(10, d.entity.type);
        p->bind(11, d.entity.value).bind(12, d.entity_group).bind(13, d.host);
        p->bind(14, tagsJson(d.tags)).bind(15, d.evidence_json).bindNull(16);
        p->bind(17, tenant.states[0].id).bind(18, d.seen_at).bind(19, d.seen_at);
        p->bind(20, core::nowMs()).bind(21, dedup[k]).bind(22, "bench");
        if (!p->run()) return 1;
      }
      if (!c.commit()) return 1;
      plain_cpu += processCpuSeconds() - cpu0;
      plain_seconds += bench::secondsSince(start);
    }
  }

  const double sink_rate = static_cast<double>(n) / sink_seconds;
  const double plain_rate = static_cast<double>(n) / plain_seconds;
  std::printf("store                 %s, %d node%s\n", bench::benchBackendName(), nodes,
              nodes == 1 ? "" : "s (threads, one store each, same database)");
  std::printf("detections            %lld (batch %zu, %.0f%% duplicates of open threats)\n",
              static_cast<long long>(n), batch, dup_share * 100);
  std::printf(
      "sink                  %.2f s  %.0f detections/s  (%lld threats created, %lld "
      "folded)\n",
      sink_seconds, sink_rate, static_cast<long long>(created), static_cast<long long>(folded));
  std::printf("plain batched INSERT  %.2f s  %.0f rows/s\n", plain_seconds, plain_rate);
  std::printf("ratio sink / plain    %.2f  (goal >= 0.50)\n", sink_rate / plain_rate);
  std::printf("CPU time (user+sys)   sink %.1f s, plain %.1f s: ratio by CPU %.2f\n", sink_cpu,
              plain_cpu, plain_cpu / sink_cpu);
  std::printf("read-model refreshes  %lld threat rows read again (all nodes)\n",
              static_cast<long long>(refreshed));
  std::printf("peak RSS              %.0f MiB\n", bench::peakRssMiB());
  return 0;
}
