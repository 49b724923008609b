#include "respond/transport.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <strings.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <random>
#include <string_view>
#include <unordered_map>

#include "respond/http_client.h"

namespace td::respond {
namespace {

using core::ErrorCode;
using core::fail;

void globalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// One easy handle per thread: curl keeps its connection cache in the handle, so a worker that
// sends to the same receiver again reuses the connection (keep-alive).
CURL* threadHandle() {
  globalInit();
  struct Holder {
    CURL* h = curl_easy_init();
    ~Holder() { curl_easy_cleanup(h); }
  };
  thread_local Holder holder;
  curl_easy_reset(holder.h);
  return holder.h;
}

constexpr size_t kMaxAnswer = 4096;

size_t collect(char* data, size_t size, size_t n, void* user) {
  auto* out = static_cast<std::string*>(user);
  const size_t len = size * n;
  if (out->size() < kMaxAnswer) out->append(data, std::min(len, kMaxAnswer - out->size()));
  return len;
}

struct HeaderState {
  std::optional<core::TimeMs> retry_after_ms;
};

size_t onHeader(char* data, size_t size, size_t n, void* user) {
  const size_t len = size * n;
  const std::string_view line(data, len);
  static constexpr std::string_view kName = "retry-after:";
  if (line.size() > kName.size() && strncasecmp(line.data(), kName.data(), kName.size()) == 0)
    static_cast<HeaderState*>(user)->retry_after_ms =
        http::parseRetryAfter(line.substr(kName.size()), core::nowMs());
  return len;
}

std::string percentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// What one transfer needs to outlive it: curl writes into these while it runs.
struct Transfer {
  HttpResult result;
  HeaderState hs;
  curl_slist* headers = nullptr;
  char errbuf[CURL_ERROR_SIZE] = {0};
  std::chrono::steady_clock::time_point started;
};

void setUp(CURL* h, const HttpRequest& r, Transfer& t) {
  t.started = std::chrono::steady_clock::now();
  curl_easy_setopt(h, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(r.timeout_ms));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(std::min<core::TimeMs>(r.timeout_ms, 5000)));
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  if (r.method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (!r.body.empty() || r.method != "DELETE") {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, r.body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
  }
  for (const auto& [k, v] : r.headers)
    t.headers = curl_slist_append(t.headers, (k + ": " + v).c_str());
  t.headers = curl_slist_append(t.headers, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, t.headers);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "ThreatDesk/0.1 (+webhook)");
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &t.result.body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, onHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &t.hs);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t.errbuf);
}

void finish(CURL* h, CURLcode rc, Transfer& t) {
  auto& result = t.result;
  if (rc == CURLE_OK) {
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    result.status = static_cast<int>(code);
    if (code >= 400) result.error = "HTTP " + std::to_string(code);
  } else {
    result.error =
        std::string(curl_easy_strerror(rc)) + (t.errbuf[0] ? std::string(": ") + t.errbuf : "");
  }
  result.retry_after_ms = t.hs.retry_after_ms;
  // The handle outlives this call (it keeps the connection): let it point at nothing of ours.
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, nullptr);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, nullptr);
  curl_slist_free_all(t.headers);
  t.headers = nullptr;
  result.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - t.started)
                           .count();
}

// One multi handle per thread: it holds the connection cache, so the next batch of a sender
// reuses the keep-alive connections of the last; the easy handles are kept for reuse too.
struct MultiHolder {
  CURLM* m = nullptr;
  std::vector<CURL*> idle;
  int limit = 0;
  MultiHolder() {
    globalInit();
    m = curl_multi_init();
    // One request at a time per connection: no HTTP/1.1 pipelining (receivers handle it badly).
    curl_multi_setopt(m, CURLMOPT_PIPELINING, static_cast<long>(CURLPIPE_NOTHING));
  }
  ~MultiHolder() {
    for (CURL* e : idle) curl_easy_cleanup(e);
    curl_multi_cleanup(m);
  }
  void configure(int connections) {
    if (connections == limit) return;
    limit = connections;
    // No per-host cap in curl: sendHttpMany keeps at most `connections` transfers running, and a
    // capped curl parks a new transfer until its poll times out when the freed connection is not
    // yet back in the cache. The cache keeps them all alive for the next batch.
    curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, static_cast<long>(std::max(connections * 2, 16)));
  }
  CURL* take() {
    if (idle.empty()) return curl_easy_init();
    CURL* h = idle.back();
    idle.pop_back();
    curl_easy_reset(h);
    return h;
  }
};

}  // namespace

