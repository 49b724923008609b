// Overview and list latency over a large store: seeds N realistic threats directly (one org,
// one project, 90 days of history, two thirds closed), reopens the store so the read model loads
// from disk, then times Store::overview for five typical filter sets and Store::listThreats
// pages 1 and 100 (page 100 reached by following cursors). Prints p50/p99 and peak RSS.
//
//   store_overview_bench [threats=1000000] [iterations=30]
//
// TD_BENCH_PG=postgresql://… seeds and reads a new database on that PostgreSQL server instead of
// a SQLite file. TD_BENCH_NODES=N (PostgreSQL) opens N-1 further nodes on the same database that
// write detections through the sink while the first node's queries are timed (each
// TD_BENCH_WRITE_RATE detections/s, default 1000, a batch every 200 ms, 30% of them repeats of
// its open threats; TD_BENCH_WRITE_WARMUP seconds of writing before the timing starts, default
// 2): what a node's overview costs while the others write, its read model following their
// commits.
#include <time.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <thread>

#include "bench_common.h"
#include "store/store.h"

using namespace td;

namespace {

struct Timing {
  std::string name;
  std::vector<double> ms;   // wall clock
  std::vector<double> cpu;  // this thread's CPU time: what the query costs without contention
};

double threadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1000.0 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// Runs `f` warm-up + `iterations` times, recording the timed runs.
void measure(Timing& t, int iterations, const std::function<void()>& f, int& calls) {
  for (int i = 0; i < iterations + 3; ++i, ++calls) {
    const double cpu0 = threadCpuMs();
    const auto start = std::chrono::steady_clock::now();
    f();
    const double wall = bench::secondsSince(start) * 1000.0;
    const double cpu = threadCpuMs() - cpu0;
    if (i < 3) continue;  // the first runs warm caches
    t.ms.push_back(wall);
    t.cpu.push_back(cpu);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n = argc > 1 ? std::atoll(argv[1]) : 1'000'000;
  const int iterations = argc > 2 ? std::atoi(argv[2]) : 30;
  const char* nodes_env = std::getenv("TD_BENCH_NODES");
  const int nodes = std::max(1, nodes_env ? std::atoi(nodes_env) : 1);
  const char* rate_env = std::getenv("TD_BENCH_WRITE_RATE");
  const int write_rate = std::max(5, rate_env ? std::atoi(rate_env) : 1000);
  const char* warmup_env = std::getenv("TD_BENCH_WRITE_WARMUP");
  const int warmup_seconds = std::max(0, warmup_env ? std::atoi(warmup_env) : 2);
  bench::ScratchDir dir;
  const std::string path = dir.path() + "/overview.db";
  std::string url;  // PostgreSQL: the database's
  const core::TimeMs now = core::nowMs();
  bench::Tenant tenant;

  // --- seed
  // ---------------------------------------------------------------------------------------
  {
    auto opened = bench::openBenchStore(dir, "overview", &url);
    if (!opened) {
      std::fprintf(stderr, "open: %s\n", opened.error().message.c_str());
      return 1;
    }
    if (nodes > 1 && url.empty()) {
      std::fprintf(stderr, "TD_BENCH_NODES needs TD_BENCH_PG\n");
      return 1;
    }
    auto& s = **opened;
    tenant = bench::makeTenant(s, 20);
    auto& c = s.writerForBenchmarks();
    std::mt19937_64 rng(3);
    const auto start = std::chrono::steady_clock::now();
    const std::int64_t kBatch = 20000;
    for (std::int64_t i = 0; i < n; i += kBatch) {
      if (!c.beginWrite()) return 1;
      auto st = c.prepare(
          "INSERT INTO threats (project_id, name, description, score, severity, kind, source, "
          "rule_id, rule_group, entity_type, entity_value, entity_group, host, tags, evidence, "
          "group_id, state_id, outcome_id, owner_id, closed, count, created_at, last_seen, "
          "updated_at, closed_at, dedup_key, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
          "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'seed')");
      if (!st) return 1;
      for (std::int64_t j = i; j < std::min(n, i + kBatch); ++j) {
        const core::TimeMs created =
            now - static_cast<core::TimeMs>(rng() % static_cast<std::uint64_t>(90 * core::kDayMs));
        const core::TimeMs seen = std::min<core::TimeMs>(
            now - 1, created + static_cast<core::TimeMs>(rng() % (5 * core::kDayMs)));
        // Keys spread over 50,000 entities and 1,000 rules.
        auto d = bench::detectionFor(tenant.project.id,
                                     static_cast<std::int64_t>(rng() % 50'000'000), seen, rng);
        // Severity mix: INFO 15%, LOW 25%, MEDIUM 30%, HIGH 20%, CRITICAL 10%.
        const int sv = static_cast<int>(rng() % 100);
        d.severity = sv < 15   ? core::Severity::kInfo
                     : sv < 40 ? core::Severity::kLow
                     : sv < 70 ? core::Severity::kMedium
                     : sv < 90 ? core::Severity::kHigh
                               : core::Severity::kCritical;
        d.score = core::scoreForSeverity(d.severity) - 9 + static_cast<int>(rng() % 19);
        const int stv = static_cast<int>(rng() % 100);
        const size_t state = stv < 20 ? 0 : stv < 30 ? 1 : stv < 35 ? 2 : 3;
        const bool closed = state == 3;
        const int g = static_cast<int>(rng() % 10);
        const int owner = static_cast<int>(rng() % 10);
        auto* p = *st;
        p->reset();
        p->bind(1, d.project_id).bind(2, d.name).bind(3, d.description).bind(4, d.score);
        p->bind(5, static_cast<int>(d.severity)).bind(6, static_cast<int>(d.kind));
        p->bind(7, d.source).bind(8, d.rule_id).bind(9, d.rule_group).bind(10, d.entity.type);
        p->bind(11, d.entity.value).bind(12, d.entity_group).bind(13, d.host);
        p->bind(14, "[\"T1059.001\"]").bind(15, d.evidence_json);
        if (g < 5)
          p->bind(16, tenant.groups[static_cast<size_t>(g)].id);
        else if (g < 9)
          p->bind(16, tenant.groups[0].id);
        else
          p->bindNull(16);
        p->bind(17, tenant.states[state].id);
        if (closed)
          p->bind(18, tenant.outcomes[rng() % 4].id);
        else
          p->bindNull(18);
        if (owner < 6)
          p->bind(19, tenant.users[rng() % tenant.users.size()].id);
        else
          p->bindNull(19);
        p->bind(20, closed).bind(21, static_cast<std::int64_t>(1 + rng() % 5));
        p->bind(22, created).bind(23, seen).bind(24, seen);
        if (closed)
          p->bind(25, seen);
        else
          p->bindNull(25);
        p->bind(26, core::dedupKey(d) + "#" + std::to_string(j));
        if (!p->run()) return 1;
      }
      if (!c.commit()) return 1;
    }
    std::printf("store                 %s\n", bench::benchBackendName());
    std::printf("seeded                %lld threats in %.1f s\n", static_cast<long long>(n),
                bench::secondsSince(start));
  }

  // --- reopen: the read model loads from disk
  // -----------------------------------------------------
  auto openNode = [&] {
    return url.empty() ? store::sqlite::SqliteStore::open(path)
                       : store::sqlite::SqliteStore::openPostgres(url);
  };
  const auto open_start = std::chrono::steady_clock::now();
  auto opened = openNode();
  if (!opened) {
    std::fprintf(stderr, "reopen: %s\n", opened.error().message.c_str());
    return 1;
  }
  auto& s = **opened;
  std::printf("open + index load     %.2f s, index %.1f MiB (%.0f bytes/threat)\n",
              bench::secondsSince(open_start),
              static_cast<double>(s.indexMemoryBytes()) / 1048576.0,
              static_cast<double>(s.indexMemoryBytes()) / static_cast<double>(n));

  // --- further nodes writing while this one is timed
  // ----------------------------------------------
  std::vector<std::unique_ptr<store::sqlite::SqliteStore>> writers;
  for (int k = 1; k < nodes; ++k) {
    auto other = openNode();
    if (!other) {
      std::fprintf(stderr, "node %d: %s\n", k + 1, other.error().message.c_str());
      return 1;
    }
    writers.push_back(std::move(*other));
  }
  std::atomic<bool> stop{false}, write_failed{false};
  std::atomic<std::int64_t> written{0};
  std::vector<std::thread> writing;
  const auto writes_start = std::chrono::steady_clock::now();
  for (size_t k = 0; k < writers.size(); ++k) {
    writing.emplace_back([&, k] {
      std::mt19937_64 rng(100 + k);
      store::Actor actor{std::nullopt, "bench"};
      // Keys of their own (above the seed's), so each node raises new threats and repeats its own.
      const std::int64_t first_key = 100'000'000 + static_cast<std::int64_t>(k) * 100'000'000;
      std::int64_t next_key = first_key;
      const auto per_batch = static_cast<size_t>(write_rate / 5);
      auto tick = std::chrono::steady_clock::now();
      while (!stop) {
        std::vector<core::Detection> batch;
        for (size_t j = 0; j < per_batch; ++j) {
          const bool repeat = next_key > first_key && rng() % 10 < 3;
          const std::int64_t key =
              repeat ? first_key + static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(
                                                                        next_key - first_key))
                     : next_key++;
          batch.push_back(bench::detectionFor(tenant.project.id, key, core::nowMs(), rng));
        }
        auto r = writers[k]->applyDetections(batch, {}, actor);
        if (!r) {
          std::fprintf(stderr, "node %zu applyDetections: %s\n", k + 2, r.error().message.c_str());
          write_failed = true;
          return;
        }
        written += static_cast<std::int64_t>(batch.size());
        tick += std::chrono::milliseconds(200);
        std::this_thread::sleep_until(tick);
      }
    });
  }
  if (!writers.empty()) {
    std::this_thread::sleep_for(std::chrono::seconds(warmup_seconds));
    // The first read catches up with everything written since the node opened; the timed reads
    // then see what a node serving all along would.
    (void)s.listThreats(store::ThreatFilter{}, store::PageRequest{});
  }
  const auto timed_start = std::chrono::steady_clock::now();
  const std::int64_t refreshed_before = s.refreshedRows();
  int reads = 0;

  std::vector<std::pair<std::string, store::ThreatFilter>> sets;
  store::ThreatFilter base;
  base.project_id = tenant.project.id;
  sets.emplace_back("no filter", base);
  auto group = base;
  group.groups = {"L1 Support"};
  sets.emplace_back("group L1 Support", group);
  auto severe = base;
  severe.severities = {core::Severity::kHigh, core::Severity::kCritical};
  sets.emplace_back("severity HIGH+CRITICAL", severe);
  auto fresh = base;
  fresh.states = {"New"};
  sets.emplace_back("state New", fresh);
  auto week = base;
  week.from = now - 7 * core::kDayMs;
  week.text = "powershell";
  sets.emplace_back("last 7 days + text", week);

  std::vector<Timing> timings;
  for (const auto& [name, filter] : sets) {
    Timing t{"overview: " + name, {}, {}};
    std::int64_t total = 0;
    store::OverviewRequest req;
    req.filter = filter;
    req.now = now;
    measure(t, iterations, [&] {
      auto ov = s.overview(req);
      if (!ov) std::abort();
      total = ov->total;
    }, reads);
    t.name += " (" + std::to_string(total) + " threats)";
    timings.push_back(std::move(t));
  }

  store::PageRequest first;
  Timing page1{"list: page 1 (last_seen desc, 50)", {}, {}};
  measure(page1, iterations, [&] {
    if (!s.listThreats(base, first)) std::abort();
  }, reads);
  timings.push_back(page1);

  store::PageRequest hundredth;
  for (int p = 1; p < 100; ++p, ++reads) {
    auto page = s.listThreats(base, hundredth);
    if (!page || page->next_cursor.empty()) std::abort();
    hundredth.cursor = page->next_cursor;
  }
  Timing page100{"list: page 100 (by cursor)", {}, {}};
  measure(page100, iterations, [&] {
    if (!s.listThreats(base, hundredth)) std::abort();
  }, reads);
  timings.push_back(page100);

  store::PageRequest by_score;
  by_score.sort = store::ThreatSort::kScore;
  Timing filtered{"list: page 1 open HIGH+CRITICAL by score", {}, {}};
  auto open_severe = severe;
  open_severe.open = true;
  measure(filtered, iterations, [&] {
    if (!s.listThreats(open_severe, by_score)) std::abort();
  }, reads);
  timings.push_back(filtered);

  const std::int64_t refreshed = s.refreshedRows() - refreshed_before;
  const double writes_seconds = bench::secondsSince(writes_start);
  const double timed_seconds = bench::secondsSince(timed_start);
  stop = true;
  for (auto& t : writing) t.join();
  if (write_failed) return 1;

  if (!writers.empty())
    std::printf("other nodes           %zu writing %.0f detections/s in all (asked %d/s each), "
                "%d s before the timing and %.0f s during it\n",
                writers.size(), static_cast<double>(written) / writes_seconds, write_rate,
                warmup_seconds, timed_seconds);
  std::printf("read-model refreshes  %lld threat rows read again over %d reads (%.0f per read)\n",
              static_cast<long long>(refreshed), reads,
              static_cast<double>(refreshed) / std::max(1, reads));
  std::printf("\n%-52s %13s %13s %13s %13s\n",
              ("query (" + std::to_string(iterations) + " runs each)").c_str(), "wall p50 ms",
              "wall p99 ms", "cpu p50 ms", "cpu p99 ms");
  for (const auto& t : timings)
    std::printf("%-52s %13.1f %13.1f %13.1f %13.1f\n", t.name.c_str(), bench::quantileMs(t.ms, 0.5),
                bench::quantileMs(t.ms, 0.99), bench::quantileMs(t.cpu, 0.5),
                bench::quantileMs(t.cpu, 0.99));
  std::printf("\npeak RSS              %.0f MiB\n", bench::peakRssMiB());
  return 0;
}
