#include "report/scheduler.h"

#include <spdlog/spdlog.h>

#include "core/text.h"
#include "report/cron.h"
#include "report/spec.h"

namespace td::report {
namespace {

using core::ErrorCode;
using core::fail;

bool plausibleEmail(std::string_view s) {
  const auto at = s.find('@');
  return at != std::string_view::npos && at > 0 && at + 1 < s.size() && s.size() <= 254 &&
         s.find_first_of(" \t\r\n,;<>\"") == std::string_view::npos &&
         s.find('.', at) != std::string_view::npos;
}

std::string slug(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)))
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    else if (!out.empty() && out.back() != '-')
      out += '-';
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "report" : out.substr(0, 60);
}

}  // namespace

core::Result<store::ReportSchedule> prepareSchedule(store::ReportSchedule s, TimeMs now) {
  auto cron = parseCron(s.cron);
  if (!cron) return fail(cron.error());
  auto zone = loadTimeZone(s.time_zone);
  if (!zone) return fail(zone.error());
  auto format = parseFormat(s.format);
  if (!format) return fail(format.error());
  if (*format == Format::kHtml)
    return fail(ErrorCode::kUnprocessable, "a scheduled report is sent as pdf, png, svg or csv",
                "format");
  s.format = std::string(formatName(*format));
  if (s.recipients.empty())
    return fail(ErrorCode::kUnprocessable, "a schedule needs at least one recipient",
                "recipients");
  if (s.recipients.size() > 50)
    return fail(ErrorCode::kUnprocessable, "a schedule has at most 50 recipients", "recipients");
  for (size_t i = 0; i < s.recipients.size(); ++i)
    if (!plausibleEmail(s.recipients[i]))
      return fail(ErrorCode::kUnprocessable,
                  "'" + s.recipients[i].substr(0, 100) + "' is not an e-mail address",
                  "recipients[" + std::to_string(i) + "]");
  s.next_run_at.reset();
  if (s.enabled) {
    auto next = nextRun(*cron, **zone, now);
    if (!next)
      return fail(ErrorCode::kUnprocessable,
                  "cron expression '" + s.cron + "' never fires in the next five years", "cron");
    s.next_run_at = *next;
  }
  return s;
}

std::string summaryText(const ReportData& data) {
  std::string out = data.spec.title + "\nPeriod: " + data.range_label + "\n";
  for (const auto& wd : data.widgets) {
    if (wd.widget.type != WidgetType::kKpi) continue;
    out += wd.title + ": " + kpiValueText(wd.kpi);
    const std::string change = kpiChangeText(wd.kpi);
    if (!change.empty()) out += " (" + change + ")";
    out += "\n";
  }
  return out;
}

core::Result<RenderedReport> renderForDelivery(store::Store& store,
                                               const store::ReportDefinition& report,
                                               Format format, TimeMs now) {
  auto spec = parseSpec(report.spec_json);
  if (!spec) return fail(spec.error());
  QueryOptions q;
  q.project_id = report.project_id;
  q.now = now;
  auto data = runReport(store, *spec, q);
  if (!data) return fail(data.error());
  RenderOptions o;
  o.format = format;
  auto bytes = renderReport(*data, o);
  if (!bytes) return fail(bytes.error());
  auto zone = loadTimeZone(spec->time_zone);
  RenderedReport out;
  out.title = spec->title;
  out.file_name = slug(report.name) + "-" +
                  formatLocal(now, zone ? **zone : *TimeZone::utc(), false) + "." +
                  std::string(formatName(format));
  out.content_type = std::string(contentType(format));
  out.bytes = std::move(*bytes);
  out.summary = summaryText(*data);
  return out;
}

ReportScheduler::ReportScheduler(store::Store& store, ReportDelivery* delivery,
                                 SchedulerOptions options)
    : store_(store), delivery_(delivery), options_(std::move(options)) {}

ReportScheduler::~ReportScheduler() { stop(); }

TimeMs ReportScheduler::now() const { return options_.clock ? options_.clock() : core::nowMs(); }

core::Result<int> ReportScheduler::runDueOnce() {
  const TimeMs at = now();
  auto due = store_.reports().dueSchedules(at);
  if (!due) return fail(due.error());
  int runs = 0;
  for (const auto& s : *due) {
    const TimeMs slot = *s.next_run_at;
    // The next slot counts from now, so slots missed while down collapse into this one run.
    std::optional<TimeMs> next;
    auto cron = parseCron(s.cron);
    auto zone = loadTimeZone(s.time_zone);
    if (cron && zone) next = nextRun(*cron, **zone, at);
    auto claimed = store_.reports().claimSlot(s.id, slot, next, at);
    if (!claimed) return fail(claimed.error());
    if (!*claimed) continue;  // another node or call has it
    if (auto st = runOne(s, slot, at); !st)
      spdlog::warn("report schedule {}: {}", s.id, st.error().message);
    ++runs;
  }
  return runs;
}

core::Status ReportScheduler::runOne(const store::ReportSchedule& s, TimeMs slot, TimeMs at) {
  auto report = store_.reports().getReport(s.report_id);
  if (!report) return fail(report.error());
  store::ReportRun run;
  run.schedule_id = s.id;
  run.report_id = report->id;
  run.report_version = report->version;
  run.scheduled_for = slot;
  run.started_at = at;
  auto started = store_.reports().startRun(run);
  if (!started) return fail(started.error());
  auto finish = [&](const std::string& status, const std::string& message, std::int64_t bytes) {
    return store_.reports().finishRun(started->id, now(), status, message, bytes);
  };
  auto format = parseFormat(s.format);
  if (!format) return finish("failed", format.error().message, 0);
  auto rendered = renderForDelivery(store_, *report, *format, at);
  if (!rendered) return finish("failed", rendered.error().message, 0);
  const auto size = static_cast<std::int64_t>(rendered->bytes.size());
  if (!delivery_)
    return finish("failed", "rendered, but no delivery is configured (SMTP)", size);
  const std::string key =
      "report-schedule-" + std::to_string(s.id) + "-" + std::to_string(slot);
  auto sent = delivery_->deliver(s, *rendered, key);
  if (!sent) return finish("failed", sent.error().message, size);
  std::string to;
  for (const auto& r : s.recipients) to += (to.empty() ? "" : ", ") + r;
  return finish("ok", "sent to " + to, size);
}

void ReportScheduler::start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stopping_) {
      lock.unlock();
      if (auto r = runDueOnce(); !r) spdlog::warn("report scheduler: {}", r.error().message);
      lock.lock();
      wake_.wait_for(lock, std::chrono::milliseconds(options_.poll_ms),
                     [this] { return stopping_; });
    }
  });
}

void ReportScheduler::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace td::report
