#include "store/sqlite/sqlite_response_store.h"

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/time.h"
#include "store/sql/multi_row.h"
#include "store/sqlite/sqlite_store.h"

namespace td::store::sqlite {

using core::ErrorCode;
using core::fail;

namespace {

constexpr const char* kResponseColumns =
    "SELECT id, org_id, name, type, enabled, spec, held_back, created_at, updated_at FROM "
    "responses ";

ResponseRecord responseFromRow(const Statement& st) {
  ResponseRecord r;
  r.id = st.i64(0);
  r.org_id = st.i64(1);
  r.name = st.text(2);
  r.type = st.text(3);
  r.enabled = st.i32(4) != 0;
  r.spec_json = st.text(5);
  r.held_back = st.i64(6);
  r.created_at = st.i64(7);
  r.updated_at = st.i64(8);
  return r;
}

constexpr const char* kDeliveryColumns =
    "SELECT id, org_id, response_id, outbox_id, threat_id, kind, recipient, idempotency_key, "
    "status, payload, attempts, max_attempts, next_at, created_at, finished_at, last_status, "
    "last_error FROM deliveries ";
constexpr const char* kDeliveryReturning =
    " RETURNING id, org_id, response_id, outbox_id, threat_id, kind, recipient, idempotency_key, "
    "status, payload, attempts, max_attempts, next_at, created_at, finished_at, last_status, "
    "last_error";

Delivery deliveryFromRow(const Statement& st) {
  Delivery d;
  d.id = st.i64(0);
  d.org_id = st.i64(1);
  d.response_id = st.optI64(2);
  d.outbox_id = st.optI64(3);
  d.threat_id = st.optI64(4);
  d.kind = st.text(5);
  d.recipient = st.text(6);
  d.idempotency_key = st.text(7);
  d.status = static_cast<DeliveryStatus>(std::clamp(st.i32(8), 0, 4));
  d.payload_json = st.text(9);
  d.attempts = st.i32(10);
  d.max_attempts = st.i32(11);
  d.next_at = st.i64(12);
  d.created_at = st.i64(13);
  d.finished_at = st.optI64(14);
  if (!st.isNull(15)) d.last_status = st.i32(15);
  d.last_error = st.text(16);
  return d;
}

Status insertDelivery(Connection& c, const Delivery& d, int* inserted) {
  TD_TRY(st,
         c.prepare("INSERT INTO deliveries (org_id, response_id, outbox_id, threat_id, kind, "
                   "recipient, idempotency_key, status, payload, attempts, max_attempts, next_at, "
                   "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, 0, ?, ?, ?) "
                   "ON CONFLICT (idempotency_key) DO NOTHING"));
  st->bind(1, d.org_id).bind(2, d.response_id).bind(3, d.outbox_id).bind(4, d.threat_id);
  st->bind(5, d.kind).bind(6, d.recipient).bind(7, d.idempotency_key).bind(8, d.payload_json);
  st->bind(9, std::max(1, d.max_attempts)).bind(10, d.next_at).bind(11, d.created_at);
  TD_CHECK(st->run());
  if (inserted) *inserted += c.changes();
  return {};
}

template <typename T, typename Row>
Result<std::vector<T>> readAll(Statement* st, Row row) {
  std::vector<T> out;
  while (true) {
    auto has = st->step();
    if (!has) return fail(has.error());
    if (!*has) break;
    out.push_back(row(*st));
  }
  return out;
}

// Inserts `count` rows with multi-row statements, "<head> (…), (…) <tail>", `row` being one
// row's placeholders: one statement per up to 32 rows instead of per row. Chunks of 32, 8 and 1
// rows keep the connection's statement cache to three entries.
template <typename BindRow, typename OnRow>
Status insertRows(Connection& c, std::string_view head, std::string_view row, int params_per_row,
                  std::string_view tail, size_t count, BindRow bindRow, OnRow onRow) {
  return sql::runMultiRow(c, head, row, tail, count, params_per_row, {32, 8, 1}, bindRow, onRow);
}

// How a finished delivery reads on its threat's timeline: "hook: delivered (200)",
// "hook: failed (500): HTTP 500".
std::string timelineText(std::string_view recipient, DeliveryStatus status, std::optional<int> code,
                         std::string_view error) {
  std::string out(recipient);
  out += ": ";
  out += deliveryStatusName(status);
  if (code) out += " (" + std::to_string(*code) + ")";
  if (status == DeliveryStatus::kFailed && !error.empty()) {
    out += ": ";
    out += error.substr(0, 200);
  }
  return out;
}

// The deliveries a threat's timeline shows: finished (not cancelled), about a threat, and not
// the automatic notes, which are on the timeline as notes.
constexpr const char* kTimelineDeliveries =
    "threat_id IS NOT NULL AND kind <> 'note' AND kind <> 'fanout' AND finished_at IS NOT NULL";

}  // namespace

// --- responses ---------------------------------------------------------------------------------

Result<ResponseRecord> SqliteResponseStore::createResponse(const ResponseRecord& r) {
  ResponseRecord out;
  TD_CHECK(store_.withWriter([&](Connection& c) -> Status {
    TD_TRY(st, c.prepare("INSERT INTO responses (org_id, name, type, enabled, spec, created_at, "
                         "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id"));
    st->bind(1, r.org_id).bind(2, r.name).bind(3, r.type).bind(4, r.enabled);
    st->bind(5, r.spec_json).bind(6, r.created_at).bind(7, r.updated_at);
    auto row = st->step();
    if (!row) {
      auto e = row.error();
      if (e.code == ErrorCode::kConflict) {
        e.message = "a response named '" + r.name + "' exists already in this organisation";
        e.field = "name";
      }
      st->reset();
      return fail(e);
    }
    out = r;
    out.id = st->i64(0);
    st->reset();
    return {};
  }));
  return out;
}

Result<ResponseRecord> SqliteResponseStore::updateResponse(const ResponseRecord& r) {
  TD_CHECK(store_.withWriter([&](Connection& c) -> Status {
    TD_TRY(st, c.prepare("UPDATE responses SET name = ?, type = ?, enabled = ?, spec = ?, "
                         "updated_at = ? WHERE id = ?"));
    st->bind(1, r.name).bind(2, r.type).bind(3, r.enabled).bind(4, r.spec_json);
    st->bind(5, r.updated_at).bind(6, r.id);
    if (auto s = st->run(); !s) {
      auto e = s.error();
      if (e.code == ErrorCode::kConflict) {
        e.message = "a response named '" + r.name + "' exists already in this organisation";
        e.field = "name";
      }
      return fail(e);
    }
    if (c.changes() == 0) return fail(ErrorCode::kNotFound, "no response " + std::to_string(r.id));
    return {};
  }));
  return getResponse(r.id);
}

Result<ResponseRecord> SqliteResponseStore::getResponse(std::int64_t id) {
  ResponseRecord out;
  TD_CHECK(store_.withReader([&](Connection& c) -> Status {
    TD_TRY(st, c.prepare(std::string(kResponseColumns) + "WHERE id = ?"));
    st->bind(1, id);
    TD_TRY(row, st->step());
    if (!row) return fail(ErrorCode::kNotFound, "no response " + std::to_string(id), "id");
    out = responseFromRow(*st);
    st->reset();
    return {};
  }));
  return out;
}

Result<std::vector<ResponseRecord>> SqliteResponseStore::listResponses(std::optional<OrgId> org) {
  std::vector<ResponseRecord> out;
  TD_CHECK(store_.withReader([&](Connection& c) -> Status {
    TD_TRY(st, c.prepare(std::string(kResponseColumns) +
                         "WHERE (? IS NULL OR org_id = ?) ORDER BY id"));
    st->bind(1, org).bind(2, org);
    TD_TRY(rows, readAll<ResponseRecord>(st, responseFromRow));
    out = std::move(rows);
    return {};
  }));
  return out;
}

Status SqliteResponseStore::deleteResponse(std::int64_t id) {
  return store_.withWriter([&](Connection& c) -> Status {
    Transaction tx(c);
    TD_CHECK(tx.begin());
    TD_TRY(del, c.prepare("DELETE FROM responses WHERE id = ?"));
    del->bind(1, id);
    TD_CHECK(del->run());
    if (c.changes() == 0) return fail(ErrorCode::kNotFound, "no response " + std::to_string(id));
    TD_TRY(cancel, c.prepare("UPDATE deliveries SET status = 4, finished_at = ? WHERE "
                             "response_id = ? AND status = 0"));
    cancel->bind(1, core::nowMs()).bind(2, id);
    TD_CHECK(cancel->run());
    TD_TRY(items, c.prepare("DELETE FROM digest_items WHERE response_id = ? AND delivery_id IS "
                            "NULL"));
    items->bind(1, id);
    TD_CHECK(items->run());
    TD_TRY(thr, c.prepare("DELETE FROM response_throttle WHERE response_id = ?"));
    thr->bind(1, id);
    TD_CHECK(thr->run());
    return tx.commit();
  });
}

// --- deliveries --------------------------------------------------------------------------------

namespace {
// The rows of a batch of fan-outs, inside the caller's transaction. With `claimed`, up to
// `claim_limit` new deliveries due at `now` are inserted claimed for `lease_ms` and returned.
// With `mark`, each fanned-out event gets a marker row (fannedOut() finds it); an event whose
// fan-out is acknowledged in the same transaction needs none (fannedOut() finds the ack).
Status insertFanoutRows(Connection& c, const std::vector<ResponseStore::Fanout>& fanouts,
                        TimeMs now, TimeMs lease_ms, int claim_limit, bool mark, int* inserted,
                        std::vector<Delivery>* claimed) {
  // The deliveries to hand over, inserted claimed (as claimDeliveries would leave them) in
  // multi-row statements; a key seen before inserts nothing and hands nothing over (that
  // delivery is claimed the usual way).
  std::vector<const Delivery*> to_claim;
  if (claimed)
    for (const auto& fanout : fanouts)
      for (const auto& d : fanout.deliveries)
        if (d.next_at <= now && static_cast<int>(to_claim.size()) < claim_limit)
          to_claim.push_back(&d);
  if (!to_claim.empty()) {
    std::unordered_map<std::string_view, const Delivery*> by_key;
    by_key.reserve(to_claim.size());
    for (const Delivery* d : to_claim) by_key.emplace(d->idempotency_key, d);
    TD_CHECK(insertRows(
        c,
        "INSERT INTO deliveries (org_id, response_id, outbox_id, threat_id, kind, recipient, "
        "idempotency_key, status, payload, attempts, max_attempts, next_at, created_at, "
        "claimed_until) VALUES ",
        "(?, ?, ?, ?, ?, ?, ?, 0, ?, 1, ?, ?, ?, ?)", 12,
        " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key", to_claim.size(),
        [&](Statement& st, int p, size_t i) {
          const Delivery& d = *to_claim[i];
          st.bind(p, d.org_id).bind(p + 1, d.response_id).bind(p + 2, d.outbox_id);
          st.bind(p + 3, d.threat_id).bind(p + 4, d.kind).bind(p + 5, d.recipient);
          st.bind(p + 6, d.idempotency_key).bind(p + 7, d.payload_json);
          st.bind(p + 8, std::max(1, d.max_attempts)).bind(p + 9, d.next_at);
          st.bind(p + 10, d.created_at).bind(p + 11, now + lease_ms);
        },
        [&](Statement& st) {
          auto it = by_key.find(st.textView(1));
          if (it == by_key.end()) return;
          Delivery x = *it->second;
          x.id = st.i64(0);
          x.attempts = 1;
          x.max_attempts = std::max(1, x.max_attempts);
          x.status = DeliveryStatus::kPending;
          claimed->push_back(std::move(x));
          ++*inserted;
        }));
    // RETURNING gives no promise of order: hand over in the order of the fan-out.
    std::sort(claimed->begin(), claimed->end(),
              [](const Delivery& a, const Delivery& b) { return a.id < b.id; });
  }
  size_t next_claim = 0;
  for (const auto& fanout : fanouts) {
    for (const auto& d : fanout.deliveries) {
      if (next_claim < to_claim.size() && to_claim[next_claim] == &d) {
        ++next_claim;
        continue;
      }
      TD_CHECK(insertDelivery(c, d, inserted));
    }
    if (!fanout.digest_items.empty()) {
      TD_TRY(st, c.prepare("INSERT INTO digest_items (response_id, recipient, threat_id, "
                           "outbox_id, added_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"));
      for (const auto& i : fanout.digest_items) {
        st->reset();
        st->bind(1, i.response_id).bind(2, i.recipient).bind(3, i.threat_id);
        st->bind(4, fanout.outbox_id.value_or(0)).bind(5, i.added_at);
        TD_CHECK(st->run());
      }
    }
    if (!fanout.throttled.empty()) {
      TD_TRY(held, c.prepare("UPDATE response_throttle SET held = held + 1 WHERE response_id = ? "
                             "AND key = ?"));
      TD_TRY(total, c.prepare("UPDATE responses SET held_back = held_back + 1 WHERE id = ?"));
      for (const auto& [response, key] : fanout.throttled) {
        held->reset();
        held->bind(1, response).bind(2, key);
        TD_CHECK(held->run());
        total->reset();
        total->bind(1, response);
        TD_CHECK(total->run());
      }
    }
    if (mark && fanout.outbox_id) {
      // A marker row so that a reclaimed event is known as fanned out even when it owed nothing.
      TD_TRY(st, c.prepare("INSERT INTO deliveries (org_id, outbox_id, kind, recipient, "
                           "idempotency_key, status, payload, next_at, created_at, finished_at) "
                           "VALUES (0, ?, 'fanout', '', ?, 3, '{}', 0, ?, ?) "
                           "ON CONFLICT (idempotency_key) DO NOTHING"));
      const TimeMs at = core::nowMs();
      st->bind(1, *fanout.outbox_id).bind(2, "fanout-" + std::to_string(*fanout.outbox_id));
      st->bind(3, at).bind(4, at);
      TD_CHECK(st->run());
    }
  }
  return {};
}
}  // namespace

Result<int> SqliteResponseStore::insertFanouts(const std::vector<Fanout>& fanouts) {
  int inserted = 0;
  TD_CHECK(store_.withWriter([&](Connection& c) -> Status {
    Transaction tx(c);
    TD_CHECK(tx.begin());
    TD_CHECK(insertFanoutRows(c, fanouts, 0, 0, 0, true, &inserted, nullptr));
    return tx.commit();
  }));
  return inserted;
}

Result<ResponseStore::FanoutResult> SqliteResponseStore::insertFanoutsAndAck(
    const std::vector<Fanout>& fanouts, TimeMs now, TimeMs lease_ms, int claim_limit) {
  FanoutResult out;
  TD_CHECK(store_.withWriter([&](Connection& c) -> Status {
    Transaction tx(c);
    TD_CHECK(tx.begin());
    std::vector<Delivery> claimed;
    TD_CHECK(
        insertFanoutRows(c, fanouts, now, lease_ms, claim_limit, false, &out.inserted, &claimed));
    TD_TRY(ack, c.prepare("UPDATE outbox SET delivered_at = ? WHERE id = ? AND delivered_at IS "
                          "NULL"));
    const TimeMs at = core::nowMs();
    for (const auto& f : fanouts) {
      if (!f.outbox_id) continue;
      ack->reset();
      ack->bind(1, at).bind(2, *f.outbox_id);
      TD_CHECK(ack->run());
    }
    TD_CHECK(tx.commit());
    out.claimed = std::move(claimed);
    return {};
  }));
  return out;
}

Result<bool> SqliteResponseStore::fannedOut(std::int64_t outbox_id) {
  bool found = false;
  TD_CHECK(store_.withReader([&](Connection& c) -> Status {
    // The dispatcher's fan-out acknowledges the event in the transaction that inserts its
    // deliveries, so an acknowledged event was fanned out; insertFanouts() leaves a marker.
    TD_TRY(ack, c.prepare("SELECT 1 FROM outbox WHERE id = ? AND delivered_at IS NOT NULL"));
    ack->bind(1, outbox_id);
    TD_TRY(acked, ack->step());
    ack->reset();
    if (acked) {
      found = true;
      return {};
    }
    TD_TRY(st, c.prepare("SELECT 1 FROM deliveries WHERE idempotency_key = ?"));
    st->bind(1, "fanout-" + std::to_string(outbox_id));
    TD_TRY(row, st->step());
    found = row;
    st->reset();
    return {};
  }));
  return found;
}

Result<bool> SqliteResponseStore::throttleAdmit(std::int64_t response_id, const std::string& key,
                                                TimeMs now, TimeMs window_ms,
                                                std::optional<std::int64_t> outbox_id) {
  bool admitted = false;
  TD_CHECK(store_.withWriter([&](Connection& c) -> Status {
    // Starts a new window when none runs; the RETURNING row says whether it did.
    TD_TRY(st, c.prepare("INSERT INTO response_throttle (response_id, key, window_start, "
                         "outbox_id, held) VALUES (?, ?, ?, ?, 0) ON CONFLICT (response_id, key) "
                         "DO UPDATE SET window_start = excluded.window_start, outbox_id = "
                         "excluded.outbox_id, held = 0 WHERE response_throttle.window_start + ? "
                         "<= excluded.window_start RETURNING window_start"));
    st->bind(1, response_id).bind(2, key).bind(3, now).bind(4, outbox_id).bind(5, window_ms);
    TD_TRY(row, st->step());
    admitted = row;
    st->reset();
    if (admitted || !outbox_id) return {};
    TD_TRY(same, c.prepare("SELECT 1 FROM response_throttle WHERE response_id = ? AND key = ? "
                           "AND outbox_id = ?"));
    same->bind(1, response_id).bind(2, key).bind(3, *outbox_id);
    TD_TRY(found, same->step());
    admitted = found;
    same->reset();
    return {};
  }));
  return admitted;
}

Result<std::vector<std::pair<std::string, std::int64_t>>> SqliteResponseStore::throttleCounts(
    std::int64_t response_id) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  TD_CHECK(store_.withReader([&](Connection& c) -> Status {
    TD_TRY(st, c.prepare("SELECT key, held FROM response_throttle WHERE response_id = ? AND "
                         "held > 0 ORDER BY window_start DESC LIMIT 100"));
    st->bind(1, response_id);
    TD_TRY(rows, (readAll<std::pair<std::string, std::int64_t>>(
                     st, [](const Statement& s) { return std::make_pair(s.text(0), s.i64(1)); })));
    out = std::move(rows);
    return {};
  }));
  return out;
}

