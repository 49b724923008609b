// The vulnerability domain's records: assets, each SBOM uploaded for an asset (kept, so that the
// history of an inventory can be read back), the components of each upload, the OSV advisories
// imported (their documents, so that the in-memory advisory database can be rebuilt at start),
// the advisory files already imported (so that a scheduled import only reads what changed), and
// findings (asset, component, advisory) with their state and the threat they raised.
//
// The store knows nothing of the vuln engine's types: the documents are kept as text and the
// engine (through server::VulnService) parses them. Findings carry their engine detail as JSON.
//
// Thread safety: as for Store, every method may be called from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/threat.h"

namespace td::store {

using AssetId = std::int64_t;
using SbomId = std::int64_t;

struct AssetRecord {
  AssetId id = 0;
  core::ProjectId project_id = 0;
  std::string name;  // unique in its project (ignoring case); the threat entity value
  std::string host;
  std::string owner;
  std::string entity_group;
  std::string description;
  int criticality = 3;  // 1 .. 5
  core::TimeMs created_at = 0;
  core::TimeMs updated_at = 0;
  std::optional<SbomId> current_sbom_id;
  std::optional<core::TimeMs> last_scan_at;
  // Filled by getAsset/listAssets: open findings by severity (INFO .. CRITICAL).
  std::array<std::int64_t, core::kSeverityCount> open_findings{};
};

struct SbomComponentRecord {
  std::string ref;
  std::string name;
  std::string version;
  std::string purl;
  std::string ecosystem;  // OSV base name, empty when the purl does not map to one
  std::string package;    // OSV package name
};

// One uploaded SBOM. `document` is filled only by getSbom(…, true).
struct SbomRecord {
  SbomId id = 0;
  AssetId asset_id = 0;
  core::TimeMs uploaded_at = 0;
  std::string uploaded_by;
  std::string format;  // "CycloneDX", "SPDX 2", "SPDX 3"
  std::string spec_version;
  std::string serial;
  std::string subject;
  std::string sha256;
  std::int64_t component_count = 0;
  std::string document;
};

struct AdvisoryPackageRef {
  std::string ecosystem;  // OSV ecosystem as written ("AlmaLinux:9")
  std::string name;
};

// One imported advisory. `document` (the OSV JSON) is filled by getAdvisory and forEachAdvisory.
struct AdvisoryRecord {
  std::string id;
  std::string modified;
  std::string published;
  std::string withdrawn;  // empty when not withdrawn
  std::vector<std::string> aliases;
  std::string summary;
  std::string severity;  // rating: CRITICAL, HIGH, MEDIUM, LOW, NONE or the database's, "" unknown
  std::optional<double> cvss;  // highest computed base score
  std::vector<AdvisoryPackageRef> packages;
  std::string source;  // file (or zip member) it came from
  core::TimeMs imported_at = 0;
  std::string document;
};

struct AdvisoryListFilter {
  std::string query;      // substring of id, alias or summary (case-insensitive)
  std::string ecosystem;  // base name, case-insensitive ("npm", "AlmaLinux")
  std::string package;    // exact package name
  std::optional<bool> withdrawn;
  int limit = 50;  // at most 500
  int offset = 0;
};

struct AdvisoryPage {
  std::vector<AdvisoryRecord> items;  // without documents
  std::int64_t total = 0;
};

// What is known of one advisory file already imported (for scheduled imports).
struct AdvisoryFileRecord {
  std::string path;
  std::int64_t size = 0;
  std::int64_t mtime_ns = 0;
  core::TimeMs imported_at = 0;
  std::int64_t advisories = 0;
  std::int64_t errors = 0;
};

enum class FindingState : std::uint8_t {
  kOpen = 0,        // the vulnerability is present
  kResolved = 1,    // gone: component upgraded or removed, advisory withdrawn or changed
  kSuppressed = 2,  // a VEX statement says not affected / false positive / resolved
};
std::string_view findingStateName(FindingState s);  // "open", "resolved", "suppressed"
core::Result<FindingState> parseFindingState(std::string_view text);

struct FindingRecord {
  std::int64_t id = 0;
  AssetId asset_id = 0;
  std::string key;  // the engine's stable identity: advisory, ecosystem, package
  std::string advisory_id;
  std::string display_id;  // CVE id when there is one
  std::string ecosystem;
  std::string package;
  std::string version;
  std::string purl;
  std::vector<std::string> fixed_versions;
  core::Severity severity = core::Severity::kMedium;
  int score = 50;
  FindingState state = FindingState::kOpen;
  std::string reason;  // why it is resolved or suppressed ("component upgraded", ...)
  std::string note;    // the sentence the threat's timeline got
  core::TimeMs first_seen = 0;
  core::TimeMs last_seen = 0;
  std::optional<core::TimeMs> resolved_at;
  std::optional<core::ThreatId> threat_id;
  std::string detail_json = "{}";  // the engine's finding, for display and for the next diff
};

struct FindingFilter {
  std::optional<AssetId> asset_id;
  std::vector<core::ProjectId> projects;  // empty: any
  std::optional<FindingState> state;
  int limit = 100;  // at most 1000
  int offset = 0;
};

struct FindingPage {
  std::vector<FindingRecord> items;
  std::int64_t total = 0;
};

class VulnStore {
 public:
  VulnStore() = default;
  VulnStore(const VulnStore&) = delete;
  VulnStore& operator=(const VulnStore&) = delete;
  virtual ~VulnStore() = default;

