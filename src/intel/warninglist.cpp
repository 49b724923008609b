#include "intel/warninglist.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/text.h"
#include "intel/url.h"

namespace td::intel {
namespace {

using core::ErrorCode;
using core::fail;
namespace fs = std::filesystem;

std::uint32_t bit(IndicatorType t) { return 1u << static_cast<int>(t); }

constexpr std::uint32_t kIpTypes = (1u << static_cast<int>(IndicatorType::kIpv4)) |
                                   (1u << static_cast<int>(IndicatorType::kIpv6)) |
                                   (1u << static_cast<int>(IndicatorType::kCidr4)) |
                                   (1u << static_cast<int>(IndicatorType::kCidr6));
constexpr std::uint32_t kHashTypes = (1u << static_cast<int>(IndicatorType::kMd5)) |
                                     (1u << static_cast<int>(IndicatorType::kSha1)) |
                                     (1u << static_cast<int>(IndicatorType::kSha256)) |
                                     (1u << static_cast<int>(IndicatorType::kSha512));

std::uint32_t typesFor(const nlohmann::json& attrs) {
  if (!attrs.is_array() || attrs.empty()) return ~0u;
  std::uint32_t types = 0;
  for (const auto& a : attrs) {
    if (!a.is_string()) continue;
    std::string s = a.get<std::string>();
    if (s.rfind("ip-", 0) == 0 || s == "domain|ip") types |= kIpTypes;
    if (s == "hostname" || s == "domain" || s == "domain|ip") types |= bit(IndicatorType::kDomain);
    if (s == "url" || s == "uri" || s == "link") types |= bit(IndicatorType::kUrl);
    if (s.find("md5") != std::string::npos || s.find("sha") != std::string::npos)
      types |= kHashTypes;
    if (s.rfind("email", 0) == 0 || s == "target-email") types |= bit(IndicatorType::kEmail);
    if (s == "filename") types |= bit(IndicatorType::kFileName);
  }
  return types;
}

std::string canonicalEntry(std::string_view raw) {
  auto n = normalizeGuess(raw);
  if (n) return n->value;
  return core::toLower(core::trim(raw));
}

std::string readFile(const fs::path& p, bool* ok) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  *ok = static_cast<bool>(in) || in.eof();
  return ss.str();
}

}  // namespace

core::Status Warninglists::addList(std::string_view json, const std::string& id) {
  nlohmann::json doc = nlohmann::json::parse(json, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    return fail(ErrorCode::kInvalidArgument, "warninglist is not a JSON object", id);
  if (!doc.contains("list") || !doc["list"].is_array())
    return fail(ErrorCode::kInvalidArgument, "warninglist has no \"list\" array", id);
  std::string type = doc.value("type", std::string("string"));
  if (type == "regex") {
    warnings_.push_back("warninglist \"" + id + "\" skipped: regex lists are not supported");
    return {};
  }
  if (type != "cidr" && type != "string" && type != "hostname" && type != "substring")
    return fail(ErrorCode::kInvalidArgument, "unknown warninglist type \"" + type + "\"", id);
  if (lists_.size() >= 0xffff)
    return fail(ErrorCode::kTooLarge, "more than 65535 warninglists", id);
  auto list = static_cast<std::uint16_t>(lists_.size());
  // Popularity rankings (Alexa, Tranco, Cisco Umbrella, Cloudflare Radar, Majestic, Moz) list
  // registrable domains whose subdomains anyone may own (duckdns.org, github.io): they vouch for
  // the listed name only, so they match exactly even where MISP marks them "hostname".
  bool popularity = false;
  for (std::string_view p : {"alexa", "tranco", "cisco_top", "cloudflare-top", "majestic",
                             "moz-top", "umbrella-top", "crux"})
    if (id.rfind(p, 0) == 0) popularity = true;
  std::uint32_t types = typesFor(doc.contains("matching_attributes") ? doc["matching_attributes"]
                                                                     : nlohmann::json());
  // A list of CIDR ranges only ever speaks about addresses, whatever it claims to match.
  if (type == "cidr") types &= kIpTypes;
  lists_.push_back({id, types});
  for (const auto& e : doc["list"]) {
    if (!e.is_string()) continue;
    std::string v = e.get<std::string>();
    std::string_view s = core::trim(v);
    if (s.empty()) continue;
    ++entries_;
    if (type == "cidr") {
      auto n = normalizeValue(IndicatorType::kCidr4, s);
      if (!n) continue;
      std::string_view canon = n->value;
      auto slash = canon.find('/');
      int len = slash == std::string_view::npos ? -1 : std::stoi(std::string(canon.substr(slash + 1)));
      if (n->type == IndicatorType::kIpv4 || n->type == IndicatorType::kCidr4) {
        if (len < 0) len = 32;
        auto ip = parseIpv4(canon.substr(0, slash));
        if (!ip) continue;
        cidr4_[len].emplace(*ip, list);
        cidr4_lengths_ |= std::uint64_t{1} << len;
      } else {
        if (len < 0) len = 128;
        auto ip = parseIpv6(canon.substr(0, slash));
        if (!ip) continue;
        auto it = std::find_if(cidr6_.begin(), cidr6_.end(),
                               [&](const auto& p) { return p.first == len; });
        if (it == cidr6_.end()) {
          cidr6_.emplace_back(len, std::unordered_multimap<std::string, std::uint16_t>{});
          it = cidr6_.end() - 1;
        }
        it->second.emplace(std::string(reinterpret_cast<const char*>(ip->data()), 16), list);
      }
    } else if (type == "hostname" && !popularity) {
      while (!s.empty() && s.front() == '.') s.remove_prefix(1);
      std::string d = normalizeDomain(s);
      if (!d.empty()) hostnames_.emplace(std::move(d), list);
    } else if (type == "substring") {
      substrings_.emplace_back(core::toLower(s), list);
    } else {
      exact_.emplace(canonicalEntry(s), list);
    }
  }
  return {};
}

core::Status Warninglists::loadDirectory(const std::string& dir,
                                         const std::vector<std::string>& exclude) {
  std::error_code ec;
  fs::path root(dir);
  if (fs::exists(root / "lists", ec)) root /= "lists";
  if (!fs::is_directory(root, ec))
    return fail(ErrorCode::kNotFound, "not a warninglists directory", dir);
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (entry.is_directory() && fs::exists(entry.path() / "list.json"))
      files.push_back(entry.path() / "list.json");
  }
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::string id = f.parent_path().filename().string();
    if (std::find(exclude.begin(), exclude.end(), id) != exclude.end()) continue;
    bool ok = false;
    std::string text = readFile(f, &ok);
    if (!ok) return fail(ErrorCode::kUnavailable, "cannot read warninglist", f.string());
    if (auto st = addList(text, id); !st) {
      core::Error e = st.error();
      e.field = f.string();
      return fail(std::move(e));
    }
  }
  return {};
}

