// A burst of new threats with three matching webhook responses against a fast local receiver
// (on 127.0.0.1 in this process): deliveries per second, and the latency from the commit of a
// threat's transaction to the arrival of each of its webhooks (p50, p99, max).
//
//   respond_burst_bench [--threats N] [--batch B] [--workers W] [--responses R] [--rate T]
//                       [--delivery-batch D] [--connections C] [--receiver epoll|httplib]
//                       [--receiver-threads N] [--client lean|curl] [--http-only 1|2]
//
// The sink writes the burst as fast as it can in batches of B (as the threat sink does); the
// dispatcher runs on its own threads (as in `threatdesk serve`; its defaults unless given), woken
// by the store after each outbox commit. With --rate T the sink writes T threats per second
// instead of as fast as it can. The database is in $TMPDIR (default /tmp).
//
// --http-only 1 sends the same number of webhook requests (same size, same headers, signed)
// through the dispatcher's transport (sendHttpMany: W threads, batches of D, C connections in
// all) to the same receiver, with no store and no dispatcher: the CPU the HTTP exchange alone
// costs per delivery, client and receiver together. --http-only 2 sends them from raw keep-alive
// sockets instead (no client library; the floor under any HTTP/1.1 client). --client curl sends
// every webhook through libcurl (default: plain http:// through the lean client).
#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "respond/dispatcher.h"
#include "respond/responses.h"
#include "respond/transport.h"
#include "store/store.h"

using namespace td;
using Clock = std::chrono::steady_clock;

// The "fast local receiver": one thread, epoll, keep-alive, answers every complete request with
// 200 at once and notes its arrival (what a receiver that queues the work does). cpp-httplib
// (--receiver httplib) runs a thread per connection and costs the shared cores several times more.
class EpollReceiver {
 public:
  using OnRequest = std::function<void(std::string_view body)>;
  explicit EpollReceiver(OnRequest on) : on_(std::move(on)) {
    listen_ = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    ::setsockopt(listen_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_, 1024);
    socklen_t len = sizeof a;
    ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ep_ = ::epoll_create1(0);
    add(listen_);
    thread_ = std::thread([this] { run(); });
  }
  ~EpollReceiver() {
    stop_ = true;
    thread_.join();
    for (auto& [fd, buf] : conns_) ::close(fd);
    ::close(ep_);
    ::close(listen_);
  }
  int port() const { return port_; }
  // The receiver thread's CPU so far (user + system), in seconds.
  double cpuSeconds() const { return cpu_us_.load() / 1e6; }

 private:
  void add(int fd) {
    epoll_event e{};
    e.events = EPOLLIN;
    e.data.fd = fd;
    ::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &e);
  }
  void run() {
    std::vector<epoll_event> events(256);
    char chunk[65536];
    while (!stop_) {
      rusage u{};
      ::getrusage(RUSAGE_THREAD, &u);
      cpu_us_ = (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1000000LL + u.ru_utime.tv_usec +
                u.ru_stime.tv_usec;
      const int n = ::epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 50);
      for (int i = 0; i < n; ++i) {
        const int fd = events[i].data.fd;
        if (fd == listen_) {
          while (true) {
            const int c = ::accept4(listen_, nullptr, nullptr, SOCK_NONBLOCK);
            if (c < 0) break;
            int one = 1;
            ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            conns_[c];
            add(c);
          }
          continue;
        }
        auto& buf = conns_[fd];
        bool closed = false;
        while (true) {
          const ssize_t r = ::read(fd, chunk, sizeof chunk);
          if (r > 0) {
            buf.append(chunk, static_cast<size_t>(r));
            continue;
          }
          closed = r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
          break;
        }
        std::string out;
        size_t at = 0;
        while (true) {  // every complete request in the buffer
          const size_t end = buf.find("\r\n\r\n", at);
          if (end == std::string::npos) break;
          size_t length = 0;
          for (size_t p = at; p < end;) {
            const size_t eol = buf.find("\r\n", p);
            if (eol - p > 15 && strncasecmp(buf.data() + p, "content-length:", 15) == 0)
              length = std::strtoul(buf.data() + p + 15, nullptr, 10);
            p = eol + 2;
          }
          if (buf.size() < end + 4 + length) break;
          on_(std::string_view(buf).substr(end + 4, length));
          out += "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok";
          at = end + 4 + length;
        }
        buf.erase(0, at);
        if (!out.empty() && ::write(fd, out.data(), out.size()) < 0) closed = true;
        if (closed) {
          ::close(fd);
          conns_.erase(fd);
        }
      }
    }
  }
  OnRequest on_;
  int listen_ = -1, ep_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<long long> cpu_us_{0};
  std::unordered_map<int, std::string> conns_;
  std::thread thread_;
};

