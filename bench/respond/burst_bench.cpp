// A burst of new threats with three matching webhook responses against a fast local receiver
// (cpp-httplib on 127.0.0.1 in this process): deliveries per second, and the latency from the
// commit of a threat's transaction to the arrival of each of its webhooks (p50, p99, max).
//
//   respond_burst_bench [--threats N] [--batch B] [--workers W] [--responses R] [--rate T]
//
// The sink writes the burst as fast as it can in batches of B (as the threat sink does); the
// dispatcher runs on its own threads (as in `threatdesk serve`), polling the outbox every 20 ms.
// With --rate T the sink writes T threats per second instead of as fast as it can.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "respond/dispatcher.h"
#include "respond/responses.h"
#include "store/store.h"

using namespace td;
using Clock = std::chrono::steady_clock;

int main(int argc, char** argv) {
  int threats = 10000, batch = 100, workers = 4, responses = 3, rate = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const int v = std::atoi(argv[i + 1]);
    if (k == "--threats")
      threats = v;
    else if (k == "--batch")
      batch = v;
    else if (k == "--workers")
      workers = v;
    else if (k == "--responses")
      responses = v;
    else if (k == "--rate")
      rate = v;
  }
  const auto dir =
      std::filesystem::temp_directory_path() / ("td-respond-bench-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto store = std::move(*store::openStore("sqlite:" + (dir / "bench.db").string()));
  auto org = *store->createOrg("Bench", std::nullopt);
  auto project = *store->createProject(org.id, "bench");
  int pos = 0;
  for (const char* s : {"New", "In Progress", "Closed"})
    (void)store->addTag(org.id, store::TagKind::kState, s, pos++);

  // The receiver: notes each arrival against the threat id in the body.
  std::mutex mu;
  std::vector<std::pair<std::int64_t, Clock::time_point>> arrivals;
  arrivals.reserve(static_cast<size_t>(threats) * responses);
  httplib::Server receiver;
  receiver.Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
    const auto at = Clock::now();
    const auto id = nlohmann::json::parse(req.body)["id"].get<std::int64_t>();
    {
      std::lock_guard lock(mu);
      arrivals.emplace_back(id, at);
    }
    res.set_content("ok", "text/plain");
  });
  receiver.new_task_queue = [] { return new httplib::ThreadPool(16); };
  receiver.set_tcp_nodelay(true);  // else Nagle + delayed ACK add ~40 ms to each keep-alive answer
  const int port = receiver.bind_to_any_port("127.0.0.1");
  std::thread serving([&] { receiver.listen_after_bind(); });
  while (!receiver.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));

  for (int r = 0; r < responses; ++r) {
    nlohmann::json body = {
        {"name", "hook-" + std::to_string(r)},
        {"type", "webhook"},
        {"webhook",
         {{"url", "http://127.0.0.1:" + std::to_string(port) + "/hook"},
          {"secret", "bench-secret"},
          {"payload",
           "{\"id\":{{threat_id}},\"name\":\"{{name}}\",\"severity\":\"{{severity}}\"}"}}}};
    if (!respond::createResponse(*store, org.id, body)) return 1;
  }

  respond::DispatcherOptions o;
  o.workers = workers;
  o.public_url = "http://127.0.0.1:8080";
  respond::Dispatcher dispatcher(*store, o);
  dispatcher.start();

  std::unordered_map<std::int64_t, Clock::time_point> committed;
  committed.reserve(static_cast<size_t>(threats));
  const auto start = Clock::now();
  for (int i = 0; i < threats; i += batch) {
    if (rate > 0)  // paced: batch i is due at i / rate seconds
      std::this_thread::sleep_until(
          start + std::chrono::microseconds(static_cast<std::int64_t>(i) * 1000000 / rate));
    std::vector<core::Detection> ds;
    for (int j = i; j < std::min(threats, i + batch); ++j) {
      core::Detection d;
      d.project_id = project.id;
      d.name = "Burst threat " + std::to_string(j);
      d.rule_id = "burst-" + std::to_string(j);
      d.entity = {"host", "host-" + std::to_string(j % 500)};
      d.host = d.entity.value;
      d.severity = core::Severity::kHigh;
      d.score = 70;
      ds.push_back(std::move(d));
    }
    auto r = store->applyDetections(ds, {}, {std::nullopt, "bench"});
    const auto at = Clock::now();
    if (!r) {
      std::fprintf(stderr, "sink: %s\n", r.error().message.c_str());
      return 1;
    }
    for (auto id : r->created_ids) committed[id] = at;
  }
  const auto burst_written = Clock::now();
  const size_t expected = static_cast<size_t>(threats) * responses;
  while (true) {
    {
      std::lock_guard lock(mu);
      if (arrivals.size() >= expected) break;
    }
    if (Clock::now() - start > std::chrono::minutes(10)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  const auto done = Clock::now();
  dispatcher.stop();
  receiver.stop();
  serving.join();

  std::vector<double> lat;
  {
    std::lock_guard lock(mu);
    for (const auto& [id, at] : arrivals)
      if (auto it = committed.find(id); it != committed.end())
        lat.push_back(std::chrono::duration<double, std::milli>(at - it->second).count());
  }
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, static_cast<size_t>(p * lat.size()))];
  };
  const double secs = std::chrono::duration<double>(done - start).count();
  const double write_secs = std::chrono::duration<double>(burst_written - start).count();
  std::printf("threats %d, responses %d, batch %d, workers %d, rate %s\n", threats, responses,
              batch, workers, rate > 0 ? std::to_string(rate).c_str() : "burst");
  std::printf("burst written in %.2f s (%.0f threats/s)\n", write_secs, threats / write_secs);
  std::printf("deliveries %zu of %zu in %.2f s: %.0f deliveries/s\n", lat.size(), expected, secs,
              lat.size() / secs);
  std::printf("commit -> webhook arrival: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", pct(0.50),
              pct(0.99), lat.empty() ? 0.0 : lat.back());
  std::filesystem::remove_all(dir);
  return lat.size() == expected ? 0 : 2;
}