  // --- assets ----------------------------------------------------------------------------------
  // kConflict when the project already has an asset of that name (ignoring case).
  virtual core::Result<AssetRecord> createAsset(const AssetRecord& asset) = 0;
  // Changes name, host, owner, entity group, description and criticality.
  virtual core::Result<AssetRecord> updateAsset(const AssetRecord& asset) = 0;
  virtual core::Result<AssetRecord> getAsset(AssetId id) = 0;
  virtual core::Result<AssetRecord> findAsset(core::ProjectId project, const std::string& name) = 0;
  // Assets of the given projects (all when empty), ordered by name.
  virtual core::Result<std::vector<AssetRecord>> listAssets(
      const std::vector<core::ProjectId>& projects) = 0;
  // Deletes the asset with its SBOMs and findings (their threats stay).
  virtual core::Status deleteAsset(AssetId id) = 0;

  // --- SBOMs -----------------------------------------------------------------------------------
  // Keeps an upload with its components and makes it the asset's current inventory, in one
  // transaction. Returns the stored record (without the document).
  virtual core::Result<SbomRecord> addSbom(const SbomRecord& sbom,
                                           const std::vector<SbomComponentRecord>& components) = 0;
  // The asset's uploads, newest first (without documents).
  virtual core::Result<std::vector<SbomRecord>> listSboms(AssetId asset) = 0;
  virtual core::Result<SbomRecord> getSbom(SbomId id, bool with_document) = 0;
  virtual core::Result<std::vector<SbomComponentRecord>> sbomComponents(SbomId id) = 0;

  // --- advisories ------------------------------------------------------------------------------
  // Inserts or replaces advisories by id (the caller decides which copy wins), in one
  // transaction.
  virtual core::Status putAdvisories(const std::vector<AdvisoryRecord>& advisories) = 0;
  virtual core::Result<AdvisoryRecord> getAdvisory(const std::string& id) = 0;
  virtual core::Result<AdvisoryPage> listAdvisories(const AdvisoryListFilter& filter) = 0;
  virtual core::Result<std::int64_t> countAdvisories() = 0;
  // Streams every advisory with its document (to rebuild the in-memory database). The callback
  // returns false to stop.
  virtual core::Status forEachAdvisory(
      const std::function<bool(const AdvisoryRecord&)>& visit) = 0;

  virtual core::Result<std::optional<AdvisoryFileRecord>> advisoryFile(const std::string& path) = 0;
  virtual core::Status putAdvisoryFile(const AdvisoryFileRecord& file) = 0;

  // --- findings --------------------------------------------------------------------------------
  // The asset's findings in any state (for the next scan's comparison).
  virtual core::Result<std::vector<FindingRecord>> assetFindings(AssetId asset) = 0;
  // Inserts (id 0) or updates (by asset and key) findings, and records the scan time on the
  // asset, in one transaction. Returns the rows with their ids.
  virtual core::Result<std::vector<FindingRecord>> saveFindings(
      AssetId asset, const std::vector<FindingRecord>& findings, core::TimeMs scanned_at) = 0;
  virtual core::Result<FindingPage> listFindings(const FindingFilter& filter) = 0;
};

}  // namespace td::store
