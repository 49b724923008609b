// ResponseStore: responses (unique names, specs kept), idempotent fan-out, the throttle window,
// delivery claims with a lease (a dead sender's delivery comes back), tries and replay, digests,
// subscriptions, notifications, automations, pruning of delivered outbox rows, and the
// deliveries on their threats' timelines.
#include <gtest/gtest.h>

#include "store/tests/store_suite.h"

namespace td::store::testing {
namespace {

using core::ErrorCode;

class ResponseStoreTest : public StoreFixture {
 protected:
  ResponseRecord response(OrgId org, const std::string& name) {
    ResponseRecord r;
    r.org_id = org;
    r.name = name;
    r.type = "webhook";
    r.spec_json = R"({"webhook":{"url":"http://127.0.0.1/"}})";
    r.created_at = r.updated_at = 1000;
    return r;
  }
  static Delivery delivery(OrgId org, std::int64_t response, const std::string& key) {
    Delivery d;
    d.org_id = org;
    d.response_id = response;
    d.kind = "webhook";
    d.recipient = "hook";
    d.idempotency_key = key;
    d.max_attempts = 3;
    d.next_at = 0;
    d.created_at = 1;
    return d;
  }
};

TEST_P(ResponseStoreTest, ResponsesHaveUniqueNamesPerOrganisation) {
  auto t = makeTenant("Acme");
  auto r = store().responses().createResponse(response(t.org.id, "slack"));
  ASSERT_TRUE(r) << r.error().message;
  auto dup = store().responses().createResponse(response(t.org.id, "slack"));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
  EXPECT_EQ(dup.error().field, "name");
  auto other = makeTenant("Other");
  EXPECT_TRUE(store().responses().createResponse(response(other.org.id, "slack")));
  auto changed = *r;
  changed.name = "slack-2";
  changed.enabled = false;
  auto updated = store().responses().updateResponse(changed);
  ASSERT_TRUE(updated);
  EXPECT_EQ(updated->name, "slack-2");
  EXPECT_FALSE(updated->enabled);
  reopen();
  auto list = store().responses().listResponses(t.org.id);
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ(list->front().spec_json, R"({"webhook":{"url":"http://127.0.0.1/"}})");
}

TEST_P(ResponseStoreTest, FanoutIsIdempotentAndClaimsLease) {
  auto t = makeTenant("Acme");
  auto r = *store().responses().createResponse(response(t.org.id, "hook"));
  ResponseStore::Fanout f;
  f.outbox_id = 7;
  f.deliveries.push_back(delivery(t.org.id, r.id, "k1"));
  f.deliveries.push_back(delivery(t.org.id, r.id, "k2"));
  EXPECT_EQ(*store().responses().insertFanout(f), 2);
  EXPECT_EQ(*store().responses().insertFanout(f), 0);  // a reclaimed event adds nothing
  EXPECT_TRUE(*store().responses().fannedOut(7));
  EXPECT_FALSE(*store().responses().fannedOut(8));

  auto claimed = store().responses().claimDeliveries(10, 100, 1000);
  ASSERT_TRUE(claimed);
  ASSERT_EQ(claimed->size(), 2u);
  EXPECT_EQ((*claimed)[0].attempts, 1);
  // Leased: nobody else gets them until the lease runs out.
  EXPECT_TRUE(store().responses().claimDeliveries(10, 500, 1000)->empty());
  // A sender may give claims back unsent: the try is not counted and they are free at once.
  ASSERT_TRUE(store().responses().releaseDeliveries({(*claimed)[1].id}));
  auto released = store().responses().claimDeliveries(10, 500, 1000);
  ASSERT_EQ(released->size(), 1u);
  EXPECT_EQ((*released)[0].attempts, 1);
  // The sender died: after the lease they come back.
  auto again = store().responses().claimDeliveries(10, 1600, 1000);
  ASSERT_EQ(again->size(), 2u);
  EXPECT_EQ((*again)[0].attempts, 2);

  DeliveryAttempt ok;
  ok.at = 1300;
  ok.status = 200;
  ASSERT_TRUE(
      store().responses().recordAttempt((*again)[0].id, ok, DeliveryStatus::kDelivered, 1300));
  DeliveryAttempt bad;
  bad.at = 1300;
  bad.status = 500;
  bad.error = "HTTP 500";
  ASSERT_TRUE(
      store().responses().recordAttempt((*again)[1].id, bad, DeliveryStatus::kFailed, 1300));
  // Delivered ones are never claimed again, even after any lease.
  EXPECT_TRUE(store().responses().claimDeliveries(10, 99999, 1000)->empty());
  auto replayed = store().responses().replayDelivery((*again)[1].id, 2000);
  ASSERT_TRUE(replayed);
  EXPECT_EQ(replayed->status, DeliveryStatus::kPending);
  EXPECT_EQ(replayed->attempts, 0);
  EXPECT_FALSE(store().responses().replayDelivery((*again)[0].id, 2000));
  EXPECT_EQ(store().responses().claimDeliveries(10, 2000, 1000)->size(), 1u);

  DeliveryFilter filter;
  filter.response_id = r.id;
  auto list = store().responses().listDeliveries(filter);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ(store().responses().listAttempts((*again)[1].id)->size(), 1u);
}

TEST_P(ResponseStoreTest, ThrottleHoldsBackWithinWindowAndCounts) {
  auto t = makeTenant("Acme");
  auto r = *store().responses().createResponse(response(t.org.id, "hook"));
  auto& rs = store().responses();
  EXPECT_TRUE(*rs.throttleAdmit(r.id, "host-1", 1000, 600, 1));
  EXPECT_TRUE(*rs.throttleAdmit(r.id, "host-1", 1000, 600, 1));  // the same event again
  EXPECT_FALSE(*rs.throttleAdmit(r.id, "host-1", 1200, 600, 2));
  EXPECT_TRUE(*rs.throttleAdmit(r.id, "host-2", 1200, 600, 2));
  ResponseStore::Fanout f;
  f.outbox_id = 2;
  f.throttled.push_back({r.id, "host-1"});
  ASSERT_TRUE(rs.insertFanout(f));
  EXPECT_EQ(rs.getResponse(r.id)->held_back, 1);
  auto counts = *rs.throttleCounts(r.id);
  ASSERT_EQ(counts.size(), 1u);
  EXPECT_EQ(counts[0], std::make_pair(std::string("host-1"), std::int64_t{1}));
  EXPECT_TRUE(*rs.throttleAdmit(r.id, "host-1", 1600, 600, 3));  // window over
}

TEST_P(ResponseStoreTest, DigestCollectsItemsUpToTheSlot) {
  auto t = makeTenant("Acme");
  auto r = *store().responses().createResponse(response(t.org.id, "digest"));
  auto& rs = store().responses();
  ResponseStore::Fanout f;
  f.outbox_id = 1;
  f.digest_items.push_back({0, r.id, "a@x.test", 11, 100});
  f.digest_items.push_back({0, r.id, "b@x.test", 11, 100});
  ASSERT_TRUE(rs.insertFanout(f));
  f.outbox_id = 2;
  f.digest_items = {{0, r.id, "a@x.test", 12, 300}};
  ASSERT_TRUE(rs.insertFanout(f));
  ASSERT_EQ(rs.pendingDigests()->size(), 2u);
  Delivery d = delivery(t.org.id, r.id, "digest-a-200");
  d.kind = "digest";
  d.recipient = "a@x.test";
  EXPECT_EQ(*rs.closeDigest(d, 200), 1);  // the item added after the slot waits
  EXPECT_EQ(*rs.digestLastSlot(r.id, "a@x.test"), 200);
  EXPECT_EQ(*rs.closeDigest(d, 200), 0);  // idempotent
  auto claimed = *rs.claimDeliveries(10, 1000, 1000);
  ASSERT_EQ(claimed.size(), 1u);
  auto items = *rs.digestItems(claimed[0].id);
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].threat_id, 11);
}

TEST_P(ResponseStoreTest, SubscriptionsNotificationsAutomations) {
  auto t = makeTenant("Acme");
  User u;
  u.org_id = t.org.id;
  u.email = "ana@acme.test";
  u.role = Role::kOperator;
  auto user = *store().createUser(u);
  auto& rs = store().responses();
  ASSERT_TRUE(rs.putSubscription({user.id, t.groups[0].id, true, false}));
  ASSERT_TRUE(rs.putSubscription({user.id, t.groups[0].id, true, true}));
  auto subs = *rs.subscribersOfGroup(t.groups[0].id);
  ASSERT_EQ(subs.size(), 1u);
  EXPECT_TRUE(subs[0].on_change);
  EXPECT_EQ(rs.subscriptionsOfUser(user.id)->size(), 1u);
  ASSERT_TRUE(rs.deleteSubscription(user.id, t.groups[0].id));
  EXPECT_FALSE(rs.deleteSubscription(user.id, t.groups[0].id));

  Notification n;
  n.user_id = user.id;
  n.kind = "assigned";
  n.text = "Threat 1 landed in L1 Support";
  n.created_at = 5;
  ASSERT_TRUE(rs.addNotification(n, 42));
  ASSERT_TRUE(rs.addNotification(n, 42));  // the same delivery again
  EXPECT_EQ(rs.listNotifications(user.id, true, 10)->size(), 1u);
  ASSERT_TRUE(rs.markNotificationsRead(user.id, {}, 6));
  EXPECT_TRUE(rs.listNotifications(user.id, true, 10)->empty());

  ASSERT_TRUE(rs.putStateAutomation({t.org.id, t.states[2].id, "Parked: {{state}}", true}));
  auto a = *rs.stateAutomation(t.states[2].id);
  ASSERT_TRUE(a);
  EXPECT_EQ(a->note_template, "Parked: {{state}}");
  EXPECT_EQ(rs.listStateAutomations(t.org.id)->size(), 1u);
  EXPECT_FALSE(*rs.stateAutomation(t.states[1].id));
}

TEST_P(ResponseStoreTest, PruneDeletesDeliveredOutboxRowsOnly) {
  auto t = makeTenant("Acme");
  auto d1 = detection(t.project.id, "r1", "h1");
  auto d2 = detection(t.project.id, "r2", "h2");
  ASSERT_TRUE(store().applyDetections({d1, d2}, {}, alice_));
  auto claimed = *store().claimOutbox(1, 1000);
  ASSERT_EQ(claimed.size(), 1u);
  ASSERT_TRUE(store().ackOutbox({claimed[0].id}));
  auto pruned = store().responses().prune(core::nowMs() + 1000, 0);
  ASSERT_TRUE(pruned) << pruned.error().message;
  EXPECT_EQ(*pruned, 1);
  EXPECT_TRUE(store().listOutbox(claimed[0].threat_id)->empty());
  // The undelivered event is still owed.
  EXPECT_EQ(store().claimOutbox(10, 1000)->size(), 1u);
}

// The dispatcher's batch: 45 deliveries (statements of 32, 8 and 1 rows) inserted claimed with
// their ids, the events acknowledged in the same transaction and known as fanned out by that.
TEST_P(ResponseStoreTest, FanoutBatchInsertsClaimedAndAcknowledges) {
  auto t = makeTenant("Acme");
  auto r = *store().responses().createResponse(response(t.org.id, "hook"));
  std::vector<core::Detection> ds;
  for (int i = 0; i < 3; ++i)
    ds.push_back(detection(t.project.id, "r" + std::to_string(i), "h" + std::to_string(i)));
  ASSERT_TRUE(store().applyDetections(ds, {}, alice_));
  auto events = *store().claimOutbox(10, 60000);
  ASSERT_EQ(events.size(), 3u);
  std::vector<ResponseStore::Fanout> fanouts;
  for (const auto& e : events) {
    ResponseStore::Fanout f;
    f.outbox_id = e.id;
    for (int i = 0; i < 15; ++i) {
      auto d = delivery(t.org.id, r.id, "e" + std::to_string(e.id) + "-" + std::to_string(i));
      d.outbox_id = e.id;
      d.threat_id = e.threat_id;
      d.payload_json = R"({"n":)" + std::to_string(i) + "}";
      f.deliveries.push_back(d);
    }
    fanouts.push_back(f);
  }
  // One delivery is there already (a fan-out that crashed after its insert): not claimed again.
  ResponseStore::Fanout before;
  before.deliveries.push_back(fanouts[1].deliveries[3]);
  ASSERT_TRUE(store().responses().insertFanout(before));
  auto got = store().responses().insertFanoutsAndAck(fanouts, 100, 1000, 1000);
  ASSERT_TRUE(got) << got.error().message;
  EXPECT_EQ(got->inserted, 44);
  ASSERT_EQ(got->claimed.size(), 44u);
  for (size_t i = 1; i < got->claimed.size(); ++i)
    EXPECT_LT(got->claimed[i - 1].id, got->claimed[i].id);
  for (const auto& d : got->claimed) {
    EXPECT_NE(d.idempotency_key, fanouts[1].deliveries[3].idempotency_key);
    EXPECT_EQ(d.attempts, 1);
    auto stored = store().responses().getDelivery(d.id);
    ASSERT_TRUE(stored);
    EXPECT_EQ(stored->idempotency_key, d.idempotency_key);
    EXPECT_EQ(stored->payload_json, d.payload_json);
  }
  // Claimed: only the one inserted before is free to claim.
  EXPECT_EQ(store().responses().claimDeliveries(100, 200, 1000)->size(), 1u);
  for (const auto& e : events) EXPECT_TRUE(*store().responses().fannedOut(e.id));
  EXPECT_TRUE(store().claimOutbox(10, 60000)->empty());  // acknowledged
}

// A finished delivery shows on its threat's timeline from its own row; a replay and the pruning
// keep what they overwrite or delete there.
TEST_P(ResponseStoreTest, FinishedDeliveriesShowOnTheTimelineThroughReplayAndPruning) {
  auto t = makeTenant("Acme");
  auto r = *store().responses().createResponse(response(t.org.id, "hook"));
  ASSERT_TRUE(store().applyDetections({detection(t.project.id, "r1", "h1")}, {}, alice_));
  auto threat = store().claimOutbox(1, 60000)->at(0).threat_id;
  auto& rs = store().responses();
  ResponseStore::Fanout f;
  auto d = delivery(t.org.id, r.id, "k1");
  d.threat_id = threat;
  d.created_at = core::nowMs();
  f.deliveries.push_back(d);
  auto note = d;
  note.kind = "note";
  note.idempotency_key = "k1-note";
  f.deliveries.push_back(note);
  ASSERT_TRUE(rs.insertFanout(f));
  const auto created = store().timeline(threat)->size();
  auto claimed = *rs.claimDeliveries(10, core::nowMs(), 1000);
  ASSERT_EQ(claimed.size(), 2u);
  DeliveryAttempt bad;
  bad.at = core::nowMs();
  bad.status = 500;
  bad.error = "HTTP 500";
  ASSERT_TRUE(rs.recordAttempt(claimed[0].id, bad, DeliveryStatus::kFailed, bad.at));
  ASSERT_TRUE(rs.recordAttempt(claimed[1].id, bad, DeliveryStatus::kDelivered, bad.at));
  auto tl = *store().timeline(threat);
  ASSERT_EQ(tl.size(), created + 1);  // the automatic note's delivery is not shown
  EXPECT_EQ(tl.back().action, "response");
  EXPECT_EQ(tl.back().actor, "system");
  EXPECT_EQ(tl.back().from, "webhook");
  EXPECT_EQ(tl.back().to, "hook: failed (500): HTTP 500");

  ASSERT_TRUE(rs.replayDelivery(claimed[0].id, core::nowMs()));
  auto again = *rs.claimDeliveries(10, core::nowMs(), 1000);
  ASSERT_EQ(again.size(), 1u);
  DeliveryAttempt ok;
  ok.at = core::nowMs() + 5;
  ok.status = 200;
  ASSERT_TRUE(rs.recordAttempt(again[0].id, ok, DeliveryStatus::kDelivered, ok.at));
  tl = *store().timeline(threat);
  ASSERT_EQ(tl.size(), created + 2);
  EXPECT_EQ(tl[tl.size() - 2].to, "hook: failed (500): HTTP 500");
  EXPECT_EQ(tl.back().to, "hook: delivered (200)");

  ASSERT_TRUE(rs.prune(0, core::nowMs() + 60000));
  EXPECT_FALSE(rs.getDelivery(again[0].id));  // pruned ...
  tl = *store().timeline(threat);             // ... and still on the timeline
  ASSERT_EQ(tl.size(), created + 2);
  EXPECT_EQ(tl[tl.size() - 2].to, "hook: failed (500): HTTP 500");
  EXPECT_EQ(tl.back().to, "hook: delivered (200)");
  EXPECT_EQ(tl.back().at, ok.at);
}

INSTANTIATE_TEST_SUITE_P(Backends, ResponseStoreTest,
                         ::testing::Values(sqliteBackend(), postgresBackend()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace td::store::testing
