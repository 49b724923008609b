// copyStore (`threatdesk migrate`): a SQLite installation moved to a fresh PostgreSQL database
// (the test server of tests/support/pg_server.h) keeps every row and id, and the moved store
// keeps working: new rows get ids after the copied ones.
#include "store/migrate.h"

#include <gtest/gtest.h>

#include <map>

#include "store/tests/store_suite.h"

namespace td::store::testing {
namespace {

class MigrateTest : public StoreFixture {
 protected:
  std::string sqliteUrl() const { return "sqlite:" + dir_ + "/db/threatdesk.db"; }
};

TEST_P(MigrateTest, SqliteInstallationMovesToPostgresWithEveryRowAndId) {
  auto& server = td::testing::PgTestServer::instance();
  ASSERT_TRUE(server.error().empty()) << server.error();
  auto t = makeTenant("acme");
  User u;
  u.org_id = t.org.id;
  u.email = "alice@example.com";
  u.display_name = "Alice";
  u.role = Role::kOperator;
  u.time_zone = "Europe/Berlin";
  u.password_hash = "$argon2id$v=19$m=65536,t=3,p=1$c2FsdA$aGFzaA";
  ASSERT_TRUE(store().createUser(u));
  auto applied = store().applyDetections(
      {detection(t.project.id, "r1", "h1"), detection(t.project.id, "r2", "h2"),
       detection(t.project.id, "r1", "h1")},
      {t.groups[0].id, t.groups[1].id, t.groups[0].id}, alice_);
  ASSERT_TRUE(applied) << applied.error().message;
  const ThreatId threat = applied->threat_ids.front();
  ASSERT_TRUE(store().addNote(threat, "looked at it", alice_));
  ThreatChange close;
  close.state_id = t.states.back().id;
  close.outcome_id = t.outcomes[2].id;
  ASSERT_TRUE(store().changeThreat(threat, close, alice_));
  auto before = store().getThreat(threat);
  ASSERT_TRUE(before);
  auto timeline_before = store().timeline(threat);
  ASSERT_TRUE(timeline_before);
  store_.reset();  // the installation is stopped while it moves

  const std::string pg = server.freshDatabase();
  auto report = copyStore(sqliteUrl(), pg);
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_TRUE(report->verified);
  std::map<std::string, std::int64_t> copied;
  for (const auto& table : report->tables) {
    EXPECT_EQ(table.copied_rows, table.source_rows) << table.table;
    copied[table.table] = table.copied_rows;
  }
  EXPECT_EQ(copied["threats"], 2);
  EXPECT_EQ(copied["notes"], 1);
  EXPECT_EQ(copied["users"], 1);
  EXPECT_EQ(copied["tags"], 11);
  EXPECT_GE(copied["timeline"], 3);

  auto moved = openStore(pg);
  ASSERT_TRUE(moved) << moved.error().message;
  auto after = (*moved)->getThreat(threat);
  ASSERT_TRUE(after) << after.error().message;
  EXPECT_EQ(after->name, before->name);
  EXPECT_EQ(after->count, 2);
  EXPECT_EQ(after->closed, true);
  EXPECT_EQ(after->outcome, "False Positive");
  auto timeline_after = (*moved)->timeline(threat);
  ASSERT_TRUE(timeline_after);
  EXPECT_EQ(timeline_after->size(), timeline_before->size());
  auto user = (*moved)->findUserByEmail("ALICE@example.com");
  ASSERT_TRUE(user) << user.error().message;
  EXPECT_EQ(user->time_zone, "Europe/Berlin");

  // New rows continue after the copied ids instead of colliding with them.
  auto org = (*moved)->createOrg("globex", std::nullopt);
  ASSERT_TRUE(org) << org.error().message;
  EXPECT_GT(org->id, t.org.id);
  auto note = (*moved)->addNote(threat, "after the move", alice_);
  ASSERT_TRUE(note) << note.error().message;
  auto notes = (*moved)->listNotes(threat);
  ASSERT_TRUE(notes);
  EXPECT_EQ(notes->size(), 2u);

  // A destination that already holds an installation is refused, not merged into.
  moved->reset();
  auto again = copyStore(sqliteUrl(), pg);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, core::ErrorCode::kConflict);
  EXPECT_EQ(again.error().field, "to");
}

TEST_P(MigrateTest, OnlyASqliteSourceIsAccepted) {
  auto r = copyStore("postgresql://127.0.0.1:1/none", sqliteUrl());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "from");
}

INSTANTIATE_TEST_SUITE_P(Backends, MigrateTest, ::testing::Values(sqliteBackend()), backendName);

}  // namespace
}  // namespace td::store::testing
