// Indicators of compromise: their types, the canonical form of each value, and the draft record an
// importer hands to the index builder. Canonical forms make matching exact and cheap: an indicator
// and an event value are compared only after both went through the same normalisation.
// Pure functions and value types; safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace td::intel {

enum class IndicatorType : std::uint8_t {
  kIpv4 = 0,
  kIpv6,
  kCidr4,
  kCidr6,
  kDomain,    // matches the domain and every subdomain
  kUrl,       // normalised (see normalizeUrl)
  kMd5,
  kSha1,
  kSha256,
  kSha512,
  kEmail,
  kFileName,  // a file's base name, compared case-insensitively
  kCompound,  // a STIX conjunction: every atom must occur in the same event
};
constexpr int kIndicatorTypeCount = 13;

std::string_view indicatorTypeName(IndicatorType t);  // "ipv4", "cidr6", "sha256", ...
// Accepts the names above plus common aliases ("ip", "cidr", "hostname", "sha-256", "filename").
// "ip" and "cidr" come back as their IPv4 variant; normalizeValue picks the family.
std::optional<IndicatorType> parseIndicatorType(std::string_view name);

// A value in its canonical text form with the type it turned out to be (an "ip" hint holding
// "10.0.0.0/8" becomes kCidr4; a /32 CIDR becomes kIpv4).
struct Normalized {
  IndicatorType type = IndicatorType::kIpv4;
  std::string value;
};

// Canonicalises `raw` as `type`. Errors say why the value is not a valid `type`.
core::Result<Normalized> normalizeValue(IndicatorType type, std::string_view raw);
// Guesses the type of a bare value (feeds without a type column): IP, CIDR, URL, hash by length,
// email, else domain; file names are never guessed.
core::Result<Normalized> normalizeGuess(std::string_view raw);

// Low-level parsers shared with the matcher; none throws or allocates.
std::optional<std::uint32_t> parseIpv4(std::string_view s);
std::optional<std::array<std::uint8_t, 16>> parseIpv6(std::string_view s);
std::string formatIpv4(std::uint32_t ip);
std::string formatIpv6(const std::array<std::uint8_t, 16>& ip);
// Decodes exactly `out_len` bytes of hex (either case). False on any other input.
bool decodeHex(std::string_view hex, std::uint8_t* out, size_t out_len);
std::string encodeHex(const std::uint8_t* data, size_t len);
// Lower-cases, drops one trailing dot and a leading "*." and checks the label syntax. Empty on
// failure. Used on event values too, so it accepts what DNS logs carry (underscores, digits).
std::string normalizeDomain(std::string_view raw);

// What came with an indicator: shared by many indicators of one report or feed, so the index
// stores each distinct context once.
struct Context {
  std::string name;        // the feed's title for the indicator (STIX name, MISP event info)
  std::string actor;       // threat actor / intrusion set
  std::string malware;     // malware family
  std::vector<std::string> attack_ids;  // ATT&CK technique ids, "T1566.001"
  std::string report;      // link to the report or event
  std::vector<std::string> labels;
  bool operator==(const Context&) const = default;
};

// One atom of a compound (AND) indicator.
struct Atom {
  IndicatorType type = IndicatorType::kIpv4;
  std::string value;  // canonical
};

// What an importer produces for one indicator from one feed. Times are 0 when unknown.
struct IndicatorDraft {
  IndicatorType type = IndicatorType::kIpv4;
  std::string value;           // canonical; for kCompound the STIX pattern text
  std::vector<Atom> atoms;     // kCompound only, 2..kMaxAtoms
  std::string external_id;     // the id in its feed (STIX indicator id, MISP attribute uuid)
  int confidence = -1;         // 0..100, -1 when the feed gives none
  core::TimeMs first_seen = 0, last_seen = 0, valid_from = 0, valid_until = 0;
  Context context;
};
constexpr size_t kMaxAtoms = 16;

// The type of the canonical value space an event field value is looked up in.
enum class ValueKind : std::uint8_t { kIp, kDomain, kUrl, kHash, kEmail, kFileName };

}  // namespace td::intel
