// The SQLite backend of the Store: one file in WAL mode, one writer connection guarded by a mutex
// (SQLite allows one writer at a time anyway, and a single writer keeps the sink's batches
// ordered), a pool of reader connections that serve reads concurrently with the writer, and the
// in-memory ThreatIndex that answers lists, the overview and export (see threat_index.h).
//
// Thread safety: as for Store, every method may be called from any thread.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "store/sqlite/connection.h"
#include "store/sqlite/sqlite_intel_store.h"
#include "store/sqlite/sqlite_report_store.h"
#include "store/sqlite/sqlite_rule_store.h"
#include "store/sqlite/sqlite_response_store.h"
#include "store/sqlite/sqlite_vuln_store.h"
#include "store/store.h"
#include "store/threat_index.h"

namespace td::store::sqlite {

class SqliteStore final : public Store {
 public:
  // Opens (creating and migrating when needed) the database at `path` and loads the read model.
  static Result<std::unique_ptr<SqliteStore>> open(const std::string& path);
  // The same store over PostgreSQL (`url`: postgresql://…): the same SQL through
  // store/postgres/connection.h. Work in progress (issue 9): single node only; the read model
  // does not yet pick up other nodes' writes.
  static Result<std::unique_ptr<SqliteStore>> openPostgres(const std::string& url);
  ~SqliteStore() override;

  Result<Org> createOrg(const std::string& name, std::optional<OrgId> parent) override;
  Result<std::vector<Org>> listOrgs() override;
  Result<Org> findOrg(const std::string& name) override;
  Result<Org> getOrg(OrgId id) override;
  Result<std::vector<OrgId>> orgSubtree(OrgId root) override;

  Result<Project> createProject(OrgId org, const std::string& name) override;
  Result<std::vector<Project>> listProjects() override;
  Result<Project> findProject(const std::string& name) override;
  Result<Project> getProject(ProjectId id) override;

  Result<User> createUser(const User& user) override;
  Result<std::vector<User>> listUsers() override;
  Result<User> findUserByEmail(const std::string& email) override;
  Result<User> getUser(UserId id) override;
  Status setPasswordHash(UserId id, const std::string& hash) override;

  Result<ApiToken> createToken(const ApiToken& token) override;
  Result<ApiToken> findTokenByHash(const std::string& hash) override;
  Result<std::vector<ApiToken>> listTokens(std::optional<ProjectId> project) override;
  Status revokeToken(std::int64_t id) override;
  Status touchToken(std::int64_t id, TimeMs at) override;

  Status createSession(const Session& session) override;
  Result<Session> findSession(const std::string& id_hash) override;
  Status deleteSession(const std::string& id_hash) override;

  Result<std::vector<TagValue>> listTags(OrgId org, TagKind kind) override;
  Result<TagValue> getTag(TagId id) override;
  Result<TagValue> addTag(OrgId org, TagKind kind, const std::string& name,
                          std::optional<int> position) override;
  Result<TagValue> renameTag(TagId id, const std::string& name) override;
  Status deleteTag(TagId id, std::optional<TagId> replacement) override;

  Result<SinkResult> applyDetections(const std::vector<core::Detection>& batch,
                                     const std::vector<std::optional<TagId>>& group_ids,
                                     const Actor& actor) override;
  Result<core::Threat> getThreat(ThreatId id) override;
  Result<core::Threat> changeThreat(ThreatId id, const ThreatChange& change,
                                    const Actor& actor) override;
  Result<Note> addNote(ThreatId id, const std::string& text, const Actor& actor) override;
  Result<std::vector<Note>> listNotes(ThreatId id) override;
  Result<std::vector<TimelineEntry>> timeline(ThreatId id) override;
  Result<std::vector<std::string>> evidenceSamples(ThreatId id) override;

  Result<ThreatPage> listThreats(const ThreatFilter& filter, const PageRequest& page) override;
  Result<Overview> overview(const OverviewRequest& request) override;
  Status exportThreats(const ThreatFilter& filter, const PageRequest& order,
                       const std::function<bool(const core::Threat&)>& row) override;
  Result<std::vector<std::pair<std::string, std::array<std::int64_t, core::kSeverityCount>>>>
  countsByStateAndSeverity() override;

  Result<std::vector<OutboxEvent>> claimOutbox(int limit, TimeMs lease_ms) override;
  Status ackOutbox(const std::vector<std::int64_t>& ids) override;
  Result<std::vector<OutboxEvent>> listOutbox(ThreatId threat) override;

