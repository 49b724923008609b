// Package ecosystems as OSV names them ("npm", "PyPI", "AlmaLinux:9" ...) and how a package URL
// maps onto one. An ecosystem decides two things: how versions are ordered (see version.h) and
// how a package name is normalised so that an SBOM component and an advisory meet in the index.
// Pure functions over values; safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace td::vuln {

struct Purl;

enum class Ecosystem : std::uint8_t {
  kUnknown = 0,  // not supported: reported per component, never silently matched
  kNpm,
  kCratesIo,
  kGo,
  kHex,
  kPub,
  kPyPI,
  kMaven,
  kNuGet,
  kRubyGems,
  kPackagist,
  kDebian,
  kUbuntu,
  kAlpine,
  kRpm,  // Red Hat family: AlmaLinux, Rocky Linux, Red Hat, openSUSE, SUSE, Mageia, ...
  kCran,
  kHackage,
};

// An OSV ecosystem string split into its family and release: "AlmaLinux:9" -> {kRpm,
// "AlmaLinux", "9"}; "Ubuntu:22.04:LTS" -> {kUbuntu, "Ubuntu", "22.04:LTS"}.
struct EcosystemId {
  Ecosystem kind = Ecosystem::kUnknown;
  std::string name;     // the OSV base name as written ("AlmaLinux", "npm")
  std::string release;  // distribution release, empty when not given
};

EcosystemId parseEcosystem(std::string_view osv_name);
std::string_view ecosystemName(Ecosystem e);  // canonical OSV base name ("crates.io")
// The key the advisory index uses for an ecosystem: the base name, lower-cased, so that
// "AlmaLinux:9" and "almalinux" meet.
std::string ecosystemKey(std::string_view base_name);

// Normalises a package name the way the ecosystem compares names: PyPI lower-cases and folds
// runs of "-", "_", "." to "-" (PEP 503); npm, NuGet, Packagist, crates.io, Hex, Pub compare
// case-insensitively; Go, Maven, RubyGems and the distributions are case-sensitive.
std::string normalisePackageName(Ecosystem e, std::string_view name);

// What a package URL means in OSV terms: its ecosystem (with the release taken from the
// `distro` qualifier where the type is a distribution) and its package name as OSV spells it
// (Maven "group:artifact", Go "host/path/module", npm "@scope/name").
struct PurlPackage {
  EcosystemId ecosystem;
  std::string name;
};
PurlPackage purlPackage(const Purl& purl);

}  // namespace td::vuln
