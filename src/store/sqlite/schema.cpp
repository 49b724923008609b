#include "store/sqlite/schema.h"

#include <algorithm>
#include <string>
#include <vector>

#include "core/time.h"

namespace td::store::sqlite {

// Never edit a migration that has shipped; add a new one.
const std::vector<Migration>& foundationMigrations() {
  static const std::vector<Migration> kMigrations = {
      {1, R"sql(
CREATE TABLE orgs (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  parent_id BIGINT REFERENCES orgs(id),
  created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX orgs_name ON orgs (lower(name));
CREATE INDEX orgs_parent ON orgs (parent_id);

CREATE TABLE projects (
  id INTEGER PRIMARY KEY,
  org_id BIGINT NOT NULL REFERENCES orgs(id),
  name TEXT NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX projects_name ON projects (lower(name));

CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  org_id BIGINT NOT NULL REFERENCES orgs(id),
  email TEXT NOT NULL,
  display_name TEXT NOT NULL,
  role TEXT NOT NULL,
  time_zone TEXT NOT NULL,
  password_hash TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

CREATE TABLE api_tokens (
  id INTEGER PRIMARY KEY,
  project_id BIGINT NOT NULL REFERENCES projects(id),
  name TEXT NOT NULL,
  token_hash TEXT NOT NULL,
  prefix TEXT NOT NULL,
  scopes INTEGER NOT NULL,
  created_by BIGINT REFERENCES users(id),
  created_at BIGINT NOT NULL,
  revoked_at BIGINT,
  last_used_at BIGINT
);
CREATE UNIQUE INDEX api_tokens_hash ON api_tokens (token_hash);
CREATE INDEX api_tokens_project ON api_tokens (project_id);

CREATE TABLE sessions (
  id_hash TEXT PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users(id),
  csrf_token TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);

-- kind: 0 threat_group, 1 threat_state, 2 threat_outcome. States are ordered by position; the
-- last one is the closed state.
CREATE TABLE tags (
  id INTEGER PRIMARY KEY,
  org_id BIGINT NOT NULL REFERENCES orgs(id),
  kind INTEGER NOT NULL,
  name TEXT NOT NULL,
  position INTEGER NOT NULL
);
CREATE UNIQUE INDEX tags_name ON tags (org_id, kind, lower(name));

-- Filters, sorts and aggregates are answered by the in-memory ThreatIndex, so the table carries
-- only the indexes that writes and point reads need: the open-duplicate key (the sink's upsert
-- target) and updated_at (for refreshing a read model from another node's writes).
CREATE TABLE threats (
  id INTEGER PRIMARY KEY,
  project_id BIGINT NOT NULL REFERENCES projects(id),
  name TEXT NOT NULL,
  description TEXT NOT NULL,
  score INTEGER NOT NULL,
  severity INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  source TEXT NOT NULL,
  rule_id TEXT NOT NULL,
  rule_group TEXT NOT NULL,
  entity_type TEXT NOT NULL,
  entity_value TEXT NOT NULL,
  entity_group TEXT NOT NULL,
  host TEXT NOT NULL,
  tags TEXT NOT NULL,
  evidence TEXT NOT NULL,
  group_id BIGINT REFERENCES tags(id),
  state_id BIGINT NOT NULL REFERENCES tags(id),
  outcome_id BIGINT REFERENCES tags(id),
  owner_id BIGINT REFERENCES users(id),
  closed INTEGER NOT NULL DEFAULT 0,
  count BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  last_seen BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  closed_at BIGINT,
  dedup_key TEXT,
  created_by TEXT NOT NULL
);
-- NULL keys (check_by none) never conflict, so such detections always raise a new threat.
CREATE UNIQUE INDEX threats_open_key ON threats (project_id, dedup_key) WHERE closed = 0;
CREATE INDEX threats_updated ON threats (updated_at);

CREATE TABLE evidence_samples (
  id INTEGER PRIMARY KEY,
  threat_id BIGINT NOT NULL REFERENCES threats(id),
  at BIGINT NOT NULL,
  evidence TEXT NOT NULL
);
CREATE INDEX evidence_samples_threat ON evidence_samples (threat_id);

-- The "created" entry is not stored: timeline() derives it from the threat row (created_at,
-- created_by), which keeps the sink's writes to one row per new threat plus its outbox event.
CREATE TABLE timeline (
  id INTEGER PRIMARY KEY,
  threat_id BIGINT NOT NULL REFERENCES threats(id),
  at BIGINT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  from_value TEXT NOT NULL,
  to_value TEXT NOT NULL
);
CREATE INDEX timeline_threat ON timeline (threat_id);

CREATE TABLE notes (
  id INTEGER PRIMARY KEY,
  threat_id BIGINT NOT NULL REFERENCES threats(id),
  at BIGINT NOT NULL,
  author TEXT NOT NULL,
  text TEXT NOT NULL
);
CREATE INDEX notes_threat ON notes (threat_id);

CREATE TABLE outbox (
  id INTEGER PRIMARY KEY,
  project_id BIGINT NOT NULL,
  threat_id BIGINT NOT NULL,
  kind TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  claimed_until BIGINT,
  delivered_at BIGINT
);
CREATE INDEX outbox_pending ON outbox (id) WHERE delivered_at IS NULL;
CREATE INDEX outbox_threat ON outbox (threat_id);
)sql"},
      // Samples keyed by (threat, sequence number) in one B-tree: the sink appends a sample with
      // one random write instead of a table append plus a random index write.
      {2, R"sql(
CREATE TABLE evidence_samples_v2 (
  threat_id BIGINT NOT NULL REFERENCES threats(id),
  seq INTEGER NOT NULL,
  at BIGINT NOT NULL,
  evidence TEXT NOT NULL,
  PRIMARY KEY (threat_id, seq)
) WITHOUT ROWID;
INSERT INTO evidence_samples_v2 (threat_id, seq, at, evidence)
  SELECT threat_id, row_number() OVER (PARTITION BY threat_id ORDER BY id), at, evidence
  FROM evidence_samples;
DROP TABLE evidence_samples;
ALTER TABLE evidence_samples_v2 RENAME TO evidence_samples;
)sql"},
      // PostgreSQL: every write of a threat row records its transaction's id, so that a node
      // refreshes its read model from exactly the rows other nodes changed (change_xid at or
      // after the oldest transaction that was still running at its previous refresh) instead
      // of re-reading a time window. Its index takes the place of updated_at's, which only
      // that refresh used. SQLite has one writer at a time and keeps updated_at.
      {3, "",
       R"sql(
DROP INDEX threats_updated;
ALTER TABLE threats ADD COLUMN change_xid BIGINT NOT NULL DEFAULT 0;
CREATE FUNCTION threats_change_xid() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.change_xid := pg_current_xact_id()::text::bigint;
  RETURN NEW;
END
$$;
CREATE TRIGGER threats_change_xid BEFORE INSERT OR UPDATE ON threats
  FOR EACH ROW EXECUTE FUNCTION threats_change_xid();
CREATE INDEX threats_change_xid ON threats (change_xid);
)sql"},
  };
  return kMigrations;
}

namespace {

// Every domain's migrations in version order.
const std::vector<Migration>& migrations() {
  static const std::vector<Migration> kAll = [] {
    std::vector<Migration> all;
    for (const auto* list : {&foundationMigrations(), &detectMigrations(), &intelMigrations(),
                             &vulnMigrations(), &respondMigrations(), &reportMigrations()})
      all.insert(all.end(), list->begin(), list->end());
    std::sort(all.begin(), all.end(),
              [](const Migration& a, const Migration& b) { return a.version < b.version; });
    return all;
  }();
  return kAll;
}

}  // namespace

int latestSchemaVersion() { return migrations().back().version; }

Status migrate(Connection& conn) {
  if (auto s = conn.exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
                         "version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)");
      !s)
    return s;
  for (const auto& m : migrations()) {
    Transaction tx(conn);
    if (auto s = tx.begin(); !s) return s;
    auto check = conn.prepare("SELECT 1 FROM schema_migrations WHERE version = ?");
    if (!check) return core::fail(check.error());
    (*check)->bind(1, m.version);
    auto found = (*check)->step();
    if (!found) return core::fail(found.error());
    (*check)->reset();
    if (*found) continue;
    const bool own_postgres = m.postgres_sql && conn.backend() == sql::Backend::kPostgres;
    const std::string statements = own_postgres ? m.postgres_sql : conn.migrationSql(m.sql);
    if (auto s = statements.empty() ? Status{} : conn.exec(statements); !s) {
      auto e = s.error();
      e.message = "migration " + std::to_string(m.version) + " failed: " + e.message;
      return core::fail(std::move(e));
    }
    auto rec = conn.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)");
    if (!rec) return core::fail(rec.error());
    (*rec)->bind(1, m.version).bind(2, core::nowMs());
    if (auto s = (*rec)->run(); !s) return s;
    if (auto s = tx.commit(); !s) return s;
  }
  // A database written by a newer build is refused rather than misread.
  auto newest = conn.prepare("SELECT max(version) FROM schema_migrations");
  if (!newest) return core::fail(newest.error());
  auto row = (*newest)->step();
  if (!row) return core::fail(row.error());
  const auto version = (*newest)->i64(0);
  (*newest)->reset();
  if (version > latestSchemaVersion())
    return core::fail(core::ErrorCode::kUnavailable,
                      "the database has schema version " + std::to_string(version) +
                          "; this build knows up to " + std::to_string(latestSchemaVersion()));
  return {};
}

}  // namespace td::store::sqlite