Result<std::vector<Delivery>> SqliteResponseStore::claimDeliveries(int limit, TimeMs now,
                                                                   TimeMs lease_ms) {
  std::vector<Delivery> out;
  if (limit < 1) return out;
  TD_CHECK(store_.withWriter([&](Connection& c) -> Status {
    TD_TRY(st, c.prepare(std::string("UPDATE deliveries SET claimed_until = ?, attempts = "
                                     "attempts + 1 WHERE id IN (SELECT id FROM deliveries WHERE "
                                     "status = 0 AND next_at <= ? AND (claimed_until IS NULL OR "
                                     "claimed_until <= ?) ORDER BY next_at, id LIMIT ?") +
                         std::string(c.claimLock()) + ")" + kDeliveryReturning));
    st->bind(1, now + lease_ms).bind(2, now).bind(3, now).bind(4, limit);
    TD_TRY(rows, readAll<Delivery>(st, deliveryFromRow));
    out = std::move(rows);
    return {};
  }));
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
  return out;
}

Status SqliteResponseStore::recordAttempts(const std::vector<AttemptRecord>& records) {
  if (records.empty()) return {};
  return store_.withWriter([&](Connection& c) -> Status {
    Transaction tx(c);
    TD_CHECK(tx.begin());
    // The tries, many rows to a statement. A finished delivery shows on its threat's timeline
    // from its own row (deliveryTimeline), so it writes no timeline row.
    TD_CHECK(insertRows(
        c,
        "INSERT INTO delivery_attempts (delivery_id, at, duration_ms, status, error, request, "
        "response) VALUES ",
        "(?, ?, ?, ?, ?, ?, ?)", 7, "", records.size(),
        [&](Statement& st, int p, size_t i) {
          const auto& r = records[i];
          st.bind(p, r.delivery_id).bind(p + 1, r.attempt.at).bind(p + 2, r.attempt.duration_ms);
          st.bind(p + 3, r.attempt.status).bind(p + 4, r.attempt.error);
          st.bind(p + 5, r.attempt.request).bind(p + 6, r.attempt.response);
        },
        [](Statement&) {}));
    for (const auto& r : records) {
      const bool finished = r.status != DeliveryStatus::kPending;
      // Only a pending delivery changes: one cancelled (its response deleted) while it was being
      // sent stays cancelled; the try is recorded all the same.
      TD_TRY(up, c.prepare("UPDATE deliveries SET status = ?, next_at = ?, claimed_until = NULL, "
                           "finished_at = ?, last_status = ?, last_error = ? WHERE id = ? AND "
                           "status = 0"));
      up->bind(1, static_cast<int>(r.status)).bind(2, r.next_at);
      up->bind(3, finished ? std::optional<TimeMs>(r.attempt.at) : std::nullopt);
      up->bind(4, r.attempt.status).bind(5, r.attempt.error).bind(6, r.delivery_id);
      TD_CHECK(up->run());
      for (const auto& d : r.follow_ups) TD_CHECK(insertDelivery(c, d, nullptr));
    }
    return tx.commit();
  });
}

