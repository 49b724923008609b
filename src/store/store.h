// The Store: everything ThreatDesk keeps. One interface, two backends (SQLite embedded by
// default, PostgreSQL for several nodes); only `store` knows SQL. Callers never see a backend's
// types.
//
// Thread safety: every method may be called from any thread at any time. Backends serialise
// writes as they must (SQLite: one writer connection) and serve reads concurrently.
//
// Every method that changes a threat also writes its timeline entries and, where someone may
// need to hear of it, an outbox event, in the same transaction.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/threat.h"
#include "store/intel_store.h"
#include "store/query.h"
#include "store/report_store.h"
#include "store/rule_store.h"
#include "store/response_store.h"
#include "store/types.h"
#include "store/vuln_store.h"

namespace td::store {

using core::Result;
using core::Status;

// Who makes a change, for the timeline.
struct Actor {
  std::optional<UserId> user_id;
  std::string name;  // email, "token:NAME" or "system"
};

// A change to one threat. Unset members stay as they are. For group, owner and outcome the inner
// optional distinguishes "set to" from "clear".
struct ThreatChange {
  std::optional<std::optional<TagId>> group_id;
  std::optional<std::optional<UserId>> owner_id;
  std::optional<TagId> state_id;
  std::optional<std::optional<TagId>> outcome_id;
  std::optional<core::Severity> severity;
  std::optional<int> score;
  std::optional<std::string> note;  // added as a note in the same transaction
};

// What the sink did with one batch.
struct SinkResult {
  std::int64_t created = 0;
  std::int64_t updated = 0;  // duplicates folded into an open threat (also one the batch created)
  std::vector<ThreatId> created_ids;
  // For each detection of the batch, in order: the threat it created or was folded into.
  std::vector<ThreatId> threat_ids;
};

// How many evidence samples a threat keeps from its duplicates, besides the first evidence.
constexpr int kEvidenceSamples = 10;

class Store {
 public:
  Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;
  virtual ~Store() = default;

  // --- organisations, projects, users -------------------------------------------------------
  virtual Result<Org> createOrg(const std::string& name, std::optional<OrgId> parent) = 0;
  virtual Result<std::vector<Org>> listOrgs() = 0;
  virtual Result<Org> findOrg(const std::string& name) = 0;
  virtual Result<Org> getOrg(OrgId id) = 0;
  // The organisation and all below it, at any depth.
  virtual Result<std::vector<OrgId>> orgSubtree(OrgId root) = 0;

  virtual Result<Project> createProject(OrgId org, const std::string& name) = 0;
  virtual Result<std::vector<Project>> listProjects() = 0;
  virtual Result<Project> findProject(const std::string& name) = 0;
  virtual Result<Project> getProject(ProjectId id) = 0;

  virtual Result<User> createUser(const User& user) = 0;
  virtual Result<std::vector<User>> listUsers() = 0;
  virtual Result<User> findUserByEmail(const std::string& email) = 0;
  virtual Result<User> getUser(UserId id) = 0;
  virtual Status setPasswordHash(UserId id, const std::string& hash) = 0;

  // --- credentials ---------------------------------------------------------------------------
  virtual Result<ApiToken> createToken(const ApiToken& token) = 0;
  virtual Result<ApiToken> findTokenByHash(const std::string& hash) = 0;
  virtual Result<std::vector<ApiToken>> listTokens(std::optional<ProjectId> project) = 0;
  virtual Status revokeToken(std::int64_t id) = 0;
  virtual Status touchToken(std::int64_t id, TimeMs at) = 0;

  virtual Status createSession(const Session& session) = 0;
  virtual Result<Session> findSession(const std::string& id_hash) = 0;
  virtual Status deleteSession(const std::string& id_hash) = 0;