std::optional<std::uint16_t> Warninglists::matchIpv4(std::uint32_t ip, IndicatorType type) const {
  std::uint64_t lengths = cidr4_lengths_;
  while (lengths) {
    int len = 63 - __builtin_clzll(lengths);
    lengths &= ~(std::uint64_t{1} << len);
    std::uint32_t mask = len == 0 ? 0 : ~std::uint32_t{0} << (32 - len);
    auto [b, e] = cidr4_[len].equal_range(ip & mask);
    for (auto it = b; it != e; ++it)
      if (applies(it->second, type)) return it->second;
  }
  return std::nullopt;
}

std::optional<std::uint16_t> Warninglists::matchIpv6(const std::array<std::uint8_t, 16>& ip,
                                                     IndicatorType type) const {
  for (const auto& [len, table] : cidr6_) {
    auto net = ip;
    for (int i = 0; i < 16; ++i) {
      int keep = len - i * 8;
      if (keep >= 8) continue;
      net[i] = keep <= 0 ? 0 : static_cast<std::uint8_t>(net[i] & (0xff << (8 - keep)));
    }
    auto [b, e] = table.equal_range(std::string(reinterpret_cast<const char*>(net.data()), 16));
    for (auto it = b; it != e; ++it)
      if (applies(it->second, type)) return it->second;
  }
  return std::nullopt;
}

std::optional<std::uint16_t> Warninglists::matchHost(std::string_view host,
                                                     IndicatorType type) const {
  std::string key;
  while (!host.empty()) {
    key.assign(host);
    auto [b, e] = hostnames_.equal_range(key);
    for (auto it = b; it != e; ++it)
      if (applies(it->second, type)) return it->second;
    auto dot = host.find('.');
    if (dot == std::string_view::npos) break;
    host.remove_prefix(dot + 1);
  }
  return std::nullopt;
}

std::optional<std::string> Warninglists::match(IndicatorType type,
                                               std::string_view canonical) const {
  std::optional<std::uint16_t> hit;
  auto exact = [&](std::string_view v) {
    auto [b, e] = exact_.equal_range(std::string(v));
    for (auto it = b; it != e; ++it)
      if (applies(it->second, type)) return std::optional<std::uint16_t>(it->second);
    return std::optional<std::uint16_t>();
  };
  switch (type) {
    case IndicatorType::kIpv4:
    case IndicatorType::kCidr4: {
      auto ip = parseIpv4(canonical.substr(0, canonical.find('/')));
      if (ip) hit = matchIpv4(*ip, type);
      break;
    }
    case IndicatorType::kIpv6:
    case IndicatorType::kCidr6: {
      auto ip = parseIpv6(canonical.substr(0, canonical.find('/')));
      if (ip) hit = matchIpv6(*ip, type);
      break;
    }
    case IndicatorType::kDomain: hit = matchHost(canonical, type); break;
    case IndicatorType::kUrl: {
      std::string host = urlHost(canonical);
      hit = matchHost(host, type);
      if (!hit) {
        hit = exact(host);
      }
      break;
    }
    case IndicatorType::kEmail: {
      auto at = canonical.find('@');
      if (at != std::string_view::npos) hit = matchHost(canonical.substr(at + 1), type);
      break;
    }
    default: break;
  }
  if (!hit) hit = exact(canonical);
  if (!hit) {
    for (const auto& [sub, list] : substrings_)
      if (applies(list, type) && canonical.find(sub) != std::string_view::npos) {
        hit = list;
        break;
      }
  }
  if (!hit) return std::nullopt;
  return lists_[*hit].id;
}

}  // namespace td::intel
