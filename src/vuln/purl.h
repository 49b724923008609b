// Package URL (purl): the identifier of a software component, "pkg:type/namespace/name@version
// ?qualifiers#subpath", parsed and canonicalised as the package-url specification (ECMA-427)
// says, including the per-type rules (case folding, required and prohibited parts) that its
// published test suite checks. Value types and pure functions; safe from any thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace td::vuln {

struct Purl {
  std::string type;       // lower-case
  std::string ns;         // decoded namespace segments joined by "/", empty when absent
  std::string name;       // decoded
  std::string version;    // decoded, empty when absent
  std::map<std::string, std::string> qualifiers;  // keys lower-case, values decoded, sorted
  std::string subpath;    // decoded segments joined by "/"

  bool operator==(const Purl&) const = default;
};

enum class PurlStrictness {
  kStrict,   // refuse what the specification calls invalid (upper-case qualifier keys ...)
  kLenient,  // fold to canonical form where the intent is clear (SBOMs in the wild)
};

// Parses and normalises (type-specific case folding and name rules). The error names the part
// at fault ("type", "name", "qualifiers") in Error::field.
core::Result<Purl> parsePurl(std::string_view text,
                             PurlStrictness strictness = PurlStrictness::kStrict);

// Validates and normalises a purl built from parts, as parsePurl would for its string.
core::Result<Purl> buildPurl(Purl parts);

// The canonical string: lower-case type, percent-encoded parts, qualifiers sorted by key.
std::string toString(const Purl& purl);

}  // namespace td::vuln