// --http-only 2: the floor under any HTTP/1.1 client. Raw keep-alive sockets, one request written
// and one answer read at a time per connection, `connections` of them over one epoll per sender
// thread, no library: what a lean client could at best cost (the receiver's share included).
int rawClientRun(int port, int senders, int connections_per_sender, int n,
                 const std::function<std::string(int)>& wire) {
  std::atomic<int> failed{0};
  std::vector<std::thread> ts;
  for (int w = 0; w < senders; ++w)
    ts.emplace_back([&, w] {
      struct Conn {
        int fd = -1;
        std::string in;
        bool busy = false;
      };
      const int ep = ::epoll_create1(0);
      std::vector<Conn> conns(static_cast<size_t>(connections_per_sender));
      for (size_t c = 0; c < conns.size(); ++c) {
        conns[c].fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(static_cast<uint16_t>(port));
        if (::connect(conns[c].fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
          ++failed;
          return;
        }
        int one = 1;
        ::setsockopt(conns[c].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        ::fcntl(conns[c].fd, F_SETFL, O_NONBLOCK);
        epoll_event e{};
        e.events = EPOLLIN;
        e.data.u64 = c;
        ::epoll_ctl(ep, EPOLL_CTL_ADD, conns[c].fd, &e);
      }
      int next = w;
      const int step = senders;
      int busy = 0;
      auto send = [&](Conn& c) {
        if (next >= n) return;
        const std::string req = wire(next);
        next += step;
        if (::write(c.fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) ++failed;
        c.busy = true;
        ++busy;
      };
      for (auto& c : conns) send(c);
      std::vector<epoll_event> events(conns.size());
      char chunk[16384];
      while (busy > 0) {
        const int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), 1000);
        if (n <= 0) {
          ++failed;
          break;
        }
        for (int i = 0; i < n; ++i) {
          Conn& c = conns[events[i].data.u64];
          const ssize_t r = ::read(c.fd, chunk, sizeof chunk);
          if (r <= 0) continue;
          c.in.append(chunk, static_cast<size_t>(r));
          const size_t end = c.in.find("\r\n\r\n");
          if (end == std::string::npos) continue;
          size_t length = 0;
          if (const char* cl = ::strcasestr(c.in.c_str(), "content-length:"))
            length = std::strtoul(cl + 15, nullptr, 10);
          if (c.in.size() < end + 4 + length) continue;
          if (c.in.compare(0, 12, "HTTP/1.1 200") != 0) ++failed;
          c.in.erase(0, end + 4 + length);
          c.busy = false;
          --busy;
          send(c);
        }
      }
      for (auto& c : conns) ::close(c.fd);
      ::close(ep);
    });
  for (auto& t : ts) t.join();
  return failed.load();
}

int main(int argc, char** argv) {
  int threats = 10000, batch = 100, workers = 4, responses = 3, rate = 0;
  int delivery_batch = 0, connections = 0, receiver_threads = 32;
  bool httplib_receiver = false, curl_client = false;
  int http_only = 0;
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
    else if (k == "--delivery-batch")
      delivery_batch = v;
    else if (k == "--connections")
      connections = v;
    else if (k == "--receiver-threads")
      receiver_threads = v;
    else if (k == "--http-only")
      http_only = v;
    else if (k == "--receiver")
      httplib_receiver = std::string(argv[i + 1]) == "httplib";
    else if (k == "--client")
      curl_client = std::string(argv[i + 1]) == "curl";
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
  auto note = [&](std::string_view body) {
    const auto at = Clock::now();
    const auto p = body.find("\"id\":");
    const std::int64_t id = p == std::string_view::npos ? -1 : std::atoll(body.data() + p + 5);
    std::lock_guard lock(mu);
    arrivals.emplace_back(id, at);
  };
  httplib::Server receiver;
  std::unique_ptr<EpollReceiver> fast;
  std::thread serving;
  int port = 0;
  if (httplib_receiver) {
    receiver.Post("/hook", [&](const httplib::Request& req, httplib::Response& res) {
      note(req.body);
      res.set_content("ok", "text/plain");
    });
    // A thread per keep-alive connection, so at least as many as the dispatcher opens; and many
    // requests per connection (httplib closes after 5 by default; nginx allows 1,000).
    receiver.new_task_queue = [&] {
      return new httplib::ThreadPool(static_cast<size_t>(receiver_threads));
    };
    receiver.set_keep_alive_max_count(100000);
    receiver.set_tcp_nodelay(true);  // else Nagle + delayed ACK add ~40 ms to each answer
    port = receiver.bind_to_any_port("127.0.0.1");
    serving = std::thread([&] { receiver.listen_after_bind(); });
    while (!receiver.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  } else {
    fast = std::make_unique<EpollReceiver>(note);
    port = fast->port();
  }

  if (http_only) {
    const int n = threats * responses;
    const int senders = std::max(1, workers);
    const int per_batch = delivery_batch > 0 ? delivery_batch : 256;
    respond::HttpBatchOptions batch;
    batch.max_connections = std::max(1, (connections > 0 ? connections : 16) / senders);
    batch.lean = !curl_client;
    auto cpu = [] {
      rusage u{};
      ::getrusage(RUSAGE_SELF, &u);
      return u.ru_utime.tv_sec + u.ru_stime.tv_sec +
             (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
    };
    const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/hook";
    auto request = [&](int j) {
      respond::HttpRequest r;
      r.url = url;
      r.body = "{\"id\":" + std::to_string(j / responses + 1) + ",\"name\":\"Burst threat " +
               std::to_string(j / responses) + "\",\"severity\":\"high\"}";
      r.headers = {
          {"Content-Type", "application/json"},
          {"Idempotency-Key", "td-o" + std::to_string(j) + "-r1.123456789-t1"},
          {"X-ThreatDesk-Delivery", std::to_string(j)},
          {"X-ThreatDesk-Attempt", "1"},
          {"X-ThreatDesk-Event", "threat.created"},
          {"X-ThreatDesk-Signature", "sha256=" + respond::hmacSha256Hex("bench-secret", r.body)}};
      return r;
    };
    // --http-only 2: the same request as bytes (what the raw client writes), built while timed
    // like the transport's.
    auto wire = [&](int j) {
      const auto r = request(j);
      std::string w = "POST /hook HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                      "\r\nUser-Agent: ThreatDesk/0.1 (+webhook)\r\nAccept: */*\r\n";
      for (const auto& [k, v] : r.headers) w += k + ": " + v + "\r\n";
      w += "Content-Length: " + std::to_string(r.body.size()) + "\r\n\r\n" + r.body;
      return w;
    };
    const double cpu0 = cpu();
    const double receiver0 = fast ? fast->cpuSeconds() : 0;
    const auto t0 = Clock::now();
    std::vector<std::thread> ts;
    std::atomic<int> failed{0};
    if (http_only == 2) failed = rawClientRun(port, senders, batch.max_connections, n, wire);
    for (int w = 0; http_only == 1 && w < senders; ++w)
      ts.emplace_back([&, w] {
        for (int i = w * per_batch; i < n; i += senders * per_batch) {
          std::vector<respond::HttpRequest> reqs;
          for (int j = i; j < std::min(n, i + per_batch); ++j) {
            reqs.push_back(request(j));
          }
          for (const auto& res : respond::sendHttpMany(reqs, batch))
            if (!res.status || *res.status != 200) ++failed;
        }
      });
    for (auto& t : ts) t.join();
    while (true) {
      {
        std::lock_guard lock(mu);
        if (arrivals.size() >= static_cast<size_t>(n)) break;
      }
      if (Clock::now() - t0 > std::chrono::minutes(2)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::this_thread::sleep_for(std::chrono::milliseconds(120));  // the receiver notes its CPU
    const double used = cpu() - cpu0;
    const double received = fast ? fast->cpuSeconds() - receiver0 : 0;
    std::printf(
        "http only (%s): %d requests (%d failed) in %.2f s: %.0f requests/s; CPU %.2f s, "
        "%.1f us per request (client and receiver; the receiver's thread %.1f us)\n",
        http_only == 2 ? "raw keep-alive sockets"
        : curl_client  ? "transport, libcurl"
                       : "transport, lean client",
        n, failed.load(), secs, n / secs, used, used * 1e6 / n, received * 1e6 / n);
    if (httplib_receiver) {
      receiver.stop();
      serving.join();
    }
    fast.reset();
    std::filesystem::remove_all(dir);
    return failed == 0 ? 0 : 2;
  }

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
  if (delivery_batch > 0) o.delivery_batch = delivery_batch;
  if (connections > 0) o.connections = connections;
  o.public_url = "http://127.0.0.1:8080";
  o.lean_http = !curl_client;
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
  if (httplib_receiver) {
    receiver.stop();
    serving.join();
  }
  fast.reset();

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
  std::printf(
      "threats %d, responses %d, batch %d, workers %d, delivery batch %d, connections %d, "
      "receiver %s, client %s, rate %s\n",
      threats, responses, batch, workers, o.delivery_batch, o.connections,
      httplib_receiver ? "httplib" : "epoll", curl_client ? "libcurl" : "lean",
      rate > 0 ? std::to_string(rate).c_str() : "burst");
  std::printf("burst written in %.2f s (%.0f threats/s)\n", write_secs, threats / write_secs);
  std::printf("deliveries %zu of %zu in %.2f s: %.0f deliveries/s\n", lat.size(), expected, secs,
              lat.size() / secs);
  std::printf("commit -> webhook arrival: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n", pct(0.50),
              pct(0.99), lat.empty() ? 0.0 : lat.back());
  std::filesystem::remove_all(dir);
  return lat.size() == expected ? 0 : 2;
}