Status SqliteResponseStore::deliveryTimeline(Connection& c, ThreatId threat,
                                             std::vector<TimelineEntry>& out) {
  TD_TRY(st, c.prepare(std::string("SELECT finished_at, kind, recipient, status, last_status, "
                                   "last_error FROM deliveries WHERE threat_id = ? AND "
                                   "status IN (1, 2, 3) AND ") +
                       kTimelineDeliveries + " ORDER BY finished_at, id"));
  st->bind(1, threat);
  while (true) {
    TD_TRY(row, st->step());
    if (!row) break;
    std::optional<int> code;
    if (!st->isNull(4)) code = st->i32(4);
    const auto status = static_cast<DeliveryStatus>(std::clamp(st->i32(3), 0, 4));
    out.push_back(TimelineEntry{0, threat, st->i64(0), "system", "response", st->text(1),
                                timelineText(st->textView(2), status, code, st->textView(5))});
  }
  return {};
}

Status SqliteResponseStore::releaseDeliveries(const std::vector<std::int64_t>& ids) {
  if (ids.empty()) return {};
  return store_.withWriter([&](Connection& c) -> Status {
    Transaction tx(c);
    TD_CHECK(tx.begin());
    TD_TRY(st, c.prepare("UPDATE deliveries SET claimed_until = NULL, attempts = max(attempts - 1, "
                         "0) WHERE id = ? AND status = 0 AND claimed_until IS NOT NULL"));
    for (auto id : ids) {
      st->reset();
      st->bind(1, id);
      TD_CHECK(st->run());
    }
    return tx.commit();
  });
}

