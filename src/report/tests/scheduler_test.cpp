// Schedules: validation with field paths, a slot runs exactly once (also with two schedulers on
// one store), slots missed while down run once on start, runs and their results are recorded.
#include "report/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "report/templates.h"
#include "report/tests/seed.h"

namespace td::report {
namespace {

using testing::Seed;

// Collects what would be sent (the SMTP delivery itself is the responses module's).
class CollectingDelivery : public ReportDelivery {
 public:
  core::Status deliver(const store::ReportSchedule& schedule, const RenderedReport& report,
                       const std::string& key) override {
    std::lock_guard lock(mu);
    sent.push_back({report, key});
    return {};
  }
  std::mutex mu;
  std::vector<std::pair<RenderedReport, std::string>> sent;
};

TEST(ScheduleTest, PrepareChecksEveryField) {
  store::ReportSchedule s;
  s.cron = "0 8 * * MON";
  s.time_zone = "Europe/Berlin";
  s.recipients = {"soc@example.com"};
  const TimeMs now = *core::parseRfc3339("2026-11-23T10:00:00Z");  // Monday 11:00 CET
  auto ok = prepareSchedule(s, now);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(core::formatRfc3339(*ok->next_run_at), "2026-11-30T07:00:00Z");
  auto bad = s;
  bad.cron = "0 25 * * *";
  EXPECT_EQ(prepareSchedule(bad, now).error().field, "cron");
  bad = s;
  bad.time_zone = "Europe/Atlantis";
  EXPECT_EQ(prepareSchedule(bad, now).error().field, "time_zone");
  bad = s;
  bad.recipients = {"soc@example.com", "bob"};
  EXPECT_EQ(prepareSchedule(bad, now).error().field, "recipients[1]");
  bad = s;
  bad.format = "html";
  EXPECT_EQ(prepareSchedule(bad, now).error().field, "format");
  bad = s;
  bad.enabled = false;
  EXPECT_FALSE(prepareSchedule(bad, now)->next_run_at.has_value());
}

TEST(ReportMailTextTest, SummaryHasTheFiguresTheLinkAndEscapedHtml) {
  RenderedReport r;
  r.title = "Weekly <SOC> & co";
  r.period = "2026-11-16 00:00 - 2026-11-23 00:00 (Europe/Berlin)";
  r.file_name = "weekly-2026-11-23.pdf";
  r.figures = {{"Open threats", "3 (+1 vs previous)"}, {"MTTA", "1 h 30 min"}};
  auto m = composeReportMail(r, 7, "SOC & web", "https://td.example.com/");
  EXPECT_EQ(m.subject, "[ThreatDesk] Weekly <SOC> & co (" + r.period + ")");
  EXPECT_NE(m.text.find("Open threats: 3 (+1 vs previous)\nMTTA: 1 h 30 min\n"),
            std::string::npos)
      << m.text;
  EXPECT_NE(m.text.find("https://td.example.com/reports/7?project=SOC%20%26%20web\n"),
            std::string::npos)
      << m.text;
  EXPECT_NE(m.text.find("weekly-2026-11-23.pdf"), std::string::npos);
  EXPECT_NE(m.html.find("<h2>Weekly &lt;SOC&gt; &amp; co</h2>"), std::string::npos) << m.html;
  EXPECT_NE(m.html.find("href=\"https://td.example.com/reports/7?project=SOC%20%26%20web\""),
            std::string::npos)
      << m.html;
  // Without a public URL there is no link.
  EXPECT_EQ(composeReportMail(r, 7, "web", "").text.find("http"), std::string::npos);
}

TEST(ScheduleTest, UsersAloneAreEnoughRecipients) {
  store::ReportSchedule s;
  s.cron = "0 8 * * MON";
  s.users = {3};
  EXPECT_TRUE(prepareSchedule(s, 0));
  s.users.clear();
  EXPECT_EQ(prepareSchedule(s, 0).error().field, "recipients");
}

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(seed_.build());
    auto r = seed_.store->reports().createReport(
        seed_.project.id, "Weekly", findTemplate("weekly-soc-summary")->document, "alice");
    ASSERT_TRUE(r);
    report_ = *r;
    store::ReportSchedule s;
    s.report_id = report_.id;
    s.cron = "0 8 * * 1";
    s.time_zone = "Europe/Berlin";
    s.recipients = {"soc@example.com"};
    // Scheduled on Sunday 2026-11-22: the first slot is Monday 2026-11-23 07:00 UTC.
    s = *prepareSchedule(s, *core::parseRfc3339("2026-11-22T12:00:00Z"));
    schedule_ = *seed_.store->reports().createSchedule(s);
  }

