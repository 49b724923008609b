#include "report/scheduler.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

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

std::string htmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
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
  if (s.recipients.empty() && s.users.empty())
    return fail(ErrorCode::kUnprocessable,
                "a schedule needs at least one recipient (an address or a user)", "recipients");
  if (s.recipients.size() + s.users.size() > 50)
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

core::Result<std::vector<core::UserId>> resolveScheduleUsers(store::Store& store, core::OrgId org,
                                                             const std::vector<std::string>& users) {
  // The organisation and the ones above it (a service provider's people may get its customers'
  // reports).
  std::vector<core::OrgId> orgs{org};
  for (int depth = 0; depth < 16; ++depth) {
    auto o = store.getOrg(orgs.back());
    if (!o || !o->parent_id) break;
    orgs.push_back(*o->parent_id);
  }
  std::vector<core::UserId> out;
  for (size_t i = 0; i < users.size(); ++i) {
    const std::string field = "users[" + std::to_string(i) + "]";
    const std::string& u = users[i];
    const bool id = !u.empty() && u.size() < 19 && u.find_first_not_of("0123456789") == std::string::npos;
    auto user = id ? store.getUser(std::stoll(u)) : store.findUserByEmail(u);
    if (!user) {
      if (user.error().code != ErrorCode::kNotFound) return fail(user.error());
      return fail(ErrorCode::kUnprocessable, "no user '" + u.substr(0, 100) + "'", field);
    }
    // Users of other organisations look the same as unknown ones (nothing leaks).
    if (std::find(orgs.begin(), orgs.end(), user->org_id) == orgs.end())
      return fail(ErrorCode::kUnprocessable, "no user '" + u.substr(0, 100) + "'", field);
    if (std::find(out.begin(), out.end(), user->id) == out.end()) out.push_back(user->id);
  }
  return out;
}

core::Result<std::vector<std::string>> scheduleRecipients(store::Store& store,
                                                          const store::ReportSchedule& s) {
  std::vector<std::string> out;
  auto add = [&](const std::string& address) {
    for (const auto& a : out)
      if (core::toLower(a) == core::toLower(address)) return;
    out.push_back(address);
  };
  for (const auto& a : s.recipients) add(a);
  for (const auto id : s.users) {
    auto user = store.getUser(id);
    if (!user) {
      if (user.error().code == ErrorCode::kNotFound) continue;  // deleted since
      return fail(user.error());
    }
    if (!user->disabled && plausibleEmail(user->email)) add(user->email);
  }
  return out;
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
  out.period = data->range_label;
  for (const auto& wd : data->widgets) {
    if (wd.widget.type != WidgetType::kKpi) continue;
    std::string value = kpiValueText(wd.kpi);
    const std::string change = kpiChangeText(wd.kpi);
    if (!change.empty()) value += " (" + change + ")";
    out.figures.emplace_back(wd.title, std::move(value));
  }
  return out;
}

ReportMail composeReportMail(const RenderedReport& r, store::ReportId report_id,
                             const std::string& project, const std::string& public_url) {
  std::string link;
  if (!public_url.empty()) {
    link = public_url;
    while (!link.empty() && link.back() == '/') link.pop_back();
    link += "/reports/" + std::to_string(report_id);
    if (!project.empty()) link += "?project=" + core::percentEncode(project);
  }
  ReportMail m;
  m.subject = "[ThreatDesk] " + r.title + " (" + r.period + ")";
  m.text = r.title + "\nPeriod: " + r.period + "\n\n";
  for (const auto& [title, value] : r.figures) m.text += title + ": " + value + "\n";
  if (!r.figures.empty()) m.text += "\n";
  m.text += "The full report is attached (" + r.file_name + ").\n";
  if (!link.empty()) m.text += "Open it in ThreatDesk: " + link + "\n";
  m.html = "<h2>" + htmlEscape(r.title) + "</h2><p>Period: " + htmlEscape(r.period) + "</p>";
  if (!r.figures.empty()) {
    m.html += "<table cellpadding=\"4\" style=\"border-collapse:collapse\">";
    for (const auto& [title, value] : r.figures)
      m.html += "<tr><td>" + htmlEscape(title) + "</td><td><b>" + htmlEscape(value) + "</b></td></tr>";
    m.html += "</table>";
  }
  m.html += "<p>The full report is attached (" + htmlEscape(r.file_name) + ").</p>";
  if (!link.empty())
    m.html += "<p><a href=\"" + htmlEscape(link) + "\">Open it in ThreatDesk</a></p>";
  return m;
}

ReportScheduler::ReportScheduler(store::Store& store, ReportDelivery* delivery,
                                 SchedulerOptions options)
    : store_(store), delivery_(delivery), options_(std::move(options)) {}

ReportScheduler::~ReportScheduler() { stop(); }

TimeMs ReportScheduler::now() const { return options_.clock ? options_.clock() : core::nowMs(); }

