#include "store/sqlite/sqlite_report_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/time.h"
#include "store/sqlite/sqlite_store.h"

namespace td::store::sqlite {

using core::ErrorCode;
using core::fail;

namespace {

constexpr const char* kReportColumns =
    "SELECT id, project_id, name, version, spec, created_by, updated_by, created_at, updated_at "
    "FROM reports ";

ReportDefinition reportFromRow(const Statement& st) {
  ReportDefinition r;
  r.id = st.i64(0);
  r.project_id = st.i64(1);
  r.name = st.text(2);
  r.version = st.i32(3);
  r.spec_json = st.text(4);
  r.created_by = st.text(5);
  r.updated_by = st.text(6);
  r.created_at = st.i64(7);
  r.updated_at = st.i64(8);
  return r;
}

constexpr const char* kScheduleColumns =
    "SELECT id, report_id, cron, time_zone, recipients, format, enabled, next_run_at, "
    "last_run_at, created_at, updated_at, users FROM report_schedules ";

ReportSchedule scheduleFromRow(const Statement& st) {
  ReportSchedule s;
  s.id = st.i64(0);
  s.report_id = st.i64(1);
  s.cron = st.text(2);
  s.time_zone = st.text(3);
  auto j = nlohmann::json::parse(st.textView(4), nullptr, false);
  if (j.is_array())
    for (const auto& r : j)
      if (r.is_string()) s.recipients.push_back(r.get<std::string>());
  s.format = st.text(5);
  s.enabled = st.i32(6) != 0;
  s.next_run_at = st.optI64(7);
  s.last_run_at = st.optI64(8);
  s.created_at = st.i64(9);
  s.updated_at = st.i64(10);
  auto users = nlohmann::json::parse(st.textView(11), nullptr, false);
  if (users.is_array())
    for (const auto& u : users)
      if (u.is_number_integer()) s.users.push_back(u.get<UserId>());
  return s;
}

constexpr const char* kRunColumns =
    "SELECT id, schedule_id, report_id, report_version, scheduled_for, started_at, finished_at, "
    "status, message, bytes, EXISTS (SELECT 1 FROM report_run_files f WHERE f.run_id = "
    "report_runs.id) FROM report_runs ";

ReportRun runFromRow(const Statement& st) {
  ReportRun r;
  r.id = st.i64(0);
  r.schedule_id = st.optI64(1);
  r.report_id = st.i64(2);
  r.report_version = st.i32(3);
  r.scheduled_for = st.i64(4);
  r.started_at = st.i64(5);
  r.finished_at = st.optI64(6);
  r.status = st.text(7);
  r.message = st.text(8);
  r.bytes = st.i64(9);
  r.has_file = st.i32(10) != 0;
  return r;
}

// A run's e-mails and their state now (the deliveries table; a pruned one is "pruned").
core::Status readRunDeliveries(Connection& c, ReportRun& run) {
  TD_TRY(st, c.prepare("SELECT l.recipient, l.idempotency_key, d.id, d.status, d.attempts, "
                        "d.last_status, d.last_error, d.finished_at FROM report_run_deliveries l "
                        "LEFT JOIN deliveries d ON d.idempotency_key = l.idempotency_key "
                        "WHERE l.run_id = ? ORDER BY l.seq, l.recipient"));
  st->bind(1, run.id);
  run.deliveries.clear();
  while (true) {
    TD_TRY(row, st->step());
    if (!row) break;
    ReportRunDelivery d;
    d.recipient = st->text(0);
    d.idempotency_key = st->text(1);
    d.delivery_id = st->optI64(2);
    if (d.delivery_id) {
      auto status = static_cast<DeliveryStatus>(st->i32(3));
      d.status = std::string(deliveryStatusName(status));
      d.attempts = st->i32(4);
      if (auto code = st->optI64(5)) d.last_status = static_cast<int>(*code);
      d.last_error = st->text(6);
      d.finished_at = st->optI64(7);
    } else {
      d.status = "pruned";
    }
    run.deliveries.push_back(std::move(d));
  }
  return {};
}

core::Result<ReportDefinition> readReport(Connection& c, ReportId id) {
  TD_TRY(st, c.prepare(std::string(kReportColumns) + "WHERE id = ?"));
  st->bind(1, id);
  TD_TRY(row, st->step());
  if (!row) return fail(ErrorCode::kNotFound, "no report " + std::to_string(id), "id");
  return reportFromRow(*st);
}

core::Result<ReportSchedule> readSchedule(Connection& c, ReportScheduleId id) {
  TD_TRY(st, c.prepare(std::string(kScheduleColumns) + "WHERE id = ?"));
  st->bind(1, id);
  TD_TRY(row, st->step());
  if (!row) return fail(ErrorCode::kNotFound, "no report schedule " + std::to_string(id), "id");
  return scheduleFromRow(*st);
}

core::Status checkName(const std::string& name) {
  if (name.empty() || name.size() > core::kMaxShortText)
    return fail(ErrorCode::kUnprocessable, "a report name has 1 to 256 characters", "name");
  return {};
}

core::Result<std::vector<ThreatTime>> readTimes(Statement& st) {
  std::vector<ThreatTime> out;
  while (true) {
    TD_TRY(row, st.step());
    if (!row) break;
    out.push_back({st.i64(0), st.i64(1)});
  }
  return out;
}

}  // namespace

// --- definitions ----------------------------------------------------------------------------

core::Result<ReportDefinition> SqliteReportStore::createReport(ProjectId project,
                                                               const std::string& name,
                                                               const std::string& spec_json,
                                                               const std::string& author) {
  TD_CHECK(checkName(name));
  ReportDefinition out;
  TD_CHECK(store_.withWriter([&](Connection& c) -> core::Status {
    Transaction tx(c);
    TD_CHECK(tx.begin());
    TD_TRY(dup, c.prepare("SELECT 1 FROM reports WHERE project_id = ? AND lower(name) = lower(?)"));
    dup->bind(1, project).bind(2, name);
    TD_TRY(exists, dup->step());
    if (exists)
      return fail(ErrorCode::kConflict, "the project already has a report named '" + name + "'",
                  "name");
    const TimeMs now = core::nowMs();
    TD_TRY(ins, c.prepare(
                     "INSERT INTO reports (project_id, name, version, spec, created_by, "
                     "updated_by, created_at, updated_at) VALUES (?, ?, 1, ?, ?, ?, ?, ?)"));
    ins->bind(1, project).bind(2, name).bind(3, spec_json).bind(4, author).bind(5, author);
    ins->bind(6, now).bind(7, now);
    TD_CHECK(ins->run());
    const ReportId id = c.lastInsertId();
    TD_TRY(ver, c.prepare(
                     "INSERT INTO report_versions (report_id, version, spec, author, created_at) "
                     "VALUES (?, 1, ?, ?, ?)"));
    ver->bind(1, id).bind(2, spec_json).bind(3, author).bind(4, now);
    TD_CHECK(ver->run());
    TD_TRY(r, readReport(c, id));
    out = r;
    return tx.commit();
  }));
  return out;
}

core::Result<ReportDefinition> SqliteReportStore::getReport(ReportId id) {
  ReportDefinition out;
  TD_CHECK(store_.withReader([&](Connection& c) -> core::Status {
    TD_TRY(r, readReport(c, id));
    out = r;
    return {};
  }));
  return out;
}

core::Result<ReportDefinition> SqliteReportStore::findReport(ProjectId project,
                                                             const std::string& name) {
  ReportDefinition out;
  TD_CHECK(store_.withReader([&](Connection& c) -> core::Status {
    TD_TRY(st, c.prepare(std::string(kReportColumns) +
                          "WHERE project_id = ? AND lower(name) = lower(?)"));
    st->bind(1, project).bind(2, name);
    TD_TRY(row, st->step());
    if (!row) return fail(ErrorCode::kNotFound, "no report named '" + name + "'", "name");
    out = reportFromRow(*st);
    return {};
  }));
  return out;
}

core::Result<std::vector<ReportDefinition>> SqliteReportStore::listReports(
    std::optional<ProjectId> project) {
  std::vector<ReportDefinition> out;
  TD_CHECK(store_.withReader([&](Connection& c) -> core::Status {
    TD_TRY(st, c.prepare(std::string(kReportColumns) +
                          "WHERE (?1 IS NULL OR project_id = ?1) ORDER BY lower(name), id"));
    st->bind(1, project);
    while (true) {
      TD_TRY(row, st->step());
      if (!row) break;
      out.push_back(reportFromRow(*st));
    }
    return {};
  }));
  return out;
}

core::Result<ReportDefinition> SqliteReportStore::updateReport(
    ReportId id, const std::optional<std::string>& name, const std::string& spec_json,
    const std::string& author, std::optional<int> expected_version) {
  if (name) TD_CHECK(checkName(*name));
  ReportDefinition out;
  TD_CHECK(store_.withWriter([&](Connection& c) -> core::Status {
    Transaction tx(c);
    TD_CHECK(tx.begin());
    TD_TRY(before, readReport(c, id));
    if (expected_version && *expected_version != before.version)
      return fail(ErrorCode::kConflict,
                  "the report changed meanwhile: version " + std::to_string(before.version) +
                      " is stored, the change was made to version " +
                      std::to_string(*expected_version),
                  "version");
    const std::string new_name = name.value_or(before.name);
    if (name) {
      TD_TRY(dup, c.prepare("SELECT 1 FROM reports WHERE project_id = ? AND lower(name) = "
                             "lower(?) AND id <> ?"));
      dup->bind(1, before.project_id).bind(2, new_name).bind(3, id);
      TD_TRY(exists, dup->step());
      if (exists)
        return fail(ErrorCode::kConflict,
                    "the project already has a report named '" + new_name + "'", "name");
    }
    const TimeMs now = core::nowMs();
    const int version = before.version + 1;
    TD_TRY(upd, c.prepare("UPDATE reports SET name = ?, version = ?, spec = ?, updated_by = ?, "
                           "updated_at = ? WHERE id = ?"));
    upd->bind(1, new_name).bind(2, version).bind(3, spec_json).bind(4, author).bind(5, now);
    upd->bind(6, id);
    TD_CHECK(upd->run());
    TD_TRY(ver, c.prepare(
                     "INSERT INTO report_versions (report_id, version, spec, author, created_at) "
                     "VALUES (?, ?, ?, ?, ?)"));
    ver->bind(1, id).bind(2, version).bind(3, spec_json).bind(4, author).bind(5, now);
    TD_CHECK(ver->run());
    TD_TRY(r, readReport(c, id));
    out = r;
    return tx.commit();
  }));
  return out;
}

core::Result<std::vector<ReportVersion>> SqliteReportStore::listVersions(ReportId id) {
  std::vector<ReportVersion> out;
  TD_CHECK(store_.withReader([&](Connection& c) -> core::Status {
    TD_CHECK(readReport(c, id));
    TD_TRY(st, c.prepare("SELECT report_id, version, spec, author, created_at FROM "
                          "report_versions WHERE report_id = ? ORDER BY version DESC"));
    st->bind(1, id);
    while (true) {
      TD_TRY(row, st->step());
      if (!row) break;
      out.push_back({st->i64(0), st->i32(1), st->text(2), st->text(3), st->i64(4)});
    }
    return {};
  }));
  return out;
}

core::Result<ReportVersion> SqliteReportStore::getVersion(ReportId id, int version) {
  ReportVersion out;
  TD_CHECK(store_.withReader([&](Connection& c) -> core::Status {
    TD_TRY(st, c.prepare("SELECT report_id, version, spec, author, created_at FROM "
                          "report_versions WHERE report_id = ? AND version = ?"));
    st->bind(1, id).bind(2, version);
    TD_TRY(row, st->step());
    if (!row)
      return fail(ErrorCode::kNotFound,
                  "report " + std::to_string(id) + " has no version " + std::to_string(version),
                  "version");
    out = {st->i64(0), st->i32(1), st->text(2), st->text(3), st->i64(4)};
    return {};
  }));
  return out;
}

core::Status SqliteReportStore::deleteReport(ReportId id) {
  return store_.withWriter([&](Connection& c) -> core::Status {
    Transaction tx(c);
    TD_CHECK(tx.begin());
    TD_CHECK(readReport(c, id));
    for (const char* sql :
         {"UPDATE report_runs SET schedule_id = NULL WHERE schedule_id IN (SELECT id FROM "
          "report_schedules WHERE report_id = ?)",
          "DELETE FROM report_schedules WHERE report_id = ?",
          "DELETE FROM report_versions WHERE report_id = ?", "DELETE FROM reports WHERE id = ?"}) {
      TD_TRY(st, c.prepare(sql));
      st->bind(1, id);
      TD_CHECK(st->run());
    }
    return tx.commit();
  });
}

// --- schedules and runs ---------------------------------------------------------------------

core::Result<ReportSchedule> SqliteReportStore::createSchedule(const ReportSchedule& s) {
  ReportSchedule out;
  TD_CHECK(store_.withWriter([&](Connection& c) -> core::Status {
    Transaction tx(c);
    TD_CHECK(tx.begin());
    TD_CHECK(readReport(c, s.report_id));
    const TimeMs now = core::nowMs();
    TD_TRY(ins, c.prepare("INSERT INTO report_schedules (report_id, cron, time_zone, recipients, "
                           "format, enabled, next_run_at, last_run_at, created_at, updated_at, "
                           "users) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    ins->bind(1, s.report_id).bind(2, s.cron).bind(3, s.time_zone);
    ins->bind(4, nlohmann::json(s.recipients).dump()).bind(5, s.format).bind(6, s.enabled);
    ins->bind(7, s.next_run_at).bind(8, s.last_run_at).bind(9, now).bind(10, now);
    ins->bind(11, nlohmann::json(s.users).dump());
    TD_CHECK(ins->run());
    TD_TRY(r, readSchedule(c, c.lastInsertId()));
    out = r;
    return tx.commit();
  }));
  return out;
}

core::Result<ReportSchedule> SqliteReportStore::getSchedule(ReportScheduleId id) {
  ReportSchedule out;
  TD_CHECK(store_.withReader([&](Connection& c) -> core::Status {
    TD_TRY(r, readSchedule(c, id));
    out = r;
    return {};
  }));
  return out;
}

core::Result<std::vector<ReportSchedule>> SqliteReportStore::listSchedules(
    std::optional<ReportId> report) {
  std::vector<ReportSchedule> out;
  TD_CHECK(store_.withReader([&](Connection& c) -> core::Status {
    TD_TRY(st, c.prepare(std::string(kScheduleColumns) +
                          "WHERE (?1 IS NULL OR report_id = ?1) ORDER BY id"));
    st->bind(1, report);
    while (true) {
      TD_TRY(row, st->step());
      if (!row) break;
      out.push_back(scheduleFromRow(*st));
    }
    return {};
  }));
  return out;
}

core::Result<ReportSchedule> SqliteReportStore::updateSchedule(const ReportSchedule& s) {
  ReportSchedule out;
  TD_CHECK(store_.withWriter([&](Connection& c) -> core::Status {
    Transaction tx(c);
    TD_CHECK(tx.begin());
    TD_CHECK(readSchedule(c, s.id));
    TD_TRY(upd, c.prepare("UPDATE report_schedules SET cron = ?, time_zone = ?, recipients = ?, "
                           "format = ?, enabled = ?, next_run_at = ?, last_run_at = ?, "
                           "updated_at = ?, users = ? WHERE id = ?"));
    upd->bind(1, s.cron).bind(2, s.time_zone).bind(3, nlohmann::json(s.recipients).dump());
    upd->bind(4, s.format).bind(5, s.enabled).bind(6, s.next_run_at).bind(7, s.last_run_at);
    upd->bind(8, core::nowMs()).bind(9, nlohmann::json(s.users).dump()).bind(10, s.id);
    TD_CHECK(upd->run());
    TD_TRY(r, readSchedule(c, s.id));
    out = r;
    return tx.commit();
  }));
  return out;
}

core::Status SqliteReportStore::deleteSchedule(ReportScheduleId id) {
  return store_.withWriter([&](Connection& c) -> core::Status {
    Transaction tx(c);
    TD_CHECK(tx.begin());
    TD_CHECK(readSchedule(c, id));
    TD_TRY(runs, c.prepare("UPDATE report_runs SET schedule_id = NULL WHERE schedule_id = ?"));
    runs->bind(1, id);
    TD_CHECK(runs->run());
    TD_TRY(del, c.prepare("DELETE FROM report_schedules WHERE id = ?"));
    del->bind(1, id);
    TD_CHECK(del->run());
    return tx.commit();
  });
}

core::Result<std::vector<ReportSchedule>> SqliteReportStore::dueSchedules(TimeMs now) {
  std::vector<ReportSchedule> out;
  TD_CHECK(store_.withReader([&](Connection& c) -> core::Status {
    TD_TRY(st, c.prepare(std::string(kScheduleColumns) +
                          "WHERE enabled = 1 AND next_run_at <= ? ORDER BY next_run_at, id"));
    st->bind(1, now);
    while (true) {
      TD_TRY(row, st->step());
      if (!row) break;
      out.push_back(scheduleFromRow(*st));
    }
    return {};
  }));
  return out;
}

core::Result<bool> SqliteReportStore::claimSlot(ReportScheduleId id, TimeMs slot,
                                                std::optional<TimeMs> next, TimeMs now) {
  bool claimed = false;
  TD_CHECK(store_.withWriter([&](Connection& c) -> core::Status {
    TD_TRY(st, c.prepare("UPDATE report_schedules SET next_run_at = ?, last_run_at = ? "
                          "WHERE id = ? AND next_run_at = ? AND enabled = 1"));
    st->bind(1, next).bind(2, now).bind(3, id).bind(4, slot);
    TD_CHECK(st->run());
    claimed = c.changes() == 1;
    return {};
  }));
  return claimed;
}

core::Result<ReportRun> SqliteReportStore::startRun(const ReportRun& run) {
  ReportRun out = run;
  TD_CHECK(store_.withWriter([&](Connection& c) -> core::Status {
    TD_TRY(st, c.prepare("INSERT INTO report_runs (schedule_id, report_id, report_version, "
                          "scheduled_for, started_at, status, message, bytes) VALUES (?, ?, ?, "
                          "?, ?, 'running', '', 0)"));
    st->bind(1, run.schedule_id).bind(2, run.report_id).bind(3, run.report_version);
    st->bind(4, run.scheduled_for).bind(5, run.started_at);
    TD_CHECK(st->run());
    out.id = c.lastInsertId();
    out.status = "running";
    return {};
  }));
  return out;
}

core::Status SqliteReportStore::finishRun(std::int64_t run_id, TimeMs at,
                                          const std::string& status, const std::string& message,
                                          std::int64_t bytes) {
  return store_.withWriter([&](Connection& c) -> core::Status {
    TD_TRY(st, c.prepare("UPDATE report_runs SET finished_at = ?, status = ?, message = ?, "
                          "bytes = ? WHERE id = ?"));
    st->bind(1, at).bind(2, status).bind(3, message).bind(4, bytes).bind(5, run_id);
    TD_CHECK(st->run());
    if (c.changes() != 1)
      return fail(ErrorCode::kNotFound, "no report run " + std::to_string(run_id), "id");
    return {};
  });
}

core::Result<std::vector<ReportRun>> SqliteReportStore::listRuns(
    std::optional<ReportScheduleId> schedule, std::optional<ReportId> report, int limit) {
  std::vector<ReportRun> out;
  TD_CHECK(store_.withReader([&](Connection& c) -> core::Status {
    TD_TRY(st, c.prepare(std::string(kRunColumns) +
                          "WHERE (?1 IS NULL OR schedule_id = ?1) AND (?2 IS NULL OR "
                          "report_id = ?2) ORDER BY id DESC LIMIT ?3"));
    st->bind(1, schedule).bind(2, report).bind(3, std::max(1, std::min(limit, 1000)));
    while (true) {
      TD_TRY(row, st->step());
      if (!row) break;
      out.push_back(runFromRow(*st));
    }
    for (auto& run : out) TD_CHECK(readRunDeliveries(c, run));
    return {};
  }));
  return out;
}

core::Status SqliteReportStore::completeRun(std::int64_t run_id, TimeMs at,
                                            const std::string& message, const ReportRunFile& file,
                                            const std::vector<Delivery>& deliveries) {
  return store_.withWriter([&](Connection& c) -> core::Status {
    Transaction tx(c);
    TD_CHECK(tx.begin());
    TD_TRY(upd, c.prepare("UPDATE report_runs SET finished_at = ?, status = 'ok', message = ?, "
                           "bytes = ? WHERE id = ?"));
    upd->bind(1, at).bind(2, message).bind(3, static_cast<std::int64_t>(file.bytes.size()));
    upd->bind(4, run_id);
    TD_CHECK(upd->run());
    if (c.changes() != 1)
      return fail(ErrorCode::kNotFound, "no report run " + std::to_string(run_id), "id");
    TD_TRY(f, c.prepare("INSERT INTO report_run_files (run_id, file_name, content_type, content, "
                         "created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET "
                         "file_name = excluded.file_name, content_type = excluded.content_type, "
                         "content = excluded.content, created_at = excluded.created_at"));
    f->bind(1, run_id).bind(2, file.file_name).bind(3, file.content_type).bind(5, at);
    f->bindBlob(4, file.bytes);
    TD_CHECK(f->run());
    // The same columns as the respond domain's own insert (ResponseStore::insertFanouts): an
    // existing key (the slot mailed before a crash) adds nothing.
    TD_TRY(d, c.prepare("INSERT INTO deliveries (org_id, response_id, outbox_id, threat_id, kind, "
                         "recipient, idempotency_key, status, payload, attempts, max_attempts, "
                         "next_at, created_at) VALUES (?, NULL, NULL, NULL, ?, ?, ?, 0, ?, 0, ?, "
                         "?, ?) ON CONFLICT (idempotency_key) DO NOTHING"));
    TD_TRY(link, c.prepare("INSERT INTO report_run_deliveries (run_id, recipient, "
                            "idempotency_key, seq) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING"));
    std::int64_t seq = 0;
    for (const auto& del : deliveries) {
      d->reset();
      d->bind(1, del.org_id).bind(2, del.kind).bind(3, del.recipient);
      d->bind(4, del.idempotency_key).bind(5, del.payload_json);
      d->bind(6, std::max(1, del.max_attempts)).bind(7, del.next_at).bind(8, del.created_at);
      TD_CHECK(d->run());
      link->reset();
      link->bind(1, run_id).bind(2, del.recipient).bind(3, del.idempotency_key);
      link->bind(4, seq++);
      TD_CHECK(link->run());
    }
    return tx.commit();
  });
}

core::Result<ReportRun> SqliteReportStore::getRun(std::int64_t run_id) {
  ReportRun out;
  TD_CHECK(store_.withReader([&](Connection& c) -> core::Status {
    TD_TRY(st, c.prepare(std::string(kRunColumns) + "WHERE id = ?"));
    st->bind(1, run_id);
    TD_TRY(row, st->step());
    if (!row) return fail(ErrorCode::kNotFound, "no report run " + std::to_string(run_id), "run");
    out = runFromRow(*st);
    st->reset();
    return readRunDeliveries(c, out);
  }));
  return out;
}

core::Result<ReportRunFile> SqliteReportStore::runFile(std::int64_t run_id) {
  ReportRunFile out;
  TD_CHECK(store_.withReader([&](Connection& c) -> core::Status {
    TD_TRY(st, c.prepare("SELECT file_name, content_type, content, created_at FROM "
                          "report_run_files WHERE run_id = ?"));
    st->bind(1, run_id);
    TD_TRY(row, st->step());
    if (!row)
      return fail(ErrorCode::kNotFound,
                  "report run " + std::to_string(run_id) + " kept no file (or it was pruned)",
                  "run");
    out.run_id = run_id;
    out.file_name = st->text(0);
    out.content_type = st->text(1);
    out.bytes = st->blob(2);
    out.created_at = st->i64(3);
    st->reset();
    return {};
  }));
  return out;
}

core::Result<std::vector<ReportRun>> SqliteReportStore::staleRuns(TimeMs started_before) {
  std::vector<ReportRun> out;
  TD_CHECK(store_.withReader([&](Connection& c) -> core::Status {
    TD_TRY(st, c.prepare(std::string(kRunColumns) +
                          "WHERE status = 'running' AND schedule_id IS NOT NULL AND started_at "
                          "< ? ORDER BY started_at, id LIMIT 100"));
    st->bind(1, started_before);
    while (true) {
      TD_TRY(row, st->step());
      if (!row) break;
      out.push_back(runFromRow(*st));
    }
    return {};
  }));
  return out;
}

core::Result<bool> SqliteReportStore::reclaimRun(std::int64_t run_id, TimeMs started_at,
                                                 TimeMs now) {
  bool claimed = false;
  TD_CHECK(store_.withWriter([&](Connection& c) -> core::Status {
    TD_TRY(st, c.prepare("UPDATE report_runs SET started_at = ? WHERE id = ? AND status = "
                          "'running' AND started_at = ?"));
    st->bind(1, now).bind(2, run_id).bind(3, started_at);
    TD_CHECK(st->run());
    claimed = c.changes() == 1;
    return {};
  }));
  return claimed;
}

core::Result<std::int64_t> SqliteReportStore::pruneRunFiles(TimeMs before) {
  std::int64_t deleted = 0;
  TD_CHECK(store_.withWriter([&](Connection& c) -> core::Status {
    // Kept while any of the run's e-mails is pending (0) or failed (2, may be replayed).
    TD_TRY(st, c.prepare("DELETE FROM report_run_files WHERE created_at < ? AND run_id NOT IN "
                          "(SELECT l.run_id FROM report_run_deliveries l JOIN deliveries d ON "
                          "d.idempotency_key = l.idempotency_key WHERE d.status IN (0, 2))"));
    st->bind(1, before);
    TD_CHECK(st->run());
    deleted = c.changes();
    return {};
  }));
  return deleted;
}

// --- aggregates -----------------------------------------------------------------------------

core::Status SqliteReportStore::scanThreats(const ThreatFilter& filter,
                                            const std::function<void(const IndexRow&)>& row) {
  return store_.scanIndex(filter, row);
}

core::Result<std::vector<ThreatTime>> SqliteReportStore::closedSince(TimeMs since) {
  std::vector<ThreatTime> out;
  TD_CHECK(store_.withReader([&](Connection& c) -> core::Status {
    TD_TRY(st, c.prepare("SELECT id, closed_at FROM threats WHERE closed_at >= ?"));
    st->bind(1, since);
    TD_TRY(rows, readTimes(*st));
    out = std::move(rows);
    return {};
  }));
  return out;
}

core::Result<std::vector<ThreatTime>> SqliteReportStore::firstAcknowledgements(TimeMs since) {
  std::vector<ThreatTime> out;
  TD_CHECK(store_.withReader([&](Connection& c) -> core::Status {
    TD_TRY(st, c.prepare("SELECT threat_id, min(at) FROM timeline WHERE at >= ? AND actor <> "
                          "'system' AND action IN ('assigned_owner', 'state', 'closed') GROUP BY "
                          "threat_id"));
    st->bind(1, since);
    TD_TRY(rows, readTimes(*st));
    out = std::move(rows);
    return {};
  }));
  return out;
}

}  // namespace td::store::sqlite
