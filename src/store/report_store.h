// The report domain's storage: versioned report definitions, their schedules and runs, and the
// aggregates behind report widgets that the threat read model cannot answer alone (when threats
// were closed, when they were first acknowledged, from the timeline of transitions).
//
// Counting and grouping threats goes through scanThreats(), which applies the overview's filter
// machinery (the in-memory ThreatIndex) and hands every matching row to the caller, so reports
// share the one filter engine with the list, the overview and export.
//
// Thread safety: every method may be called from any thread at any time.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "store/query.h"
#include "store/response_store.h"
#include "store/threat_index.h"
#include "store/types.h"

namespace td::store {

using ReportId = std::int64_t;
using ReportScheduleId = std::int64_t;

// A stored report: its newest version. Names are unique per project (case-insensitive).
struct ReportDefinition {
  ReportId id = 0;
  ProjectId project_id = 0;
  std::string name;
  int version = 1;         // grows by one with every change of the spec
  std::string spec_json;   // the report document (validated by td::report before it is stored)
  std::string created_by;  // actor names
  std::string updated_by;
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
};

// One version of a report's document, kept for history and for runs that name it.
struct ReportVersion {
  ReportId report_id = 0;
  int version = 0;
  std::string spec_json;
  std::string author;
  TimeMs created_at = 0;
};

struct ReportSchedule {
  ReportScheduleId id = 0;
  ReportId report_id = 0;
  std::string cron;                     // five-field cron expression (report/cron.h)
  std::string time_zone = "UTC";        // IANA name the expression is read in
  std::vector<std::string> recipients;  // e-mail addresses
  std::vector<UserId> users;  // users of the report's organisation, mailed at their current address
  std::string format = "pdf";
  bool enabled = true;
  std::optional<TimeMs> next_run_at;  // the next slot; none while disabled
  std::optional<TimeMs> last_run_at;
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
};

// One recipient's e-mail of a run: a row of the respond domain's deliveries table, sent by the
// dispatcher's workers (kind "report"), found by its idempotency key.
struct ReportRunDelivery {
  std::string recipient;
  std::string idempotency_key;
  std::optional<std::int64_t> delivery_id;  // none: pruned (finished more than 30 days ago)
  std::string status;  // pending, delivered, failed, skipped, cancelled; "pruned" when gone
  int attempts = 0;
  std::optional<int> last_status;  // SMTP reply code of the last try
  std::string last_error;
  std::optional<TimeMs> finished_at;
};

struct ReportRun {
  std::int64_t id = 0;
  std::optional<ReportScheduleId> schedule_id;  // none: rendered on demand
  ReportId report_id = 0;
  int report_version = 0;
  TimeMs scheduled_for = 0;  // the slot it ran for
  TimeMs started_at = 0;
  std::optional<TimeMs> finished_at;
  std::string status;   // running, ok, failed
  std::string message;  // the error, or what was delivered to whom
  std::int64_t bytes = 0;
  // Filled by listRuns / getRun: the run's e-mail deliveries and their state now.
  std::vector<ReportRunDelivery> deliveries;
  bool has_file = false;  // the rendered file is kept with the run
};

// The file a scheduled run rendered, kept with the run: the dispatcher attaches it to each
// recipient's e-mail (every try sends the same bytes), and the API serves it for download.
struct ReportRunFile {
  std::int64_t run_id = 0;
  std::string file_name;
  std::string content_type;
  std::string bytes;
  TimeMs created_at = 0;
};

// When something happened to a threat (closed_at, first acknowledgement).
struct ThreatTime {
  ThreatId threat_id = 0;
  TimeMs at = 0;
};

class ReportStore {
 public:
  ReportStore() = default;
  ReportStore(const ReportStore&) = delete;
  ReportStore& operator=(const ReportStore&) = delete;
  virtual ~ReportStore() = default;

  // --- definitions -------------------------------------------------------------------------
  // kConflict when the project already has a report of that name.
  virtual core::Result<ReportDefinition> createReport(ProjectId project, const std::string& name,
                                                      const std::string& spec_json,
                                                      const std::string& author) = 0;
  virtual core::Result<ReportDefinition> getReport(ReportId id) = 0;
  virtual core::Result<ReportDefinition> findReport(ProjectId project, const std::string& name) = 0;
  // Every report, or those of one project, by name.
  virtual core::Result<std::vector<ReportDefinition>> listReports(
      std::optional<ProjectId> project) = 0;
  // Stores a new version (and the new name when given). With `expected_version`, kConflict when
  // someone else saved in between.
  virtual core::Result<ReportDefinition> updateReport(ReportId id,
                                                      const std::optional<std::string>& name,
                                                      const std::string& spec_json,
                                                      const std::string& author,
                                                      std::optional<int> expected_version) = 0;
  virtual core::Result<std::vector<ReportVersion>> listVersions(ReportId id) = 0;
  virtual core::Result<ReportVersion> getVersion(ReportId id, int version) = 0;
  // Deletes the report, its versions and schedules; runs stay as history.
  virtual core::Status deleteReport(ReportId id) = 0;

