#include "triage/threat_sink.h"

#include <gtest/gtest.h>

#include <thread>

#include "triage/tests/triage_fixture.h"

namespace td::triage {
namespace {

class ThreatSinkTest : public TriageFixture {};

TEST_F(ThreatSinkTest, FoldsDuplicatesFromManyThreads) {
  ThreatSink sink(*store_, {.batch_size = 300, .linger_ms = 5, .max_pending = 1000});
  constexpr int kThreads = 4, kPerThread = 2500, kDistinct = 500;
  std::vector<std::thread> workers;
  for (int w = 0; w < kThreads; ++w) {
    workers.emplace_back([&, w] {
      std::vector<core::Detection> batch;
      for (int i = 0; i < kPerThread; ++i) {
        batch.push_back(detection("rule", "host-" + std::to_string((w * kPerThread + i) % kDistinct)));
        if (batch.size() == 100) sink.submit(std::exchange(batch, {}));
      }
      sink.submit(std::move(batch));
    });
  }
  for (auto& t : workers) t.join();
  sink.flush();
  ThreatSinkStats stats = sink.stats();
  EXPECT_EQ(stats.submitted, kThreads * kPerThread);
  EXPECT_EQ(stats.created, kDistinct);
  EXPECT_EQ(stats.created + stats.updated, kThreads * kPerThread);
  EXPECT_EQ(stats.failed, 0);
  store::ThreatFilter filter;
  filter.project_id = project_.id;
  auto page = store_->listThreats(filter, {});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->total, kDistinct);
  std::int64_t counted = 0;
  ASSERT_TRUE(store_->exportThreats(filter, {}, [&](const core::Threat& t) {
    counted += t.count;
    return true;
  }));
  EXPECT_EQ(counted, kThreads * kPerThread);
}

TEST_F(ThreatSinkTest, CountsInvalidDetectionsAndKeepsTheGoodOnes) {
  ThreatSink sink(*store_);
  core::Detection bad = detection("bad");
  bad.score = 500;
  sink.submit({detection("good-1"), bad, detection("good-2")});
  sink.flush();
  EXPECT_EQ(sink.stats().rejected, 1);
  EXPECT_EQ(sink.stats().created, 2);
}

TEST_F(ThreatSinkTest, StopWritesEverythingSubmittedBefore) {
  {
    ThreatSink sink(*store_, {.batch_size = 50, .linger_ms = 1000, .max_pending = 100000});
    std::vector<core::Detection> batch;
    for (int i = 0; i < 777; ++i) batch.push_back(detection("r" + std::to_string(i)));
    sink.submit(std::move(batch));
    sink.stop();
    EXPECT_EQ(sink.stats().created, 777);
  }
  store::ThreatFilter filter;
  filter.project_id = project_.id;
  EXPECT_EQ(store_->listThreats(filter, {})->total, 777);
}

TEST_F(ThreatSinkTest, AssignsTheInitialGroupByName) {
  ThreatSink sink(*store_);
  core::Detection d = detection("grouped");
  d.group = "L2 Support";
  sink.submit({d});
  sink.flush();
  store::ThreatFilter filter;
  filter.project_id = project_.id;
  filter.groups = {"L2 Support"};
  EXPECT_EQ(store_->listThreats(filter, {})->total, 1);
}

}  // namespace
}  // namespace td::triage
