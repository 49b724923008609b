// The lean HTTP/1.1 client (sendHttpMany's path for plain http://) against real servers on
// loopback, run by the test on its own threads: each scripted to answer with Content-Length,
// chunked, slowly, not at all, with Connection: close, closing a kept connection while idle or as
// a request arrives, resetting; and the response parser and URL reading on their own.
#include "respond/http_client.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "respond/transport.h"

namespace td::respond::http {
namespace {

using namespace std::chrono_literals;

// A request as the server read it.
struct Seen {
  int connection = 0;  // 1, 2, ... in order of accept
  std::string head;
  std::string body;
};

// What the server does with one request: write `answer` in pieces (with `pause` between them),
// then close the connection if `close` (without answering at all when `answer` is empty);
// `linger0` closes with a reset.
struct Action {
  std::vector<std::string> answer;
  std::chrono::milliseconds pause{0};
  bool close = false;
  bool linger0 = false;
};

// A blocking loopback server: a thread per connection; `script(n, seen)` decides what the n-th
// request (0-based, over all connections) gets.
class ScriptedServer {
 public:
  using Script = std::function<Action(int n, const Seen& seen)>;
  explicit ScriptedServer(Script script) : script_(std::move(script)) {
    listen_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(listen_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_, 64);
    socklen_t len = sizeof a;
    ::getsockname(listen_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { acceptLoop(); });
  }
  ~ScriptedServer() {
    stop_ = true;
    ::shutdown(listen_, SHUT_RDWR);
    acceptor_.join();
    {
      std::lock_guard lock(mu_);
      for (int fd : open_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : conns_) t.join();
    ::close(listen_);
  }
  int port() const { return port_; }
  std::string url(const std::string& path = "/hook") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<Seen> seen() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  int connections() const { return accepted_.load(); }

 private:
  void acceptLoop() {
    while (!stop_) {
      const int fd = ::accept(listen_, nullptr, nullptr);
      if (fd < 0) break;
      const int id = ++accepted_;
      {
        std::lock_guard lock(mu_);
        open_.push_back(fd);
      }
      conns_.emplace_back([this, fd, id] { serve(fd, id); });
    }
  }
  void serve(int fd, int id) {
    std::string buf;
    char chunk[4096];
    while (true) {
      size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        const ssize_t r = ::read(fd, chunk, sizeof chunk);
        if (r <= 0) return finish(fd, false);
        buf.append(chunk, static_cast<size_t>(r));
      }
      size_t length = 0;
      if (const char* cl = ::strcasestr(buf.c_str(), "\ncontent-length:"))
        length = std::strtoul(cl + 16, nullptr, 10);
      while (buf.size() < end + 4 + length) {
        const ssize_t r = ::read(fd, chunk, sizeof chunk);
        if (r <= 0) return finish(fd, false);
        buf.append(chunk, static_cast<size_t>(r));
      }
      Seen s{id, buf.substr(0, end + 4), buf.substr(end + 4, length)};
      buf.erase(0, end + 4 + length);
      int n;
      {
        std::lock_guard lock(mu_);
        n = static_cast<int>(seen_.size());
        seen_.push_back(s);
      }
      const Action a = script_(n, s);
      for (size_t i = 0; i < a.answer.size(); ++i) {
        if (i > 0 || a.pause.count() > 0) std::this_thread::sleep_for(a.pause);
        if (stop_) return finish(fd, false);
        (void)!::write(fd, a.answer[i].data(), a.answer[i].size());
      }
      if (a.close) return finish(fd, a.linger0);
    }
  }
  void finish(int fd, bool linger0) {
    if (linger0) {
      linger l{1, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    std::lock_guard lock(mu_);
    ::close(fd);
    std::erase(open_, fd);
  }

  Script script_;
  int listen_ = -1, port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  std::vector<std::thread> conns_;
  std::mutex mu_;
  std::vector<int> open_;
  std::vector<Seen> seen_;
};

Action ok(std::string body = "ok", std::string extra = "") {
  return {{"HTTP/1.1 200 OK\r\n" + extra + "Content-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body}};
}

HttpRequest post(const std::string& url, std::string body = "{\"a\":1}",
                 core::TimeMs timeout_ms = 5000) {
  HttpRequest r;
  r.url = url;
  r.body = std::move(body);
  r.timeout_ms = timeout_ms;
  r.headers = {{"Content-Type", "application/json"}, {"X-Test", "v"}};
  return r;
}

std::vector<HttpResult> send(const std::vector<HttpRequest>& requests, int connections = 4) {
  HttpBatchOptions o;
  o.max_connections = connections;
  return sendHttpMany(requests, o);
}

// Each test its own thread: the thread's kept connections do not carry over between tests.
template <typename F>
void onFreshThread(F f) {
  std::thread t(f);
  t.join();
}

TEST(HttpClientTest, ContentLengthAnswerAndTheRequestAsSent) {
  ScriptedServer server([](int, const Seen&) {
    return Action{{"HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX-Y: z\r\n\r\nhello"}};
  });
  onFreshThread([&] {
    auto res = send({post(server.url("/in?x=1#frag"), "{\"id\":7}")});
    ASSERT_EQ(res.size(), 1u);
    EXPECT_EQ(res[0].status, 201);
    EXPECT_EQ(res[0].body, "hello");
    EXPECT_TRUE(res[0].error.empty()) << res[0].error;
    EXPECT_TRUE(res[0].started);
  });
  const auto seen = server.seen();
  ASSERT_EQ(seen.size(), 1u);
  const std::string& h = seen[0].head;
  EXPECT_EQ(h.rfind("POST /in?x=1 HTTP/1.1\r\n", 0), 0u) << h;
  EXPECT_NE(h.find("\r\nHost: 127.0.0.1:" + std::to_string(server.port()) + "\r\n"),
            std::string::npos);
  EXPECT_NE(h.find("\r\nContent-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(h.find("\r\nX-Test: v\r\n"), std::string::npos);
  EXPECT_NE(h.find("\r\nContent-Length: 8\r\n"), std::string::npos);
  EXPECT_EQ(seen[0].body, "{\"id\":7}");
}

TEST(HttpClientTest, ChunkedAnswerInPiecesAndTheConnectionKept) {
  ScriptedServer server([](int, const Seen&) {
    return Action{{"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;ext=1\r\nhel",
                   "lo\r\n6\r\n world\r", "\n0\r\nX-Trailer: t\r\n\r\n"},
                  20ms};
  });
  onFreshThread([&] {
    for (int round = 0; round < 3; ++round) {
      auto res = send({post(server.url())}, 1);
      EXPECT_EQ(res[0].status, 200) << res[0].error;
      EXPECT_EQ(res[0].body, "hello world");
    }
  });
  EXPECT_EQ(server.seen().size(), 3u);
  EXPECT_EQ(server.connections(), 1);  // one kept connection for the three batches
}

TEST(HttpClientTest, KeepsTheFirst4KiBOfALongBody) {
  const std::string big(10000, 'x');
  ScriptedServer server([&](int, const Seen&) { return ok(big); });
  onFreshThread([&] {
    auto res = send({post(server.url()), post(server.url())}, 1);
    for (const auto& r : res) {
      EXPECT_EQ(r.status, 200) << r.error;
      EXPECT_EQ(r.body, std::string(4096, 'x'));
    }
  });
  EXPECT_EQ(server.connections(), 1);  // the rest of the body was read, the connection reused
}

TEST(HttpClientTest, ManyRequestsOverAFewConnections) {
  ScriptedServer server([](int n, const Seen&) { return ok(std::to_string(n)); });
  onFreshThread([&] {
    std::vector<HttpRequest> reqs;
    for (int i = 0; i < 40; ++i)
      reqs.push_back(post(server.url(), "{\"i\":" + std::to_string(i) + "}"));
    auto res = send(reqs, 3);
    for (const auto& r : res) EXPECT_EQ(r.status, 200) << r.error;
  });
  const auto seen = server.seen();
  EXPECT_EQ(seen.size(), 40u);
  EXPECT_LE(server.connections(), 3);
  std::vector<std::string> bodies;
  for (const auto& s : seen) bodies.push_back(s.body);
  std::sort(bodies.begin(), bodies.end());
  EXPECT_EQ(std::unique(bodies.begin(), bodies.end()), bodies.end());  // each sent once
}

TEST(HttpClientTest, ConnectionCloseFromTheServerAndFromTheRequest) {
  ScriptedServer server([](int n, const Seen&) {
    Action a = ok("bye", n == 0 ? "Connection: close\r\n" : "");
    a.close = n == 0;  // the first answer says close and closes
    return a;
  });
  onFreshThread([&] {
    auto res = send({post(server.url())}, 1);
    EXPECT_EQ(res[0].status, 200) << res[0].error;
    res = send({post(server.url())}, 1);  // a new connection, not the closed one
    EXPECT_EQ(res[0].status, 200) << res[0].error;
    auto closing = post(server.url());
    closing.headers.emplace_back("Connection", "close");
    res = send({closing}, 1);  // the request asks to close: not kept after
    EXPECT_EQ(res[0].status, 200) << res[0].error;
    res = send({post(server.url())}, 1);
    EXPECT_EQ(res[0].status, 200) << res[0].error;
  });
  EXPECT_EQ(server.seen().size(), 4u);  // nothing sent twice
  EXPECT_EQ(server.connections(), 3);
}

TEST(HttpClientTest, ServerClosingAnIdleKeptConnection) {
  // Answers keep-alive, then closes the connection while the client holds it idle.
  ScriptedServer server([](int, const Seen&) {
    Action a = ok();
    a.close = true;
    return a;
  });
  onFreshThread([&] {
    auto res = send({post(server.url())}, 1);
    EXPECT_EQ(res[0].status, 200) << res[0].error;
    std::this_thread::sleep_for(50ms);  // the close has arrived
    res = send({post(server.url())}, 1);
    EXPECT_EQ(res[0].status, 200) << res[0].error;
  });
  EXPECT_EQ(server.seen().size(), 2u);  // the second went out once, on a new connection
  EXPECT_EQ(server.connections(), 2);
}

TEST(HttpClientTest, KeptConnectionClosedAsTheRequestArrivesIsRetriedOnceOnAFreshOne) {
  // The second request (on the kept connection) is read and the connection closed unanswered:
  // the client cannot know whether the server closed it idle, and sends it once more.
  ScriptedServer server([](int n, const Seen&) {
    if (n == 1) return Action{{}, 0ms, true};
    return ok();
  });
  onFreshThread([&] {
    EXPECT_EQ(send({post(server.url())}, 1)[0].status, 200);
    auto res = send({post(server.url(), "again")}, 1);
    EXPECT_EQ(res[0].status, 200) << res[0].error;
  });
  const auto seen = server.seen();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[1].body, "again");
  EXPECT_EQ(seen[2].body, "again");
  EXPECT_EQ(seen[1].connection, 1);
  EXPECT_EQ(seen[2].connection, 2);
}

TEST(HttpClientTest, NoSecondTryWhenTheFreshConnectionDropsToo) {
  ScriptedServer server([](int n, const Seen&) {
    if (n >= 1) return Action{{}, 0ms, true};
    return ok();
  });
  onFreshThread([&] {
    EXPECT_EQ(send({post(server.url())}, 1)[0].status, 200);
    auto res = send({post(server.url())}, 1);
    EXPECT_FALSE(res[0].status);
    EXPECT_EQ(res[0].error, "Server returned nothing (no headers, no data)");
  });
  EXPECT_EQ(server.seen().size(), 3u);  // the first, and the second twice: not a third time
}

TEST(HttpClientTest, NoSecondTryOnceAnyOfTheAnswerWasRead) {
  ScriptedServer server([](int n, const Seen&) {
    if (n == 1) return Action{{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"}, 0ms, true};
    return ok();
  });
  onFreshThread([&] {
    EXPECT_EQ(send({post(server.url())}, 1)[0].status, 200);
    auto res = send({post(server.url())}, 1);
    EXPECT_FALSE(res[0].status);
    EXPECT_NE(res[0].error.find("Transferred a partial file"), std::string::npos) << res[0].error;
    EXPECT_NE(res[0].error.find("7 bytes"), std::string::npos) << res[0].error;
  });
  EXPECT_EQ(server.seen().size(), 2u);
}

TEST(HttpClientTest, ResetConnection) {
  ScriptedServer server([](int, const Seen&) { return Action{{}, 0ms, true, true}; });
  onFreshThread([&] {
    auto res = send({post(server.url())}, 1);
    EXPECT_FALSE(res[0].status);
    EXPECT_TRUE(res[0].error ==
                    "Failure when receiving data from the peer: Connection reset by peer" ||
                res[0].error == "Server returned nothing (no headers, no data)")
        << res[0].error;
  });
  EXPECT_EQ(server.seen().size(), 1u);  // a fresh connection: not sent again
}

TEST(HttpClientTest, TimeoutWhenNoAnswerComes) {
  ScriptedServer server([](int, const Seen&) { return Action{{"HTTP/1.1 200 OK\r\n"}}; });
  onFreshThread([&] {
    const auto t0 = std::chrono::steady_clock::now();
    auto res = send({post(server.url(), "x", 300)}, 1);
    const auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_FALSE(res[0].status);
    EXPECT_EQ(res[0].error.rfind("Timeout was reached: Operation timed out after ", 0), 0u)
        << res[0].error;
    EXPECT_NE(res[0].error.find("with 17 bytes received"), std::string::npos) << res[0].error;
    EXPECT_GE(took, 290ms);
    EXPECT_LT(took, 2s);
    EXPECT_GE(res[0].duration_ms, 290);
  });
}

TEST(HttpClientTest, SlowAnswerWithinTheTimeout) {
  ScriptedServer server([](int, const Seen&) {
    Action a = ok("late");
    a.pause = 300ms;
    return a;
  });
  onFreshThread([&] {
    auto res = send({post(server.url(), "x", 3000), post(server.url(), "y", 3000)}, 2);
    for (const auto& r : res) {
      EXPECT_EQ(r.status, 200) << r.error;
      EXPECT_EQ(r.body, "late");
      EXPECT_GE(r.duration_ms, 290);
    }
  });
}

TEST(HttpClientTest, RefusedConnection) {
  int port;
  {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    ::close(fd);  // bound, never listened, closed: nothing listens there
  }
  onFreshThread([&] {
    auto res = send({post("http://127.0.0.1:" + std::to_string(port) + "/")}, 1);
    EXPECT_FALSE(res[0].status);
    EXPECT_EQ(
        res[0].error.rfind("Couldn't connect to server: Failed to connect to 127.0.0.1 port " +
                               std::to_string(port),
                           0),
        0u)
        << res[0].error;
    EXPECT_NE(res[0].error.find("Connection refused"), std::string::npos) << res[0].error;
  });
}

TEST(HttpClientTest, RetryAfterAndErrorStatus) {
  ScriptedServer server([](int, const Seen&) {
    return Action{{"HTTP/1.1 429 Too Many\r\nRetry-After: 7\r\nContent-Length: 4\r\n\r\nslow"}};
  });
  onFreshThread([&] {
    auto res = send({post(server.url())}, 1);
    EXPECT_EQ(res[0].status, 429);
    EXPECT_EQ(res[0].error, "HTTP 429");
    EXPECT_EQ(res[0].retry_after_ms, 7000);
    EXPECT_EQ(res[0].body, "slow");
  });
}

TEST(HttpClientTest, AnswersTheSameAsLibcurl) {
  ScriptedServer server([](int n, const Seen&) {
    if (n % 2 == 0)
      return Action{
          {"HTTP/1.1 503 Busy\r\nRetry-After: 2\r\nTransfer-Encoding: chunked\r\n\r\n"
           "4\r\nbusy\r\n0\r\n\r\n"}};
    return ok("fine");
  });
  onFreshThread([&] {
    for (bool lean : {true, false}) {
      HttpBatchOptions o;
      o.max_connections = 1;
      o.lean = lean;
      auto res = sendHttpMany({post(server.url()), post(server.url())}, o);
      EXPECT_EQ(res[0].status, 503) << lean;
      EXPECT_EQ(res[0].body, "busy") << lean;
      EXPECT_EQ(res[0].error, "HTTP 503") << lean;
      EXPECT_EQ(res[0].retry_after_ms, 2000) << lean;
      EXPECT_EQ(res[1].status, 200) << lean;
      EXPECT_EQ(res[1].body, "fine") << lean;
    }
  });
  EXPECT_EQ(server.seen().size(), 4u);
}

TEST(HttpClientTest, RequestsPastTheirStartByAreNotSent) {
  ScriptedServer server([](int, const Seen&) { return ok(); });
  onFreshThread([&] {
    HttpBatchOptions o;
    o.start_by = std::chrono::steady_clock::now() - 1s;
    auto res = sendHttpMany({post(server.url()), post(server.url())}, o);
    for (const auto& r : res) {
      EXPECT_FALSE(r.started);
      EXPECT_FALSE(r.status);
    }
  });
  EXPECT_TRUE(server.seen().empty());
}

TEST(HttpClientTest, HeaderWithALineBreakIsRefused) {
  ScriptedServer server([](int, const Seen&) { return ok(); });
  onFreshThread([&] {
    auto r = post(server.url());
    r.headers.emplace_back("X-Evil", "a\r\nInjected: 1");
    auto res = send({r, post(server.url())}, 1);
    EXPECT_FALSE(res[0].status);
    EXPECT_NE(res[0].error.find("line break"), std::string::npos) << res[0].error;
    EXPECT_EQ(res[1].status, 200) << res[1].error;
  });
  EXPECT_EQ(server.seen().size(), 1u);
}

TEST(HttpClientTest, AProxyInTheEnvironmentKeepsEverythingOnLibcurl) {
  // libcurl sends plain http:// through http_proxy; the lean client must not go around it. In a
  // child process, so that the environment of the other tests stays as it is.
  ScriptedServer proxy([](int, const Seen&) { return ok("via proxy"); });
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::setenv("http_proxy", proxy.url("").c_str(), 1);
    ::unsetenv("no_proxy");
    ::unsetenv("NO_PROXY");
    auto res = send({post("http://127.0.0.1:1/hook")}, 1);  // nothing listens on port 1
    ::_exit(res[0].status == 200 && res[0].body == "via proxy" ? 0 : 1);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  const auto seen = proxy.seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].head.rfind("POST http://127.0.0.1:1/hook HTTP/1.1\r\n", 0), 0u) << seen[0].head;
}

// ---- the URL and the parser alone ----

TEST(HttpClientTest, WhichUrlsTheLeanClientTakes) {
  auto e = leanEndpoint("http://127.0.0.1:8080/a/b?c=d#frag");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->target, "/a/b?c=d");
  EXPECT_EQ(e->host_header, "127.0.0.1:8080");
  EXPECT_EQ(e->key, "127.0.0.1:8080");
  e = leanEndpoint("HTTP://localhost");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->port, 80);
  EXPECT_EQ(e->target, "/");
  EXPECT_EQ(e->host_header, "localhost");
  e = leanEndpoint("http://[::1]:9000?x");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->target, "/?x");
  EXPECT_EQ(e->host_header, "[::1]:9000");
  for (const char* no :
       {"https://127.0.0.1/", "http://example.com/", "http://user:pw@127.0.0.1/", "http://127.1/",
        "http://127.0.0.1:0/", "http://127.0.0.1:65536/", "http://127.0.0.1:80a/", "http://",
        "http://[::1/", "http://127.0.0.1/a b", "ftp://127.0.0.1/", "http://127.0.0.1/\xc3\xa9"})
    EXPECT_FALSE(leanEndpoint(no)) << no;
}

// Feeds `text` in pieces of `step` bytes.
ResponseParser parseInSteps(std::string_view text, size_t step, bool head = false) {
  ResponseParser p(head);
  size_t at = 0;
  while (at < text.size() && p.step() == ResponseParser::Step::kMore) {
    size_t used = 0;
    p.feed(text.substr(at, std::min(step, text.size() - at)), used);
    at += used;
  }
  return p;
}

TEST(HttpClientTest, ParserInAnyPieces) {
  const std::string chunked =
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n"
      "Retry-After: 3\r\n\r\n3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n";
  for (size_t step : {1u, 2u, 7u, 1000u}) {
    auto p = parseInSteps(chunked, step);
    ASSERT_EQ(p.step(), ResponseParser::Step::kDone) << step << p.error();
    EXPECT_EQ(p.status(), 200);
    EXPECT_EQ(p.body(), "abc0123456789");
    EXPECT_EQ(p.retryAfterMs(), 3000);
    EXPECT_TRUE(p.keepAlive());
  }
  {  // an interim answer read counts as read (a dropped connection is not tried again after it)
    ResponseParser p;
    size_t used = 0;
    EXPECT_EQ(p.feed("HTTP/1.1 100 Continue\r\n\r\n", used), ResponseParser::Step::kMore);
    EXPECT_EQ(p.received(), 25u);
    EXPECT_EQ(p.closed(), ResponseParser::Step::kError);
  }
  // Nothing past its answer is taken.
  ResponseParser p;
  size_t used = 0;
  const std::string two = "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n";
  EXPECT_EQ(p.feed(two, used), ResponseParser::Step::kDone);
  EXPECT_EQ(used, two.find("HTTP/1.1 200"));
}

TEST(HttpClientTest, ParserBodiesAndConnections) {
  {  // HTTP/1.0 without keep-alive, body up to the close
    auto p = parseInSteps("HTTP/1.0 200 OK\r\n\r\nall of it", 4);
    EXPECT_EQ(p.step(), ResponseParser::Step::kMore);
    EXPECT_EQ(p.closed(), ResponseParser::Step::kDone);
    EXPECT_EQ(p.body(), "all of it");
    EXPECT_FALSE(p.keepAlive());
  }
  {
    auto p =
        parseInSteps("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", 5);
    EXPECT_EQ(p.step(), ResponseParser::Step::kDone);
    EXPECT_TRUE(p.keepAlive());
  }
  {
    auto p = parseInSteps(
        "HTTP/1.1 200 OK\r\nConnection: upgrade, close\r\nContent-Length: 2\r\n\r\nok", 3);
    EXPECT_EQ(p.step(), ResponseParser::Step::kDone);
    EXPECT_FALSE(p.keepAlive());
  }
  {  // a HEAD answer has no body whatever its Content-Length
    auto p = parseInSteps("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", 100, true);
    EXPECT_EQ(p.step(), ResponseParser::Step::kDone);
  }
  {  // bare \n line ends
    auto p = parseInSteps("HTTP/1.1 404 Not Found\nContent-Length: 1\n\nx", 100);
    EXPECT_EQ(p.step(), ResponseParser::Step::kDone);
    EXPECT_EQ(p.status(), 404);
  }
  {
    auto p = parseInSteps("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", 100);
    EXPECT_EQ(p.closed(), ResponseParser::Step::kError);
    EXPECT_EQ(p.error(), "the connection closed with 3 bytes of the body outstanding");
  }
}

TEST(HttpClientTest, ParserRefusesWhatIsNotHttp) {
  for (const char* bad :
       {"SSH-2.0-OpenSSH_9.2\r\n", "HTTP/2 200\r\n\r\n", "HTTP/1.1 20 OK\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n",
        "HTTP/1.1 101 Switching Protocols\r\n\r\n"}) {
    auto p = parseInSteps(bad, 3);
    EXPECT_EQ(p.step(), ResponseParser::Step::kError) << bad;
    EXPECT_FALSE(p.error().empty()) << bad;
    EXPECT_FALSE(p.keepAlive()) << bad;
  }
  // A head that never ends is refused past 64 KiB.
  std::string endless = "HTTP/1.1 200 OK\r\n";
  while (endless.size() < 70000) endless += "X-Pad: 0123456789012345678901234567890123456789\r\n";
  EXPECT_EQ(parseInSteps(endless, 4096).step(), ResponseParser::Step::kError);
}

TEST(HttpClientTest, RetryAfterValues) {
  EXPECT_EQ(parseRetryAfter(" 120 \r\n", 0), 120000);
  EXPECT_EQ(parseRetryAfter("999999999", 0), std::nullopt);
  EXPECT_EQ(parseRetryAfter("soon", 0), std::nullopt);
  EXPECT_EQ(parseRetryAfter("", 0), std::nullopt);
  // An HTTP date, from a clock 10 s before it.
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", 784111777000 - 10000), 10000);
  EXPECT_EQ(parseRetryAfter("Sun, 06 Nov 1994 08:49:37 GMT", 784111777000 + 10000), 0);
}

}  // namespace
}  // namespace td::respond::http
