#include "vuln/purl.h"

#include <algorithm>
#include <vector>

#include "core/text.h"

namespace td::vuln {
namespace {

using core::ErrorCode;
using core::fail;

bool isAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool isDigit(char c) { return c >= '0' && c <= '9'; }

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

core::Result<std::string> percentDecode(std::string_view s, std::string_view part) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    int hi = i + 2 < s.size() ? hexValue(s[i + 1]) : -1;
    int lo = i + 2 < s.size() ? hexValue(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return fail(ErrorCode::kInvalidArgument,
                  "bad percent-encoding at byte " + std::to_string(i) + " of the " +
                      std::string(part),
                  std::string(part));
    }
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// Everything but the unreserved characters (RFC 3986) and ":" is percent-encoded, as the
// specification's canonical form requires.
std::string percentEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (isAlnum(c) || c == '.' || c == '-' || c == '_' || c == '~' || c == ':') {
      out += c;
    } else {
      auto u = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

bool validType(std::string_view t) {
  if (t.empty() || isDigit(t.front())) return false;
  return std::all_of(t.begin(), t.end(),
                     [](char c) { return isAlnum(c) || c == '.' || c == '+' || c == '-'; });
}

bool validQualifierKey(std::string_view k) {
  if (k.empty() || isDigit(k.front())) return false;
  return std::all_of(k.begin(), k.end(),
                     [](char c) { return isAlnum(c) || c == '.' || c == '-' || c == '_'; });
}

// Splits at '/' without trimming: spaces are data in a purl.
std::vector<std::string_view> splitPath(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) pos = s.size();
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
  return out;
}

std::string lower(std::string_view s) { return core::toLower(s); }

// Per-type rules from the specification's type definitions.
core::Status applyTypeRules(Purl& p) {
  const std::string& t = p.type;
  auto require = [&](bool ok, std::string message, std::string field) -> core::Status {
    if (!ok) return fail(ErrorCode::kInvalidArgument, std::move(message), std::move(field));
    return {};
  };
  if (t == "bitbucket" || t == "github" || t == "composer" || t == "brew" || t == "hex" ||
      t == "apk" || t == "deb" || t == "alpm" || t == "git" || t == "pub" || t == "otp") {
    p.ns = lower(p.ns);
    p.name = lower(p.name);
  } else if (t == "pypi") {
    p.name = lower(p.name);
    std::replace(p.name.begin(), p.name.end(), '_', '-');
  } else if (t == "huggingface") {
    p.version = lower(p.version);
  } else if (t == "mlflow") {
    auto it = p.qualifiers.find("repository_url");
    if (it != p.qualifiers.end() && core::containsIgnoreCase(it->second, "databricks")) {
      p.name = lower(p.name);
    }
  } else if (t == "npm" || t == "luarocks") {
    p.ns = lower(p.ns);
    p.name = lower(p.name);
  } else if (t == "cpan") {
    if (p.name.find("::") != std::string::npos) {
      return fail(ErrorCode::kInvalidArgument,
                  "cpan purl names a distribution, not a module (\"::\" in \"" + p.name + "\")",
                  "name");
    }
    for (char& c : p.ns) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  } else if (t == "swift") {
    if (auto s = require(!p.ns.empty(), "swift purl needs a namespace (the source host)",
                         "namespace");
        !s) {
      return s;
    }
  } else if (t == "vscode-extension") {
    if (auto s = require(!p.ns.empty(), "vscode-extension purl needs a publisher namespace",
                         "namespace");
        !s) {
      return s;
    }
    p.ns = lower(p.ns);
    p.name = lower(p.name);
  } else if (t == "hackage") {
    if (auto s = require(!p.version.empty(), "hackage purl needs a version", "version"); !s) {
      return s;
    }
  } else if (t == "julia") {
    if (auto s = require(p.qualifiers.count("uuid") > 0, "julia purl needs the uuid qualifier",
                         "qualifiers");
        !s) {
      return s;
    }
  } else if (t == "chrome-extension") {
    bool ok = p.name.size() == 32 &&
              std::all_of(p.name.begin(), p.name.end(), [](char c) { return c >= 'a' && c <= 'p'; });
    if (!ok) {
      return fail(ErrorCode::kInvalidArgument,
                  "chrome-extension name must be 32 characters a-p, got \"" + p.name + "\"",
                  "name");
    }
    if (!p.version.empty()) {
      int dots = 0;
      bool chars = std::all_of(p.version.begin(), p.version.end(), [&](char c) {
        if (c == '.') ++dots;
        return isDigit(c) || c == '.';
      });
      if (!chars || dots > 3) {
        return fail(ErrorCode::kInvalidArgument,
                    "chrome-extension version must be 1 to 4 dot-separated numbers", "version");
      }
    }
  }
  if (t == "git") {
    // The name is a repository path written with its slashes: every segment must be non-empty
    // and the host one segment, or the canonical form would read back differently.
    bool empty_segment = false;
    for (auto seg : splitPath(p.name, '/')) empty_segment |= seg.empty();
    if (empty_segment || p.ns.find('/') != std::string::npos) {
      return fail(ErrorCode::kInvalidArgument, "git purl has an empty path segment", "name");
    }
  }
  if (t == "vcpkg" || t == "otp" || t == "cran" || t == "julia") {
    if (!p.ns.empty()) {
      return fail(ErrorCode::kInvalidArgument, t + " purl takes no namespace", "namespace");
    }
  }
  return {};
}

core::Result<Purl> finish(Purl p) {
  if (!validType(p.type)) {
    return fail(ErrorCode::kInvalidArgument,
                "purl type \"" + p.type +
                    "\" must be letters, digits, '.', '+', '-' and not start with a digit",
                "type");
  }
  p.type = lower(p.type);
  if (p.name.empty()) return fail(ErrorCode::kInvalidArgument, "purl has no name", "name");
  for (const auto& [k, v] : p.qualifiers) {
    if (!validQualifierKey(k)) {
      return fail(ErrorCode::kInvalidArgument, "bad purl qualifier key \"" + k + "\"",
                  "qualifiers");
    }
  }
  if (auto s = applyTypeRules(p); !s) return tl::unexpected(s.error());
  return p;
}

}  // namespace

core::Result<Purl> parsePurl(std::string_view text, PurlStrictness strictness) {
  if (text.size() > 64 * 1024) {
    return fail(ErrorCode::kTooLarge, "purl longer than 64 KiB", "purl");
  }
  Purl p;
  std::string_view rest = text;
  // Subpath: after the last '#'.
  if (size_t hash = rest.rfind('#'); hash != std::string_view::npos) {
    std::string_view sub = rest.substr(hash + 1);
    rest = rest.substr(0, hash);
    std::vector<std::string> segments;
    for (auto seg : splitPath(sub, '/')) {
      if (seg.empty() || seg == "." || seg == "..") continue;
      auto decoded = percentDecode(seg, "subpath");
      if (!decoded) return tl::unexpected(decoded.error());
      segments.push_back(*decoded);
    }
    for (size_t i = 0; i < segments.size(); ++i) p.subpath += (i ? "/" : "") + segments[i];
  }
  // Qualifiers: after the last '?'.
  if (size_t q = rest.rfind('?'); q != std::string_view::npos) {
    std::string_view qs = rest.substr(q + 1);
    rest = rest.substr(0, q);
    size_t start = 0;
    while (start <= qs.size()) {
      size_t amp = qs.find('&', start);
      if (amp == std::string_view::npos) amp = qs.size();
      std::string_view pair = qs.substr(start, amp - start);
      start = amp + 1;
      if (pair.empty()) continue;
      size_t eq = pair.find('=');
      if (eq == std::string_view::npos) {
        return fail(ErrorCode::kInvalidArgument,
                    "purl qualifier \"" + std::string(pair) + "\" has no '='", "qualifiers");
      }
      std::string key(pair.substr(0, eq));
      if (strictness == PurlStrictness::kStrict && lower(key) != key) {
        return fail(ErrorCode::kInvalidArgument,
                    "purl qualifier key \"" + key + "\" is not lower-case", "qualifiers");
      }
      key = lower(key);
      if (!validQualifierKey(key)) {
        return fail(ErrorCode::kInvalidArgument, "bad purl qualifier key \"" + key + "\"",
                    "qualifiers");
      }
      auto value = percentDecode(pair.substr(eq + 1), "qualifiers");
      if (!value) return tl::unexpected(value.error());
      if (value->empty()) continue;  // empty values mean "absent"
      if (p.qualifiers.count(key)) {
        return fail(ErrorCode::kInvalidArgument, "purl qualifier \"" + key + "\" is repeated",
                    "qualifiers");
      }
      p.qualifiers.emplace(std::move(key), std::move(*value));
    }
  }
  // Scheme.
  size_t colon = rest.find(':');
  if (colon == std::string_view::npos || lower(rest.substr(0, colon)) != "pkg") {
    return fail(ErrorCode::kInvalidArgument, "purl must start with \"pkg:\"", "scheme");
  }
  rest = rest.substr(colon + 1);
  while (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  // Type.
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) {
    return fail(ErrorCode::kInvalidArgument, "purl has no type followed by '/'", "type");
  }
  p.type = std::string(rest.substr(0, slash));
  if (!validType(p.type)) {
    return fail(ErrorCode::kInvalidArgument,
                "purl type \"" + p.type +
                    "\" must be letters, digits, '.', '+', '-' and not start with a digit",
                "type");
  }
  rest = rest.substr(slash + 1);
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  // Version: after the last '@' of the remaining path... but an '@' inside the name segment
  // that is followed by another '@' (brew's "node@20@20.10.0") belongs to the name.
  if (size_t at = rest.rfind('@'); at != std::string_view::npos) {
    size_t last_slash = rest.rfind('/');
    if (last_slash == std::string_view::npos || at > last_slash) {
      auto version = percentDecode(rest.substr(at + 1), "version");
      if (!version) return tl::unexpected(version.error());
      p.version = std::move(*version);
      rest = rest.substr(0, at);
    }
  }
  // Name: after the last '/'.
  size_t name_slash = rest.rfind('/');
  std::string_view raw_name =
      name_slash == std::string_view::npos ? rest : rest.substr(name_slash + 1);
  auto name = percentDecode(raw_name, "name");
  if (!name) return tl::unexpected(name.error());
  p.name = std::move(*name);
  if (name_slash != std::string_view::npos && core::equalsIgnoreCase(p.type, "git")) {
    // git purls: the namespace is the host, the name the whole repository path.
    size_t host_end = rest.find('/');
    auto host = percentDecode(rest.substr(0, host_end), "namespace");
    auto path = percentDecode(rest.substr(host_end + 1), "name");
    if (!host) return tl::unexpected(host.error());
    if (!path) return tl::unexpected(path.error());
    if (host->empty() || host->find('/') != std::string::npos) {
      return fail(ErrorCode::kInvalidArgument, "git purl needs a host namespace without '/'",
                  "namespace");
    }
    p.ns = std::move(*host);
    p.name = std::move(*path);
  } else if (name_slash != std::string_view::npos) {
    std::vector<std::string> segments;
    for (auto seg : splitPath(rest.substr(0, name_slash), '/')) {
      if (seg.empty()) continue;
      auto decoded = percentDecode(seg, "namespace");
      if (!decoded) return tl::unexpected(decoded.error());
      if (decoded->find('/') != std::string::npos) {
        return fail(ErrorCode::kInvalidArgument, "purl namespace segment contains '/'",
                    "namespace");
      }
      segments.push_back(std::move(*decoded));
    }
    for (size_t i = 0; i < segments.size(); ++i) p.ns += (i ? "/" : "") + segments[i];
  }
  return finish(std::move(p));
}

core::Result<Purl> buildPurl(Purl parts) {
  // Namespace segments are normalised as in parsing: empty segments dropped.
  std::vector<std::string_view> segments;
  for (auto seg : splitPath(parts.ns, '/')) {
    if (!seg.empty()) segments.push_back(seg);
  }
  std::string ns;
  for (size_t i = 0; i < segments.size(); ++i) ns += (i ? "/" : "") + std::string(segments[i]);
  parts.ns = ns;
  for (auto it = parts.qualifiers.begin(); it != parts.qualifiers.end();) {
    if (it->second.empty()) {
      it = parts.qualifiers.erase(it);
    } else {
      ++it;
    }
  }
  return finish(std::move(parts));
}

std::string toString(const Purl& p) {
  std::string out = "pkg:" + p.type + "/";
  if (!p.ns.empty()) {
    for (auto seg : splitPath(p.ns, '/')) {
      if (seg.empty()) continue;
      out += percentEncode(seg);
      out += '/';
    }
  }
  if (p.type == "git") {
    // The repository path keeps its slashes.
    bool first = true;
    for (auto seg : splitPath(p.name, '/')) {
      if (!first) out += '/';
      out += percentEncode(seg);
      first = false;
    }
  } else {
    out += percentEncode(p.name);
  }
  if (!p.version.empty()) out += "@" + percentEncode(p.version);
  if (!p.qualifiers.empty()) {
    char sep = '?';
    for (const auto& [k, v] : p.qualifiers) {
      out += sep;
      out += k + "=" + percentEncode(v);
      sep = '&';
    }
  }
  if (!p.subpath.empty()) {
    out += '#';
    bool first = true;
    for (auto seg : splitPath(p.subpath, '/')) {
      if (seg.empty() || seg == "." || seg == "..") continue;
      if (!first) out += '/';
      out += percentEncode(seg);
      first = false;
    }
  }
  return out;
}

}  // namespace td::vuln
