// The ReportStore: versioned report definitions, schedules whose slots are claimed once, runs,
// and the aggregates (scan through the read model, closed-since, first acknowledgements).
#include <gtest/gtest.h>

#include <algorithm>
#include <map>

#include "store/tests/store_suite.h"

namespace td::store::testing {
namespace {

using core::ErrorCode;

class ReportStoreTest : public StoreFixture {
 protected:
  ReportStore& reports() { return store().reports(); }
};

TEST_P(ReportStoreTest, DefinitionsKeepEveryVersion) {
  auto t = makeTenant("Acme");
  auto r = reports().createReport(t.project.id, "Weekly", R"({"title":"a"})", "alice");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->version, 1);
  EXPECT_EQ(reports().createReport(t.project.id, "WEEKLY", "{}", "bob").error().code,
            ErrorCode::kConflict);
  EXPECT_EQ(reports().createReport(t.project.id, "", "{}", "bob").error().code,
            ErrorCode::kUnprocessable);
  auto v2 = reports().updateReport(r->id, std::nullopt, R"({"title":"b"})", "bob", 1);
  ASSERT_TRUE(v2) << v2.error().message;
  EXPECT_EQ(v2->version, 2);
  EXPECT_EQ(v2->updated_by, "bob");
  EXPECT_EQ(v2->created_by, "alice");
  // A change made to an old version is refused.
  EXPECT_EQ(reports().updateReport(r->id, std::nullopt, "{}", "carol", 1).error().code,
            ErrorCode::kConflict);
  auto renamed = reports().updateReport(r->id, std::string("Weekly SOC"), R"({"title":"c"})",
                                        "bob", std::nullopt);
  ASSERT_TRUE(renamed);
  EXPECT_EQ(renamed->name, "Weekly SOC");
  auto versions = reports().listVersions(r->id);
  ASSERT_TRUE(versions);
  ASSERT_EQ(versions->size(), 3u);
  EXPECT_EQ((*versions)[0].version, 3);
  EXPECT_EQ((*versions)[2].spec_json, R"({"title":"a"})");
  auto v1 = reports().getVersion(r->id, 1);
  ASSERT_TRUE(v1);
  EXPECT_EQ(v1->author, "alice");
  EXPECT_EQ(reports().getVersion(r->id, 9).error().code, ErrorCode::kNotFound);
  auto found = reports().findReport(t.project.id, "weekly soc");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->spec_json, R"({"title":"c"})");
  ASSERT_EQ(reports().listReports(t.project.id)->size(), 1u);
  ASSERT_EQ(reports().listReports(t.project.id + 100)->size(), 0u);

