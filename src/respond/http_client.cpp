#include "respond/http_client.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <functional>
#include <unordered_map>

namespace td::respond::http {
namespace {

using Clock = std::chrono::steady_clock;

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// Whether a comma-separated header value lists `token` (case-insensitive).
bool listsToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

// The last transfer coding of a Transfer-Encoding value.
std::string_view lastToken(std::string_view value) {
  const size_t comma = value.rfind(',');
  return trim(comma == std::string_view::npos ? value : value.substr(comma + 1));
}

}  // namespace

std::optional<core::TimeMs> parseRetryAfter(std::string_view value, core::TimeMs now_ms) {
  value = trim(value);
  while (!value.empty() && (value.back() == '\n' || value.back() == '\r' || value.back() == ' '))
    value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (value.find_first_not_of("0123456789") == std::string_view::npos) {
    if (value.size() >= 9) return std::nullopt;  // over three years: not a delay anyone means
    core::TimeMs seconds = 0;
    for (char c : value) seconds = seconds * 10 + (c - '0');
    return seconds * 1000;
  }
  const std::string text(value);
  const time_t at = curl_getdate(text.c_str(), nullptr);
  if (at <= 0) return std::nullopt;
  return std::max<core::TimeMs>(0, static_cast<core::TimeMs>(at) * 1000 - now_ms);
}

std::optional<Endpoint> leanEndpoint(std::string_view url) {
  static constexpr std::string_view kScheme = "http://";
  if (url.size() <= kScheme.size() || !iequals(url.substr(0, kScheme.size()), kScheme))
    return std::nullopt;
  url.remove_prefix(kScheme.size());
  const size_t end = url.find_first_of("/?#");
  const std::string_view authority = url.substr(0, end);
  std::string_view rest = end == std::string_view::npos ? std::string_view() : url.substr(end);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  Endpoint e;
  std::string_view port_text;
  if (authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    e.host = std::string(authority.substr(0, close + 1));
    const std::string inner(authority.substr(1, close - 1));
    auto* a6 = reinterpret_cast<sockaddr_in6*>(&e.address);
    if (inet_pton(AF_INET6, inner.c_str(), &a6->sin6_addr) != 1) return std::nullopt;
    a6->sin6_family = AF_INET6;
    e.address_len = sizeof(sockaddr_in6);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = authority.find(':');
    e.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
    auto* a4 = reinterpret_cast<sockaddr_in*>(&e.address);
    const std::string ip = iequals(e.host, "localhost") ? "127.0.0.1" : e.host;
    // Dotted quads only: inet_pton takes no short forms ("127.1"), which libcurl reads otherwise.
    if (inet_pton(AF_INET, ip.c_str(), &a4->sin_addr) != 1) return std::nullopt;
    a4->sin_family = AF_INET;
    e.address_len = sizeof(sockaddr_in);
  }
  if (!port_text.empty()) {
    if (port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos)
      return std::nullopt;
    e.port = std::stoi(std::string(port_text));
    if (e.port < 1 || e.port > 65535) return std::nullopt;
  }
  const auto port = htons(static_cast<uint16_t>(e.port));
  if (e.address.ss_family == AF_INET6)
    reinterpret_cast<sockaddr_in6*>(&e.address)->sin6_port = port;
  else
    reinterpret_cast<sockaddr_in*>(&e.address)->sin_port = port;
  if (const size_t hash = rest.find('#'); hash != std::string_view::npos)
    rest = rest.substr(0, hash);
  for (char c : rest)
    if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) >= 0x7f)
      return std::nullopt;  // libcurl decides what to do with those
  e.target = rest.empty() ? "/" : rest.front() == '?' ? "/" + std::string(rest) : std::string(rest);
  e.host_header = e.port == 80 ? e.host : e.host + ":" + std::to_string(e.port);
  e.key = e.host + ":" + std::to_string(e.port);
  return e;
}

