// Vulnerability management wired to the store and the triage workflow: assets and their SBOM
// uploads, OSV advisories imported into the store and held in memory as one AdvisoryDb, scans
// that turn findings into threats (source "Vulnerability", entity the asset) and close those
// threats as Remediated, with a timeline note saying why, when the vulnerability is gone
// (component upgraded or removed, advisory withdrawn, VEX says not affected). A finding that comes
// back reopens its threat.
//
// Rescans run when an asset's SBOM changes and after every advisory import that stored anything.
// The scheduled import (startScheduledImport) reads a directory on a background thread and only
// imports files whose size or modification time changed since the last run.
//
// Thread safety: every method may be called from any thread. Scans and imports are serialised by
// an internal mutex (one asset's findings are compared and written by one scan at a time); the
// advisory database is read under a shared lock and replaced entries under an exclusive one.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "store/store.h"
#include "triage/service.h"
#include "vuln/advisory_db.h"
#include "vuln/sbom.h"
#include "vuln/scanner.h"

namespace td::server {

// What one scan of one asset did.
struct ScanSummary {
  store::AssetId asset_id = 0;
  std::int64_t components = 0;
  std::int64_t open = 0;        // findings present now
  std::int64_t added = 0;       // new since the last scan (threat raised or reopened)
  std::int64_t resolved = 0;    // gone since the last scan (threat closed)
  std::int64_t suppressed = 0;  // suppressed by VEX now
  std::int64_t threats_created = 0;
  std::int64_t threats_updated = 0;
  std::int64_t threats_closed = 0;
  std::int64_t threats_reopened = 0;
  std::vector<vuln::SkippedComponent> not_checked;
  std::vector<std::string> warnings;  // e.g. a threat that could not be closed, and why
};

struct UploadResult {
  store::SbomRecord sbom;
  std::vector<std::string> warnings;  // the parser's
  ScanSummary scan;
};

// Progress of an import, for a terminal: files done of files, advisories stored so far.
using ImportProgress = std::function<void(size_t files_done, size_t files_total,
                                          size_t advisories_stored, const std::string& file)>;

struct AdvisoryImportResult {
  vuln::ImportReport report;
  size_t stored = 0;           // advisories written to the store (added or replaced)
  size_t files = 0;            // files read
  size_t files_unchanged = 0;  // skipped by a scheduled import: same size and mtime as before
  size_t assets_rescanned = 0;
  ScanSummary totals;  // the rescans' counts added up (asset_id 0)
};

struct VulnServiceOptions {
  size_t max_sbom_bytes = 64u << 20;
  std::string threat_group = "Patching";  // initial group of new threats, when the org has it
  std::string actor = "system";           // who the timeline says closed or reopened a threat
};

class VulnService {
 public:
  VulnService(store::Store& store, triage::TriageService& triage,
              VulnServiceOptions options = {});
  ~VulnService();
  VulnService(const VulnService&) = delete;
  VulnService& operator=(const VulnService&) = delete;

  // Rebuilds the in-memory advisory database from the store (at start). Documents that no longer
  // parse are skipped and counted in the report's errors.
  core::Result<vuln::ImportReport> loadAdvisories();
  size_t advisoryCount() const;

  // Parses and keeps an SBOM as the asset's current inventory, then rescans the asset. A document
  // that is not CycloneDX 1.2-1.7 / SPDX JSON, or is broken, is refused with every problem and
  // where it is; nothing is stored then and the previous inventory stays.
  core::Result<UploadResult> uploadSbom(store::AssetId asset, std::string_view document,
                                        const store::Actor& actor, vuln::SbomOptions options = {});
  // Scans the asset's current SBOM against the advisories and updates findings and threats.
  core::Result<ScanSummary> scanAsset(store::AssetId asset);
  // Scans every asset (after an advisory import).
  core::Result<ScanSummary> scanAll(size_t* assets_scanned = nullptr);

  // Imports a file, a directory (recursively: .json and .zip) or an osv.dev zip into the store
  // and the in-memory database, then rescans every asset when anything was stored. With
  // `only_changed`, files whose size and mtime match the last import are skipped.
  core::Result<AdvisoryImportResult> importAdvisories(const std::filesystem::path& path,
                                                      bool only_changed = false,
                                                      const ImportProgress& progress = {});
  // Imports OSV JSON given as text (an advisory or an array of them), e.g. from the API.
  core::Result<AdvisoryImportResult> importAdvisoryJson(std::string_view json,
                                                        const std::string& source);

  // Imports `dir` (only changed files) now and then every `interval` until stop().
  void startScheduledImport(std::filesystem::path dir, std::chrono::seconds interval);
  void stop();

  // The components of one upload and what changed against the upload before it.
  struct SbomChange {
    store::SbomRecord sbom;
    std::vector<store::SbomComponentRecord> added;    // not in the previous upload
    std::vector<store::SbomComponentRecord> removed;  // in the previous upload, not in this one
    std::vector<std::pair<store::SbomComponentRecord, store::SbomComponentRecord>> changed;  // version
  };
  // The asset's uploads, newest first, each with its changes against the one before.
  core::Result<std::vector<SbomChange>> sbomHistory(store::AssetId asset);

 private:
  // bump_kept: findings still present bump their open threat (an SBOM upload saw them again);
  // rescans after an advisory import only raise what is new.
  core::Result<ScanSummary> scanLocked(store::AssetId asset, bool bump_kept);
  core::Result<AdvisoryImportResult> importLocked(
      const std::function<core::Result<vuln::ImportReport>(vuln::AdvisoryDb&)>& run,
      const std::function<void(size_t)>& on_stored);
  void scheduledLoop(std::filesystem::path dir, std::chrono::seconds interval);

  store::Store& store_;
  triage::TriageService& triage_;
  const VulnServiceOptions options_;
  mutable std::shared_mutex db_mu_;
  vuln::AdvisoryDb db_;   // guarded by db_mu_
  std::mutex scan_mu_;    // serialises scans and imports
  std::mutex sched_mu_;
  std::condition_variable sched_cv_;
  bool stopping_ = false;  // guarded by sched_mu_
  std::atomic<bool> stop_requested_{false};  // an import stops between files
  std::thread scheduler_;
};

}  // namespace td::server