  reopen();
  ASSERT_EQ(reports().getReport(r->id)->version, 3);
  ASSERT_TRUE(reports().deleteReport(r->id));
  EXPECT_EQ(reports().getReport(r->id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(reports().deleteReport(r->id).error().code, ErrorCode::kNotFound);
}

TEST_P(ReportStoreTest, ASlotIsClaimedOnceAndRunsAreListed) {
  auto t = makeTenant("Acme");
  auto r = reports().createReport(t.project.id, "Weekly", "{}", "alice");
  ASSERT_TRUE(r);
  ReportSchedule s;
  s.report_id = r->id;
  s.cron = "0 8 * * 1";
  s.time_zone = "Europe/Berlin";
  s.recipients = {"soc@example.com", "ciso@example.com"};
  s.next_run_at = 1000;
  auto created = reports().createSchedule(s);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(created->recipients.size(), 2u);
  EXPECT_EQ(reports().dueSchedules(999)->size(), 0u);
  ASSERT_EQ(reports().dueSchedules(1000)->size(), 1u);
  EXPECT_TRUE(*reports().claimSlot(created->id, 1000, 5000, 1001));
  EXPECT_FALSE(*reports().claimSlot(created->id, 1000, 5000, 1002));  // already claimed
  EXPECT_EQ(reports().dueSchedules(4999)->size(), 0u);
  EXPECT_EQ(reports().getSchedule(created->id)->last_run_at, 1001);

  ReportRun run;
  run.schedule_id = created->id;
  run.report_id = r->id;
  run.report_version = 1;
  run.scheduled_for = 1000;
  run.started_at = 1001;
  auto started = reports().startRun(run);
  ASSERT_TRUE(started);
  ASSERT_TRUE(reports().finishRun(started->id, 1500, "ok", "sent to 2 recipients", 1234));
  auto runs = reports().listRuns(created->id, std::nullopt, 10);
  ASSERT_TRUE(runs) << runs.error().message;
  ASSERT_EQ(runs->size(), 1u);
  EXPECT_EQ((*runs)[0].status, "ok");
  EXPECT_EQ((*runs)[0].bytes, 1234);
  EXPECT_EQ((*runs)[0].finished_at, 1500);

  auto changed = *created;
  changed.enabled = false;
  changed.next_run_at.reset();
  ASSERT_TRUE(reports().updateSchedule(changed));
  EXPECT_EQ(reports().dueSchedules(1'000'000)->size(), 0u);
  ASSERT_TRUE(reports().deleteReport(r->id));
  EXPECT_EQ(reports().listSchedules(std::nullopt)->size(), 0u);
  // Runs stay as history.
  EXPECT_EQ(reports().listRuns(std::nullopt, r->id, 10)->size(), 1u);
}

TEST_P(ReportStoreTest, ARunHandsItsFileAndMailsOverOnceAndListsThem) {
  auto t = makeTenant("Acme");
  auto r = reports().createReport(t.project.id, "Weekly", "{}", "alice");
  ASSERT_TRUE(r);
  ReportSchedule s;
  s.report_id = r->id;
  s.cron = "0 8 * * 1";
  s.recipients = {"soc@example.com"};
  s.users = {7, 9};
  s.next_run_at = 1000;
  auto created = reports().createSchedule(s);
  ASSERT_TRUE(created);
  EXPECT_EQ(reports().getSchedule(created->id)->users, (std::vector<core::UserId>{7, 9}));
  ReportRun run;
  run.schedule_id = created->id;
  run.report_id = r->id;
  run.report_version = 1;
  run.scheduled_for = 1000;
  run.started_at = 1001;
  auto started = reports().startRun(run);
  ASSERT_TRUE(started);
  EXPECT_EQ(reports().runFile(started->id).error().code, ErrorCode::kNotFound);

  ReportRunFile file;
  file.file_name = "weekly-2026-11-23.pdf";
  file.content_type = "application/pdf";
  file.bytes = std::string("%PDF-1.5\n\0\xff binary", 18);  // NUL and 0xff inside
  std::vector<Delivery> mails;
  for (const char* to : {"soc@example.com", "ana@example.com"}) {
    Delivery d;
    d.org_id = t.org.id;
    d.kind = "report";
    d.recipient = to;
    d.idempotency_key = std::string("td-report-s1.1-1000-") + to;
    d.payload_json = R"({"run_id":1})";
    d.max_attempts = 12;
    d.next_at = 1500;
    d.created_at = 1500;
    mails.push_back(d);
  }
  ASSERT_TRUE(reports().completeRun(started->id, 1500, "e-mail queued", file, mails));
  auto kept = reports().runFile(started->id);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->bytes, file.bytes);  // binary, NULs included
  EXPECT_EQ(kept->file_name, "weekly-2026-11-23.pdf");
  auto listed = reports().getRun(started->id);
  ASSERT_TRUE(listed) << listed.error().message;
  EXPECT_EQ(listed->status, "ok");
  EXPECT_EQ(listed->bytes, 18);
  EXPECT_TRUE(listed->has_file);
  ASSERT_EQ(listed->deliveries.size(), 2u);
  EXPECT_EQ(listed->deliveries[0].recipient, "soc@example.com");
  EXPECT_EQ(listed->deliveries[0].status, "pending");
  ASSERT_TRUE(listed->deliveries[0].delivery_id);
  // The dispatcher's side: claimed, sent, recorded.
  auto claimed = store().responses().claimDeliveries(10, 2000, 60000);
  ASSERT_TRUE(claimed);
  ASSERT_EQ(claimed->size(), 2u);
  EXPECT_EQ((*claimed)[0].kind, "report");
  for (const auto& d : *claimed) {
    DeliveryAttempt a;
    a.at = 2001;
    a.status = 250;
    ASSERT_TRUE(store().responses().recordAttempt(d.id, a, DeliveryStatus::kDelivered, 2001));
  }
  // A second hand-off of the same slot (a run redone after a crash) adds no mail.
  ReportRun again = run;
  again.started_at = 3000;
  auto second = reports().startRun(again);
  ASSERT_TRUE(reports().completeRun(second->id, 3001, "e-mail queued", file, mails));
  EXPECT_EQ(store().responses().claimDeliveries(10, 5000, 60000)->size(), 0u);
  auto runs = reports().listRuns(created->id, std::nullopt, 10);
  ASSERT_EQ(runs->size(), 2u);
  for (const auto& rn : *runs) {
    ASSERT_EQ(rn.deliveries.size(), 2u);
    EXPECT_EQ(rn.deliveries[1].status, "delivered");
    EXPECT_EQ(rn.deliveries[1].attempts, 1);
    EXPECT_EQ(rn.deliveries[1].last_status, 250);
  }
  // Files of runs whose mails all finished go after their retention; pending ones stay.
  EXPECT_EQ(*reports().pruneRunFiles(1000), 0);
  EXPECT_EQ(*reports().pruneRunFiles(10000), 2);
  EXPECT_FALSE(reports().getRun(started->id)->has_file);
}

TEST_P(ReportStoreTest, ARunCutOffBeforeItsHandOffIsTakenOverOnce) {
  auto t = makeTenant("Acme");
  auto r = reports().createReport(t.project.id, "Weekly", "{}", "alice");
  ReportSchedule s;
  s.report_id = r->id;
  s.cron = "0 8 * * 1";
  s.recipients = {"soc@example.com"};
  auto created = reports().createSchedule(s);
  ReportRun run;
  run.schedule_id = created->id;
  run.report_id = r->id;
  run.scheduled_for = 1000;
  run.started_at = 1000;
  auto started = reports().startRun(run);
  EXPECT_EQ(reports().staleRuns(1000)->size(), 0u);  // still within its lease
  auto stale = reports().staleRuns(5000);
  ASSERT_EQ(stale->size(), 1u);
  EXPECT_TRUE(*reports().reclaimRun(started->id, 1000, 6000));
  EXPECT_FALSE(*reports().reclaimRun(started->id, 1000, 6001));  // another node was first
  EXPECT_EQ(reports().staleRuns(5000)->size(), 0u);
  ASSERT_TRUE(reports().finishRun(started->id, 6100, "failed", "x", 0));
  EXPECT_EQ(reports().staleRuns(100000)->size(), 0u);
}

TEST_P(ReportStoreTest, AggregatesComeFromTheIndexAndTheTimeline) {
  auto t = makeTenant("Acme");
  std::vector<core::Detection> batch;
  for (int i = 0; i < 4; ++i) batch.push_back(detection(t.project.id, "r" + std::to_string(i),
                                                        "ws-" + std::to_string(i)));
  batch[3].severity = core::Severity::kHigh;
  auto sink = store().applyDetections(batch, {std::nullopt, std::nullopt, std::nullopt,
                                              std::nullopt}, alice_);
  ASSERT_TRUE(sink) << sink.error().message;
  const auto ids = sink->created_ids;
  ASSERT_EQ(ids.size(), 4u);
  // Threat 0: acknowledged (owner) then closed; threat 1: state change by the system only.
  ThreatChange own;
  own.state_id = t.states[1].id;
  ASSERT_TRUE(store().changeThreat(ids[0], own, alice_));
  ThreatChange close;
  close.state_id = t.states.back().id;
  close.outcome_id = t.outcomes[2].id;
  ASSERT_TRUE(store().changeThreat(ids[0], close, alice_));
  ASSERT_TRUE(store().changeThreat(ids[1], own, Actor{std::nullopt, "system"}));
  rawSql("UPDATE timeline SET at = 2000 WHERE threat_id = " + std::to_string(ids[0]) +
      " AND action = 'state'");
  rawSql("UPDATE timeline SET at = 3000 WHERE threat_id = " + std::to_string(ids[0]) +
      " AND action = 'closed'");
  rawSql("UPDATE threats SET closed_at = 3000 WHERE id = " + std::to_string(ids[0]));

  auto closed = reports().closedSince(2500);
  ASSERT_TRUE(closed);
  ASSERT_EQ(closed->size(), 1u);
  EXPECT_EQ((*closed)[0].threat_id, ids[0]);
  EXPECT_EQ((*closed)[0].at, 3000);
  EXPECT_EQ(reports().closedSince(3001)->size(), 0u);

  auto acks = reports().firstAcknowledgements(0);
  ASSERT_TRUE(acks);
  ASSERT_EQ(acks->size(), 1u);  // the system's change is no acknowledgement
  EXPECT_EQ((*acks)[0].threat_id, ids[0]);
  EXPECT_EQ((*acks)[0].at, 2000);

  ThreatFilter high;
  high.project_id = t.project.id;
  high.severities = {core::Severity::kHigh};
  std::vector<ThreatId> seen;
  ASSERT_TRUE(reports().scanThreats(high, [&](const IndexRow& r) { seen.push_back(r.id); }));
  ASSERT_EQ(seen, std::vector<ThreatId>{ids[3]});
  ThreatFilter closed_only;
  closed_only.open = false;
  std::map<ThreatId, TagId> outcome;
  ASSERT_TRUE(reports().scanThreats(closed_only,
                                    [&](const IndexRow& r) { outcome[r.id] = r.outcome_id; }));
  ASSERT_EQ(outcome.size(), 1u);
  EXPECT_EQ(outcome[ids[0]], t.outcomes[2].id);
}

INSTANTIATE_TEST_SUITE_P(Backends, ReportStoreTest,
                         ::testing::Values(sqliteBackend(), postgresBackend()), backendName);

}  // namespace
}  // namespace td::store::testing
