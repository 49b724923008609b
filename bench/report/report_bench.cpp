// The weekly SOC summary over a large store: seeds N threats (90 days of history, 65 % closed
// with a closed_at, transitions in the timeline for every closed and a third of the open ones),
// reopens the store (the read model loads), then times computing the report and rendering it to
// PDF, each iteration from scratch.
//
//   report_weekly_bench [threats=1000000] [iterations=7]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>

#include "../store/bench_common.h"
#include "report/query.h"
#include "report/render.h"
#include "report/templates.h"

namespace td {
namespace {

double threadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

}  // namespace
}  // namespace td

int main(int argc, char** argv) {
  using namespace td;
  const std::int64_t n = argc > 1 ? std::atoll(argv[1]) : 1'000'000;
  const int iterations = argc > 2 ? std::atoi(argv[2]) : 7;
  bench::ScratchDir dir;
  const std::string path = dir.path() + "/report.db";
  const core::TimeMs now = core::nowMs();
  bench::Tenant tenant;
  {
    auto opened = store::sqlite::SqliteStore::open(path);
    if (!opened) return 1;
    auto& s = **opened;
    tenant = bench::makeTenant(s, 20);
    auto& c = s.writerForBenchmarks();
    std::mt19937_64 rng(5);
    const auto start = std::chrono::steady_clock::now();
    const std::int64_t kBatch = 20000;
    std::int64_t timeline_rows = 0;
    for (std::int64_t i = 0; i < n; i += kBatch) {
      if (!c.exec("BEGIN IMMEDIATE")) return 1;
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
        auto d = bench::detectionFor(tenant.project.id,
                                     static_cast<std::int64_t>(rng() % 50'000'000), seen, rng);
        const int sv = static_cast<int>(rng() % 100);
        d.severity = sv < 15   ? core::Severity::kInfo
                     : sv < 40 ? core::Severity::kLow
                     : sv < 70 ? core::Severity::kMedium
                     : sv < 90 ? core::Severity::kHigh
                               : core::Severity::kCritical;
        d.score = core::scoreForSeverity(d.severity);
        const int stv = static_cast<int>(rng() % 100);
        const size_t state = stv < 20 ? 0 : stv < 30 ? 1 : stv < 35 ? 2 : 3;
        const bool closed = state == 3;
        const core::TimeMs acked =
            std::min<core::TimeMs>(now - 1, created + static_cast<core::TimeMs>(
                                                          rng() % (8 * core::kHourMs)));
        const core::TimeMs closed_at = std::min<core::TimeMs>(
            now - 1, acked + static_cast<core::TimeMs>(rng() % (3 * core::kDayMs)));
        auto* p = *st;
        p->reset();
        p->bind(1, d.project_id).bind(2, d.name).bind(3, d.description).bind(4, d.score);
        p->bind(5, static_cast<int>(d.severity)).bind(6, static_cast<int>(d.kind));
        p->bind(7, d.source).bind(8, d.rule_id).bind(9, d.rule_group).bind(10, d.entity.type);
        p->bind(11, d.entity.value).bind(12, d.entity_group).bind(13, d.host);
        p->bind(14, "[\"T1059.001\"]").bind(15, d.evidence_json);
        p->bind(16, tenant.groups[rng() % tenant.groups.size()].id);
        p->bind(17, tenant.states[state].id);
        if (closed)
          p->bind(18, tenant.outcomes[rng() % 4].id);
        else
          p->bindNull(18);
        if (rng() % 10 < 6)
          p->bind(19, tenant.users[rng() % tenant.users.size()].id);
        else
          p->bindNull(19);
        p->bind(20, closed).bind(21, std::int64_t{1});
        p->bind(22, created).bind(23, seen).bind(24, seen);
        if (closed)
          p->bind(25, closed_at);
        else
          p->bindNull(25);
        p->bind(26, core::dedupKey(d) + "#" + std::to_string(j));
        if (!p->run()) return 1;
        const core::ThreatId id = c.lastInsertId();
        auto tl = c.prepare(
            "INSERT INTO timeline (threat_id, at, actor, action, from_value, to_value) VALUES "
            "(?, ?, 'analyst@example.com', ?, ?, ?)");
        if (!tl) return 1;
        if (closed || state > 0 || rng() % 3 == 0) {
          (*tl)->bind(1, id).bind(2, acked).bind(3, "state").bind(4, "New").bind(5, "In Progress");
          if (!(*tl)->run()) return 1;
          ++timeline_rows;
        }
        if (closed) {
          (*tl)->reset();
          (*tl)->bind(1, id).bind(2, closed_at).bind(3, "closed").bind(4, "").bind(5, "Benign");
          if (!(*tl)->run()) return 1;
          ++timeline_rows;
        }
      }
      c.resetAll();
      if (!c.exec("COMMIT")) return 1;
    }
    std::printf("seeded                %lld threats, %lld timeline entries in %.1f s\n",
                static_cast<long long>(n), static_cast<long long>(timeline_rows),
                bench::secondsSince(start));
  }
  auto reopened = store::openStore("sqlite:" + path);
  if (!reopened) return 1;
  auto& s = **reopened;
  auto spec = report::parseSpec(report::findTemplate("weekly-soc-summary")->document);
  if (!spec) return 1;
  std::vector<double> query_ms, render_ms, total_ms, cpu_ms;
  size_t bytes = 0;
  for (int i = 0; i < iterations; ++i) {
    const double cpu0 = threadCpuMs();
    const auto t0 = std::chrono::steady_clock::now();
    report::QueryOptions q;
    q.project_id = tenant.project.id;
    q.now = now;
    auto data = report::runReport(s, *spec, q);
    if (!data) {
      std::fprintf(stderr, "report: %s\n", data.error().message.c_str());
      return 1;
    }
    const double q_ms = bench::secondsSince(t0) * 1e3;
    const auto t1 = std::chrono::steady_clock::now();
    auto pdf = report::renderReport(*data, {});
    if (!pdf) return 1;
    bytes = pdf->size();
    render_ms.push_back(bench::secondsSince(t1) * 1e3);
    query_ms.push_back(q_ms);
    total_ms.push_back(bench::secondsSince(t0) * 1e3);
    cpu_ms.push_back(threadCpuMs() - cpu0);
  }
  std::printf("weekly SOC summary    %d iterations over %lld threats, PDF %zu bytes\n", iterations,
              static_cast<long long>(n), bytes);
  std::printf("  query   median %.0f ms  max %.0f ms\n", bench::quantileMs(query_ms, 0.5),
              bench::quantileMs(query_ms, 1.0));
  std::printf("  render  median %.0f ms  max %.0f ms\n", bench::quantileMs(render_ms, 0.5),
              bench::quantileMs(render_ms, 1.0));
  std::printf("  total   median %.0f ms  max %.0f ms  (goal: under 2000 ms; ratio %.2f)\n",
              bench::quantileMs(total_ms, 0.5), bench::quantileMs(total_ms, 1.0),
              bench::quantileMs(total_ms, 0.5) / 2000.0);
  std::printf("  process CPU median %.0f ms\n", bench::quantileMs(cpu_ms, 0.5));
  std::printf("peak RSS              %.0f MiB\n", bench::peakRssMiB());
  return 0;
}