// ---- ResponseParser ----

ResponseParser::Step ResponseParser::fail(std::string why) {
  error_ = std::move(why);
  keep_alive_ = false;
  return step_ = Step::kError;
}

void ResponseParser::keep(std::string_view data) {
  if (body_.size() < kMaxBodyKept) body_.append(data.substr(0, kMaxBodyKept - body_.size()));
}

ResponseParser::Step ResponseParser::feed(std::string_view data, size_t& used) {
  used = 0;
  while (used < data.size() && step_ == Step::kMore) {
    const std::string_view rest = data.substr(used);
    switch (phase_) {
      case Phase::kLength:
      case Phase::kChunkData: {
        const size_t n = static_cast<size_t>(std::min<unsigned long long>(remaining_, rest.size()));
        keep(rest.substr(0, n));
        remaining_ -= n;
        used += n;
        received_ += n;
        if (remaining_ == 0) {
          if (phase_ == Phase::kLength) {
            phase_ = Phase::kDone;
            step_ = Step::kDone;
          } else {
            phase_ = Phase::kChunkEnd;
          }
        }
        break;
      }
      case Phase::kUntilClose:
        keep(rest);
        used += rest.size();
        received_ += rest.size();
        break;
      case Phase::kDone:
        return step_;
      default: {  // a line: status, header, chunk size, chunk end, trailer
        const size_t nl = rest.find('\n');
        const size_t take = nl == std::string_view::npos ? rest.size() : nl + 1;
        const bool in_head = phase_ == Phase::kStatus || phase_ == Phase::kHeaders;
        if (line_.size() + take > (in_head ? kMaxHead : 8192))
          return fail(in_head ? "the answer's head is over 64 KiB" : "a chunk line is too long");
        line_.append(rest.substr(0, take));
        used += take;
        received_ += take;
        if (in_head) head_size_ += take;
        if (in_head && head_size_ > kMaxHead) return fail("the answer's head is over 64 KiB");
        if (nl == std::string_view::npos) break;
        line_.pop_back();  // '\n'
        if (!line_.empty() && line_.back() == '\r') line_.pop_back();
        const std::string text = std::move(line_);
        line_.clear();
        if (line(text) == Step::kError) return step_;
      }
    }
  }
  return step_;
}

ResponseParser::Step ResponseParser::closed() {
  if (step_ != Step::kMore) return step_;
  keep_alive_ = false;
  if (phase_ == Phase::kUntilClose) {
    phase_ = Phase::kDone;
    return step_ = Step::kDone;
  }
  if (received_ == 0) return fail("the server closed the connection without an answer");
  if (phase_ == Phase::kStatus || phase_ == Phase::kHeaders)
    return fail("the connection closed in the answer's head");
  return fail(
      "the connection closed with " +
      (phase_ == Phase::kLength ? std::to_string(remaining_) + " bytes" : std::string("chunks")) +
      " of the body outstanding");
}

