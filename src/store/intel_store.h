// The intel domain's persistence: an organisation's indicator feeds (what to fetch, how to read it,
// when to refresh it), the indicators each feed holds, and the report of every import. The
// engine (src/intel) never sees this; the feed service (src/intel/sync) reads and writes it and
// builds the live index from it. Types here use plain strings for indicator types and JSON text
// for context, so that the store does not depend on the engine.
//
// Thread safety: every method may be called from any thread (the backend serialises writes).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "store/types.h"

namespace td::store {

using core::Result;
using core::Status;
using IntelFeedId = std::int64_t;

// One feed of an organisation. `type` is one of stix, misp, misp-feed, csv, taxii; `source` a
// file path, an http(s) URL, a TAXII collection URL, or "upload" for feeds fed only by uploads.
struct IntelFeed {
  IntelFeedId id = 0;
  OrgId org_id = 0;
  std::string name;          // unique per organisation (case-insensitive); the feed's name in evidence
  std::string type;
  std::string source;
  std::string mapping_json;  // CSV column mapping ({"column","type","delimiter","confidence"}); "{}"
  int refresh_minutes = 0;   // 0: only on demand
  int default_confidence = 50;
  bool enabled = true;
  // Credentials: HTTP basic auth for URL and TAXII sources. The secret is never returned by the
  // API; `secret` may instead name an environment variable ("env:NAME") so it is not stored.
  std::string username;
  std::string secret;
  TimeMs created_at = 0, updated_at = 0;
  std::optional<TimeMs> last_import_at;
  std::string last_status;         // "" (never), "ok", or the error of the last attempt
  std::optional<TimeMs> next_run_at;  // when the scheduler takes it next (refresh_minutes > 0)
  std::string cursor;              // TAXII: added_after for the next poll
  std::int64_t indicator_count = 0;   // maintained by replace/upsert
};

// One indicator as one feed gave it. (type, value) is unique per feed.
struct IntelIndicatorRow {
  std::int64_t id = 0;
  IntelFeedId feed_id = 0;
  std::string type;         // the engine's type name ("ipv4", "sha256", "compound", ...)
  std::string value;        // canonical
  std::string atoms_json;   // compound: [[type, value], ...]; else ""
  std::string external_id;  // STIX indicator id, MISP attribute uuid
  int confidence = -1;
  TimeMs first_seen = 0, last_seen = 0, valid_from = 0, valid_until = 0;  // 0: unknown
  std::string context_json;  // {name, actor, malware, attack_ids, report, labels}; "" when none
};

// What one import did (or why it failed).
struct IntelImport {
  std::int64_t id = 0;
  IntelFeedId feed_id = 0;
  TimeMs started_at = 0, finished_at = 0;
  bool ok = false;
  std::string error;  // the failure ("file: position: message") when !ok
  std::int64_t added = 0, updated = 0, expired = 0, suppressed = 0, rejected = 0;
  std::string report_json;  // the full report: rejections, suppressions, warnings
  std::string trigger;      // "cli", "api", "upload", "schedule", "demo"
  // What recordImport changed in the feed's stored rows (returned, not stored): a full refresh
  // writes only the difference, so re-importing an unchanged feed writes no indicator rows.
  // An incremental import counts every row it upserted into an existing one as updated.
  struct Writes {
    std::int64_t inserted = 0, updated = 0, deleted = 0, unchanged = 0;
  };
  Writes writes;
};

// A search hit: the stored row and the feed it came from.
struct IntelIndicatorHit {
  IntelIndicatorRow row;
  std::string feed_name;
  OrgId org_id = 0;
};

// A project's intel matching settings: what that project's matcher in the live pipeline uses.
// The store keeps what it is given; the feed service validates (intel::sync::matcherOptionsOf).
struct IntelSettings {
  ProjectId project_id = 0;
  std::vector<std::string> allow;  // IPs, CIDRs, domains, URLs, hashes, emails that never match
  std::int64_t min_bytes = 0;      // IP hits on events that moved fewer bytes are dropped; 0: off
  std::vector<int> ignore_ports, service_ports, unsafe_ports;  // destination port classes
  std::int64_t suppression_minutes = 24 * 60;  // per (indicator, entity); 0: every hit raises
  TimeMs updated_at = 0;                       // 0: never set (these are the defaults)
};

class IntelStore {
 public:
  IntelStore() = default;
  IntelStore(const IntelStore&) = delete;
  IntelStore& operator=(const IntelStore&) = delete;
  virtual ~IntelStore() = default;

