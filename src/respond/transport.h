// The two ways out: HTTP requests (webhooks) and SMTP mail, both over libcurl, plus the HMAC
// signature and the MIME message a delivery needs. No retries here: the dispatcher decides.
//
// Thread safety: every function may be called from any thread (one curl handle per call's thread).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/time.h"
#include "respond/mime.h"

namespace td::respond {

struct HttpRequest {
  std::string method = "POST";
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  core::TimeMs timeout_ms = 5000;
};

struct HttpResult {
  std::optional<int> status;                   // none: no answer (connection refused, timeout, ...)
  std::string body;                            // the first 4 KiB of the answer
  std::string error;                           // what went wrong, for people
  std::optional<core::TimeMs> retry_after_ms;  // from a Retry-After header
  core::TimeMs duration_ms = 0;
  bool started = true;  // false: sendHttpMany never began it (its start_by had passed)
};

HttpResult sendHttp(const HttpRequest& request);

struct HttpBatchOptions {
  int max_connections = 16;  // requests in flight at once (keep-alive connections per host)
  // A request not begun by then is not sent at all (started = false).
  std::optional<std::chrono::steady_clock::time_point> start_by;
  // Plain http:// to an IP address or localhost through the lean client (respond/http_client.h),
  // unless a proxy is configured (http_proxy, all_proxy); false: every request through libcurl.
  bool lean = true;
};

// Sends the requests concurrently (up to max_connections at once, each on its own keep-alive
// connection, no pipelining); the results in the order of the requests. The connections stay open
// for the calling thread's next batch. Plain http:// to an IP address or localhost goes through
// the lean client (http_client.h), everything else through libcurl multi; the plain ones first.
std::vector<HttpResult> sendHttpMany(const std::vector<HttpRequest>& requests,
                                     const HttpBatchOptions& options = {});

// Lower-case hex of HMAC-SHA256(key, data).
std::string hmacSha256Hex(const std::string& key, const std::string& data);

struct SmtpConfig {
  std::string url;  // smtp://host:port (STARTTLS when offered) or smtps://host:port
  std::string username;
  std::string password;
  std::string from = "threatdesk@localhost";
  enum class Tls { kNone, kTry, kRequired } tls = Tls::kTry;
  bool verify_peer = true;
  core::TimeMs timeout_ms = 15000;
};

// "smtp://[user[:password]@]host[:port][?from=ADDR&tls=none|try|required&verify=0]"; the password
// may instead come from $THREATDESK_SMTP_PASSWORD.
core::Result<SmtpConfig> parseSmtpUrl(const std::string& text);

// EmailMessage and buildMime (the MIME message, with attachments) are in respond/mime.h.

struct SmtpResult {
  bool ok = false;
  std::optional<int> code;  // the server's last reply code
  bool permanent = false;   // a 5xx reply: trying again will not help
  std::string error;
  core::TimeMs duration_ms = 0;
};

SmtpResult sendEmail(const SmtpConfig& config, const EmailMessage& message);

}  // namespace td::respond