ResponseParser::Step ResponseParser::line(std::string_view text) {
  switch (phase_) {
    case Phase::kStatus: {
      // HTTP/1.x SP 3DIGIT [SP reason]
      if (text.size() < 12 || text.substr(0, 7) != "HTTP/1." || text[7] < '0' || text[7] > '9' ||
          text[8] != ' ' || !std::isdigit(static_cast<unsigned char>(text[9])) ||
          !std::isdigit(static_cast<unsigned char>(text[10])) ||
          !std::isdigit(static_cast<unsigned char>(text[11])) ||
          (text.size() > 12 && text[12] != ' '))
        return fail("not an HTTP/1.x status line: '" + std::string(text.substr(0, 40)) + "'");
      status_ = (text[9] - '0') * 100 + (text[10] - '0') * 10 + (text[11] - '0');
      if (status_ < 100) return fail("status " + std::to_string(status_) + " out of range");
      http10_ = text[7] == '0';
      phase_ = Phase::kHeaders;
      return step_;
    }
    case Phase::kHeaders:
      if (text.empty()) return endOfHead();
      return headerLine(text);
    case Phase::kChunkSize: {
      const std::string_view size = trim(text.substr(0, text.find(';')));
      if (size.empty() || size.size() > 15 ||
          size.find_first_not_of("0123456789abcdefABCDEF") != std::string_view::npos)
        return fail("bad chunk size '" + std::string(text.substr(0, 20)) + "'");
      remaining_ = std::stoull(std::string(size), nullptr, 16);
      phase_ = remaining_ == 0 ? Phase::kTrailers : Phase::kChunkData;
      return step_;
    }
    case Phase::kChunkEnd:
      if (!text.empty()) return fail("a chunk does not end where its size says");
      phase_ = Phase::kChunkSize;
      return step_;
    case Phase::kTrailers:
      if (text.empty()) {
        phase_ = Phase::kDone;
        step_ = Step::kDone;
      }
      return step_;
    default:
      return fail("internal: a line in the body");
  }
}

ResponseParser::Step ResponseParser::headerLine(std::string_view text) {
  if (text.front() == ' ' || text.front() == '\t') return step_;  // obsolete folding: ignored
  const size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0)
    return fail("a header line without a name: '" + std::string(text.substr(0, 40)) + "'");
  const std::string_view name = text.substr(0, colon);
  if (name.find_first_of(" \t") != std::string_view::npos)
    return fail("a header name with a space: '" + std::string(name.substr(0, 40)) + "'");
  const std::string_view value = trim(text.substr(colon + 1));
  if (iequals(name, "content-length")) {
    if (value.empty() || value.size() > 18 ||
        value.find_first_not_of("0123456789") != std::string_view::npos)
      return fail("bad Content-Length '" + std::string(value.substr(0, 20)) + "'");
    const unsigned long long n = std::stoull(std::string(value));
    if (content_length_ && *content_length_ != n) return fail("two different Content-Lengths");
    content_length_ = n;
  } else if (iequals(name, "transfer-encoding")) {
    chunked_ = iequals(lastToken(value), "chunked");
    other_coding_ = !chunked_;
  } else if (iequals(name, "connection")) {
    connection_close_ = connection_close_ || listsToken(value, "close");
    connection_keep_alive_ = connection_keep_alive_ || listsToken(value, "keep-alive");
  } else if (iequals(name, "retry-after")) {
    retry_after_ms_ = parseRetryAfter(value, core::nowMs());
  }
  return step_;
}

ResponseParser::Step ResponseParser::endOfHead() {
  if (status_ < 200) {  // an interim answer (100 Continue, 103 Early Hints): the real one follows
    if (status_ == 101) return fail("the server switched protocols (101), which no request asked");
    const size_t received = received_;  // what was read counts (no second try after it)
    *this = ResponseParser(head_request_);
    received_ = received;
    return step_;
  }
  keep_alive_ = http10_ ? connection_keep_alive_ && !connection_close_ : !connection_close_;
  if (head_request_ || status_ == 204 || status_ == 304) {
    phase_ = Phase::kDone;
    return step_ = Step::kDone;
  }
  if (chunked_) {
    phase_ = Phase::kChunkSize;
  } else if (other_coding_) {  // a body up to the close, whatever a Content-Length says
    phase_ = Phase::kUntilClose;
    keep_alive_ = false;
  } else if (content_length_) {
    remaining_ = *content_length_;
    phase_ = remaining_ == 0 ? Phase::kDone : Phase::kLength;
    if (remaining_ == 0) step_ = Step::kDone;
  } else {
    phase_ = Phase::kUntilClose;
    keep_alive_ = false;
  }
  return step_;
}

// ---- the client ----

