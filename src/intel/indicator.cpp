#include "intel/indicator.h"

#include <arpa/inet.h>

#include <cstring>

#include "core/text.h"
#include "intel/url.h"

namespace td::intel {
namespace {

using core::ErrorCode;
using core::fail;

constexpr std::string_view kTypeNames[kIndicatorTypeCount] = {
    "ipv4", "ipv6",   "cidr4",  "cidr6", "domain",   "url",     "md5",
    "sha1", "sha256", "sha512", "email", "filename", "compound"};

std::string_view trimSpace(std::string_view s) { return core::trim(s); }

size_t hashBytes(IndicatorType t) {
  switch (t) {
    case IndicatorType::kMd5: return 16;
    case IndicatorType::kSha1: return 20;
    case IndicatorType::kSha256: return 32;
    case IndicatorType::kSha512: return 64;
    default: return 0;
  }
}

core::Result<Normalized> normalizeCidr(std::string_view s, bool v6_hint) {
  auto slash = s.find('/');
  std::string_view addr = s.substr(0, slash);
  std::string_view len_text = s.substr(slash + 1);
  if (len_text.empty() || len_text.size() > 3)
    return fail(ErrorCode::kInvalidArgument, "invalid CIDR prefix length");
  int len = 0;
  for (char c : len_text) {
    if (c < '0' || c > '9') return fail(ErrorCode::kInvalidArgument, "invalid CIDR prefix length");
    len = len * 10 + (c - '0');
  }
  if (auto v4 = parseIpv4(addr)) {
    if (len > 32) return fail(ErrorCode::kInvalidArgument, "IPv4 prefix length over 32");
    std::uint32_t mask = len == 0 ? 0 : ~std::uint32_t{0} << (32 - len);
    std::uint32_t net = *v4 & mask;
    if (len == 32) return Normalized{IndicatorType::kIpv4, formatIpv4(net)};
    return Normalized{IndicatorType::kCidr4, formatIpv4(net) + "/" + std::to_string(len)};
  }
  if (auto v6 = parseIpv6(addr)) {
    if (len > 128) return fail(ErrorCode::kInvalidArgument, "IPv6 prefix length over 128");
    auto net = *v6;
    for (int i = 0; i < 16; ++i) {
      int keep = len - i * 8;
      if (keep >= 8) continue;
      net[i] = keep <= 0 ? 0 : static_cast<std::uint8_t>(net[i] & (0xff << (8 - keep)));
    }
    if (len == 128) return Normalized{IndicatorType::kIpv6, formatIpv6(net)};
    return Normalized{IndicatorType::kCidr6, formatIpv6(net) + "/" + std::to_string(len)};
  }
  (void)v6_hint;
  return fail(ErrorCode::kInvalidArgument, "invalid CIDR network address");
}

core::Result<Normalized> normalizeIp(std::string_view s) {
  if (s.find('/') != std::string_view::npos) return normalizeCidr(s, false);
  if (auto v4 = parseIpv4(s)) return Normalized{IndicatorType::kIpv4, formatIpv4(*v4)};
  if (auto v6 = parseIpv6(s)) {
    // An IPv4-mapped address is the IPv4 address (events log either form).
    static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(v6->data(), kMapped, 12) == 0) {
      std::uint32_t ip = (std::uint32_t{(*v6)[12]} << 24) | (std::uint32_t{(*v6)[13]} << 16) |
                         (std::uint32_t{(*v6)[14]} << 8) | (*v6)[15];
      return Normalized{IndicatorType::kIpv4, formatIpv4(ip)};
    }
    return Normalized{IndicatorType::kIpv6, formatIpv6(*v6)};
  }
  return fail(ErrorCode::kInvalidArgument, "not an IP address");
}

bool looksLikeHex(std::string_view s) {
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) return false;
  return true;
}

}  // namespace

std::string_view indicatorTypeName(IndicatorType t) {
  auto i = static_cast<size_t>(t);
  return i < kIndicatorTypeCount ? kTypeNames[i] : "unknown";
}

