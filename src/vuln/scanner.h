// The scanner: an asset's SBOM components matched against the advisory database, giving
// findings (asset, component, advisory, fixed versions); findings turned into core::Detection
// for the threat sink; CycloneDX VEX statements suppressing findings with their justification;
// and the difference between two scans, with the reason each finding went away, which the
// auto-close logic turns into "Remediated" with a timeline note.
//
// scan() only reads the database: several scans may run concurrently over one AdvisoryDb.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/detection_sink.h"
#include "core/threat.h"
#include "vuln/advisory_db.h"
#include "vuln/sbom.h"

namespace td::vuln {

struct Asset {
  std::string name;  // the threat entity value
  std::string host;
  std::string owner;
  std::string entity_group;
  int criticality = 3;  // 1 (lowest) .. 5 (business-critical); 3 leaves CVSS as it is
  core::ProjectId project_id = 0;
};

struct Finding {
  // The component.
  std::string component_ref;
  std::string ecosystem;  // OSV base name ("Maven", "AlmaLinux")
  std::string package;    // OSV package name ("org.apache.logging.log4j:log4j-core")
  std::string version;
  std::string purl;
  // The advisory.
  std::string advisory_id;
  std::string display_id;  // CVE id when there is one
  std::vector<std::string> aliases;
  std::vector<std::string> also;  // other advisories for the same vulnerability (alias group)
  std::string summary;
  std::vector<std::string> references;
  std::vector<std::string> fixed_versions;
  std::optional<double> cvss;
  std::string cvss_vector;
  std::string database_severity;
  // Suppression by VEX (only in ScanResult::suppressed).
  std::string vex_state;
  std::string vex_justification;
  std::string vex_detail;

  // Stable identity of a finding across scans: advisory, ecosystem and package (not version,
  // so that an upgrade that is still vulnerable keeps its threat).
  std::string key() const;
};

// A component the scanner could not check, and why: no purl, a purl that does not parse, or an
// ecosystem whose versions we cannot order. Reported, never silently dropped.
struct SkippedComponent {
  std::string ref;
  std::string name;
  std::string version;
  std::string purl;
  std::string reason;
};

struct ScannedPackage {
  std::string ecosystem;
  std::string package;
  std::string version;
};

struct ScanResult {
  std::vector<Finding> findings;
  std::vector<Finding> suppressed;  // matched but closed by a VEX statement
  std::vector<SkippedComponent> skipped;
  std::vector<ScannedPackage> scanned;
  size_t components = 0;
};

struct ScanOptions {
  std::vector<VexStatement> vex;  // statements from separate VEX documents
};

ScanResult scan(const Sbom& sbom, const AdvisoryDb& db, const ScanOptions& options = {});

// Severity and 0-100 score of a finding for an asset: CVSS base score x 10 (or the advisory
// database's own rating when there is no CVSS vector), raised by one severity step for
// criticality 5 and lowered by one for criticality 1; the score moves 5 points per step of
// criticality away from 3.
struct FindingRisk {
  core::Severity severity = core::Severity::kMedium;
  int score = 50;
};
FindingRisk riskOf(const Finding& f, const Asset& asset);

// "CVE-2021-44228 in org.apache.logging.log4j:log4j-core@2.14.1", source "Vulnerability",
// entity {"asset", name}, check_by rule+entity with rule_id "<advisory id> <package>".
core::Detection toDetection(const Finding& f, const Asset& asset);
std::vector<core::Detection> toDetections(const ScanResult& r, const Asset& asset);
// Hands the scan's detections to the sink in one batch (nothing when there are no findings).
void submitFindings(const ScanResult& r, const Asset& asset, core::DetectionSink& sink);

enum class GoneReason {
  kComponentUpgraded,   // the package is still there at a version outside the ranges
  kComponentRemoved,    // the package is no longer in the SBOM
  kAdvisoryWithdrawn,   // the advisory was withdrawn
  kSuppressedByVex,     // a VEX statement says not affected / false positive / resolved
  kNoLongerMatches,     // the advisory's ranges changed, or it was removed from the database
};
std::string_view goneReasonName(GoneReason r);  // "component upgraded" ...

struct GoneFinding {
  Finding finding;
  GoneReason reason;
  std::string note;  // e.g. "log4j-core upgraded from 2.14.1 to 2.17.1"
};

struct ScanDiff {
  std::vector<Finding> added;   // new since `before`: raise (or reopen) threats
  std::vector<GoneFinding> gone;  // close as Remediated with the note
  std::vector<Finding> kept;
};

// Compares two scans of the same asset. `db` (optional) tells withdrawn advisories apart.
ScanDiff diffScans(const ScanResult& before, const ScanResult& after,
                   const AdvisoryDb* db = nullptr);

// A finding as JSON (every member; the form the store keeps and the API shows) and back. The
// reader refuses anything that is not an object with string "advisory", "ecosystem" and
// "package" members, naming the member.
std::string findingToJson(const Finding& f);
core::Result<Finding> findingFromJson(std::string_view json);

}  // namespace td::vuln
