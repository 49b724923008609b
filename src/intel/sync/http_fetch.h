// A small HTTP GET over libcurl for feed downloads and TAXII polls: http and https only (also
// after redirects), basic-auth credentials that are never sent to another host after a redirect,
// a size cap and a timeout. Errors say what went wrong in the words an operator can act on.
//
// Thread safety: each call is independent; safe from any thread.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/error.h"

namespace td::intel::sync {

struct HttpGet {
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string username, password;    // basic auth when username is set
  long timeout_seconds = 120;
  size_t max_bytes = size_t{1} << 31;
};

struct HttpAnswer {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names lower-cased; the last value wins
};

// The answer whatever its status; fails only when no HTTP answer came (name, connection, TLS,
// timeout, size cap): kUnavailable with curl's reason, or kTooLarge.
core::Result<HttpAnswer> httpGet(const HttpGet& request);

// True for http:// and https:// URLs.
bool isHttpUrl(const std::string& text);

}  // namespace td::intel::sync