  virtual Result<IntelFeed> createFeed(const IntelFeed& feed) = 0;
  // Replaces the feed's settings (name, type, source, mapping, schedule, confidence, enabled,
  // credentials); import state is kept.
  virtual Result<IntelFeed> updateFeed(const IntelFeed& feed) = 0;
  virtual Result<IntelFeed> getFeed(IntelFeedId id) = 0;
  virtual Result<std::vector<IntelFeed>> listFeeds(std::optional<OrgId> org) = 0;
  // Deletes the feed, its indicators and its import reports.
  virtual Status deleteFeed(IntelFeedId id) = 0;

  // Writes an import in one transaction: the report, the feed's status and cursor, and (when the
  // import succeeded) its indicators: `replace` swaps the whole set, otherwise rows are added or
  // updated by (type, value). A failed import leaves the indicators untouched. Rows with the same
  // (type, value) fold into one: the highest confidence, the earliest first and latest last
  // seen, the first external id, the last validity, atoms and context. Only what differs from
  // the stored rows is written (IntelImport::writes says what).
  virtual Result<IntelImport> recordImport(const IntelImport& import,
                                           const std::vector<IntelIndicatorRow>& rows,
                                           bool replace, const std::string& cursor) = 0;
  virtual Result<std::vector<IntelImport>> listImports(IntelFeedId feed, int limit) = 0;
  virtual Result<IntelImport> getImport(std::int64_t id) = 0;

  // Every indicator of the organisation's feeds (enabled only when `enabled_only`), feed by feed.
  // The callback returns false to stop.
  virtual Status forEachIndicator(
      OrgId org, bool enabled_only,
      const std::function<bool(const IntelFeed&, const IntelIndicatorRow&)>& row) = 0;
  // Rows whose canonical value is `value` (any type) in the feeds of `orgs`.
  virtual Result<std::vector<IntelIndicatorHit>> findIndicators(const std::vector<OrgId>& orgs,
                                                                const std::string& value,
                                                                int limit) = 0;
  virtual Result<std::vector<IntelIndicatorRow>> listIndicators(IntelFeedId feed, int offset,
                                                                int limit) = 0;

  // Scheduling. Claims enabled feeds with a schedule whose next_run_at has come, moving their
  // next_run_at `lease_ms` ahead so that no other claimer takes them meanwhile (SQLite: the one
  // writer makes this atomic; PostgreSQL: SELECT ... FOR UPDATE SKIP LOCKED).
  virtual Result<std::vector<IntelFeed>> claimDueFeeds(TimeMs now, TimeMs lease_ms, int limit) = 0;
  virtual Status setNextRun(IntelFeedId feed, std::optional<TimeMs> at) = 0;
  // A number that changes whenever anything of the organisation's intel changes (feeds, imports),
  // so that a node can tell its in-memory index is stale.
  virtual Result<std::int64_t> intelVersion(OrgId org) = 0;

  // A project's settings; the defaults (updated_at 0) when none were stored.
  virtual Result<IntelSettings> getSettings(ProjectId project) = 0;
  // Replaces them (updated_at is set to now) and returns what was stored.
  virtual Result<IntelSettings> putSettings(const IntelSettings& settings) = 0;
};

}  // namespace td::store