Result<Delivery> SqliteResponseStore::getDelivery(std::int64_t id) {
  Delivery out;
  TD_CHECK(store_.withReader([&](Connection& c) -> Status {
    TD_TRY(st, c.prepare(std::string(kDeliveryColumns) + "WHERE id = ? AND kind <> 'fanout'"));
    st->bind(1, id);
    TD_TRY(row, st->step());
    if (!row) return fail(ErrorCode::kNotFound, "no delivery " + std::to_string(id), "id");
    out = deliveryFromRow(*st);
    st->reset();
    return {};
  }));
  return out;
}

Result<std::vector<Delivery>> SqliteResponseStore::listDeliveries(const DeliveryFilter& f) {
  std::vector<Delivery> out;
  TD_CHECK(store_.withReader([&](Connection& c) -> Status {
    TD_TRY(st, c.prepare(std::string(kDeliveryColumns) +
                         "WHERE kind <> 'fanout' AND (? IS NULL OR org_id = ?) AND "
                         "(? IS NULL OR response_id = ?) AND (? IS NULL OR threat_id = ?) AND "
                         "(? IS NULL OR status = ?) AND (? IS NULL OR id < ?) "
                         "ORDER BY id DESC LIMIT ?"));
    std::optional<int> status;
    if (f.status) status = static_cast<int>(*f.status);
    st->bind(1, f.org_id).bind(2, f.org_id).bind(3, f.response_id).bind(4, f.response_id);
    st->bind(5, f.threat_id).bind(6, f.threat_id).bind(7, status).bind(8, status);
    st->bind(9, f.before_id).bind(10, f.before_id).bind(11, std::clamp(f.limit, 1, 1000));
    TD_TRY(rows, readAll<Delivery>(st, deliveryFromRow));
    out = std::move(rows);
    return {};
  }));
  return out;
}