std::optional<IndicatorType> parseIndicatorType(std::string_view name) {
  std::string n = core::toLower(trimSpace(name));
  for (int i = 0; i < kIndicatorTypeCount; ++i)
    if (n == kTypeNames[i]) return static_cast<IndicatorType>(i);
  if (n == "ip" || n == "ip-dst" || n == "ip-src" || n == "ipv4-addr" || n == "ip_address")
    return IndicatorType::kIpv4;
  if (n == "ipv6-addr") return IndicatorType::kIpv6;
  if (n == "cidr") return IndicatorType::kCidr4;
  if (n == "hostname" || n == "domain-name" || n == "fqdn" || n == "host") return IndicatorType::kDomain;
  if (n == "uri" || n == "link") return IndicatorType::kUrl;
  if (n == "sha-1") return IndicatorType::kSha1;
  if (n == "sha-256") return IndicatorType::kSha256;
  if (n == "sha-512") return IndicatorType::kSha512;
  if (n == "email-addr" || n == "email-src" || n == "email-address") return IndicatorType::kEmail;
  if (n == "file-name" || n == "file_name" || n == "file") return IndicatorType::kFileName;
  return std::nullopt;
}

std::optional<std::uint32_t> parseIpv4(std::string_view s) {
  if (s.size() < 7 || s.size() > 15) return std::nullopt;
  std::uint32_t ip = 0;
  int parts = 0;
  size_t i = 0;
  while (parts < 4) {
    if (i >= s.size() || s[i] < '0' || s[i] > '9') return std::nullopt;
    std::uint32_t v = 0;
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      v = v * 10 + static_cast<std::uint32_t>(s[i] - '0');
      if (i - start >= 3 || v > 255) return std::nullopt;
      ++i;
    }
    // A leading zero is read as octal by some stacks; refuse the ambiguity.
    if (i - start > 1 && s[start] == '0') return std::nullopt;
    ip = (ip << 8) | v;
    ++parts;
    if (parts < 4) {
      if (i >= s.size() || s[i] != '.') return std::nullopt;
      ++i;
    }
  }
  if (i != s.size()) return std::nullopt;
  return ip;
}

std::optional<std::array<std::uint8_t, 16>> parseIpv6(std::string_view s) {
  if (s.size() < 2 || s.size() > 45) return std::nullopt;
  if (s.find(':') == std::string_view::npos) return std::nullopt;
  char buf[64];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = 0;
  // A zone index ("fe80::1%eth0") names an interface, not part of the address.
  if (char* pct = std::strchr(buf, '%')) *pct = 0;
  std::array<std::uint8_t, 16> out{};
  if (inet_pton(AF_INET6, buf, out.data()) != 1) return std::nullopt;
  return out;
}

std::string formatIpv4(std::uint32_t ip) {
  return std::to_string(ip >> 24) + "." + std::to_string((ip >> 16) & 255) + "." +
         std::to_string((ip >> 8) & 255) + "." + std::to_string(ip & 255);
}

std::string formatIpv6(const std::array<std::uint8_t, 16>& ip) {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, ip.data(), buf, sizeof buf);
  return buf;
}

bool decodeHex(std::string_view hex, std::uint8_t* out, size_t out_len) {
  if (hex.size() != out_len * 2) return false;
  auto val = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < out_len; ++i) {
    int hi = val(hex[2 * i]), lo = val(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return true;
}

std::string encodeHex(const std::uint8_t* data, size_t len) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(len * 2, '0');
  for (size_t i = 0; i < len; ++i) {
    out[2 * i] = kHex[data[i] >> 4];
    out[2 * i + 1] = kHex[data[i] & 15];
  }
  return out;
}

std::string normalizeDomain(std::string_view raw) {
  std::string_view s = raw;
  if (s.size() > 2 && s[0] == '*' && s[1] == '.') s.remove_prefix(2);
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  if (s.empty() || s.size() > 253) return {};
  std::string out;
  out.reserve(s.size());
  size_t label = 0;
  for (char c : s) {
    if (c == '.') {
      if (label == 0) return {};
      label = 0;
      out.push_back('.');
      continue;
    }
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              static_cast<unsigned char>(c) >= 0x80;  // IDN in UTF-8
    if (!ok) return {};
    if (++label > 63) return {};
    out.push_back(c);
  }
  if (label == 0) return {};
  // A top-level label is never all digits: "999.1.1.1" is a bad address, not a domain.
  auto last = out.rfind('.');
  std::string_view tld = std::string_view(out).substr(last == std::string::npos ? 0 : last + 1);
  if (tld.find_first_not_of("0123456789") == std::string_view::npos) return {};
  return out;
}