namespace {

constexpr core::TimeMs kMaxConnectMs = 5000;  // as the libcurl path: at most 5 s to connect
constexpr size_t kMaxIdle = 256;              // kept connections per thread, all hosts

std::string sysError(int err) { return std::strerror(err); }

// A connection of the calling thread: idle in the pool, or carrying one request.
struct Conn {
  int fd = -1;
  std::string key;
  bool reused = false;  // carried an answer before this request
  bool connecting = false;
  bool want_write = false;  // registered for EPOLLOUT
  size_t req = SIZE_MAX;    // the request it carries; SIZE_MAX when idle
  std::string out;
  size_t written = 0;
  ResponseParser parser;
  Clock::time_point started, deadline, connect_deadline;
  bool resent = false;       // the request went out once more on a fresh connection
  bool close_after = false;  // the request said Connection: close
};

// The thread's connections: a slot per connection, registered with the thread's epoll for as
// long as it is open (data.u64 = slot), idle ones listed per host:port.
struct Pool {
  int ep = -1;
  std::deque<Conn> slots;  // a deque: references stay valid while slots are added
  std::vector<size_t> free_slots;
  // Closed in this round of events: not reused before the round's other events are handled
  // (an event for the old connection must not reach a new one in the same slot).
  std::vector<size_t> closed_slots;
  std::unordered_map<std::string, std::vector<size_t>> idle;
  size_t idle_count = 0;
  Pool() : ep(::epoll_create1(EPOLL_CLOEXEC)) {}
  ~Pool() {
    for (auto& c : slots)
      if (c.fd >= 0) ::close(c.fd);
    if (ep >= 0) ::close(ep);
  }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  void close(size_t s) {
    Conn& c = slots[s];
    if (c.fd < 0) return;
    ::epoll_ctl(ep, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    c = Conn();
    closed_slots.push_back(s);
  }
  void releaseClosed() {
    free_slots.insert(free_slots.end(), closed_slots.begin(), closed_slots.end());
    closed_slots.clear();
  }
  void watch(size_t s, bool write) {
    Conn& c = slots[s];
    if (c.want_write == write) return;
    epoll_event e{};
    e.events = EPOLLIN | EPOLLRDHUP | (write ? EPOLLOUT : 0u);
    e.data.u64 = s;
    ::epoll_ctl(ep, EPOLL_CTL_MOD, c.fd, &e);
    c.want_write = write;
  }
  void toIdle(size_t s) {
    Conn& c = slots[s];
    c.req = SIZE_MAX;
    c.out.clear();
    c.written = 0;
    if (idle_count >= kMaxIdle) {
      close(s);
      return;
    }
    idle[c.key].push_back(s);
    ++idle_count;
  }
  // A kept connection to `key` that is still open (the server may have closed it while idle).
  std::optional<size_t> takeIdle(const std::string& key) {
    auto it = idle.find(key);
    if (it == idle.end()) return std::nullopt;
    while (!it->second.empty()) {
      const size_t s = it->second.back();
      it->second.pop_back();
      --idle_count;
      if (slots[s].fd < 0) continue;  // closed while idle
      char probe;
      const ssize_t r = ::recv(slots[s].fd, &probe, 1, MSG_PEEK | MSG_DONTWAIT);
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return s;
      close(s);  // closed by the server (0), reset, or bytes nobody asked for
    }
    return std::nullopt;
  }
  // Forgets an idle slot closed by the server (its epoll event came while it was idle).
  void dropIdle(size_t s) {
    auto it = idle.find(slots[s].key);
    if (it != idle.end()) {
      auto& v = it->second;
      if (auto p = std::find(v.begin(), v.end(), s); p != v.end()) {
        v.erase(p);
        --idle_count;
      }
    }
    close(s);
  }
  // A new non-blocking connection to the endpoint, the connect begun.
  std::optional<size_t> open(const Endpoint& e, std::string& error) {
    const int fd = ::socket(e.address.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      error = "Couldn't connect to server: socket: " + sysError(errno);
      return std::nullopt;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&e.address), e.address_len);
    if (rc != 0 && errno != EINPROGRESS) {
      error = "Couldn't connect to server: Failed to connect to " + e.host + " port " +
              std::to_string(e.port) + ": " + sysError(errno);
      ::close(fd);
      return std::nullopt;
    }
    size_t s;
    if (!free_slots.empty()) {
      s = free_slots.back();
      free_slots.pop_back();
    } else {
      s = slots.size();
      slots.emplace_back();
    }
    Conn& c = slots[s];
    c.fd = fd;
    c.key = e.key;
    c.connecting = rc != 0;
    c.want_write = c.connecting;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | (c.connecting ? EPOLLOUT : 0u);
    ev.data.u64 = s;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    return s;
  }
};

bool unsafeHeaderText(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

// The request's bytes, as the libcurl path sends it: Host, User-Agent and Accept unless the
// request's headers give them (a header with an empty value removes one), Content-Length for a
// body, and the form Content-Type libcurl adds to a body without one.
std::optional<std::string> wireRequest(const HttpRequest& r, const Endpoint& e, bool& close_after,
                                       std::string& error) {
  const bool body = r.method != "GET" && !(r.method == "DELETE" && r.body.empty());
  bool has_host = false, has_agent = false, has_accept = false, has_type = false;
  close_after = false;
  for (const auto& [k, v] : r.headers) {
    if (unsafeHeaderText(k) || unsafeHeaderText(v) || k.empty()) {
      error = "bad header '" + k.substr(0, 40) + "': a name or value with a line break";
      return std::nullopt;
    }
    has_host = has_host || iequals(k, "host");
    has_agent = has_agent || iequals(k, "user-agent");
    has_accept = has_accept || iequals(k, "accept");
    has_type = has_type || iequals(k, "content-type");
    if (iequals(k, "connection") && listsToken(v, "close")) close_after = true;
  }
  if (r.method.empty() || r.method.find_first_of(" \r\n") != std::string::npos) {
    error = "bad method '" + r.method.substr(0, 20) + "'";
    return std::nullopt;
  }
  std::string w;
  w.reserve(256 + r.body.size() + r.headers.size() * 48);
  w.append(r.method).append(" ").append(e.target).append(" HTTP/1.1\r\n");
  if (!has_host) w.append("Host: ").append(e.host_header).append("\r\n");
  if (!has_agent) w.append("User-Agent: ThreatDesk/0.1 (+webhook)\r\n");
  if (!has_accept) w.append("Accept: */*\r\n");
  for (const auto& [k, v] : r.headers) {
    if (v.empty()) continue;                             // libcurl: "Name:" removes the header
    if (body && iequals(k, "content-length")) continue;  // ours, from the body
    w.append(k).append(": ").append(v).append("\r\n");
  }
  if (body) {
    if (!has_type) w.append("Content-Type: application/x-www-form-urlencoded\r\n");
    w.append("Content-Length: ").append(std::to_string(r.body.size())).append("\r\n\r\n");
    w.append(r.body);
  } else {
    w.append("\r\n");
  }
  return w;
}

core::TimeMs msSince(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

}  // namespace

void sendLeanMany(const std::vector<HttpRequest>& requests, const std::vector<size_t>& which,
                  const HttpBatchOptions& options, std::vector<HttpResult>& results) {
  thread_local Pool pool;
  const int connections = std::max(1, options.max_connections);
  std::vector<Endpoint> endpoints(requests.size());
  size_t next = 0;
  int active = 0;
  std::vector<size_t> busy;  // slots carrying a request

  auto finish = [&](size_t s, HttpResult result, bool keep) {
    Conn& c = pool.slots[s];
    result.duration_ms = msSince(c.started);
    results[c.req] = std::move(result);
    busy.erase(std::find(busy.begin(), busy.end(), s));
    --active;
    if (keep)
      pool.toIdle(s);
    else
      pool.close(s);
  };
  auto failWith = [&](size_t s, std::string error) {
    HttpResult r;
    r.error = std::move(error);
    finish(s, std::move(r), false);
  };
  // Writes what is left of the request; false when the connection failed (handled here).
  std::function<bool(size_t)> flush;
  // Sends request i on a kept or a new connection; false when it could not start.
  auto begin = [&](size_t i, Clock::time_point started, bool resend) -> bool {
    const Endpoint& e = endpoints[i];
    std::string error;
    bool close_after = false;
    auto w = wireRequest(requests[i], e, close_after, error);
    if (!w) {
      results[i].error = error;
      results[i].duration_ms = msSince(started);
      return false;
    }
    std::optional<size_t> s = resend ? std::nullopt : pool.takeIdle(e.key);
    const bool reused = s.has_value();
    if (!s) s = pool.open(e, error);
    if (!s) {
      results[i].error = error;
      results[i].duration_ms = msSince(started);
      return false;
    }
    Conn& c = pool.slots[*s];
    c.req = i;
    c.reused = reused;
    c.resent = resend;
    c.started = started;
    // At most a day (the API allows a minute): no overflow of the clock for any stored value.
    const core::TimeMs timeout = std::clamp<core::TimeMs>(requests[i].timeout_ms, 1, core::kDayMs);
    c.deadline = started + std::chrono::milliseconds(timeout);
    c.connect_deadline = started + std::chrono::milliseconds(std::min(timeout, kMaxConnectMs));
    c.parser = ResponseParser(requests[i].method == "HEAD");
    c.out = std::move(*w);
    c.written = 0;
    c.close_after = close_after;
    busy.push_back(*s);
    ++active;
    if (!c.connecting) flush(*s);
    return true;
  };
  // The kept connection closed or reset before any of the answer: once more on a fresh one.
  auto resendOrFail = [&](size_t s, std::string error) {
    Conn& c = pool.slots[s];
    if (c.reused && !c.resent && c.parser.received() == 0) {
      const size_t i = c.req;
      const auto started = c.started;
      busy.erase(std::find(busy.begin(), busy.end(), s));
      --active;
      pool.close(s);
      begin(i, started, true);
      return;
    }
    failWith(s, std::move(error));
  };
  flush = [&](size_t s) -> bool {
    Conn& c = pool.slots[s];
    while (c.written < c.out.size()) {
      const ssize_t n =
          ::send(c.fd, c.out.data() + c.written, c.out.size() - c.written, MSG_NOSIGNAL);
      if (n > 0) {
        c.written += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        pool.watch(s, true);
        return true;
      }
      if (n < 0 && errno == EINTR) continue;
      resendOrFail(s, "Failure when sending data to the peer: " + sysError(errno));
      return false;
    }
    pool.watch(s, false);
    return true;
  };
  auto readAnswer = [&](size_t s) {
    Conn& c = pool.slots[s];
    thread_local char buf[16384];
    while (true) {
      const ssize_t n = ::recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        size_t used = 0;
        const auto step = c.parser.feed(std::string_view(buf, static_cast<size_t>(n)), used);
        if (step == ResponseParser::Step::kError)
          return failWith(s, "Weird server reply: " + c.parser.error());
        if (step == ResponseParser::Step::kDone) {
          HttpResult r;
          r.status = c.parser.status();
          if (*r.status >= 400) r.error = "HTTP " + std::to_string(*r.status);
          r.body = c.parser.body();
          r.retry_after_ms = c.parser.retryAfterMs();
          // Bytes after the answer were never asked for: the connection is not used again.
          const bool keep = c.parser.keepAlive() && !c.close_after &&
                            used == static_cast<size_t>(n) && c.written == c.out.size();
          return finish(s, std::move(r), keep);
        }
        continue;
      }
      if (n == 0) {
        if (c.parser.received() == 0)
          return resendOrFail(s, "Server returned nothing (no headers, no data)");
        if (c.parser.closed() == ResponseParser::Step::kDone) {
          HttpResult r;
          r.status = c.parser.status();
          if (*r.status >= 400) r.error = "HTTP " + std::to_string(*r.status);
          r.body = c.parser.body();
          r.retry_after_ms = c.parser.retryAfterMs();
          return finish(s, std::move(r), false);
        }
        return failWith(s, "Transferred a partial file: " + c.parser.error());
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR) continue;
      return resendOrFail(s, "Failure when receiving data from the peer: " + sysError(errno));
    }
  };
  auto connected = [&](size_t s) {
    Conn& c = pool.slots[s];
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      const Endpoint& e = endpoints[c.req];
      return failWith(s, "Couldn't connect to server: Failed to connect to " + e.host + " port " +
                             std::to_string(e.port) + " after " +
                             std::to_string(msSince(c.started)) + " ms: " + sysError(err));
    }
    c.connecting = false;
    flush(s);
  };
  auto startMore = [&] {
    while (active < connections && next < which.size()) {
      const size_t i = which[next++];
      if (options.start_by && Clock::now() > *options.start_by) {
        for (--next; next < which.size(); ++next) {
          results[which[next]].started = false;
          results[which[next]].error = "not sent: the batch ran out of time";
        }
        return;
      }
      auto e = leanEndpoint(requests[i].url);
      if (!e) {  // sendHttpMany only passes what leanEndpoint takes
        results[i].error = "URL using bad/illegal format or missing URL";
        continue;
      }
      endpoints[i] = std::move(*e);
      begin(i, Clock::now(), false);
    }
  };