HttpResult sendHttp(const HttpRequest& r) {
  CURL* h = threadHandle();
  Transfer t;
  setUp(h, r, t);
  finish(h, curl_easy_perform(h), t);
  return std::move(t.result);
}

namespace {
// sendHttpMany's libcurl part: requests[i] for every i in `which`, into results[i].
void sendCurlMany(const std::vector<HttpRequest>& requests, const std::vector<size_t>& which,
                  const HttpBatchOptions& options, std::vector<HttpResult>& results) {
  thread_local MultiHolder multi;
  const int connections = std::max(1, options.max_connections);
  multi.configure(connections);
  std::vector<Transfer> ts(requests.size());
  size_t next = 0;
  int active = 0;
  auto startMore = [&] {
    while (active < connections && next < which.size()) {
      if (options.start_by && std::chrono::steady_clock::now() > *options.start_by) {
        for (; next < which.size(); ++next) {
          ts[which[next]].result.started = false;
          ts[which[next]].result.error = "not sent: the batch ran out of time";
        }
        return;
      }
      const size_t i = which[next];
      CURL* h = multi.take();
      setUp(h, requests[i], ts[i]);
      curl_easy_setopt(h, CURLOPT_PRIVATE, reinterpret_cast<void*>(i));
      if (const CURLMcode mc = curl_multi_add_handle(multi.m, h); mc != CURLM_OK) {
        finish(h, CURLE_FAILED_INIT, ts[i]);
        ts[i].result.error = std::string("curl: ") + curl_multi_strerror(mc);
        multi.idle.push_back(h);
      } else {
        ++active;
      }
      ++next;
    }
  };
  startMore();
  while (active > 0) {
    int running = 0;
    curl_multi_perform(multi.m, &running);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi.m, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* h = msg->easy_handle;
      const CURLcode rc = msg->data.result;
      void* priv = nullptr;
      curl_easy_getinfo(h, CURLINFO_PRIVATE, &priv);
      curl_multi_remove_handle(multi.m, h);
      finish(h, rc, ts[reinterpret_cast<size_t>(priv)]);
      multi.idle.push_back(h);
      --active;
    }
    startMore();
    if (active > 0) curl_multi_poll(multi.m, nullptr, 0, 20, nullptr);
  }
  for (size_t i : which) results[i] = std::move(ts[i].result);
}

// libcurl sends plain http:// through a proxy named in http_proxy or all_proxy (ALL_PROXY); the
// lean client knows no proxies, so with one configured everything stays on libcurl.
bool proxyConfigured() {
  for (const char* name : {"http_proxy", "all_proxy", "ALL_PROXY"})
    if (const char* v = std::getenv(name); v && *v) return true;
  return false;
}
}  // namespace

std::vector<HttpResult> sendHttpMany(const std::vector<HttpRequest>& requests,
                                     const HttpBatchOptions& options) {
  std::vector<HttpResult> results(requests.size());
  std::vector<size_t> lean, curl;
  const bool lean_ok = options.lean && !proxyConfigured();
  for (size_t i = 0; i < requests.size(); ++i)
    (lean_ok && http::leanEndpoint(requests[i].url) ? lean : curl).push_back(i);
  if (!lean.empty()) http::sendLeanMany(requests, lean, options, results);
  if (!curl.empty()) sendCurlMany(requests, curl, options, results);
  return results;
}

namespace {
const EVP_MD* sha256() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);  // looked up once
  return md;
}