core::Result<Normalized> normalizeValue(IndicatorType type, std::string_view raw) {
  std::string_view s = trimSpace(raw);
  if (s.empty()) return fail(ErrorCode::kInvalidArgument, "empty value");
  switch (type) {
    case IndicatorType::kIpv4:
    case IndicatorType::kIpv6:
    case IndicatorType::kCidr4:
    case IndicatorType::kCidr6: return normalizeIp(s);
    case IndicatorType::kDomain: {
      if (parseIpv4(s) || parseIpv6(s)) return normalizeIp(s);
      std::string d = normalizeDomain(s);
      if (d.empty()) return fail(ErrorCode::kInvalidArgument, "not a domain name");
      return Normalized{IndicatorType::kDomain, std::move(d)};
    }
    case IndicatorType::kUrl: {
      auto u = normalizeUrl(s);
      if (!u) return fail(u.error());
      return Normalized{IndicatorType::kUrl, std::move(*u)};
    }
    case IndicatorType::kMd5:
    case IndicatorType::kSha1:
    case IndicatorType::kSha256:
    case IndicatorType::kSha512: {
      if (s.size() != hashBytes(type) * 2 || !looksLikeHex(s))
        return fail(ErrorCode::kInvalidArgument,
                    "not a " + std::string(indicatorTypeName(type)) + " hash (expected " +
                        std::to_string(hashBytes(type) * 2) + " hex digits)");
      return Normalized{type, core::toLower(s)};
    }
    case IndicatorType::kEmail: {
      auto at = s.find('@');
      if (at == std::string_view::npos || at == 0 || at + 1 == s.size() ||
          s.find('@', at + 1) != std::string_view::npos || s.find(' ') != std::string_view::npos)
        return fail(ErrorCode::kInvalidArgument, "not an email address");
      std::string domain = normalizeDomain(s.substr(at + 1));
      if (domain.empty()) return fail(ErrorCode::kInvalidArgument, "not an email address");
      return Normalized{IndicatorType::kEmail, core::toLower(s.substr(0, at)) + "@" + domain};
    }
    case IndicatorType::kFileName: {
      auto slash = s.find_last_of("/\\");
      if (slash != std::string_view::npos) s.remove_prefix(slash + 1);
      if (s.empty() || s.size() > 255) return fail(ErrorCode::kInvalidArgument, "not a file name");
      return Normalized{IndicatorType::kFileName, core::toLower(s)};
    }
    case IndicatorType::kCompound: break;
  }
  return fail(ErrorCode::kInvalidArgument, "a compound indicator has no single value");
}

core::Result<Normalized> normalizeGuess(std::string_view raw) {
  std::string_view s = trimSpace(raw);
  if (s.empty()) return fail(ErrorCode::kInvalidArgument, "empty value");
  if (auto ip = normalizeIp(s)) return ip;
  if (s.find("://") != std::string_view::npos) return normalizeValue(IndicatorType::kUrl, s);
  if (looksLikeHex(s)) {
    switch (s.size()) {
      case 32: return normalizeValue(IndicatorType::kMd5, s);
      case 40: return normalizeValue(IndicatorType::kSha1, s);
      case 64: return normalizeValue(IndicatorType::kSha256, s);
      case 128: return normalizeValue(IndicatorType::kSha512, s);
      default: break;
    }
  }
  if (s.find('@') != std::string_view::npos) return normalizeValue(IndicatorType::kEmail, s);
  if (s.find('/') != std::string_view::npos) return normalizeValue(IndicatorType::kUrl, s);
  std::string d = normalizeDomain(s);
  if (d.empty() || d.find('.') == std::string::npos)
    return fail(ErrorCode::kInvalidArgument, "not an IP, CIDR, URL, hash, email or domain");
  return Normalized{IndicatorType::kDomain, std::move(d)};
}

}  // namespace td::intel