  pool.releaseClosed();
  startMore();
  std::vector<epoll_event> events(64);
  while (active > 0) {
    auto wake = Clock::now() + std::chrono::seconds(1);
    for (size_t s : busy) {
      const Conn& c = pool.slots[s];
      wake = std::min(wake, c.connecting ? std::min(c.connect_deadline, c.deadline) : c.deadline);
    }
    const auto wait_ms = std::chrono::ceil<std::chrono::milliseconds>(wake - Clock::now()).count();
    const int n = ::epoll_wait(pool.ep, events.data(), static_cast<int>(events.size()),
                               static_cast<int>(std::clamp<long long>(wait_ms, 0, 1000)));
    for (int k = 0; k < n; ++k) {
      const size_t s = events[k].data.u64;
      Conn& c = pool.slots[s];
      if (c.fd < 0) continue;   // closed while handling an earlier event of this round
      if (c.req == SIZE_MAX) {  // idle: the server closed it, or sent what nobody asked for
        pool.dropIdle(s);
        continue;
      }
      const auto ev = events[k].events;
      if (c.connecting) {
        if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) connected(s);
        continue;
      }
      if ((ev & EPOLLOUT) && c.written < c.out.size() && !flush(s)) continue;
      if (pool.slots[s].fd >= 0 && pool.slots[s].req != SIZE_MAX &&
          (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
        readAnswer(s);
    }
    pool.releaseClosed();
    // Timeouts.
    const auto now = Clock::now();
    for (size_t k = busy.size(); k-- > 0;) {
      if (k >= busy.size()) continue;
      const size_t s = busy[k];
      const Conn& c = pool.slots[s];
      if (c.connecting && now >= std::min(c.connect_deadline, c.deadline)) {
        failWith(s, "Timeout was reached: Connection timed out after " +
                        std::to_string(msSince(c.started)) + " milliseconds");
      } else if (now >= c.deadline) {
        failWith(s, "Timeout was reached: Operation timed out after " +
                        std::to_string(msSince(c.started)) + " milliseconds with " +
                        std::to_string(c.parser.received()) + " bytes received");
      }
    }
    startMore();
  }
}

}  // namespace td::respond::http
