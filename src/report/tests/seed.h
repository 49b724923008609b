// A small store with hand-made history for the report tests: six threats whose creation,
// acknowledgement and closing times are fixed, so that every KPI can be computed by hand.
//
// The range is [D, D + 7 days) with D = 2026-11-16T00:00Z; the previous period [D - 7d, D).
//   T1 HIGH     r1 Rule  L1  created D+1h; In Progress D+1h30 (alice); closed D+3h, False Positive
//   T2 CRITICAL r1 Rule  L1  created D+2h; owner bob D+3h (alice); open, New
//   T3 MEDIUM   r2 Intel L2  created D+10h; On Hold D+11h by "system" (no acknowledgement); open
//   T4 LOW      r2 Rule  --  created D-3d; In Progress D-3d+2h; closed D+5h, Malicious
//   T5 MEDIUM   r3 Rule  --  created D-5d; closed D-4d, False Positive (the close acknowledges)
//   T6 HIGH     r1 Rule  --  created D-10d; open, New
#pragma once

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <memory>
#include <string>

#include "store/store.h"
#include "tests/support/temp_dir.h"

namespace td::report::testing {

constexpr core::TimeMs kHour = core::kHourMs;
constexpr core::TimeMs kDay = core::kDayMs;

struct Seed {
  td::testing::TempDir dir;
  std::unique_ptr<store::Store> store;
  store::Project project;
  store::Org org;
  core::TimeMs D = 0;
  std::vector<core::ThreatId> t;  // T1..T6 at t[0]..t[5]

  std::string dbPath() const { return dir.file("threatdesk.db"); }

  void sql(const std::string& statement) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(dbPath().c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, statement.c_str(), nullptr, nullptr, &err), SQLITE_OK)
        << (err ? err : "") << "\n" << statement;
    sqlite3_free(err);
    sqlite3_close(db);
  }

  void setAt(core::ThreatId id, const std::string& where, core::TimeMs at) {
    sql("UPDATE timeline SET at = " + std::to_string(at) + " WHERE threat_id = " +
        std::to_string(id) + " AND (" + where + ")");
  }

  void build() {
    D = *core::parseRfc3339("2026-11-16T00:00:00Z");
    auto s = store::openStore("sqlite:" + dbPath());
    ASSERT_TRUE(s) << s.error().message;
    store = std::move(*s);
    org = *store->createOrg("Acme", std::nullopt);
    project = *store->createProject(org.id, "web");
    std::vector<store::TagValue> states, outcomes, groups;
    int i = 0;
    for (const char* n : {"New", "In Progress", "On Hold", "Closed"})
      states.push_back(*store->addTag(org.id, store::TagKind::kState, n, i++));
    i = 0;
    for (const char* n : {"Malicious", "Benign", "False Positive", "Remediated"})
      outcomes.push_back(*store->addTag(org.id, store::TagKind::kOutcome, n, i++));
    i = 0;
    for (const char* n : {"L1 Support", "L2 Support"})
      groups.push_back(*store->addTag(org.id, store::TagKind::kGroup, n, i++));
    store::User bob;
    bob.org_id = org.id;
    bob.email = "bob@example.com";
    bob.display_name = "Bob";
    bob.role = store::Role::kOperator;
    auto b = store->createUser(bob);
    ASSERT_TRUE(b) << b.error().message;

    struct Row {
      core::Severity sev;
      const char* rule;
      std::string source;
      std::optional<store::TagId> group;
      core::TimeMs created;
      const char* host;
    };
    const Row rows[] = {
        {core::Severity::kHigh, "r1", "Rule", groups[0].id, D + kHour, "ws-1"},
        {core::Severity::kCritical, "r1", "Rule", groups[0].id, D + 2 * kHour, "ws-2"},
        {core::Severity::kMedium, "r2", "Threat Intelligence", groups[1].id, D + 10 * kHour,
         "ws-3"},
        {core::Severity::kLow, "r2", "Rule", std::nullopt, D - 3 * kDay, "ws-1"},
        {core::Severity::kMedium, "r3", "Rule", std::nullopt, D - 5 * kDay, "ws-4"},
        {core::Severity::kHigh, "r1", "Rule", std::nullopt, D - 10 * kDay, "ws-5"},
    };
    std::vector<core::Detection> batch;
    std::vector<std::optional<store::TagId>> group_ids;
    int n = 0;
    for (const auto& r : rows) {
      core::Detection d;
      d.project_id = project.id;
      d.name = "Threat " + std::to_string(++n);
      d.rule_id = r.rule;
      d.source = r.source;
      d.severity = r.sev;
      d.score = core::scoreForSeverity(r.sev);
      d.entity = {"host", r.host};
      d.host = r.host;
      d.entity_group = "servers";
      d.seen_at = r.created;
      d.check_by = core::CheckBy::kNone;
      batch.push_back(d);
      group_ids.push_back(r.group);
    }
    store::Actor alice{std::nullopt, "alice@example.com"};
    auto sink = store->applyDetections(batch, group_ids, alice);
    ASSERT_TRUE(sink) << sink.error().message;
    t = sink->created_ids;
    ASSERT_EQ(t.size(), 6u);

    auto change = [&](core::ThreatId id, store::ThreatChange c, const store::Actor& who) {
      auto r = store->changeThreat(id, c, who);
      ASSERT_TRUE(r) << r.error().message;
    };
    store::ThreatChange progress;
    progress.state_id = states[1].id;
    store::ThreatChange hold;
    hold.state_id = states[2].id;
    store::ThreatChange close_fp;
    close_fp.state_id = states[3].id;
    close_fp.outcome_id = outcomes[2].id;
    store::ThreatChange close_mal;
    close_mal.state_id = states[3].id;
    close_mal.outcome_id = outcomes[0].id;
    store::ThreatChange own;
    own.owner_id = b->id;

    change(t[0], progress, alice);
    setAt(t[0], "to_value = 'In Progress'", D + kHour + 30 * core::kMinuteMs);
    change(t[0], close_fp, alice);
    setAt(t[0], "action = 'closed' OR to_value = 'Closed'", D + 3 * kHour);
    change(t[1], own, alice);
    setAt(t[1], "action = 'assigned_owner'", D + 3 * kHour);
    change(t[2], hold, store::Actor{std::nullopt, "system"});
    setAt(t[2], "1 = 1", D + 11 * kHour);
    change(t[3], progress, alice);
    setAt(t[3], "to_value = 'In Progress'", D - 3 * kDay + 2 * kHour);
    change(t[3], close_mal, alice);
    setAt(t[3], "action = 'closed' OR to_value = 'Closed'", D + 5 * kHour);
    change(t[4], close_fp, alice);
    setAt(t[4], "1 = 1", D - 4 * kDay);
    sql("UPDATE threats SET closed_at = " + std::to_string(D + 3 * kHour) +
        " WHERE id = " + std::to_string(t[0]));
    sql("UPDATE threats SET closed_at = " + std::to_string(D + 5 * kHour) +
        " WHERE id = " + std::to_string(t[3]));
    sql("UPDATE threats SET closed_at = " + std::to_string(D - 4 * kDay) +
        " WHERE id = " + std::to_string(t[4]));
  }

  // A report document over [D, D + 7d) in UTC with the given widgets.
  std::string spec(const std::string& widgets, const std::string& extra = "") const {
    return R"({"title":"Seeded","time_range":{"from":"2026-11-16T00:00:00Z","to":"2026-11-23T00:00:00Z"},)" +
           extra + R"("widgets":[)" + widgets + "]}";
  }
};

}  // namespace td::report::testing
