// The intel domain's tables: versions 2000-2999 (feeds, indicators, import reports, project settings). Never edit a
// migration that has shipped; add a new one.
#include "store/sqlite/schema.h"

namespace td::store::sqlite {

const std::vector<Migration>& intelMigrations() {
  static const std::vector<Migration> kMigrations = {
      {2000, R"sql(
CREATE TABLE intel_feeds (
  id INTEGER PRIMARY KEY,
  org_id BIGINT NOT NULL REFERENCES orgs(id),
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  source TEXT NOT NULL,
  mapping_json TEXT NOT NULL,
  refresh_minutes INTEGER NOT NULL DEFAULT 0,
  default_confidence INTEGER NOT NULL DEFAULT 50,
  enabled INTEGER NOT NULL DEFAULT 1,
  username TEXT NOT NULL DEFAULT '',
  secret TEXT NOT NULL DEFAULT '',
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  last_import_at BIGINT,
  last_status TEXT NOT NULL DEFAULT '',
  next_run_at BIGINT,
  cursor TEXT NOT NULL DEFAULT '',
  indicator_count BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX intel_feeds_name ON intel_feeds (org_id, lower(name));
CREATE INDEX intel_feeds_due ON intel_feeds (next_run_at);

CREATE TABLE intel_indicators (
  id INTEGER PRIMARY KEY,
  feed_id BIGINT NOT NULL REFERENCES intel_feeds(id) ON DELETE CASCADE,
  type TEXT NOT NULL,
  value TEXT NOT NULL,
  atoms_json TEXT NOT NULL DEFAULT '',
  external_id TEXT NOT NULL DEFAULT '',
  confidence INTEGER NOT NULL DEFAULT -1,
  first_seen BIGINT NOT NULL DEFAULT 0,
  last_seen BIGINT NOT NULL DEFAULT 0,
  valid_from BIGINT NOT NULL DEFAULT 0,
  valid_until BIGINT NOT NULL DEFAULT 0,
  context_json TEXT NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX intel_indicators_key ON intel_indicators (feed_id, type, value);
CREATE INDEX intel_indicators_value ON intel_indicators (value);

CREATE TABLE intel_imports (
  id INTEGER PRIMARY KEY,
  feed_id BIGINT NOT NULL REFERENCES intel_feeds(id) ON DELETE CASCADE,
  started_at BIGINT NOT NULL,
  finished_at BIGINT NOT NULL,
  ok INTEGER NOT NULL,
  error TEXT NOT NULL DEFAULT '',
  added BIGINT NOT NULL DEFAULT 0,
  updated BIGINT NOT NULL DEFAULT 0,
  expired BIGINT NOT NULL DEFAULT 0,
  suppressed BIGINT NOT NULL DEFAULT 0,
  rejected BIGINT NOT NULL DEFAULT 0,
  report_json TEXT NOT NULL DEFAULT '{}',
  trigger_name TEXT NOT NULL DEFAULT ''
);
CREATE INDEX intel_imports_feed ON intel_imports (feed_id, id);

CREATE TABLE intel_versions (
  org_id BIGINT PRIMARY KEY REFERENCES orgs(id),
  version BIGINT NOT NULL
);
)sql"},
      // Per-project matching settings: allow-list (one entry a line), port classes (comma
      // separated port numbers), minimum bytes, suppression period.
      {2001, R"sql(
CREATE TABLE intel_settings (
  project_id BIGINT PRIMARY KEY REFERENCES projects(id) ON DELETE CASCADE,
  allow_list TEXT NOT NULL DEFAULT '',
  min_bytes BIGINT NOT NULL DEFAULT 0,
  ignore_ports TEXT NOT NULL DEFAULT '',
  service_ports TEXT NOT NULL DEFAULT '',
  unsafe_ports TEXT NOT NULL DEFAULT '',
  suppression_minutes BIGINT NOT NULL DEFAULT 1440,
  updated_at BIGINT NOT NULL
);
)sql"},
      // Loading an organisation's index reads each feed's rows in import order: with (feed_id) —
      // ordered by (feed_id, rowid) — that is one walk with no sort and the rows in page order.
      {2002, R"sql(
CREATE INDEX intel_indicators_feed ON intel_indicators (feed_id);
)sql"},
      // One text index instead of two: (value, type, feed_id) keeps (feed, type, value) unique
      // (the upsert's conflict target names the same columns, in any order) and serves the
      // search by value, so an import inserts each key into one text B-tree, not two. Imports
      // write their rows in this index's order.
      {2003, R"sql(
DROP INDEX intel_indicators_key;
DROP INDEX intel_indicators_value;
CREATE UNIQUE INDEX intel_indicators_value_key ON intel_indicators (value, type, feed_id);
)sql"},
  };
  return kMigrations;
}

}  // namespace td::store::sqlite
