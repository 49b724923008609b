// Scheduled reports: a schedule names a report, a cron expression read in a time zone, a format
// and recipients. The scheduler claims each due slot exactly once (ReportStore::claimSlot moves
// next_run_at atomically, so two nodes never run the same slot), renders the report's current
// version, hands it to a ReportDelivery and records the run. Slots missed while the server was
// down are run once on start, not once per missed slot: the next slot is computed from now.
//
// Thread safety: start()/stop() from one controlling thread; runDueOnce() from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

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
};

// How a rendered report reaches its recipients (e-mail through the responses module's SMTP
// delivery when it is wired in; tests use their own). `key` is the same for every attempt of one
// slot, so a receiver can drop repeats.
class ReportDelivery {
 public:
  virtual ~ReportDelivery() = default;
  virtual core::Status deliver(const store::ReportSchedule& schedule, const RenderedReport& report,
                               const std::string& key) = 0;
};

// Checks a schedule's cron expression, time zone, format and recipients, and sets next_run_at
// (none while disabled). Errors name the field ("cron", "time_zone", "recipients[1]").
core::Result<store::ReportSchedule> prepareSchedule(store::ReportSchedule schedule, TimeMs now);

// Renders a stored report as delivery wants it.
core::Result<RenderedReport> renderForDelivery(store::Store& store,
                                               const store::ReportDefinition& report,
                                               Format format, TimeMs now);

// Period and KPI figures as text lines.
std::string summaryText(const ReportData& data);

struct SchedulerOptions {
  std::function<TimeMs()> clock;  // default: the wall clock
  TimeMs poll_ms = 30 * core::kSecondMs;
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
  TimeMs now() const;

  store::Store& store_;
  ReportDelivery* delivery_;
  SchedulerOptions options_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace td::report
