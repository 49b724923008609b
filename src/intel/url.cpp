#include "intel/url.h"

#include <cstdint>
#include <vector>

namespace td::intel {
namespace {

using core::ErrorCode;
using core::fail;

char lowerAscii(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool isUnreserved(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// Characters that may not appear literally in a URL (RFC 3986 plus what browsers escape).
bool mustEscape(unsigned char c) {
  return c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' ||
         c == '`' || c == '{' || c == '|' || c == '}';
}

void appendEscaped(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  out.push_back('%');
  out.push_back(kHex[c >> 4]);
  out.push_back(kHex[c & 15]);
}

// Normalises percent-encoding in a path, query or userinfo component.
std::string normalizeEncoding(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '%' && i + 2 < s.size() && hexValue(s[i + 1]) >= 0 && hexValue(s[i + 2]) >= 0) {
      auto decoded = static_cast<unsigned char>(hexValue(s[i + 1]) * 16 + hexValue(s[i + 2]));
      if (isUnreserved(decoded)) {
        out.push_back(static_cast<char>(decoded));
      } else {
        appendEscaped(out, decoded);
      }
      i += 2;
    } else if (c == '%' || mustEscape(c)) {
      appendEscaped(out, c);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return out;
}

// RFC 3986 5.2.4.
std::string removeDotSegments(std::string_view path) {
  std::vector<std::string_view> segments;
  bool absolute = !path.empty() && path.front() == '/';
  if (absolute) path.remove_prefix(1);
  bool trailing_slash = false;
  while (true) {
    auto slash = path.find('/');
    std::string_view seg = path.substr(0, slash);
    bool last = slash == std::string_view::npos;
    if (seg == ".") {
      trailing_slash = last;
    } else if (seg == "..") {
      if (!segments.empty()) segments.pop_back();
      trailing_slash = last;
    } else {
      segments.push_back(seg);
      trailing_slash = false;
    }
    if (last) break;
    path.remove_prefix(slash + 1);
  }
  std::string out;
  if (absolute) out.push_back('/');
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) out.push_back('/');
    out.append(segments[i]);
  }
  if (trailing_slash && (out.empty() || out.back() != '/')) out.push_back('/');
  return out;
}

int defaultPort(std::string_view scheme) {
  if (scheme == "http" || scheme == "ws") return 80;
  if (scheme == "https" || scheme == "wss") return 443;
  if (scheme == "ftp") return 21;
  return -1;
}

struct Parts {
  std::string_view scheme, userinfo, host, port, path, query;
  bool has_userinfo = false, has_query = false;
};

core::Result<Parts> split(std::string_view s) {
  Parts p;
  auto colon = s.find("://");
  if (colon == std::string_view::npos) {
    p.scheme = "http";
  } else {
    p.scheme = s.substr(0, colon);
    if (p.scheme.empty()) return fail(ErrorCode::kInvalidArgument, "URL without a scheme");
    for (char c : p.scheme) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '+' || c == '-' || c == '.';
      if (!ok) return fail(ErrorCode::kInvalidArgument, "invalid URL scheme");
    }
    s.remove_prefix(colon + 3);
  }
  auto frag = s.find('#');
  if (frag != std::string_view::npos) s = s.substr(0, frag);
  auto authority_end = s.find_first_of("/?");
  std::string_view authority = s.substr(0, authority_end);
  std::string_view rest = authority_end == std::string_view::npos ? "" : s.substr(authority_end);
  auto at = authority.rfind('@');
  if (at != std::string_view::npos) {
    p.userinfo = authority.substr(0, at);
    p.has_userinfo = true;
    authority.remove_prefix(at + 1);
  }
  if (!authority.empty() && authority.front() == '[') {
    auto close = authority.find(']');
    if (close == std::string_view::npos)
      return fail(ErrorCode::kInvalidArgument, "unterminated IPv6 literal in URL");
    p.host = authority.substr(0, close + 1);
    authority.remove_prefix(close + 1);
    if (!authority.empty()) {
      if (authority.front() != ':') return fail(ErrorCode::kInvalidArgument, "bad URL authority");
      p.port = authority.substr(1);
    }
  } else {
    auto pc = authority.rfind(':');
    if (pc != std::string_view::npos) {
      p.host = authority.substr(0, pc);
      p.port = authority.substr(pc + 1);
    } else {
      p.host = authority;
    }
  }
  if (p.host.empty()) return fail(ErrorCode::kInvalidArgument, "URL without a host");
  auto q = rest.find('?');
  if (q != std::string_view::npos) {
    p.path = rest.substr(0, q);
    p.query = rest.substr(q + 1);
    p.has_query = true;
  } else {
    p.path = rest;
  }
  return p;
}

}  // namespace

