// End to end: a scheduled run's e-mail reaches a real SMTP server (Debian's python3-aiosmtpd,
// started by the test on 127.0.0.1) through the responses module's dispatcher, with the PDF
// attached; the run lists its deliveries; a run redone after a crash mails nobody twice; without
// SMTP the deliveries fail, are listed as failed, and go out when replayed.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "report/scheduler.h"
#include "report/templates.h"
#include "report/tests/seed.h"
#include "respond/dispatcher.h"
#include "respond/tests/loopback.h"

namespace td::report {
namespace {

using respond::testing::ChildProcess;
using respond::testing::readMessages;
using respond::testing::scriptPath;
using testing::Seed;

constexpr const char* kPython = "/usr/bin/python3";

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The page count pdfinfo reports, or -1 without pdfinfo (poppler-utils).
int pdfPages(const std::string& path) {
  if (!std::filesystem::exists("/usr/bin/pdfinfo")) return -1;
  FILE* p = popen(("/usr/bin/pdfinfo '" + path + "' 2>/dev/null").c_str(), "r");
  if (!p) return -1;
  char line[512];
  int pages = 0;
  while (fgets(line, sizeof line, p))
    if (std::sscanf(line, "Pages: %d", &pages) == 1) break;
  pclose(p);
  return pages;
}

class ReportMailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NO_FATAL_FAILURE(seed_.build());
    auto r = seed_.store->reports().createReport(
        seed_.project.id, "Weekly", findTemplate("weekly-soc-summary")->document, "alice");
    ASSERT_TRUE(r);
    report_ = *r;
    store::User ana;
    ana.org_id = seed_.org.id;
    ana.email = "ana@example.com";
    ana.display_name = "Ana";
    ana.role = store::Role::kManager;
    ana_ = *seed_.store->createUser(ana);
    store::ReportSchedule s;
    s.report_id = report_.id;
    s.cron = "0 8 * * 1";
    s.time_zone = "Europe/Berlin";
    s.recipients = {"soc@example.com", "ANA@example.com"};  // Ana once, though named twice
    s.users = *resolveScheduleUsers(*seed_.store, seed_.org.id, {"ana@example.com"});
    // Scheduled on Sunday 2026-11-22: the first slot is Monday 2026-11-23 07:00 UTC.
    s = *prepareSchedule(s, *core::parseRfc3339("2026-11-22T12:00:00Z"));
    schedule_ = *seed_.store->reports().createSchedule(s);
    now_ = *core::parseRfc3339("2026-11-23T07:00:30Z");
  }

  void startSmtp() {
    mail_dir_ = seed_.dir.file("mail");
    std::filesystem::create_directories(mail_dir_);
    smtp_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{kPython, scriptPath("smtp_sink.py"), mail_dir_});
    ASSERT_GT(smtp_->port(), 0) << "the SMTP server (python3-aiosmtpd) did not start";
  }

  SchedulerOptions schedulerOptions() {
    SchedulerOptions o;
    o.clock = [this] { return now_.load(); };
    o.mail = true;
    o.public_url = "https://td.example.test/";
    return o;
  }
  respond::DispatcherOptions dispatcherOptions(bool smtp) {
    respond::DispatcherOptions o;
    if (smtp)
      o.smtp = *respond::parseSmtpUrl("smtp://127.0.0.1:" + std::to_string(smtp_->port()) +
                                      "?from=reports@td.example.test&tls=none");
    o.clock = [this] { return now_.load(); };
    o.seed = 1;
    return o;
  }
  std::vector<store::ReportRun> runs() {
    return *seed_.store->reports().listRuns(schedule_.id, std::nullopt, 10);
  }

  Seed seed_;
  store::ReportDefinition report_;
  store::User ana_;
  store::ReportSchedule schedule_;
  std::atomic<TimeMs> now_{0};
  std::string mail_dir_;
  std::unique_ptr<ChildProcess> smtp_;
};