Result<std::vector<DeliveryAttempt>> SqliteResponseStore::listAttempts(std::int64_t delivery_id) {
  std::vector<DeliveryAttempt> out;
  TD_CHECK(store_.withReader([&](Connection& c) -> Status {
    TD_TRY(st, c.prepare("SELECT id, delivery_id, at, duration_ms, status, error, request, "
                         "response FROM delivery_attempts WHERE delivery_id = ? ORDER BY id"));
    st->bind(1, delivery_id);
    TD_TRY(rows, readAll<DeliveryAttempt>(st, [](const Statement& s) {
             DeliveryAttempt a;
             a.id = s.i64(0);
             a.delivery_id = s.i64(1);
             a.at = s.i64(2);
             a.duration_ms = s.i64(3);
             if (!s.isNull(4)) a.status = s.i32(4);
             a.error = s.text(5);
             a.request = s.text(6);
             a.response = s.text(7);
             return a;
           }));
    out = std::move(rows);
    return {};
  }));
  return out;
}

Result<Delivery> SqliteResponseStore::replayDelivery(std::int64_t id, TimeMs now) {
  TD_CHECK(store_.withWriter([&](Connection& c) -> Status {
    Transaction tx(c);
    TD_CHECK(tx.begin());
    // The outcome being replayed stays on the threat's timeline: written there now, before the
    // row that shows it (deliveryTimeline) starts over.
    TD_TRY(was, c.prepare(std::string("SELECT threat_id, finished_at, kind, recipient, status, "
                                      "last_status, last_error FROM deliveries WHERE id = ? AND "
                                      "status IN (2, 3) AND ") +
                          kTimelineDeliveries));
    was->bind(1, id);
    TD_TRY(found, was->step());
    std::optional<TimelineEntry> kept;
    if (found) {
      std::optional<int> code;
      if (!was->isNull(5)) code = was->i32(5);
      const auto status = static_cast<DeliveryStatus>(std::clamp(was->i32(4), 0, 4));
      kept = TimelineEntry{0,
                           was->i64(0),
                           was->i64(1),
                           "system",
                           "response",
                           was->text(2),
                           timelineText(was->textView(3), status, code, was->textView(6))};
    }
    was->reset();
    if (kept) {
      TD_TRY(tl, c.prepare("INSERT INTO timeline (threat_id, at, actor, action, from_value, "
                           "to_value) VALUES (?, ?, ?, ?, ?, ?)"));
      tl->bind(1, kept->threat_id).bind(2, kept->at).bind(3, kept->actor).bind(4, kept->action);
      tl->bind(5, kept->from).bind(6, kept->to);
      TD_CHECK(tl->run());
    }
    TD_TRY(st, c.prepare("UPDATE deliveries SET status = 0, attempts = 0, next_at = ?, "
                         "claimed_until = NULL, finished_at = NULL WHERE id = ? AND status IN "
                         "(2, 3) AND kind <> 'fanout'"));
    st->bind(1, now).bind(2, id);
    TD_CHECK(st->run());
    if (c.changes() == 0)
      return fail(ErrorCode::kConflict,
                  "delivery " + std::to_string(id) +
                      " is not failed or skipped (only those can be replayed), or does not exist",
                  "id");
    return tx.commit();
  }));
  return getDelivery(id);
}