// HMAC-SHA256 (RFC 2104) with a key's inner and outer hash states set up once: a response's
// secret signs each of its deliveries, and the one-shot HMAC() of OpenSSL 3 fetches the digest
// and hashes both key pads again on every call (a third of the signature's cost here).
class HmacKey {
 public:
  explicit HmacKey(const std::string& key) {
    unsigned char k[kBlock] = {0};
    unsigned int n = 0;
    if (key.size() > kBlock)
      ok_ = EVP_Digest(key.data(), key.size(), k, &n, sha256(), nullptr) == 1;
    else
      std::memcpy(k, key.data(), key.size());
    unsigned char ipad[kBlock], opad[kBlock];
    for (size_t i = 0; i < kBlock; ++i) {
      ipad[i] = k[i] ^ 0x36;
      opad[i] = k[i] ^ 0x5c;
    }
    ok_ = ok_ && inner_ && outer_ && EVP_DigestInit_ex(inner_, sha256(), nullptr) == 1 &&
          EVP_DigestUpdate(inner_, ipad, kBlock) == 1 &&
          EVP_DigestInit_ex(outer_, sha256(), nullptr) == 1 &&
          EVP_DigestUpdate(outer_, opad, kBlock) == 1;
  }
  HmacKey(const HmacKey&) = delete;
  HmacKey& operator=(const HmacKey&) = delete;
  ~HmacKey() {
    EVP_MD_CTX_free(inner_);
    EVP_MD_CTX_free(outer_);
    EVP_MD_CTX_free(work_);
  }
  // False when OpenSSL failed (the caller falls back to HMAC()).
  bool sign(const std::string& data, unsigned char out[32]) {
    unsigned char inner[EVP_MAX_MD_SIZE];
    unsigned int n = 0, m = 0;
    return ok_ && work_ && EVP_MD_CTX_copy_ex(work_, inner_) == 1 &&
           EVP_DigestUpdate(work_, data.data(), data.size()) == 1 &&
           EVP_DigestFinal_ex(work_, inner, &n) == 1 && EVP_MD_CTX_copy_ex(work_, outer_) == 1 &&
           EVP_DigestUpdate(work_, inner, n) == 1 && EVP_DigestFinal_ex(work_, out, &m) == 1 &&
           m == 32;
  }

 private:
  static constexpr size_t kBlock = 64;  // SHA-256's block
  bool ok_ = true;
  EVP_MD_CTX* inner_ = EVP_MD_CTX_new();
  EVP_MD_CTX* outer_ = EVP_MD_CTX_new();
  EVP_MD_CTX* work_ = EVP_MD_CTX_new();
};
}  // namespace

std::string hmacSha256Hex(const std::string& key, const std::string& data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // Each sending thread keeps the states of the keys it signed with lately.
  thread_local std::unordered_map<std::string, std::unique_ptr<HmacKey>> keys;
  auto it = keys.find(key);
  if (it == keys.end()) {
    if (keys.size() >= 64) keys.clear();
    it = keys.emplace(key, std::make_unique<HmacKey>(key)).first;
  }
  if (it->second->sign(data, md))
    len = 32;
  else
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), md, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

