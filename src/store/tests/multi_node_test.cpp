// Several nodes on one PostgreSQL database: two stores opened on the same database, used from
// their own threads at the same time, as two `threatdesk serve` processes would. Claims never
// hand one outbox row or delivery to both; the same detection raised on both at the same moment
// makes one threat; a node's read model follows the other's writes by the rows they changed.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <limits>
#include <set>
#include <thread>

#include "store/sqlite/sqlite_store.h"
#include "store/tests/store_suite.h"

namespace td::store::testing {
namespace {

class MultiNodeTest : public StoreFixture {
 protected:
  // A second node: another store on the same database.
  std::unique_ptr<Store> secondNode() {
    std::string url;
    std::ifstream(dir_ + "/postgres-url") >> url;
    auto s = openStore(url);
    EXPECT_TRUE(s) << s.error().message;
    return s ? std::move(*s) : nullptr;
  }
};

TEST_P(MultiNodeTest, TwoNodesClaimingTheOutboxAtOnceNeverGetTheSameEvent) {
  auto t = makeTenant("acme");
  std::vector<core::Detection> batch;
  for (int i = 0; i < 400; ++i)
    batch.push_back(detection(t.project.id, "r" + std::to_string(i), "h" + std::to_string(i)));
  ASSERT_TRUE(store().applyDetections(batch, {}, alice_));
  auto other = secondNode();
  ASSERT_NE(other, nullptr);

  std::vector<std::int64_t> got_a, got_b;
  auto claimAll = [](Store& s, std::vector<std::int64_t>& got) {
    while (true) {
      auto claimed = s.claimOutbox(7, 60'000);
      ASSERT_TRUE(claimed) << claimed.error().message;
      if (claimed->empty()) return;
      for (const auto& e : *claimed) got.push_back(e.id);
    }
  };
  std::thread a([&] { claimAll(store(), got_a); });
  std::thread b([&] { claimAll(*other, got_b); });
  a.join();
  b.join();

  std::set<std::int64_t> all(got_a.begin(), got_a.end());
  for (auto id : got_b) EXPECT_TRUE(all.insert(id).second) << "outbox row " << id << " claimed twice";
  EXPECT_EQ(all.size(), got_a.size() + got_b.size());
  EXPECT_GE(all.size(), 400u);  // at least one event per new threat
  EXPECT_FALSE(got_a.empty());
  EXPECT_FALSE(got_b.empty());  // both nodes took part
}

TEST_P(MultiNodeTest, TheSameDetectionRaisedOnTwoNodesAtOnceMakesOneThreat) {
  auto t = makeTenant("acme");
  auto other = secondNode();
  ASSERT_NE(other, nullptr);
  // 20 distinct de-duplication keys, each raised 10 times on each node, in batches that race.
  constexpr int kKeys = 20, kRounds = 10;
  auto raise = [&](Store& s) {
    for (int round = 0; round < kRounds; ++round) {
      std::vector<core::Detection> batch;
      for (int k = 0; k < kKeys; ++k)
        batch.push_back(detection(t.project.id, "rule", "host-" + std::to_string(k)));
      auto r = s.applyDetections(batch, {}, alice_);
      ASSERT_TRUE(r) << r.error().message;
    }
  };
  std::thread a([&] { raise(store()); });
  std::thread b([&] { raise(*other); });
  a.join();
  b.join();

  ThreatFilter open_threats;
  open_threats.open = true;
  PageRequest page;
  page.limit = 100;
  auto threats = store().listThreats(open_threats, page);
  ASSERT_TRUE(threats) << threats.error().message;
  EXPECT_EQ(threats->total, kKeys);
  std::int64_t total_count = 0;
  for (const auto& th : threats->items) total_count += th.count;
  EXPECT_EQ(total_count, 2 * kRounds * kKeys);
}

// A node's read model follows the other nodes' writes by the rows they changed, not by a time
// window: a change that leaves updated_at alone (old) is seen, and a refresh reads the changed
// rows rather than everything written lately.
TEST_P(MultiNodeTest, AReadModelRereadsExactlyTheRowsAnotherNodeChanged) {
  auto t = makeTenant("acme");
  std::vector<core::Detection> batch;
  for (int i = 0; i < 200; ++i)
    batch.push_back(detection(t.project.id, "r", "h" + std::to_string(i)));
  auto mine = store().applyDetections(batch, {}, alice_);
  ASSERT_TRUE(mine) << mine.error().message;
  auto other = secondNode();
  ASSERT_NE(other, nullptr);
  auto& node = dynamic_cast<sqlite::SqliteStore&>(store());
  ThreatFilter critical;
  critical.project_id = t.project.id;
  critical.severities = {core::Severity::kCritical};
  PageRequest page;

  // Another writer raises a threat's severity without touching updated_at (a stamp far outside
  // any time window): the read model still sees it.
  const ThreatId old = mine->created_ids[0];
  const int critical_level = static_cast<int>(core::Severity::kCritical);
  rawSql("UPDATE threats SET severity = " + std::to_string(critical_level) +
         ", updated_at = 1 WHERE id = " + std::to_string(old));
  // The notification of a commit reaches the other nodes a moment after it: read until the read
  // model has it (a time window would never pick this row up).
  auto readUntil = [&](const ThreatFilter& filter, std::int64_t total) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (true) {
      auto r = store().listThreats(filter, page);
      if (!r || r->total == total || std::chrono::steady_clock::now() > deadline) return r;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  };
  auto found = readUntil(critical, 1);
  ASSERT_TRUE(found) << found.error().message;
  ASSERT_EQ(found->total, 1);
  EXPECT_EQ(found->items[0].id, old);

  // The other node raises 3 threats and closes one of ours; this node's next read re-reads
  // those 4 rows, where a time window would re-read the 200 written lately as well. (Any
  // transaction in the cluster that was still running when the previous refresh took its
  // horizon — another test, an autovacuum ANALYZE — widens a refresh to what was written since
  // it began; so some round within a few seconds, not every one, reads fewer than the 200.)
  ThreatChange close;
  close.state_id = t.states.back().id;
  close.outcome_id = t.outcomes[1].id;
  std::int64_t fewest = std::numeric_limits<std::int64_t>::max();
  for (int round = 0; round < 100 && fewest >= 200; ++round) {
    if (round > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::vector<core::Detection> three;
    for (int i = 0; i < 3; ++i)
      three.push_back(detection(t.project.id, "other-" + std::to_string(round),
                                "x" + std::to_string(i)));
    ASSERT_TRUE(other->applyDetections(three, {}, alice_));
    ASSERT_TRUE(other->changeThreat(mine->created_ids[static_cast<size_t>(1 + round)], close,
                                    alice_));
    const auto before = node.refreshedRows();
    ThreatFilter open;
    open.project_id = t.project.id;
    open.open = true;
    auto open_threats = readUntil(open, 200 + 3 * (round + 1) - (round + 1));
    ASSERT_TRUE(open_threats) << open_threats.error().message;
    ASSERT_EQ(open_threats->total, 200 + 3 * (round + 1) - (round + 1));
    const auto reread = node.refreshedRows() - before;
    EXPECT_GE(reread, 4);
    fewest = std::min(fewest, reread);
  }
  EXPECT_LT(fewest, 200) << "every refresh re-read the rows written lately, not the changed ones";
}

INSTANTIATE_TEST_SUITE_P(Backends, MultiNodeTest, ::testing::Values(postgresBackend()),
                         backendName);

}  // namespace
}  // namespace td::store::testing