// --- digests -----------------------------------------------------------------------------------

Result<std::vector<std::pair<std::int64_t, std::string>>> SqliteResponseStore::pendingDigests() {
  std::vector<std::pair<std::int64_t, std::string>> out;
  TD_CHECK(store_.withReader([&](Connection& c) -> Status {
    TD_TRY(st, c.prepare("SELECT DISTINCT response_id, recipient FROM digest_items WHERE "
                         "delivery_id IS NULL ORDER BY response_id, recipient"));
    TD_TRY(rows, (readAll<std::pair<std::int64_t, std::string>>(
                     st, [](const Statement& s) { return std::make_pair(s.i64(0), s.text(1)); })));
    out = std::move(rows);
    return {};
  }));
  return out;
}

Result<TimeMs> SqliteResponseStore::digestLastSlot(std::int64_t response_id,
                                                   const std::string& recipient) {
  TimeMs out = 0;
  TD_CHECK(store_.withReader([&](Connection& c) -> Status {
    TD_TRY(st, c.prepare("SELECT last_slot FROM digest_state WHERE response_id = ? AND "
                         "recipient = ?"));
    st->bind(1, response_id).bind(2, recipient);
    TD_TRY(row, st->step());
    if (row) out = st->i64(0);
    st->reset();
    return {};
  }));
  return out;
}

Result<int> SqliteResponseStore::closeDigest(const Delivery& digest, TimeMs slot) {
  int moved = 0;
  TD_CHECK(store_.withWriter([&](Connection& c) -> Status {
    Transaction tx(c);
    TD_CHECK(tx.begin());
    TD_TRY(count, c.prepare("SELECT count(*) FROM digest_items WHERE response_id = ? AND "
                            "recipient = ? AND delivery_id IS NULL AND added_at <= ?"));
    count->bind(1, *digest.response_id).bind(2, digest.recipient).bind(3, slot);
    TD_TRY(counted, count->step());
    const auto due = counted ? count->i64(0) : 0;
    count->reset();
    if (due == 0) return {};  // nothing collected before the slot: no empty digest
    int inserted = 0;
    TD_CHECK(insertDelivery(c, digest, &inserted));
    TD_TRY(id, c.prepare("SELECT id FROM deliveries WHERE idempotency_key = ?"));
    id->bind(1, digest.idempotency_key);
    TD_TRY(row, id->step());
    if (!row) return fail(ErrorCode::kInternal, "digest delivery vanished");
    const auto delivery_id = id->i64(0);
    id->reset();
    TD_TRY(mv, c.prepare("UPDATE digest_items SET delivery_id = ? WHERE response_id = ? AND "
                         "recipient = ? AND delivery_id IS NULL AND added_at <= ?"));
    mv->bind(1, delivery_id).bind(2, *digest.response_id).bind(3, digest.recipient).bind(4, slot);
    TD_CHECK(mv->run());
    moved = c.changes();
    TD_TRY(state, c.prepare("INSERT INTO digest_state (response_id, recipient, last_slot) VALUES "
                            "(?, ?, ?) ON CONFLICT (response_id, recipient) DO UPDATE SET "
                            "last_slot = excluded.last_slot"));
    state->bind(1, *digest.response_id).bind(2, digest.recipient).bind(3, slot);
    TD_CHECK(state->run());
    return tx.commit();
  }));
  return moved;
}

Result<std::vector<DigestItem>> SqliteResponseStore::digestItems(std::int64_t delivery_id) {
  std::vector<DigestItem> out;
  TD_CHECK(store_.withReader([&](Connection& c) -> Status {
    TD_TRY(st, c.prepare("SELECT id, response_id, recipient, threat_id, added_at FROM "
                         "digest_items WHERE delivery_id = ? ORDER BY threat_id, id"));
    st->bind(1, delivery_id);
    TD_TRY(rows, readAll<DigestItem>(st, [](const Statement& s) {
             return DigestItem{s.i64(0), s.i64(1), s.text(2), s.i64(3), s.i64(4)};
           }));
    out = std::move(rows);
    return {};
  }));
  return out;
}