core::Result<SmtpConfig> parseSmtpUrl(const std::string& text) {
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::kInvalidArgument,
                why +
                    " (expected smtp://[user[:password]@]host[:port][?from=ADDR"
                    "&tls=none|try|required], or smtps://...)",
                "--smtp");
  };
  SmtpConfig c;
  std::string rest;
  std::string scheme;
  if (text.rfind("smtp://", 0) == 0) {
    scheme = "smtp://";
  } else if (text.rfind("smtps://", 0) == 0) {
    scheme = "smtps://";
    c.tls = SmtpConfig::Tls::kRequired;
  } else {
    return bad("unknown scheme in '" + text.substr(0, 64) + "'");
  }
  rest = text.substr(scheme.size());
  std::string query;
  if (auto q = rest.find('?'); q != std::string::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (auto at = rest.rfind('@'); at != std::string::npos) {
    const std::string userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const auto colon = userinfo.find(':');
    c.username = percentDecode(userinfo.substr(0, colon));
    if (colon != std::string::npos) c.password = percentDecode(userinfo.substr(colon + 1));
  }
  if (rest.empty() || rest.find('/') != std::string::npos) return bad("no host");
  if (c.password.empty())
    if (const char* p = std::getenv("THREATDESK_SMTP_PASSWORD"); p && *p) c.password = p;
  size_t start = 0;
  while (start < query.size()) {
    auto amp = query.find('&', start);
    if (amp == std::string::npos) amp = query.size();
    const std::string kv = query.substr(start, amp - start);
    start = amp + 1;
    const auto eq = kv.find('=');
    const std::string k = kv.substr(0, eq);
    const std::string v = eq == std::string::npos ? "" : percentDecode(kv.substr(eq + 1));
    if (k == "from") {
      if (v.find('@') == std::string::npos) return bad("from= is not an e-mail address");
      c.from = v;
    } else if (k == "tls") {
      if (v == "none")
        c.tls = SmtpConfig::Tls::kNone;
      else if (v == "try")
        c.tls = SmtpConfig::Tls::kTry;
      else if (v == "required")
        c.tls = SmtpConfig::Tls::kRequired;
      else
        return bad("tls= must be none, try or required");
    } else if (k == "verify") {
      c.verify_peer = v != "0" && v != "false";
    } else if (!k.empty()) {
      return bad("unknown option '" + k + "'");
    }
  }
  c.url = scheme + rest;
  return c;
}

namespace {
struct ReadState {
  const std::string* data;
  size_t at = 0;
};
size_t readMessage(char* buf, size_t size, size_t n, void* user) {
  auto* st = static_cast<ReadState*>(user);
  const size_t len = std::min(size * n, st->data->size() - st->at);
  std::memcpy(buf, st->data->data() + st->at, len);
  st->at += len;
  return len;
}
}  // namespace

SmtpResult sendEmail(const SmtpConfig& c, const EmailMessage& m) {
  SmtpResult result;
  const auto started = std::chrono::steady_clock::now();
  if (m.to.empty()) {
    result.error = "no recipients";
    result.permanent = true;
    return result;
  }
  const std::string data = buildMime(m, core::nowMs());
  CURL* h = threadHandle();
  curl_easy_setopt(h, CURLOPT_URL, c.url.c_str());
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(c.timeout_ms));
  curl_easy_setopt(h, CURLOPT_USE_SSL,
                   c.tls == SmtpConfig::Tls::kRequired ? CURLUSESSL_ALL
                   : c.tls == SmtpConfig::Tls::kTry    ? CURLUSESSL_TRY
                                                       : CURLUSESSL_NONE);
  if (!c.verify_peer) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (!c.username.empty()) {
    curl_easy_setopt(h, CURLOPT_USERNAME, c.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, c.password.c_str());
  }
  const std::string from = "<" + m.from + ">";
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, from.c_str());
  curl_slist* rcpt = nullptr;
  for (const auto& t : m.to) rcpt = curl_slist_append(rcpt, ("<" + t + ">").c_str());
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt);
  ReadState rs{&data};
  curl_easy_setopt(h, CURLOPT_READFUNCTION, readMessage);
  curl_easy_setopt(h, CURLOPT_READDATA, &rs);
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  const CURLcode rc = curl_easy_perform(h);
  long code = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  if (code > 0) result.code = static_cast<int>(code);
  if (rc == CURLE_OK) {
    result.ok = true;
  } else {
    result.error =
        std::string(curl_easy_strerror(rc)) + (errbuf[0] ? std::string(": ") + errbuf : "");
    result.permanent = code >= 500 && code < 600;
  }
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, nullptr);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, nullptr);
  curl_easy_setopt(h, CURLOPT_READDATA, nullptr);
  curl_slist_free_all(rcpt);
  result.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - started)
                           .count();
  return result;
}

}  // namespace td::respond