core::Result<std::string> normalizeUrl(std::string_view raw) {
  while (!raw.empty() && (raw.front() == ' ' || raw.front() == '\t')) raw.remove_prefix(1);
  while (!raw.empty() && (raw.back() == ' ' || raw.back() == '\t' || raw.back() == '\r' ||
                          raw.back() == '\n'))
    raw.remove_suffix(1);
  if (raw.empty()) return fail(ErrorCode::kInvalidArgument, "empty URL");
  if (raw.size() > kMaxUrlLength) return fail(ErrorCode::kTooLarge, "URL longer than 8192 bytes");
  auto parts = split(raw);
  if (!parts) return fail(parts.error());
  std::string out;
  out.reserve(raw.size() + 8);
  for (char c : parts->scheme) out.push_back(lowerAscii(c));
  std::string scheme = out;
  out += "://";
  if (parts->has_userinfo) {
    out += normalizeEncoding(parts->userinfo);
    out.push_back('@');
  }
  std::string host;
  const bool literal = parts->host.front() == '[';
  for (size_t i = 0; i < parts->host.size(); ++i) {
    char c = parts->host[i];
    bool bracket = literal && (i == 0 || i + 1 == parts->host.size());
    // A bracketed host is an IPv6 literal (hex, ':' and '.' only); any other host may not hold
    // ':' or brackets, or the port would be ambiguous when the URL is read again.
    bool ok = literal ? (bracket || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
                         (c >= 'A' && c <= 'F') || c == ':' || c == '.')
                      : !(static_cast<unsigned char>(c) <= 0x20 || c == '/' || c == '\\' ||
                          c == '%' || c == '<' || c == '>' || c == '"' || c == ':' || c == '[' ||
                          c == ']' || c == '@');
    if (!ok) return fail(ErrorCode::kInvalidArgument, "invalid character in URL host");
    host.push_back(lowerAscii(c));
  }
  while (!host.empty() && host.back() == '.') host.pop_back();
  if (host.empty()) return fail(ErrorCode::kInvalidArgument, "URL without a host");
  out += host;
  if (!parts->port.empty()) {
    long port = 0;
    for (char c : parts->port) {
      if (c < '0' || c > '9') return fail(ErrorCode::kInvalidArgument, "invalid URL port");
      port = port * 10 + (c - '0');
      if (port > 65535) return fail(ErrorCode::kInvalidArgument, "URL port out of range");
    }
    if (port != defaultPort(scheme)) out += ":" + std::to_string(port);
  }
  std::string path = removeDotSegments(normalizeEncoding(parts->path));
  if (path.empty() || path.front() != '/') path.insert(path.begin(), '/');
  out += path;
  if (parts->has_query) {
    out.push_back('?');
    out += normalizeEncoding(parts->query);
  }
  return out;
}

std::string urlHost(std::string_view url) {
  auto parts = split(url);
  if (!parts) return {};
  std::string_view h = parts->host;
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  std::string out;
  out.reserve(h.size());
  for (char c : h) out.push_back(lowerAscii(c));
  while (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

}  // namespace td::intel