// --- subscriptions, notifications, automations -------------------------------------------------

Status SqliteResponseStore::putSubscription(const Subscription& s) {
  return store_.withWriter([&](Connection& c) -> Status {
    TD_TRY(st, c.prepare("INSERT INTO subscriptions (user_id, group_id, on_assign, on_change) "
                         "VALUES (?, ?, ?, ?) ON CONFLICT (user_id, group_id) DO UPDATE SET "
                         "on_assign = excluded.on_assign, on_change = excluded.on_change"));
    st->bind(1, s.user_id).bind(2, s.group_id).bind(3, s.on_assign).bind(4, s.on_change);
    return st->run();
  });
}

Status SqliteResponseStore::deleteSubscription(UserId user, TagId group) {
  return store_.withWriter([&](Connection& c) -> Status {
    TD_TRY(st, c.prepare("DELETE FROM subscriptions WHERE user_id = ? AND group_id = ?"));
    st->bind(1, user).bind(2, group);
    TD_CHECK(st->run());
    if (c.changes() == 0)
      return fail(ErrorCode::kNotFound, "no subscription to group " + std::to_string(group));
    return {};
  });
}

namespace {
Subscription subscriptionFromRow(const Statement& s) {
  return Subscription{s.i64(0), s.i64(1), s.i32(2) != 0, s.i32(3) != 0};
}
}  // namespace

Result<std::vector<Subscription>> SqliteResponseStore::subscriptionsOfUser(UserId user) {
  std::vector<Subscription> out;
  TD_CHECK(store_.withReader([&](Connection& c) -> Status {
    TD_TRY(st, c.prepare("SELECT user_id, group_id, on_assign, on_change FROM subscriptions "
                         "WHERE user_id = ? ORDER BY group_id"));
    st->bind(1, user);
    TD_TRY(rows, readAll<Subscription>(st, subscriptionFromRow));
    out = std::move(rows);
    return {};
  }));
  return out;
}

Result<std::vector<Subscription>> SqliteResponseStore::subscribersOfGroup(TagId group) {
  std::vector<Subscription> out;
  TD_CHECK(store_.withReader([&](Connection& c) -> Status {
    TD_TRY(st, c.prepare("SELECT user_id, group_id, on_assign, on_change FROM subscriptions "
                         "WHERE group_id = ? ORDER BY user_id"));
    st->bind(1, group);
    TD_TRY(rows, readAll<Subscription>(st, subscriptionFromRow));
    out = std::move(rows);
    return {};
  }));
  return out;
}

Status SqliteResponseStore::addNotification(const Notification& n, std::int64_t delivery_id) {
  return store_.withWriter([&](Connection& c) -> Status {
    TD_TRY(st, c.prepare("INSERT INTO notifications (user_id, threat_id, kind, text, created_at, "
                         "delivery_id) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"));
    st->bind(1, n.user_id).bind(2, n.threat_id).bind(3, n.kind).bind(4, n.text);
    st->bind(5, n.created_at).bind(6, delivery_id);
    return st->run();
  });
}

Result<std::vector<Notification>> SqliteResponseStore::listNotifications(UserId user,
                                                                         bool unread_only,
                                                                         int limit) {
  std::vector<Notification> out;
  TD_CHECK(store_.withReader([&](Connection& c) -> Status {
    TD_TRY(st, c.prepare("SELECT id, user_id, threat_id, kind, text, created_at, read_at FROM "
                         "notifications WHERE user_id = ? AND (? = 0 OR read_at IS NULL) "
                         "ORDER BY id DESC LIMIT ?"));
    st->bind(1, user).bind(2, unread_only).bind(3, std::clamp(limit, 1, 500));
    TD_TRY(rows, readAll<Notification>(st, [](const Statement& s) {
             return Notification{s.i64(0),  s.i64(1), s.optI64(2), s.text(3),
                                 s.text(4), s.i64(5), s.optI64(6)};
           }));
    out = std::move(rows);
    return {};
  }));
  return out;
}

Status SqliteResponseStore::markNotificationsRead(UserId user, const std::vector<std::int64_t>& ids,
                                                  TimeMs at) {
  return store_.withWriter([&](Connection& c) -> Status {
    Transaction tx(c);
    TD_CHECK(tx.begin());
    if (ids.empty()) {
      TD_TRY(st, c.prepare("UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at "
                           "IS NULL"));
      st->bind(1, at).bind(2, user);
      TD_CHECK(st->run());
    } else {
      TD_TRY(st, c.prepare("UPDATE notifications SET read_at = ? WHERE user_id = ? AND id = ? AND "
                           "read_at IS NULL"));
      for (auto id : ids) {
        st->reset();
        st->bind(1, at).bind(2, user).bind(3, id);
        TD_CHECK(st->run());
      }
    }
    return tx.commit();
  });
}

Status SqliteResponseStore::putStateAutomation(const StateAutomation& a) {
  return store_.withWriter([&](Connection& c) -> Status {
    TD_TRY(st, c.prepare("INSERT INTO state_automations (state_id, org_id, note_template, notify) "
                         "VALUES (?, ?, ?, ?) ON CONFLICT (state_id) DO UPDATE SET "
                         "note_template = excluded.note_template, notify = excluded.notify"));
    st->bind(1, a.state_id).bind(2, a.org_id).bind(3, a.note_template).bind(4, a.notify);
    return st->run();
  });
}

