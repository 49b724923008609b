// Several nodes on one PostgreSQL database: two stores opened on the same database, used from
// their own threads at the same time, as two `threatdesk serve` processes would. Claims never
// hand one outbox row or delivery to both; the same detection raised on both at the same moment
// makes one threat.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <thread>

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

INSTANTIATE_TEST_SUITE_P(Backends, MultiNodeTest, ::testing::Values(postgresBackend()),
                         backendName);

}  // namespace
}  // namespace td::store::testing
