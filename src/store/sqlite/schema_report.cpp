// The report domain's tables: versions 5000-5999 (reports, their versions, schedules, runs).
// Never edit a migration that has shipped; add a new one.
#include "store/sqlite/schema.h"

namespace td::store::sqlite {

const std::vector<Migration>& reportMigrations() {
  static const std::vector<Migration> kMigrations = {
      {5000, R"sql(
-- The newest version of each report; every version is kept in report_versions.
CREATE TABLE reports (
  id INTEGER PRIMARY KEY,
  project_id BIGINT NOT NULL REFERENCES projects(id),
  name TEXT NOT NULL,
  version INTEGER NOT NULL,
  spec TEXT NOT NULL,
  created_by TEXT NOT NULL,
  updated_by TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX reports_name ON reports (project_id, lower(name));

CREATE TABLE report_versions (
  report_id BIGINT NOT NULL REFERENCES reports(id),
  version INTEGER NOT NULL,
  spec TEXT NOT NULL,
  author TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  PRIMARY KEY (report_id, version)
);

-- recipients: JSON array of addresses. next_run_at: NULL while disabled.
CREATE TABLE report_schedules (
  id INTEGER PRIMARY KEY,
  report_id BIGINT NOT NULL REFERENCES reports(id),
  cron TEXT NOT NULL,
  time_zone TEXT NOT NULL,
  recipients TEXT NOT NULL,
  format TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  next_run_at BIGINT,
  last_run_at BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE INDEX report_schedules_due ON report_schedules (next_run_at) WHERE enabled = 1;
CREATE INDEX report_schedules_report ON report_schedules (report_id);

-- History: runs outlive their schedule (schedule_id set NULL) and their report.
CREATE TABLE report_runs (
  id INTEGER PRIMARY KEY,
  schedule_id BIGINT,
  report_id BIGINT NOT NULL,
  report_version INTEGER NOT NULL,
  scheduled_for BIGINT NOT NULL,
  started_at BIGINT NOT NULL,
  finished_at BIGINT,
  status TEXT NOT NULL,
  message TEXT NOT NULL,
  bytes BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX report_runs_schedule ON report_runs (schedule_id, id);
CREATE INDEX report_runs_report ON report_runs (report_id, id);

-- Report aggregates ask "closed since T" and "acknowledged since T": without these two indexes
-- both would read the whole threats and timeline tables.
CREATE INDEX threats_closed_at ON threats (closed_at) WHERE closed_at IS NOT NULL;
CREATE INDEX timeline_at ON timeline (at);
)sql"},
      {5001, R"sql(
-- Users of the organisation a schedule mails (JSON array of user ids), besides its addresses.
ALTER TABLE report_schedules ADD COLUMN users TEXT NOT NULL DEFAULT '[]';

-- The file a scheduled run rendered: every try of its e-mails attaches these same bytes.
CREATE TABLE report_run_files (
  run_id BIGINT PRIMARY KEY,
  file_name TEXT NOT NULL,
  content_type TEXT NOT NULL,
  content BLOB NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE INDEX report_run_files_created ON report_run_files (created_at);

-- A run's e-mails: rows of the respond domain's deliveries table (kind 'report'), by their
-- idempotency key, so a run lists its deliveries and their state.
CREATE TABLE report_run_deliveries (
  run_id BIGINT NOT NULL,
  recipient TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  PRIMARY KEY (run_id, recipient)
);
)sql"},
      // A run lists its e-mails in the order it queued them: a number of their own instead of
      // SQLite's rowid, which PostgreSQL has no equivalent of. Rows kept so far take their
      // rowid order (PostgreSQL has none to keep).
      {5002, R"sql(
ALTER TABLE report_run_deliveries ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE report_run_deliveries SET seq = (SELECT count(*) FROM report_run_deliveries p
  WHERE p.run_id = report_run_deliveries.run_id AND p.rowid < report_run_deliveries.rowid);
)sql",
       R"sql(
ALTER TABLE report_run_deliveries ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
)sql"},
  };
  return kMigrations;
}

}  // namespace td::store::sqlite
