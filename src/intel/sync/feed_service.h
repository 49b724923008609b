// The feed service: the part of intel that has state. It keeps an organisation's feeds in the
// store (store::IntelStore), fetches them (file, http(s) URL, TAXII 2.1 collection, or an
// uploaded file), runs the engine's importers over them, records every import with its report,
// and keeps one LiveIndex per organisation that the matcher reads — swapped after each import
// while events keep flowing. A scheduler thread refreshes feeds that have a schedule.
//
// Several nodes on one database: due feeds are claimed in the store with a lease
// (IntelStore::claimDueFeeds; on SQLite the single writer makes the claim atomic, on PostgreSQL
// it will be SELECT ... FOR UPDATE SKIP LOCKED), and each node notices imports made elsewhere
// through IntelStore::intelVersion on every tick and reloads that organisation's index.
//
// Thread safety: every method may be called from any thread. Imports are serialised (one at a
// time per service), so two imports never build on the same index and lose each other's changes.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/error.h"
#include "intel/feeds.h"
#include "intel/index.h"
#include "intel/warninglist.h"
#include "store/store.h"

namespace td::intel::sync {

struct FeedServiceOptions {
  std::string warninglists_dir;          // MISP warninglists applied to every import; "" none
  // File paths as new sources (the CLI: yes; the server: no, API callers must not read its
  // files). A feed whose path was set by the CLI is still refreshed by the server.
  bool allow_local_sources = true;
  core::TimeMs tick_ms = 30'000;         // how often the scheduler looks for due feeds
  core::TimeMs lease_ms = 15 * 60'000;   // a claimed feed is not claimed again for this long
  int taxii_page_limit = 1000;
  long fetch_timeout_seconds = 300;
};

// Feed types a store row may carry.
constexpr std::string_view kFeedTypes[] = {"stix", "misp", "misp-feed", "csv", "taxii", "auto"};
// The `source` of a feed that only takes uploaded files.
constexpr std::string_view kUploadSource = "upload";

struct ImportOutcome {
  store::IntelImport record;  // as stored: id, counts, trigger
  ImportReport report;        // the full report
};

// The report as JSON text ({feed, added, updated, expired, suppressed, rejected, rejections,
// suppressions, warnings}), as stored in intel_imports.report_json and shown by the API.
std::string importReportJson(const ImportReport& report);

// A feed's CSV mapping from its mapping_json ({"column", "type", "delimiter", "confidence",
// "first_seen_column", "last_seen_column", "malware_column", "label_column"}). Errors name the
// member ("mapping.type").
core::Result<CsvMapping> parseCsvMapping(const std::string& mapping_json);

class FeedService {
 public:
  explicit FeedService(store::Store& store, FeedServiceOptions options = {});
  ~FeedService();
  FeedService(const FeedService&) = delete;
  FeedService& operator=(const FeedService&) = delete;

  // Checks a feed's settings: name, type, source (a URL for taxii), mapping, schedule,
  // confidence. Errors name the field. A file path as source is refused unless
  // allow_local_sources, or (for an update, `before` given) it is the source the feed had.
  core::Status validateFeed(const store::IntelFeed& feed,
                            const store::IntelFeed* before = nullptr) const;
  // Validated, then stored; a feed with a schedule is due at once. Changes that affect the
  // index (enabled, name, confidence) reload the organisation's index.
  core::Result<store::IntelFeed> createFeed(store::IntelFeed feed);
  core::Result<store::IntelFeed> updateFeed(store::IntelFeed feed);
  core::Status deleteFeed(store::IntelFeedId id);

  // Fetches the feed from its source and imports it. A feed that cannot be fetched or is
  // malformed as a whole fails with the error (also recorded as a failed import) and leaves the
  // indicators already loaded untouched.
  core::Result<ImportOutcome> importFeed(store::IntelFeedId id, const std::string& trigger);
  // Imports `content` (an uploaded file; gzip is inflated) as the feed's new content.
  core::Result<ImportOutcome> importContent(store::IntelFeedId id, std::string content,
                                            const std::string& trigger);

  // The organisation's live index, loaded from the store on first use. The pointer stays the
  // same for the service's life; its content is swapped on every import.
  std::shared_ptr<const LiveIndex> liveIndex(core::OrgId org);
  // Rebuilds the organisation's index from the store.
  core::Status reload(core::OrgId org);

  // The scheduler's work, callable directly: imports every due feed, then reloads organisations
  // whose intel changed elsewhere (another node, the CLI). Returns the feeds imported.
  int runDue(core::TimeMs now);
  void start();  // the scheduler thread
  void stop();   // idempotent; waits for an import in progress

  const FeedServiceOptions& options() const { return options_; }

 private:
  struct OrgEntry {
    std::shared_ptr<LiveIndex> live;
    std::int64_t version = -1;
  };
  core::Result<ImportOutcome> runImport(const store::IntelFeed& feed,
                                        const std::function<core::Result<FeedBatch>()>& parse,
                                        bool incremental, const std::string& cursor,
                                        const std::string& trigger, core::TimeMs started);
  core::Result<FeedBatch> fetch(const store::IntelFeed& feed, bool& incremental,
                                std::string& cursor);
  std::shared_ptr<LiveIndex> entryLocked(core::OrgId org);  // import_mu_ held
  core::Status reloadLocked(core::OrgId org);                // import_mu_ held
  // The organisation's stored indicators (enabled feeds, still valid at `now`) into `builder`.
  core::Status fillFromStore(IndexBuilder& builder, core::OrgId org, core::TimeMs now);
  // The keys of what fillFromStore would add into `known`; returns the number of feeds seen.
  core::Result<size_t> keysFromStore(KeySet& known, core::OrgId org, core::TimeMs now);
  core::Result<std::shared_ptr<const Index>> buildFromStore(core::OrgId org);
  void loop();

  store::Store& store_;
  FeedServiceOptions options_;
  std::unique_ptr<Warninglists> warninglists_;
  std::mutex import_mu_;  // one import (or reload) at a time
  std::mutex mu_;
  std::map<core::OrgId, OrgEntry> orgs_;  // guarded by mu_
  std::condition_variable wake_;          // with mu_
  bool stopping_ = false;                 // guarded by mu_
  std::thread thread_;
};

}  // namespace td::intel::sync
