// URL normalisation (RFC 3986 section 6) so that an indicator URL and the URL in an event compare
// equal when they name the same resource: scheme and host lower-cased, trailing dots of the host
// dropped, default ports removed, percent-encoding of unreserved characters decoded and the hex
// of the rest upper-cased, bytes that must be escaped escaped, dot segments removed, an empty path
// made "/", the fragment dropped (it never reaches a server). A URL without a scheme is taken as
// http. Pure functions, safe from any thread, never throw.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace td::intel {

constexpr size_t kMaxUrlLength = 8192;

core::Result<std::string> normalizeUrl(std::string_view raw);

// The host part of a URL (without port, brackets or userinfo), lower-cased; empty when none.
std::string urlHost(std::string_view url);

}  // namespace td::intel
