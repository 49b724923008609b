// The overview benchmark end to end: N realistic threats in a SQLite store, the real
// HTTP server on a loopback port, and a keep-alive client timing GET /api/v1/overview for five
// typical filter sets and GET /api/v1/threats pages 1 and 100 (page 100 reached by following
// cursors), as an API client would. Prints p50/p99 per request kind and the peak RSS of the
// process (server and client together).
//
//   overview_http_bench [threats=1000000] [iterations=50]
#include <httplib.h>

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "bench_common.h"
#include "server/auth.h"
#include "server/server.h"
#include "triage/service.h"

using namespace td;

namespace {

struct Case {
  std::string name;
  std::string path;
};

}  // namespace

int main(int argc, char** argv) {
  const std::int64_t n = argc > 1 ? std::atoll(argv[1]) : 1'000'000;
  const int iterations = argc > 2 ? std::atoi(argv[2]) : 50;
  bench::ScratchDir dir;
  const std::string path = dir.path() + "/overview.db";
  const core::TimeMs now = core::nowMs();
  std::string project_name;
  std::string token;

  {
    auto opened = store::openStore("sqlite:" + path);
    if (!opened) {
      std::fprintf(stderr, "open: %s\n", opened.error().message.c_str());
      return 1;
    }
    auto& s = **opened;
    bench::Tenant tenant = bench::makeTenant(s, 20);
    project_name = tenant.project.name;
    std::mt19937_64 rng(42);
    const auto start = std::chrono::steady_clock::now();
    std::vector<core::Detection> batch;
    std::vector<std::optional<core::TagId>> groups;
    for (std::int64_t i = 0; i < n; ++i) {
      const core::TimeMs seen = now - static_cast<core::TimeMs>(rng() % (30 * core::kDayMs));
      batch.push_back(bench::detectionFor(tenant.project.id, i, seen, rng));
      groups.push_back(tenant.groups[rng() % tenant.groups.size()].id);
      if (batch.size() == 5000 || i + 1 == n) {
        if (auto r = s.applyDetections(batch, groups, {std::nullopt, "bench"}); !r) {
          std::fprintf(stderr, "seed: %s\n", r.error().message.c_str());
          return 1;
        }
        batch.clear();
        groups.clear();
      }
    }
    std::fprintf(stderr, "seeded %lld threats in %.1f s\n", static_cast<long long>(n),
                 bench::secondsSince(start));
    server::NewToken secret = server::generateToken();
    store::ApiToken t;
    t.project_id = tenant.project.id;
    t.name = "bench";
    t.token_hash = secret.hash;
    t.prefix = secret.prefix;
    t.scopes = store::Scope::kRead;
    t.created_at = now;
    if (!s.createToken(t)) return 1;
    token = secret.secret;
  }

  // Reopen so the read model loads from disk as a restarted server's would.
  const auto load_start = std::chrono::steady_clock::now();
  auto reopened = store::openStore("sqlite:" + path);
  if (!reopened) return 1;
  const double load_s = bench::secondsSince(load_start);
  triage::TriageService triage(**reopened);
  server::ServerOptions options;
  options.port = 0;
  options.threads = 2;
  server::Server server(**reopened, triage, options);
  auto port = server.start();
  if (!port) {
    std::fprintf(stderr, "start: %s\n", port.error().message.c_str());
    return 1;
  }

  httplib::Client client("127.0.0.1", *port);
  client.set_keep_alive(true);
  client.set_read_timeout(60, 0);
  httplib::Headers headers = {{"Authorization", "Bearer " + token}};
  const std::string from = core::formatRfc3339(now - 7 * core::kDayMs);
  const std::vector<Case> cases = {
      {"overview, no filter", "/api/v1/overview"},
      {"overview, group", "/api/v1/overview?group=L1%20Support"},
      {"overview, HIGH+CRITICAL", "/api/v1/overview?severity=HIGH,CRITICAL"},
      {"overview, state New", "/api/v1/overview?state=New"},
      {"overview, last 7 days + text", "/api/v1/overview?from=" + from + "&text=powershell"},
      {"threats page 1 by score", "/api/v1/threats?sort=score&limit=50"},
  };
  std::printf("%-34s %10s %10s\n", "request", "p50 ms", "p99 ms");
  for (const auto& c : cases) {
    std::vector<double> ms;
    for (int i = 0; i < iterations + 3; ++i) {
      const auto start = std::chrono::steady_clock::now();
      auto res = client.Get(c.path, headers);
      const double took = bench::secondsSince(start) * 1000.0;
      if (!res || res->status != 200) {
        std::fprintf(stderr, "%s: %s\n", c.path.c_str(),
                     res ? res->body.substr(0, 300).c_str() : "no answer");
        return 1;
      }
      if (i >= 3) ms.push_back(took);
    }
    std::printf("%-34s %10.1f %10.1f\n", c.name.c_str(), bench::quantileMs(ms, 0.5),
                bench::quantileMs(ms, 0.99));
  }
  // Page 100: follow the cursors of pages 1..99, then time the 100th request by its cursor.
  {
    std::string cursor;
    for (int page = 1; page < 100; ++page) {
      auto res = client.Get("/api/v1/threats?sort=score&limit=50" +
                                (cursor.empty() ? "" : "&cursor=" + cursor),
                            headers);
      if (!res || res->status != 200) return 1;
      const auto body = nlohmann::json::parse(res->body);
      cursor = body["next_cursor"].is_string() ? body["next_cursor"].get<std::string>() : "";
    }
    std::vector<double> ms;
    for (int i = 0; i < iterations + 3; ++i) {
      const auto start = std::chrono::steady_clock::now();
      auto res = client.Get("/api/v1/threats?sort=score&limit=50&cursor=" + cursor, headers);
      const double took = bench::secondsSince(start) * 1000.0;
      if (!res || res->status != 200) return 1;
      if (i >= 3) ms.push_back(took);
    }
    std::printf("%-34s %10.1f %10.1f\n", "threats page 100 by score", bench::quantileMs(ms, 0.5),
                bench::quantileMs(ms, 0.99));
  }
  std::printf("threats %lld, read model load %.2f s, peak RSS %.0f MiB\n",
              static_cast<long long>(n), load_s, bench::peakRssMiB());
  server.stop();
  return 0;
}