TEST_F(ReportMailTest, AScheduledRunMailsThePdfToEveryRecipientOnce) {
  ASSERT_NO_FATAL_FAILURE(startSmtp());
  ReportScheduler scheduler(*seed_.store, nullptr, schedulerOptions());
  ASSERT_EQ(*scheduler.runDueOnce(), 1);
  auto queued = runs();
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(queued[0].status, "ok") << queued[0].message;
  EXPECT_EQ(queued[0].message, "e-mail queued for soc@example.com, ANA@example.com");
  EXPECT_TRUE(queued[0].has_file);
  ASSERT_EQ(queued[0].deliveries.size(), 2u);
  EXPECT_EQ(queued[0].deliveries[0].status, "pending");

  respond::Dispatcher dispatcher(*seed_.store, dispatcherOptions(true));
  ASSERT_TRUE(dispatcher.drain());
  auto mails = readMessages(mail_dir_);
  ASSERT_EQ(mails.size(), 2u);
  std::set<std::string> to;
  for (const auto& m : mails) {
    ASSERT_EQ(m["rcpt_tos"].size(), 1u);
    to.insert(m["rcpt_tos"][0].get<std::string>());
    EXPECT_EQ(m["mail_from"], "reports@td.example.test");
    const std::string subject = m["subject"];
    EXPECT_EQ(subject.rfind("[ThreatDesk] Weekly SOC summary (", 0), 0u) << subject;
    EXPECT_TRUE(m["multipart"].get<bool>());
    // The summary: the period, KPI figures, a link to the report and the attachment's name.
    const std::string text = m["text"];
    EXPECT_NE(text.find("Period: "), std::string::npos) << text;
    EXPECT_NE(text.find("Open threats: "), std::string::npos) << text;
    EXPECT_NE(text.find("https://td.example.test/reports/" + std::to_string(report_.id)),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("weekly-2026-11-23.pdf"), std::string::npos) << text;
    EXPECT_NE(m["html"].get<std::string>().find("<table"), std::string::npos);
    const std::string id = m["message_id"];
    EXPECT_EQ(id.rfind("<td-report-s" + std::to_string(schedule_.id) + ".", 0), 0u) << id;
    // The attachment: a PDF of the report, whole.
    ASSERT_EQ(m["attachments"].size(), 1u) << m["data"].get<std::string>().substr(0, 2000);
    const auto& a = m["attachments"][0];
    EXPECT_EQ(a["filename"], "weekly-2026-11-23.pdf");
    EXPECT_EQ(a["content_type"], "application/pdf");
    const std::string pdf = readFile(a["path"]);
    EXPECT_EQ(pdf.rfind("%PDF-", 0), 0u);
    EXPECT_EQ(static_cast<std::int64_t>(pdf.size()), queued[0].bytes);
    EXPECT_NE(pdf.find("%%EOF"), std::string::npos);
    const int pages = pdfPages(a["path"]);
    if (pages >= 0) EXPECT_GE(pages, 2) << "a title page and the dashboard";
  }
  EXPECT_EQ(to, (std::set<std::string>{"soc@example.com", "ANA@example.com"}));

  // The run lists its deliveries as delivered, each after one try.
  auto done = runs();
  ASSERT_EQ(done[0].deliveries.size(), 2u);
  for (const auto& d : done[0].deliveries) {
    EXPECT_EQ(d.status, "delivered") << d.recipient << ": " << d.last_error;
    EXPECT_EQ(d.attempts, 1);
    EXPECT_EQ(d.last_status, 250);
  }
  // Each try is recorded with what was sent, the attachment included.
  auto tries = seed_.store->responses().listAttempts(*done[0].deliveries[0].delivery_id);
  ASSERT_TRUE(tries) << tries.error().message;
  ASSERT_EQ(tries->size(), 1u);
  EXPECT_NE((*tries)[0].request.find("Attachment: weekly-2026-11-23.pdf (application/pdf, "),
            std::string::npos)
      << (*tries)[0].request;

  // A run of the same slot cut off before its hand-off (a crash) is redone after its lease and
  // mails nobody twice: the slot's keys exist.
  store::ReportRun cut;
  cut.schedule_id = schedule_.id;
  cut.report_id = report_.id;
  cut.report_version = 1;
  cut.scheduled_for = *core::parseRfc3339("2026-11-23T07:00:00Z");
  cut.started_at = now_;
  auto started = seed_.store->reports().startRun(cut);
  ASSERT_TRUE(started);
  EXPECT_EQ(*scheduler.runDueOnce(), 0);  // within its lease
  now_ = now_ + 11 * core::kMinuteMs;
  EXPECT_EQ(*scheduler.runDueOnce(), 1);
  EXPECT_EQ(*scheduler.runDueOnce(), 0);
  ASSERT_TRUE(dispatcher.drain());
  EXPECT_EQ(readMessages(mail_dir_).size(), 2u);
  auto redone = *seed_.store->reports().getRun(started->id);
  EXPECT_EQ(redone.status, "ok");
  ASSERT_EQ(redone.deliveries.size(), 2u);
  EXPECT_EQ(redone.deliveries[0].status, "delivered");
}

TEST_F(ReportMailTest, WithoutSmtpTheMailsFailVisiblyAndAReplaySendsThem) {
  ASSERT_NO_FATAL_FAILURE(startSmtp());
  ReportScheduler scheduler(*seed_.store, nullptr, schedulerOptions());
  ASSERT_EQ(*scheduler.runDueOnce(), 1);
  {
    respond::Dispatcher no_smtp(*seed_.store, dispatcherOptions(false));
    ASSERT_TRUE(no_smtp.drain());
  }
  auto failed = runs();
  ASSERT_EQ(failed[0].deliveries.size(), 2u);
  EXPECT_EQ(failed[0].deliveries[0].status, "failed");
  EXPECT_NE(failed[0].deliveries[0].last_error.find("no SMTP server configured"),
            std::string::npos)
      << failed[0].deliveries[0].last_error;
  // Replayed (threatdesk response replay, POST /api/v1/deliveries/{id}/replay) with SMTP set.
  for (const auto& d : failed[0].deliveries)
    ASSERT_TRUE(seed_.store->responses().replayDelivery(*d.delivery_id, now_));
  respond::Dispatcher dispatcher(*seed_.store, dispatcherOptions(true));
  ASSERT_TRUE(dispatcher.drain());
  EXPECT_EQ(readMessages(mail_dir_).size(), 2u);
  const auto replayed = runs();
  for (const auto& d : replayed[0].deliveries)
    EXPECT_EQ(d.status, "delivered") << d.recipient << ": " << d.last_error;
}

TEST_F(ReportMailTest, RecipientsAreResolvedWhenTheRunHappens) {
  // Only a user, who is disabled by the time of the run: nobody to mail, said so.
  auto s = schedule_;
  s.recipients.clear();
  ASSERT_TRUE(seed_.store->reports().updateSchedule(s));
  ASSERT_NO_FATAL_FAILURE(
      seed_.sql("UPDATE users SET disabled = 1 WHERE id = " + std::to_string(ana_.id)));
  ASSERT_TRUE(seed_.store->getUser(ana_.id)->disabled);
  ReportScheduler scheduler(*seed_.store, nullptr, schedulerOptions());
  ASSERT_EQ(*scheduler.runDueOnce(), 1);
  auto r = runs();
  EXPECT_EQ(r[0].status, "failed");
  EXPECT_NE(r[0].message.find("no recipients"), std::string::npos) << r[0].message;
  EXPECT_TRUE(r[0].deliveries.empty());
}

}  // namespace
}  // namespace td::report