  // --- schedules and runs ------------------------------------------------------------------
  virtual core::Result<ReportSchedule> createSchedule(const ReportSchedule& schedule) = 0;
  virtual core::Result<ReportSchedule> getSchedule(ReportScheduleId id) = 0;
  virtual core::Result<std::vector<ReportSchedule>> listSchedules(
      std::optional<ReportId> report) = 0;
  // Replaces every member but id, report_id and created_at.
  virtual core::Result<ReportSchedule> updateSchedule(const ReportSchedule& schedule) = 0;
  virtual core::Status deleteSchedule(ReportScheduleId id) = 0;
  // Enabled schedules whose next run is at or before `now`, oldest slot first.
  virtual core::Result<std::vector<ReportSchedule>> dueSchedules(TimeMs now) = 0;
  // Claims the slot `slot` of a schedule by moving next_run_at from `slot` to `next` (and
  // last_run_at to `now`). False when another node (or an earlier call) already moved it: a slot
  // is claimed exactly once.
  virtual core::Result<bool> claimSlot(ReportScheduleId id, TimeMs slot, std::optional<TimeMs> next,
                                       TimeMs now) = 0;
  virtual core::Result<ReportRun> startRun(const ReportRun& run) = 0;
  virtual core::Status finishRun(std::int64_t run_id, TimeMs at, const std::string& status,
                                 const std::string& message, std::int64_t bytes) = 0;
  // The hand-off of a rendered run to e-mail, in one transaction: keeps the file with the run,
  // inserts its deliveries (kind "report"; a key that exists already adds nothing, so a run done
  // again after a crash never mails twice), links them to the run and finishes it as ok.
  virtual core::Status completeRun(std::int64_t run_id, TimeMs at, const std::string& message,
                                   const ReportRunFile& file,
                                   const std::vector<Delivery>& deliveries) = 0;
  virtual core::Result<ReportRun> getRun(std::int64_t run_id) = 0;
  // kNotFound when the run kept no file (or it was pruned).
  virtual core::Result<ReportRunFile> runFile(std::int64_t run_id) = 0;
  // Scheduled runs still "running" that started before `started_before`: cut off by a crash
  // between claiming their slot and the hand-off. Oldest first.
  virtual core::Result<std::vector<ReportRun>> staleRuns(TimeMs started_before) = 0;
  // Takes such a run over by moving its started_at from `started_at` to `now`; false when
  // another node took it (or it finished) in between.
  virtual core::Result<bool> reclaimRun(std::int64_t run_id, TimeMs started_at, TimeMs now) = 0;
  // Deletes the files of runs created before `before` whose deliveries are all finished
  // (delivered, skipped, cancelled; a failed one may still be replayed). Returns how many.
  virtual core::Result<std::int64_t> pruneRunFiles(TimeMs before) = 0;
  // Newest first; of one schedule, or of a report (all its schedules and on-demand runs).
  virtual core::Result<std::vector<ReportRun>> listRuns(std::optional<ReportScheduleId> schedule,
                                                        std::optional<ReportId> report,
                                                        int limit) = 0;

  // --- aggregates --------------------------------------------------------------------------
  // Every threat passing `filter` (the overview's filter, names resolved the same way), handed
  // to `row` under the read model's reader lock: `row` must be quick and must not call the store.
  virtual core::Status scanThreats(const ThreatFilter& filter,
                                   const std::function<void(const IndexRow&)>& row) = 0;
  // Threats whose closed_at is at or after `since` (any project; callers join with a scan).
  virtual core::Result<std::vector<ThreatTime>> closedSince(TimeMs since) = 0;
  // For every threat with an acknowledgement at or after `since`: the first one, i.e. the first
  // timeline entry by a person (actor not "system") that assigned an owner, changed the state
  // or closed it. For threats created at or after `since` that is their first acknowledgement.
  virtual core::Result<std::vector<ThreatTime>> firstAcknowledgements(TimeMs since) = 0;
};

}  // namespace td::store
