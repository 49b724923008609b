// The in-memory advisory database: advisories imported from OSV JSON files, directories and zip
// archives, indexed by (ecosystem, normalised package name) so that a scan looks up each
// component once instead of walking every advisory.
//
// Thread-safety: the const interface (candidates, find, size) may be used from many threads at
// once; importing and adding need exclusive access. The usual pattern is to load once and then
// share the database read-only (or swap in a new one behind a shared_ptr).
#pragma once

#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "vuln/advisory.h"

namespace td::vuln {

// What an import found: counts, per-file errors (with file and JSON path) and warnings.
struct ImportReport {
  size_t documents = 0;   // JSON documents read
  size_t imported = 0;    // advisories added or replaced
  size_t replaced = 0;    // same id seen before: the newer "modified" wins
  size_t withdrawn = 0;   // imported but never matched
  size_t git_ranges = 0;  // recorded, not matched
  std::map<std::string, size_t> affected_by_ecosystem;  // affected entries per OSV base name
  std::map<std::string, size_t> unsupported_ecosystems;  // no version order: not matched
  std::vector<core::Error> errors;
  std::vector<std::string> warnings;
  size_t bytes = 0;

  void merge(const ImportReport& other);
};

class AdvisoryDb {
 public:
  struct Candidate {
    const Advisory* advisory;
    const AffectedPackage* package;
  };

  AdvisoryDb() = default;
  AdvisoryDb(const AdvisoryDb&) = delete;
  AdvisoryDb& operator=(const AdvisoryDb&) = delete;

  // Adds an advisory; one with an id already present replaces it when its "modified" time is
  // the same or newer. Returns false when the existing one was kept.
  bool add(Advisory advisory);

  // Imports one OSV JSON document (an advisory or an array of advisories).
  ImportReport importJson(std::string_view json, const std::string& source);
  // Imports a .json file, a .zip archive, or every .json/.zip under a directory. Fails only
  // when the path cannot be read at all; bad documents are listed in the report.
  core::Result<ImportReport> importPath(const std::filesystem::path& path);

  // Called for each advisory an import adds or replaces (not for copies it keeps out because an
  // existing one is newer), with the JSON document it came from: lets a caller persist exactly
  // what the database accepted while the import streams.
  using ImportObserver = std::function<void(const Advisory&, std::string_view document)>;
  void setImportObserver(ImportObserver observer) { observer_ = std::move(observer); }

  // Affected entries of (ecosystem base name, package name) — both normalised here.
  std::span<const Candidate> candidates(const EcosystemId& ecosystem, std::string_view name) const;
  const Advisory* find(std::string_view id) const;
  size_t size() const { return by_id_.size(); }
  size_t packageEntries() const { return entries_; }

 private:
  static std::string key(std::string_view ecosystem_base, Ecosystem kind, std::string_view name);
  void index(Advisory& a);
  void unindex(const Advisory& a);

  std::deque<std::unique_ptr<Advisory>> advisories_;
  std::unordered_map<std::string, Advisory*> by_id_;
  std::unordered_map<std::string, std::vector<Candidate>> index_;
  size_t entries_ = 0;
  ImportObserver observer_;
};

}  // namespace td::vuln
