// The SQLite backend of the ReportStore, on the connections of a SqliteStore (its writer under the
// write lock, its reader pool) and its read model. Thread safety: as for ReportStore.
#pragma once

#include "store/report_store.h"

namespace td::store::sqlite {

class SqliteStore;

class SqliteReportStore final : public ReportStore {
 public:
  explicit SqliteReportStore(SqliteStore& store) : store_(store) {}

  core::Result<ReportDefinition> createReport(ProjectId project, const std::string& name,
                                              const std::string& spec_json,
                                              const std::string& author) override;
  core::Result<ReportDefinition> getReport(ReportId id) override;
  core::Result<ReportDefinition> findReport(ProjectId project, const std::string& name) override;
  core::Result<std::vector<ReportDefinition>> listReports(
      std::optional<ProjectId> project) override;
  core::Result<ReportDefinition> updateReport(ReportId id, const std::optional<std::string>& name,
                                              const std::string& spec_json,
                                              const std::string& author,
                                              std::optional<int> expected_version) override;
  core::Result<std::vector<ReportVersion>> listVersions(ReportId id) override;
  core::Result<ReportVersion> getVersion(ReportId id, int version) override;
  core::Status deleteReport(ReportId id) override;

  core::Result<ReportSchedule> createSchedule(const ReportSchedule& schedule) override;
  core::Result<ReportSchedule> getSchedule(ReportScheduleId id) override;
  core::Result<std::vector<ReportSchedule>> listSchedules(std::optional<ReportId> report) override;
  core::Result<ReportSchedule> updateSchedule(const ReportSchedule& schedule) override;
  core::Status deleteSchedule(ReportScheduleId id) override;
  core::Result<std::vector<ReportSchedule>> dueSchedules(TimeMs now) override;
  core::Result<bool> claimSlot(ReportScheduleId id, TimeMs slot, std::optional<TimeMs> next,
                               TimeMs now) override;
  core::Result<ReportRun> startRun(const ReportRun& run) override;
  core::Status finishRun(std::int64_t run_id, TimeMs at, const std::string& status,
                         const std::string& message, std::int64_t bytes) override;
  core::Result<std::vector<ReportRun>> listRuns(std::optional<ReportScheduleId> schedule,
                                                std::optional<ReportId> report,
                                                int limit) override;
  core::Status completeRun(std::int64_t run_id, TimeMs at, const std::string& message,
                           const ReportRunFile& file,
                           const std::vector<Delivery>& deliveries) override;
  core::Result<ReportRun> getRun(std::int64_t run_id) override;
  core::Result<ReportRunFile> runFile(std::int64_t run_id) override;
  core::Result<std::vector<ReportRun>> staleRuns(TimeMs started_before) override;
  core::Result<bool> reclaimRun(std::int64_t run_id, TimeMs started_at, TimeMs now) override;
  core::Result<std::int64_t> pruneRunFiles(TimeMs before) override;

  core::Status scanThreats(const ThreatFilter& filter,
                           const std::function<void(const IndexRow&)>& row) override;
  core::Result<std::vector<ThreatTime>> closedSince(TimeMs since) override;
  core::Result<std::vector<ThreatTime>> firstAcknowledgements(TimeMs since) override;

 private:
  SqliteStore& store_;
};

}  // namespace td::store::sqlite
