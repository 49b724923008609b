// The respond domain's tables: responses (their rules kept as a JSON spec that the respond module
// owns and validates), deliveries and their tries, throttle windows, digest items, per-user group
// subscriptions, in-app notifications and per-state automations.
//
// Deliveries are the dispatcher's durable work list. Fanning an outbox event out inserts its
// deliveries idempotently (the idempotency key is unique), so an event claimed twice after a crash
// never yields two deliveries; a delivery is claimed with a lease, so one whose sender died is
// tried again once the lease runs out, and one a receiver acknowledged is never sent again.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/threat.h"

namespace td::store {

using core::OrgId;
using core::Result;
using core::Status;
using core::TagId;
using core::ThreatId;
using core::TimeMs;
using core::UserId;

struct ResponseRecord {
  std::int64_t id = 0;
  OrgId org_id = 0;
  std::string name;
  std::string type;  // "email" | "webhook"
  bool enabled = true;
  std::string spec_json;       // the whole rule as the respond module reads it
  std::int64_t held_back = 0;  // events the throttle held back, ever
  TimeMs created_at = 0;
  TimeMs updated_at = 0;
};

enum class DeliveryStatus : std::uint8_t {
  kPending = 0,    // waiting for its time (next_at) or a sender
  kDelivered = 1,  // the receiver acknowledged it
  kFailed = 2,     // given up after its tries; may be replayed
  kSkipped = 3,    // nothing to send any more (escalation of an acknowledged threat, ...)
  kCancelled = 4,  // its response was deleted
};
std::string_view deliveryStatusName(DeliveryStatus s);
Result<DeliveryStatus> parseDeliveryStatus(std::string_view text);

struct Delivery {
  std::int64_t id = 0;
  OrgId org_id = 0;
  std::optional<std::int64_t> response_id;  // none: a subscriber's notification or a note
  std::optional<std::int64_t> outbox_id;
  std::optional<ThreatId> threat_id;
  std::string kind;       // webhook, email, digest, escalation, notification, note
  std::string recipient;  // email address, user id, or the webhook's response name
  std::string idempotency_key;
  DeliveryStatus status = DeliveryStatus::kPending;
  std::string payload_json = "{}";  // what the sender needs (event, threat ids, time zone ...)
  int attempts = 0;
  int max_attempts = 1;
  TimeMs next_at = 0;
  TimeMs created_at = 0;
  std::optional<TimeMs> finished_at;
  std::optional<int> last_status;  // HTTP status or SMTP reply code of the last try
  std::string last_error;
};

// One try of a delivery: what was sent, what came back.
struct DeliveryAttempt {
  std::int64_t id = 0;
  std::int64_t delivery_id = 0;
  TimeMs at = 0;
  std::int64_t duration_ms = 0;
  std::optional<int> status;  // HTTP status / SMTP code; none for a network error
  std::string error;
  std::string request;   // summary of what was sent (method, URL, headers, body; secrets elided)
  std::string response;  // the answer's first bytes
};

struct DeliveryFilter {
  std::optional<OrgId> org_id;
  std::optional<std::int64_t> response_id;
  std::optional<ThreatId> threat_id;
  std::optional<DeliveryStatus> status;
  int limit = 100;
  std::optional<std::int64_t> before_id;  // keyset paging, newest first
};

struct Subscription {
  UserId user_id = 0;
  TagId group_id = 0;
  bool on_assign = true;  // a threat lands in the group
  bool on_change = true;  // state, owner, outcome or note of a threat in the group changes
};

struct Notification {
  std::int64_t id = 0;
  UserId user_id = 0;
  std::optional<ThreatId> threat_id;
  std::string kind;  // assigned, changed, state
  std::string text;
  TimeMs created_at = 0;
  std::optional<TimeMs> read_at;
};

// What an organisation wants when a threat enters a state: a note (template) and/or a
// notification of the group's subscribers and the owner.
struct StateAutomation {
  OrgId org_id = 0;
  TagId state_id = 0;
  std::string note_template;  // empty: no note
  bool notify = false;
};

struct DigestItem {
  std::int64_t id = 0;
  std::int64_t response_id = 0;
  std::string recipient;
  ThreatId threat_id = 0;
  TimeMs added_at = 0;
};

class ResponseStore {
 public:
  ResponseStore() = default;
  ResponseStore(const ResponseStore&) = delete;
  ResponseStore& operator=(const ResponseStore&) = delete;
  virtual ~ResponseStore() = default;

  // --- responses -------------------------------------------------------------------------------
  // Names are unique per organisation (kConflict).
  virtual Result<ResponseRecord> createResponse(const ResponseRecord& r) = 0;
  virtual Result<ResponseRecord> updateResponse(const ResponseRecord& r) = 0;
  virtual Result<ResponseRecord> getResponse(std::int64_t id) = 0;
  // Of one organisation, or of all when none.
  virtual Result<std::vector<ResponseRecord>> listResponses(std::optional<OrgId> org) = 0;
  // Deletes the response and cancels its pending deliveries; the delivery history stays.
  virtual Status deleteResponse(std::int64_t id) = 0;