core::Result<int> ReportScheduler::runDueOnce() {
  const TimeMs at = now();
  int runs = 0;
  if (delivery_ || options_.mail) runs += recoverStaleRuns(at);
  if (options_.mail && at - last_prune_.load() >= options_.prune_every_ms) {
    last_prune_ = at;
    auto pruned = store_.reports().pruneRunFiles(at - options_.file_retention_ms);
    if (!pruned)
      spdlog::warn("report scheduler: pruning run files failed: {}", pruned.error().message);
  }
  auto due = store_.reports().dueSchedules(at);
  if (!due) return fail(due.error());
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

int ReportScheduler::recoverStaleRuns(TimeMs at) {
  auto stale = store_.reports().staleRuns(at - options_.run_lease_ms);
  if (!stale) {
    spdlog::warn("report scheduler: looking for cut-off runs failed: {}", stale.error().message);
    return 0;
  }
  int redone = 0;
  for (auto run : *stale) {
    auto claimed = store_.reports().reclaimRun(run.id, run.started_at, at);
    if (!claimed || !*claimed) continue;  // another node has it, or it finished
    run.started_at = at;
    spdlog::info("report run {} was cut off before its hand-off; running it again", run.id);
    auto s = store_.reports().getSchedule(*run.schedule_id);
    core::Status st;
    if (!s)
      st = store_.reports().finishRun(run.id, now(), "failed",
                                      "cut off, and its schedule is gone: " + s.error().message, 0);
    else
      st = execute(*s, run, at);
    if (!st) spdlog::warn("report run {}: {}", run.id, st.error().message);
    ++redone;
  }
  return redone;
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
  return execute(s, *started, at);
}

core::Status ReportScheduler::execute(const store::ReportSchedule& s, const store::ReportRun& run,
                                      TimeMs at) {
  auto finish = [&](const std::string& status, const std::string& message, std::int64_t bytes) {
    return store_.reports().finishRun(run.id, now(), status, message, bytes);
  };
  auto report = store_.reports().getReport(s.report_id);
  if (!report) return finish("failed", report.error().message, 0);
  auto format = parseFormat(s.format);
  if (!format) return finish("failed", format.error().message, 0);
  auto rendered = renderForDelivery(store_, *report, *format, at);
  if (!rendered) return finish("failed", rendered.error().message, 0);
  const auto size = static_cast<std::int64_t>(rendered->bytes.size());
  if (delivery_) {
    const std::string key =
        "report-schedule-" + std::to_string(s.id) + "-" + std::to_string(run.scheduled_for);
    auto sent = delivery_->deliver(s, *rendered, key);
    if (!sent) return finish("failed", sent.error().message, size);
    std::string to;
    for (const auto& r : s.recipients) to += (to.empty() ? "" : ", ") + r;
    return finish("ok", "sent to " + to, size);
  }
  if (!options_.mail)
    return finish("failed", "rendered, but no delivery is configured (SMTP)", size);
  return queueMail(s, *report, run, *rendered);
}

core::Status ReportScheduler::queueMail(const store::ReportSchedule& s,
                                        const store::ReportDefinition& report,
                                        const store::ReportRun& run,
                                        const RenderedReport& rendered) {
  const auto size = static_cast<std::int64_t>(rendered.bytes.size());
  auto failed = [&](const std::string& message) {
    return store_.reports().finishRun(run.id, now(), "failed", message, size);
  };
  auto to = scheduleRecipients(store_, s);
  if (!to) return failed(to.error().message);
  if (to->empty())
    return failed("no recipients: the schedule's users are disabled or gone, and it has no "
                  "addresses");
  auto project = store_.getProject(report.project_id);
  if (!project) return failed(project.error().message);
  const ReportMail mail = composeReportMail(rendered, report.id, project->name, options_.public_url);
  // One key per slot and recipient, the same when the run is redone after a crash; the
  // schedule's creation time keeps keys of a re-created database apart at a receiver.
  const std::string key_base = "td-report-s" + std::to_string(s.id) + "." +
                               std::to_string(s.created_at % 1000000000) + "-" +
                               std::to_string(run.scheduled_for);
  const TimeMs t = now();
  std::vector<store::Delivery> deliveries;
  std::string list;
  for (const auto& address : *to) {
    store::Delivery d;
    d.org_id = project->org_id;
    d.kind = "report";
    d.recipient = address;
    d.idempotency_key = key_base + "-" + core::toLower(address);
    d.payload_json = nlohmann::json{{"to", nlohmann::json::array({address})},
                                    {"subject", mail.subject},
                                    {"text", mail.text},
                                    {"html", mail.html},
                                    {"run_id", run.id},
                                    {"report_id", report.id},
                                    {"schedule_id", s.id}}
                         .dump();
    d.max_attempts = options_.max_attempts;
    d.next_at = t;
    d.created_at = t;
    deliveries.push_back(std::move(d));
    list += (list.empty() ? "" : ", ") + address;
  }
  store::ReportRunFile file;
  file.run_id = run.id;
  file.file_name = rendered.file_name;
  file.content_type = rendered.content_type;
  file.bytes = rendered.bytes;
  return store_.reports().completeRun(run.id, t, "e-mail queued for " + list, file, deliveries);
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