Status SqliteResponseStore::deleteStateAutomation(TagId state) {
  return store_.withWriter([&](Connection& c) -> Status {
    TD_TRY(st, c.prepare("DELETE FROM state_automations WHERE state_id = ?"));
    st->bind(1, state);
    return st->run();
  });
}

namespace {
StateAutomation automationFromRow(const Statement& s) {
  return StateAutomation{s.i64(0), s.i64(1), s.text(2), s.i32(3) != 0};
}
}  // namespace

Result<std::vector<StateAutomation>> SqliteResponseStore::listStateAutomations(OrgId org) {
  std::vector<StateAutomation> out;
  TD_CHECK(store_.withReader([&](Connection& c) -> Status {
    TD_TRY(st, c.prepare("SELECT org_id, state_id, note_template, notify FROM state_automations "
                         "WHERE org_id = ? ORDER BY state_id"));
    st->bind(1, org);
    TD_TRY(rows, readAll<StateAutomation>(st, automationFromRow));
    out = std::move(rows);
    return {};
  }));
  return out;
}

Result<std::optional<StateAutomation>> SqliteResponseStore::stateAutomation(TagId state) {
  std::optional<StateAutomation> out;
  TD_CHECK(store_.withReader([&](Connection& c) -> Status {
    TD_TRY(st, c.prepare("SELECT org_id, state_id, note_template, notify FROM state_automations "
                         "WHERE state_id = ?"));
    st->bind(1, state);
    TD_TRY(row, st->step());
    if (row) out = automationFromRow(*st);
    st->reset();
    return {};
  }));
  return out;
}

// --- housekeeping ------------------------------------------------------------------------------

Result<std::int64_t> SqliteResponseStore::prune(TimeMs outbox_before, TimeMs deliveries_before) {
  std::int64_t deleted = 0;
  TD_CHECK(store_.withWriter([&](Connection& c) -> Status {
    Transaction tx(c);
    TD_CHECK(tx.begin());
    TD_TRY(ob, c.prepare("DELETE FROM outbox WHERE delivered_at IS NOT NULL AND delivered_at < ?"));
    ob->bind(1, outbox_before);
    TD_CHECK(ob->run());
    deleted += c.changes();
    // The deliveries about to go stay on their threats' timelines: written there now, as
    // deliveryTimeline shows them (finished deliveries pruned are delivered or skipped).
    TD_TRY(tl,
           c.prepare("INSERT INTO timeline (threat_id, at, actor, action, from_value, to_value) "
                     "SELECT d.threat_id, d.finished_at, 'system', 'response', d.kind, "
                     "d.recipient || ': ' || CASE d.status WHEN 1 THEN 'delivered' ELSE 'skipped' "
                     "END || CASE WHEN d.last_status IS NULL THEN '' ELSE ' (' || "
                     "CAST(d.last_status AS TEXT) || ')' END FROM deliveries d WHERE "
                     "d.finished_at IS NOT NULL AND d.finished_at < ? AND d.status IN (1, 3) AND "
                     "d.kind <> 'note' AND d.kind <> 'fanout' AND EXISTS (SELECT 1 FROM threats t "
                     "WHERE t.id = d.threat_id) ORDER BY d.finished_at, d.id"));
    tl->bind(1, deliveries_before);
    TD_CHECK(tl->run());
    TD_TRY(at, c.prepare("DELETE FROM delivery_attempts WHERE delivery_id IN (SELECT id FROM "
                         "deliveries WHERE finished_at IS NOT NULL AND finished_at < ? AND "
                         "status IN (1, 3, 4))"));
    at->bind(1, deliveries_before);
    TD_CHECK(at->run());
    deleted += c.changes();
    TD_TRY(di, c.prepare("DELETE FROM digest_items WHERE delivery_id IN (SELECT id FROM "
                         "deliveries WHERE finished_at IS NOT NULL AND finished_at < ? AND "
                         "status IN (1, 3, 4))"));
    di->bind(1, deliveries_before);
    TD_CHECK(di->run());
    deleted += c.changes();
    // Failed deliveries stay until someone replays or the response goes: they are owed.
    TD_TRY(dl, c.prepare("DELETE FROM deliveries WHERE finished_at IS NOT NULL AND finished_at "
                         "< ? AND status IN (1, 3, 4)"));
    dl->bind(1, deliveries_before);
    TD_CHECK(dl->run());
    deleted += c.changes();
    return tx.commit();
  }));
  return deleted;
}

}  // namespace td::store::sqlite

namespace td::store {

std::string_view deliveryStatusName(DeliveryStatus s) {
  switch (s) {
    case DeliveryStatus::kPending:
      return "pending";
    case DeliveryStatus::kDelivered:
      return "delivered";
    case DeliveryStatus::kFailed:
      return "failed";
    case DeliveryStatus::kSkipped:
      return "skipped";
    case DeliveryStatus::kCancelled:
      return "cancelled";
  }
  return "pending";
}

Result<DeliveryStatus> parseDeliveryStatus(std::string_view text) {
  for (int i = 0; i <= 4; ++i)
    if (deliveryStatusName(static_cast<DeliveryStatus>(i)) == text)
      return static_cast<DeliveryStatus>(i);
  return core::fail(core::ErrorCode::kUnprocessable,
                    "unknown delivery status '" + std::string(text.substr(0, 32)) +
                        "' (expected pending, delivered, failed, skipped or cancelled)",
                    "status");
}

}  // namespace td::store