  // --- deliveries ------------------------------------------------------------------------------
  // Inserts the deliveries whose idempotency key is new and ignores the others, in one
  // transaction, together with digest items (likewise idempotent by (response, recipient,
  // threat, outbox id)) and held-back counts for throttled responses. Returns how many
  // deliveries were new.
  struct Fanout {
    std::vector<Delivery> deliveries;
    std::vector<DigestItem> digest_items;
    std::vector<std::pair<std::int64_t, std::string>> throttled;  // (response, key) held back
    std::optional<std::int64_t> outbox_id;                        // recorded as fanned out
  };
  virtual Result<int> insertFanout(const Fanout& fanout) { return insertFanouts({fanout}); }
  // Several events' fan-outs in one transaction (the dispatcher's batch).
  virtual Result<int> insertFanouts(const std::vector<Fanout>& fanouts) = 0;
  // The dispatcher's batch in one transaction that also acknowledges the fan-outs' outbox events
  // (so an event is either fanned out and acknowledged, or neither), and claims up to
  // `claim_limit` of the new deliveries due at `now` for `lease_ms` (attempts 1, as
  // claimDeliveries would) so the caller can send them at once without claiming them again.
  struct FanoutResult {
    int inserted = 0;
    std::vector<Delivery> claimed;  // with their ids
  };
  virtual Result<FanoutResult> insertFanoutsAndAck(const std::vector<Fanout>& fanouts, TimeMs now,
                                                   TimeMs lease_ms, int claim_limit) = 0;
  // Whether an outbox event was fanned out already (its deliveries exist): lets a reclaimed
  // event skip the throttle, which it passed or was held back by the first time.
  virtual Result<bool> fannedOut(std::int64_t outbox_id) = 0;

  // The throttle: true (and the window started) when (response, key) may fire at `now`, false
  // when an earlier firing's window of `window_ms` still runs (the caller holds it back). The
  // event that opened a window is admitted again (a reclaimed event after a crash).
  virtual Result<bool> throttleAdmit(std::int64_t response_id, const std::string& key, TimeMs now,
                                     TimeMs window_ms, std::optional<std::int64_t> outbox_id) = 0;
  // Held-back counts per key of a response (most recent windows first).
  virtual Result<std::vector<std::pair<std::string, std::int64_t>>> throttleCounts(
      std::int64_t response_id) = 0;

  // Claims up to `limit` pending deliveries due at `now` for `lease_ms` (attempts + 1).
  virtual Result<std::vector<Delivery>> claimDeliveries(int limit, TimeMs now, TimeMs lease_ms) = 0;
  // Records one try and the delivery's new state in one transaction. For a retry set status
  // kPending and next_at; the lease is released.
  struct AttemptRecord {
    std::int64_t delivery_id = 0;
    DeliveryAttempt attempt;
    DeliveryStatus status = DeliveryStatus::kDelivered;
    TimeMs next_at = 0;
    std::vector<Delivery> follow_ups;
  };
  Status recordAttempt(std::int64_t delivery_id, const DeliveryAttempt& attempt,
                       DeliveryStatus status, TimeMs next_at,
                       const std::vector<Delivery>& follow_ups = {}) {
    return recordAttempts({AttemptRecord{delivery_id, attempt, status, next_at, follow_ups}});
  }
  // Several tries in one transaction (a worker's batch).
  virtual Status recordAttempts(const std::vector<AttemptRecord>& records) = 0;
  // Gives claimed deliveries back unsent (claim undone, the try not counted), for a sender that
  // will not get to them within their lease.
  virtual Status releaseDeliveries(const std::vector<std::int64_t>& ids) = 0;
  virtual Result<Delivery> getDelivery(std::int64_t id) = 0;
  virtual Result<std::vector<Delivery>> listDeliveries(const DeliveryFilter& filter) = 0;
  virtual Result<std::vector<DeliveryAttempt>> listAttempts(std::int64_t delivery_id) = 0;
  // A failed (or skipped) delivery back to pending with fresh tries, due at `now`.
  virtual Result<Delivery> replayDelivery(std::int64_t id, TimeMs now) = 0;

  // --- digests ---------------------------------------------------------------------------------
  // (response, recipient) pairs with items not yet in a digest.
  virtual Result<std::vector<std::pair<std::int64_t, std::string>>> pendingDigests() = 0;
  virtual Result<TimeMs> digestLastSlot(std::int64_t response_id, const std::string& recipient) = 0;
  // In one transaction: inserts the digest delivery (idempotent by key), moves the pending items
  // added at or before `slot` into it, and records `slot` as sent. Returns the item count; with
  // no items due nothing changes.
  virtual Result<int> closeDigest(const Delivery& digest, TimeMs slot) = 0;
  virtual Result<std::vector<DigestItem>> digestItems(std::int64_t delivery_id) = 0;

  // --- subscriptions, notifications, automations -----------------------------------------------
  virtual Status putSubscription(const Subscription& s) = 0;
  virtual Status deleteSubscription(UserId user, TagId group) = 0;
  virtual Result<std::vector<Subscription>> subscriptionsOfUser(UserId user) = 0;
  virtual Result<std::vector<Subscription>> subscribersOfGroup(TagId group) = 0;

  // Idempotent per delivery: a notification delivery tried twice leaves one notification.
  virtual Status addNotification(const Notification& n, std::int64_t delivery_id) = 0;
  virtual Result<std::vector<Notification>> listNotifications(UserId user, bool unread_only,
                                                              int limit) = 0;
  virtual Status markNotificationsRead(UserId user, const std::vector<std::int64_t>& ids,
                                       TimeMs at) = 0;

  virtual Status putStateAutomation(const StateAutomation& a) = 0;
  virtual Status deleteStateAutomation(TagId state) = 0;
  virtual Result<std::vector<StateAutomation>> listStateAutomations(OrgId org) = 0;
  virtual Result<std::optional<StateAutomation>> stateAutomation(TagId state) = 0;

  // --- housekeeping ----------------------------------------------------------------------------
  // Deletes outbox rows delivered before `outbox_before` and finished deliveries (and their tries
  // and digest items) finished before `deliveries_before`. Returns the rows deleted.
  virtual Result<std::int64_t> prune(TimeMs outbox_before, TimeMs deliveries_before) = 0;
};

}  // namespace td::store