  Seed seed_;
  store::ReportDefinition report_;
  store::ReportSchedule schedule_;
  std::atomic<TimeMs> now_{0};
  SchedulerOptions clock() {
    SchedulerOptions o;
    o.clock = [this] { return now_.load(); };
    return o;
  }
};

TEST_F(SchedulerTest, MissedSlotsRunOnceOnStart) {
  CollectingDelivery delivery;
  ReportScheduler scheduler(*seed_.store, &delivery, clock());
  now_ = *core::parseRfc3339("2026-11-23T06:59:00Z");
  EXPECT_EQ(*scheduler.runDueOnce(), 0);
  // Down for three weeks: three Monday slots passed; one run, then the next Monday.
  now_ = *core::parseRfc3339("2026-12-10T09:00:00Z");
  EXPECT_EQ(*scheduler.runDueOnce(), 1);
  EXPECT_EQ(*scheduler.runDueOnce(), 0);
  ASSERT_EQ(delivery.sent.size(), 1u);
  const auto& [report, key] = delivery.sent[0];
  EXPECT_EQ(report.bytes.rfind("%PDF-", 0), 0u);
  EXPECT_EQ(report.content_type, "application/pdf");
  EXPECT_EQ(report.file_name, "weekly-2026-12-10.pdf");
  EXPECT_NE(report.summary.find("Open threats: "), std::string::npos) << report.summary;
  EXPECT_EQ(key, "report-schedule-" + std::to_string(schedule_.id) + "-" +
                     std::to_string(*core::parseRfc3339("2026-11-23T07:00:00Z")));
  auto s = seed_.store->reports().getSchedule(schedule_.id);
  EXPECT_EQ(core::formatRfc3339(*s->next_run_at), "2026-12-14T07:00:00Z");
  auto runs = seed_.store->reports().listRuns(schedule_.id, std::nullopt, 10);
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].status, "ok");
  EXPECT_EQ((*runs)[0].message, "sent to soc@example.com");
  EXPECT_EQ((*runs)[0].report_version, 1);
  EXPECT_GT((*runs)[0].bytes, 1000);
}

TEST_F(SchedulerTest, TwoSchedulersNeverRunTheSameSlot) {
  CollectingDelivery delivery;
  ReportScheduler a(*seed_.store, &delivery, clock()), b(*seed_.store, &delivery, clock());
  now_ = *core::parseRfc3339("2026-11-23T07:00:00Z");
  int runs_a = 0, runs_b = 0;
  std::thread ta([&] { runs_a = *a.runDueOnce(); });
  std::thread tb([&] { runs_b = *b.runDueOnce(); });
  ta.join();
  tb.join();
  EXPECT_EQ(runs_a + runs_b, 1);
  EXPECT_EQ(delivery.sent.size(), 1u);
}

TEST_F(SchedulerTest, WithoutDeliveryRunsAreRecordedAsFailed) {
  ReportScheduler scheduler(*seed_.store, nullptr, clock());
  now_ = *core::parseRfc3339("2026-11-23T07:00:00Z");
  EXPECT_EQ(*scheduler.runDueOnce(), 1);
  auto runs = seed_.store->reports().listRuns(std::nullopt, report_.id, 10);
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].status, "failed");
  EXPECT_NE((*runs)[0].message.find("no delivery"), std::string::npos);
}

TEST_F(SchedulerTest, StartsAndStops) {
  CollectingDelivery delivery;
  SchedulerOptions o = clock();
  o.poll_ms = 10;
  now_ = *core::parseRfc3339("2026-11-23T07:00:00Z");
  ReportScheduler scheduler(*seed_.store, &delivery, o);
  scheduler.start();
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard lock(delivery.mu);
      if (!delivery.sent.empty()) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  scheduler.stop();
  EXPECT_EQ(delivery.sent.size(), 1u);
}

}  // namespace
}  // namespace td::report