  // --- custom tags -----------------------------------------------------------------------------
  // An organisation's values of one kind, in position order.
  virtual Result<std::vector<TagValue>> listTags(OrgId org, TagKind kind) = 0;
  virtual Result<TagValue> getTag(TagId id) = 0;
  // Appends a value (states: before the closed state unless `position` says otherwise).
  virtual Result<TagValue> addTag(OrgId org, TagKind kind, const std::string& name,
                                  std::optional<int> position) = 0;
  virtual Result<TagValue> renameTag(TagId id, const std::string& name) = 0;
  // Refused (kConflict) while threats carry the value, unless a replacement of the same kind and
  // organisation is named; then those threats move to it in the same transaction.
  virtual Status deleteTag(TagId id, std::optional<TagId> replacement) = 0;

  // --- threats ---------------------------------------------------------------------------------
  // The threat sink's write: new threats for new keys, count/last_seen/evidence bumps for open
  // duplicates, in one transaction. Detections must already be validated and carry resolved
  // projects. `group_ids[i]` is detection i's initial group (or none).
  virtual Result<SinkResult> applyDetections(const std::vector<core::Detection>& batch,
                                             const std::vector<std::optional<TagId>>& group_ids,
                                             const Actor& actor) = 0;

  virtual Result<core::Threat> getThreat(ThreatId id) = 0;
  virtual Result<core::Threat> changeThreat(ThreatId id, const ThreatChange& change,
                                            const Actor& actor) = 0;
  virtual Result<Note> addNote(ThreatId id, const std::string& text, const Actor& actor) = 0;
  virtual Result<std::vector<Note>> listNotes(ThreatId id) = 0;
  virtual Result<std::vector<TimelineEntry>> timeline(ThreatId id) = 0;
  // Evidence samples kept from duplicates (the first evidence is on the threat itself).
  virtual Result<std::vector<std::string>> evidenceSamples(ThreatId id) = 0;

  virtual Result<ThreatPage> listThreats(const ThreatFilter& filter, const PageRequest& page) = 0;
  virtual Result<Overview> overview(const OverviewRequest& request) = 0;
  // Streams every matching threat in the page order without holding them all in memory. The
  // callback returns false to stop early.
  virtual Status exportThreats(const ThreatFilter& filter, const PageRequest& order,
                               const std::function<bool(const core::Threat&)>& row) = 0;
  // Counts of threats by state name and severity for /metrics, over all projects.
  virtual Result<
      std::vector<std::pair<std::string, std::array<std::int64_t, core::kSeverityCount>>>>
  countsByStateAndSeverity() = 0;

  // --- outbox ----------------------------------------------------------------------------------
  // Claims up to `limit` undelivered events (oldest first) for `lease_ms`; on PostgreSQL two
  // nodes never claim the same event.
  virtual Result<std::vector<OutboxEvent>> claimOutbox(int limit, TimeMs lease_ms) = 0;
  virtual Status ackOutbox(const std::vector<std::int64_t>& ids) = 0;
  virtual Result<std::vector<OutboxEvent>> listOutbox(ThreatId threat) = 0;

  // --- domain stores ---------------------------------------------------------------------------
  // Each engine's own tables sit behind an interface of their own (store/<domain>_store.h,
  // implemented per backend in store/sqlite/sqlite_<domain>_store.cpp), reached from here.
  virtual IntelStore& intel() = 0;
  virtual RuleStore& rules() = 0;  // detect: rule groups, rules, actions, hit counts
  virtual ResponseStore& responses() = 0;
  virtual VulnStore& vuln() = 0;  // vuln: assets, SBOMs, advisories, findings
  virtual ReportStore& reports() = 0;  // report: definitions, schedules, runs, aggregates

  // An in-process hint, called on the committing thread right after a transaction that wrote
  // outbox rows commits: the dispatcher wakes at once instead of at its next poll (the outbox
  // stays the durable record). Keep it cheap and never call the store from it. Empty: none.
  virtual void setOutboxListener(std::function<void()> listener) { (void)listener; }
};

// Opens a store from a URL: "sqlite:PATH" (created and migrated when missing). PostgreSQL
// ("postgres://...") follows in its own issue.
Result<std::unique_ptr<Store>> openStore(const std::string& url);

}  // namespace td::store
