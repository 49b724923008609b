// The SQLite implementation of ResponseStore, on SqliteStore's writer and reader connections.
//
// Thread safety: as ResponseStore; SqliteStore serialises writes.
#pragma once

#include <vector>

#include "store/response_store.h"
#include "store/sql/connection.h"
#include "store/types.h"

namespace td::store::sqlite {

class SqliteStore;

class SqliteResponseStore final : public ResponseStore {
 public:
  explicit SqliteResponseStore(SqliteStore& store) : store_(store) {}

  Result<ResponseRecord> createResponse(const ResponseRecord& r) override;
  Result<ResponseRecord> updateResponse(const ResponseRecord& r) override;
  Result<ResponseRecord> getResponse(std::int64_t id) override;
  Result<std::vector<ResponseRecord>> listResponses(std::optional<OrgId> org) override;
  Status deleteResponse(std::int64_t id) override;

  Result<int> insertFanouts(const std::vector<Fanout>& fanouts) override;
  Result<FanoutResult> insertFanoutsAndAck(const std::vector<Fanout>& fanouts, TimeMs now,
                                           TimeMs lease_ms, int claim_limit) override;
  Result<bool> fannedOut(std::int64_t outbox_id) override;
  Result<bool> throttleAdmit(std::int64_t response_id, const std::string& key, TimeMs now,
                             TimeMs window_ms, std::optional<std::int64_t> outbox_id) override;
  Result<std::vector<std::pair<std::string, std::int64_t>>> throttleCounts(
      std::int64_t response_id) override;
  Result<std::vector<Delivery>> claimDeliveries(int limit, TimeMs now, TimeMs lease_ms) override;
  Status recordAttempts(const std::vector<AttemptRecord>& records) override;
  Status releaseDeliveries(const std::vector<std::int64_t>& ids) override;
  Result<Delivery> getDelivery(std::int64_t id) override;
  Result<std::vector<Delivery>> listDeliveries(const DeliveryFilter& filter) override;
  Result<std::vector<DeliveryAttempt>> listAttempts(std::int64_t delivery_id) override;
  Result<Delivery> replayDelivery(std::int64_t id, TimeMs now) override;

  Result<std::vector<std::pair<std::int64_t, std::string>>> pendingDigests() override;
  Result<TimeMs> digestLastSlot(std::int64_t response_id, const std::string& recipient) override;
  Result<int> closeDigest(const Delivery& digest, TimeMs slot) override;
  Result<std::vector<DigestItem>> digestItems(std::int64_t delivery_id) override;

  Status putSubscription(const Subscription& s) override;
  Status deleteSubscription(UserId user, TagId group) override;
  Result<std::vector<Subscription>> subscriptionsOfUser(UserId user) override;
  Result<std::vector<Subscription>> subscribersOfGroup(TagId group) override;
  Status addNotification(const Notification& n, std::int64_t delivery_id) override;
  Result<std::vector<Notification>> listNotifications(UserId user, bool unread_only,
                                                      int limit) override;
  Status markNotificationsRead(UserId user, const std::vector<std::int64_t>& ids,
                               TimeMs at) override;

  Status putStateAutomation(const StateAutomation& a) override;
  Status deleteStateAutomation(TagId state) override;
  Result<std::vector<StateAutomation>> listStateAutomations(OrgId org) override;
  Result<std::optional<StateAutomation>> stateAutomation(TagId state) override;

  Result<std::int64_t> prune(TimeMs outbox_before, TimeMs deliveries_before) override;

  // A threat's finished deliveries as its timeline shows them (action "response", from the kind,
  // to "recipient: outcome"), read from the delivery rows on the caller's connection: a finished
  // delivery writes no timeline row of its own. What a replay or the pruning overwrites or
  // deletes is written to the timeline table first (see replayDelivery and prune).
  static Status deliveryTimeline(sql::Connection& c, ThreatId threat,
                                 std::vector<TimelineEntry>& out);

 private:
  SqliteStore& store_;
};

}  // namespace td::store::sqlite