  // For the domain stores beside this class (sqlite_<domain>_store.cpp): runs `fn` on the writer
  // connection under the write lock, or on a pooled reader connection. Domain stores never write
  // the threats table themselves: threat changes go through this class so the read model and the
  // timeline stay right.
  Status withWriter(const std::function<Status(Connection&)>& fn);
  // Which database is behind this store, for the few statements the two spell differently.
  sql::Backend backend() const { return writer_->backend(); }
  Status withReader(const std::function<Status(Connection&)>& fn);

  IntelStore& intel() override { return intel_; }
  // For the report store: every indexed threat passing `filter`, under the index's reader lock.
  Status scanIndex(const ThreatFilter& filter, const std::function<void(const IndexRow&)>& row);

  ReportStore& reports() override { return reports_; }
  void setOutboxListener(std::function<void()> listener) override;

  RuleStore& rules() override { return rules_; }

  VulnStore& vuln() override { return vuln_; }
  ResponseStore& responses() override { return responses_; }

  // For benchmarks and tests: the read model's size in bytes.
  size_t indexMemoryBytes() const { return index_.memoryBytes(); }
  // For benchmarks and tests: the threat rows the read model has read again since the store
  // opened, to follow what other connections (other processes, other nodes) wrote.
  std::int64_t refreshedRows() const { return refreshed_rows_.load(std::memory_order_relaxed); }
  // For benchmarks: the write connection, to seed rows directly. Hold no other call meanwhile,
  // and call reloadIndex() afterwards.
  Connection& writerForBenchmarks() { return *writer_; }
  Status reloadIndex();

 private:
  // A reader connection on loan from the pool; returned by the destructor.
  class Reader {
   public:
    Reader(SqliteStore* store, std::unique_ptr<Connection> conn)
        : store_(store), conn_(std::move(conn)) {}
    Reader(Reader&&) = default;
    ~Reader();
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return conn_.get(); }

   private:
    SqliteStore* store_;
    std::unique_ptr<Connection> conn_;
  };
  struct ProjectInfo {
    OrgId org_id = 0;
    TagId first_state = 0;
  };

  using Connect = std::function<Result<std::unique_ptr<Connection>>(bool read_only)>;
  explicit SqliteStore(Connect connect) : connect_(std::move(connect)) {}
  static Result<std::unique_ptr<SqliteStore>> openWith(Connect connect);
  Result<Reader> reader();
  Result<core::Threat> readThreat(Connection& c, ThreatId id);
  Result<IndexFilter> resolveFilter(Connection& c, const ThreatFilter& filter);
  Result<ProjectInfo> projectInfo(ProjectId id);  // write_mu_ held
  // Loads threats into the index: all (at open), or those changed since a point: on SQLite
  // updated_at at or after a time, on PostgreSQL change_xid at or after a transaction id.
  // write_mu_ held.
  Status loadIndexRows(std::optional<std::int64_t> changed_since);
  Result<std::int64_t> dataVersion();  // write_mu_ held
  // PostgreSQL: the oldest transaction id still running (the current snapshot's xmin); rows
  // committed after this moment carry a change_xid at least this. write_mu_ held.
  Result<std::int64_t> changeHorizon();
  // Picks up threats that another process (another node) wrote to the same database: on SQLite
  // those updated in a time window, on PostgreSQL exactly those whose change_xid is at least
  // the horizon taken before the previous read. write_mu_ held.
  Status refreshIfChanged();
  Status refreshIndex();  // takes write_mu_ when free
  Result<TagValue> readTag(Connection& c, TagId id);
  Result<std::vector<TagValue>> readTags(Connection& c, OrgId org, TagKind kind);
  Result<ThreatPage> hydrate(Connection& c, const IndexPage& ip, const PageRequest& page);
  Result<ThreatPage> pageFromIndex(Connection& c, const IndexFilter& filter,
                                   const PageRequest& page);

  Connect connect_;  // opens a connection to this store's database
  std::mutex write_mu_;
  std::mutex listener_mu_;
  std::function<void()> outbox_listener_;  // listener_mu_
  void notifyOutbox();
  std::unique_ptr<Connection> writer_;                       // guarded by write_mu_
  std::unordered_map<ProjectId, ProjectInfo> project_info_;  // guarded by write_mu_
  std::int64_t data_version_ = 0;                            // guarded by write_mu_
  TimeMs refreshed_at_ = 0;                                  // guarded by write_mu_ (SQLite)
  std::int64_t xid_horizon_ = 0;                             // guarded by write_mu_ (PostgreSQL)
  std::atomic<std::int64_t> refreshed_rows_{0};
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Connection>> idle_readers_;  // guarded by pool_mu_
  ThreatIndex index_;
  SqliteIntelStore intel_{*this};
  SqliteReportStore reports_{*this};
  SqliteRuleStore rules_{*this};
  SqliteVulnStore vuln_{*this};
  SqliteResponseStore responses_{*this};
};

}  // namespace td::store::sqlite
