// MISP warninglists: lists of values known to be benign or too generic to be an indicator (top
// domains, public resolvers, RFC 1918 ranges, empty-file hashes). An importer consults them and
// suppresses matching indicators, naming the list in its report. The four MISP list types are
// honoured: `cidr` (the indicator address or network lies inside a range), `hostname` (the
// indicator domain, or the host of a URL or email, is the entry or one of its subdomains; lists
// that rank popular sites vouch for the listed name only and match it exactly), `string` (exact, after the same canonicalisation as indicators) and `substring`; `regex` lists
// are skipped with a warning (their dialect is PCRE). `matching_attributes` limits a list to the
// indicator types it names.
//
// Thread safety: immutable after loading; safe to read from any number of threads.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "intel/indicator.h"

namespace td::intel {

// Lists that describe context, not benign values (a dynamic-DNS or URL-shortener domain is often
// exactly what an attacker uses); skipped unless asked for by name.
inline const std::vector<std::string> kContextWarninglists = {
    "dynamic-dns",  "disposable-email", "url-shortener", "link-in-bio",     "parking-domain",
    "parking-domain-ns", "vpn-ipv4",    "vpn-ipv6",      "public-ipfs-gateways",
    "lots-project"};

class Warninglists {
 public:
  // Adds one list.json document. `id` names it in reports (the folder name in MISP's layout).
  core::Status addList(std::string_view json, const std::string& id);
  // Loads every <dir>/*/list.json (and <dir>/lists/*/list.json), skipping `exclude`.
  // A list that does not parse fails the whole load, naming the file.
  core::Status loadDirectory(const std::string& dir,
                             const std::vector<std::string>& exclude = kContextWarninglists);

  // The id of a list that holds this canonical indicator, if any.
  std::optional<std::string> match(IndicatorType type, std::string_view canonical) const;

  size_t listCount() const { return lists_.size(); }
  size_t entryCount() const { return entries_; }
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  struct List {
    std::string id;
    std::uint32_t types = 0;  // bit per IndicatorType the list applies to
  };
  bool applies(std::uint16_t list, IndicatorType type) const {
    return (lists_[list].types >> static_cast<int>(type)) & 1u;
  }
  std::optional<std::uint16_t> matchIpv4(std::uint32_t ip, IndicatorType type) const;
  std::optional<std::uint16_t> matchIpv6(const std::array<std::uint8_t, 16>& ip,
                                         IndicatorType type) const;
  std::optional<std::uint16_t> matchHost(std::string_view host, IndicatorType type) const;

  std::vector<List> lists_;
  std::unordered_multimap<std::string, std::uint16_t> exact_;
  std::unordered_multimap<std::string, std::uint16_t> hostnames_;
  std::array<std::unordered_multimap<std::uint32_t, std::uint16_t>, 33> cidr4_;
  std::uint64_t cidr4_lengths_ = 0;
  std::vector<std::pair<int, std::unordered_multimap<std::string, std::uint16_t>>> cidr6_;
  std::vector<std::pair<std::string, std::uint16_t>> substrings_;
  std::vector<std::string> warnings_;
  size_t entries_ = 0;
};

}  // namespace td::intel
