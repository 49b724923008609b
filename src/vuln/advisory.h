// Vulnerability advisories in the OSV model (https://ossf.github.io/osv-schema/): what is
// affected, by which version ranges, how severe, and where to read more. parseOsvAdvisory()
// turns one OSV JSON document into an Advisory; matching a version against an AffectedPackage
// follows the schema's evaluation rules (SEMVER and ECOSYSTEM ranges; GIT ranges are kept but
// never matched, since a version string cannot be placed in a commit graph).
// Value types and pure functions; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "vuln/ecosystem.h"

namespace td::vuln {

enum class RangeType { kSemver, kEcosystem, kGit };

enum class EventKind { kIntroduced, kFixed, kLastAffected, kLimit };

struct RangeEvent {
  EventKind kind = EventKind::kIntroduced;
  std::string version;
};

struct AffectedRange {
  RangeType type = RangeType::kEcosystem;
  std::string repo;  // GIT ranges
  std::vector<RangeEvent> events;
};

struct SeverityScore {
  std::string type;   // "CVSS_V3", "CVSS_V4", "Ubuntu" ...
  std::string score;  // the vector (or the label, for non-CVSS types)
  std::optional<double> base_score;  // computed from the vector where we can
};

struct AffectedPackage {
  EcosystemId ecosystem;
  std::string name;             // as the advisory writes it
  std::string normalised_name;  // normalisePackageName(ecosystem, name)
  std::string purl;
  std::vector<AffectedRange> ranges;
  std::vector<std::string> versions;
  std::vector<SeverityScore> severity;
};

struct Reference {
  std::string type;
  std::string url;
};

struct Advisory {
  std::string id;
  std::string summary;
  std::string details;
  std::string published;
  std::string modified;
  std::string withdrawn;  // RFC 3339 time, empty when not withdrawn
  std::vector<std::string> aliases;
  std::vector<std::string> related;
  std::vector<Reference> references;
  std::vector<SeverityScore> severity;
  std::vector<AffectedPackage> affected;
  std::string database_severity;  // database_specific.severity (GHSA's "HIGH" ...), if any
  std::string source;             // file (or zip member) it came from

  bool isWithdrawn() const { return !withdrawn.empty(); }
  // The highest computed CVSS base score over the advisory's and its packages' severities.
  std::optional<double> cvssScore() const;
  // The first CVE id among the id and aliases, else the id: the name people know it by.
  std::string displayId() const;
};

// Parses one OSV JSON document. Errors name the JSON path ("affected[1].ranges[0].type").
// Warnings (unknown range type skipped, CVSS vector that does not parse ...) are appended to
// `warnings` when given; they do not fail the advisory.
core::Result<Advisory> parseOsvAdvisory(std::string_view json, std::string source = {},
                                        std::vector<std::string>* warnings = nullptr);

// The outcome of matching one version against one affected package.
struct RangeMatch {
  bool affected = false;
  std::vector<std::string> fixed;  // fixed versions of the ranges that matched
  bool via_versions_list = false;
};

// Matches `version` against the package's explicit versions and its SEMVER/ECOSYSTEM ranges.
// `kind` is the component's ecosystem (the package's own when kUnknown).
RangeMatch matchVersion(const AffectedPackage& pkg, std::string_view version);

}  // namespace td::vuln
