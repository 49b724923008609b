// The lean HTTP/1.1 client behind sendHttpMany for plain http:// webhooks to an IP address or
// localhost, and the response parser it reads answers with. Everything else (https://, host names
// to resolve, user info in the URL, any request while a proxy is configured in http_proxy or
// all_proxy) goes through libcurl as before (respond/transport.cpp).
//
// The client keeps a pool of keep-alive connections per thread and host:port, sends one request at
// a time per connection (no pipelining) over a thread's epoll, with a non-blocking connect, the
// request's timeout over the whole exchange (connect at most 5 s of it, as with libcurl), and
// libcurl's error texts for what goes wrong. A request sent on a kept connection that the server
// closes or resets before any byte of an answer arrived is sent once more on a fresh connection
// (the server had closed the idle connection as the request went out); never when any of the
// answer was read.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/time.h"
#include "respond/transport.h"

namespace td::respond::http {

// Where a plain http:// URL goes, when the lean client takes it.
struct Endpoint {
  sockaddr_storage address{};
  socklen_t address_len = 0;
  std::string host;  // as in the URL ("127.0.0.1", "[::1]", "localhost")
  int port = 80;
  std::string host_header;  // host[:port], the port left out when it is 80 (as libcurl sends)
  std::string target;       // path and query, "/" when the URL has none; no fragment
  std::string key;          // host:port, the connection pool's key
};

// The endpoint of `url` if the lean client takes it: scheme http, an IPv4 or bracketed IPv6
// literal or "localhost" (127.0.0.1), an optional port, no user info, and a path and query of
// printable ASCII. None for anything else, which libcurl sends.
std::optional<Endpoint> leanEndpoint(std::string_view url);

// A Retry-After value: delay-seconds, or an HTTP date (as libcurl's curl_getdate reads it), as
// milliseconds from `now_ms`; none when it is neither.
std::optional<core::TimeMs> parseRetryAfter(std::string_view value, core::TimeMs now_ms);

// An HTTP/1.x answer read incrementally: status line, headers (Content-Length, Transfer-Encoding,
// Connection, Retry-After), a body by Content-Length, chunked or up to the close; 1xx interim
// answers skipped. Keeps the first 4 KiB of the body. Never reads past the end of its answer.
class ResponseParser {
 public:
  enum class Step { kMore, kDone, kError };
  static constexpr size_t kMaxBodyKept = 4096;
  static constexpr size_t kMaxHead = 65536;  // status line and headers together

  // `head_request`: the answer to a HEAD carries no body whatever its headers say.
  explicit ResponseParser(bool head_request = false) : head_request_(head_request) {}

  // Reads from `data`; `used` says how many bytes belong to this answer (fewer than data.size()
  // only when it is done and more follows, which no request asked for).
  Step feed(std::string_view data, size_t& used);
  // The peer closed the connection: done when the body runs up to the close, else an error.
  Step closed();

  Step step() const { return step_; }
  int status() const { return status_; }
  // Whether the connection may carry another request after this answer.
  bool keepAlive() const { return keep_alive_; }
  const std::string& body() const { return body_; }
  std::optional<core::TimeMs> retryAfterMs() const { return retry_after_ms_; }
  const std::string& error() const { return error_; }  // why it is kError
  size_t received() const { return received_; }        // bytes of the answer read so far

 private:
  enum class Phase {
    kStatus,
    kHeaders,
    kLength,
    kChunkSize,
    kChunkData,
    kChunkEnd,
    kTrailers,
    kUntilClose,
    kDone
  };
  Step fail(std::string why);
  Step line(std::string_view text);  // one line of the head, chunk size or trailers
  Step headerLine(std::string_view text);
  Step endOfHead();
  void keep(std::string_view data);

  bool head_request_ = false;
  Phase phase_ = Phase::kStatus;
  Step step_ = Step::kMore;
  std::string line_;  // the line being read
  size_t head_size_ = 0;
  int status_ = 0;
  bool http10_ = false;
  bool keep_alive_ = true;
  bool connection_close_ = false;
  bool connection_keep_alive_ = false;
  bool chunked_ = false;
  bool other_coding_ = false;
  std::optional<unsigned long long> content_length_;
  unsigned long long remaining_ = 0;  // of the Content-Length or the current chunk
  std::string body_;
  std::optional<core::TimeMs> retry_after_ms_;
  std::string error_;
  size_t received_ = 0;
};

// Sends requests[i] for every i in `which` (each with a leanEndpoint) and writes results[i]:
// at most options.max_connections at once on the calling thread's kept connections.
void sendLeanMany(const std::vector<HttpRequest>& requests, const std::vector<size_t>& which,
                  const HttpBatchOptions& options, std::vector<HttpResult>& results);

}  // namespace td::respond::http
