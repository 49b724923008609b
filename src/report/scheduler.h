// Scheduled reports: a schedule names a report, a cron expression read in a time zone, a format
// and recipients. The scheduler claims each due slot exactly once (ReportStore::claimSlot moves
// next_run_at atomically, so two nodes never run the same slot), renders the report's current
// version, hands it to a ReportDelivery and records the run. Slots missed while the server was
// down are run once on start, not once per missed slot: the next slot is computed from now.
//
// E-mail (SchedulerOptions::mail): the run keeps its rendered file and, in the same transaction
// as it finishes, inserts one delivery of kind "report" per recipient into the store, which the
// responses module's dispatcher sends (PDF attached) with the guarantees of every delivery: a key
// per slot and recipient, at least once, tries with backoff, each try recorded. A run cut off by
// a crash before that hand-off is run again once its lease (run_lease_ms) has passed.
//
// Thread safety: start()/stop() from one controlling thread; runDueOnce() from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/error.h"
#include "report/render.h"
#include "store/store.h"

namespace td::report {

// What a run hands to delivery: the file and a short plain-text summary for the message body.
struct RenderedReport {
  std::string title;
  std::string file_name;  // "weekly-soc-summary-2026-11-23.pdf"
  std::string content_type;
  std::string bytes;
  std::string summary;  // period and KPI figures, one per line
  std::string period;   // the range label
  std::vector<std::pair<std::string, std::string>> figures;  // KPI title, value (and change)
};

// The e-mail of a run: subject, text and HTML bodies (title, period, KPI figures, a link to the
// report when `public_url` is set, the attachment's name).
struct ReportMail {
  std::string subject;
  std::string text;
  std::string html;
};
// The link is `<public_url>/reports/<id>?project=<project>`, the UI's page of the report.
ReportMail composeReportMail(const RenderedReport& report, store::ReportId report_id,
                             const std::string& project, const std::string& public_url);

// A synchronous way out for a rendered report, used instead of the store's deliveries when given
// (tests, embedders). `serve` passes none and sets SchedulerOptions::mail. `key` is the same for
// every attempt of one slot, so a receiver can drop repeats.
class ReportDelivery {
 public:
  virtual ~ReportDelivery() = default;
  virtual core::Status deliver(const store::ReportSchedule& schedule, const RenderedReport& report,
                               const std::string& key) = 0;
};

// Checks a schedule's cron expression, time zone, format and recipients (addresses and users: at
// least one in all), and sets next_run_at (none while disabled). Errors name the field ("cron",
// "time_zone", "recipients[1]").
core::Result<store::ReportSchedule> prepareSchedule(store::ReportSchedule schedule, TimeMs now);

// The users a schedule mails, given as e-mail addresses or ids: each must be a user of the
// organisation `org` or of one above it (a service provider's); errors name "users[i]";
// duplicates are dropped.
core::Result<std::vector<core::UserId>> resolveScheduleUsers(store::Store& store, core::OrgId org,
                                                             const std::vector<std::string>& users);

// Where a run's e-mails go now: the schedule's addresses and the current addresses of its users
// that are still enabled, each once (case-insensitive).
core::Result<std::vector<std::string>> scheduleRecipients(store::Store& store,
                                                          const store::ReportSchedule& schedule);

// Renders a stored report as delivery wants it.
core::Result<RenderedReport> renderForDelivery(store::Store& store,
                                               const store::ReportDefinition& report,
                                               Format format, TimeMs now);

// Period and KPI figures as text lines.
std::string summaryText(const ReportData& data);

struct SchedulerOptions {
  std::function<TimeMs()> clock;  // default: the wall clock
  TimeMs poll_ms = 30 * core::kSecondMs;
  // With no ReportDelivery: true queues each run's e-mails as deliveries for the responses
  // module's dispatcher (threatdesk serve); false records runs as failed, saying that no delivery
  // is configured.
  bool mail = false;
  std::string public_url;  // base of the report's link in the e-mail body
  int max_attempts = 13;   // tries of each e-mail (backoff doubles from 1 s: about an hour)
  TimeMs run_lease_ms = 10 * core::kMinuteMs;       // a run still "running" after this is redone
  TimeMs file_retention_ms = 30 * core::kDayMs;     // files of runs whose e-mails all finished
  TimeMs prune_every_ms = 10 * core::kMinuteMs;
};

class ReportScheduler {
 public:
  // `delivery` may be null: runs then render and are recorded as failed with a message saying
  // that no delivery is configured. Both must outlive the scheduler.
  ReportScheduler(store::Store& store, ReportDelivery* delivery, SchedulerOptions options = {});
  ~ReportScheduler();
  ReportScheduler(const ReportScheduler&) = delete;
  ReportScheduler& operator=(const ReportScheduler&) = delete;

  // Runs every due slot now; returns how many runs this call made.
  core::Result<int> runDueOnce();
  void start();
  void stop();

 private:
  core::Status runOne(const store::ReportSchedule& schedule, TimeMs slot, TimeMs now);
  // Renders and hands over a started run.
  core::Status execute(const store::ReportSchedule& schedule, const store::ReportRun& run,
                       TimeMs at);
  core::Status queueMail(const store::ReportSchedule& schedule,
                         const store::ReportDefinition& report, const store::ReportRun& run,
                         const RenderedReport& rendered);
  // Runs cut off by a crash before their hand-off, redone once their lease has passed.
  int recoverStaleRuns(TimeMs at);
  TimeMs now() const;

  store::Store& store_;
  ReportDelivery* delivery_;
  SchedulerOptions options_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
  std::atomic<TimeMs> last_prune_{0};
};

}  // namespace td::report
