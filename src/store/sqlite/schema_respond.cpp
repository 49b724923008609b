// The respond domain's tables: versions 4000-4999 (responses, deliveries, subscriptions). Never
// edit a migration that has shipped; add a new one.
#include "store/sqlite/schema.h"

namespace td::store::sqlite {

const std::vector<Migration>& respondMigrations() {
  static const std::vector<Migration> kMigrations = {
      {4000, R"sql(
CREATE TABLE responses (
  id INTEGER PRIMARY KEY,
  org_id BIGINT NOT NULL REFERENCES orgs(id),
  name TEXT NOT NULL,
  type TEXT NOT NULL,
  enabled INTEGER NOT NULL DEFAULT 1,
  spec TEXT NOT NULL,
  held_back BIGINT NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  UNIQUE (org_id, name)
);

-- The dispatcher's durable work list. idempotency_key is unique: fanning an event out twice
-- (after a crash before the outbox ack) inserts nothing new.
CREATE TABLE deliveries (
  id INTEGER PRIMARY KEY,
  org_id BIGINT NOT NULL,
  response_id BIGINT,
  outbox_id BIGINT,
  threat_id BIGINT,
  kind TEXT NOT NULL,
  recipient TEXT NOT NULL,
  idempotency_key TEXT NOT NULL UNIQUE,
  status INTEGER NOT NULL DEFAULT 0,
  payload TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL DEFAULT 1,
  next_at BIGINT NOT NULL,
  claimed_until BIGINT,
  created_at BIGINT NOT NULL,
  finished_at BIGINT,
  last_status INTEGER,
  last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX deliveries_due ON deliveries (next_at) WHERE status = 0;
CREATE INDEX deliveries_response ON deliveries (response_id, id);
CREATE INDEX deliveries_threat ON deliveries (threat_id, id);
CREATE INDEX deliveries_outbox ON deliveries (outbox_id);
CREATE INDEX deliveries_finished ON deliveries (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE delivery_attempts (
  id INTEGER PRIMARY KEY,
  delivery_id BIGINT NOT NULL,
  at BIGINT NOT NULL,
  duration_ms BIGINT NOT NULL,
  status INTEGER,
  error TEXT NOT NULL,
  request TEXT NOT NULL,
  response TEXT NOT NULL
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, id);

CREATE TABLE response_throttle (
  response_id BIGINT NOT NULL,
  key TEXT NOT NULL,
  window_start BIGINT NOT NULL,
  outbox_id BIGINT,
  held BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (response_id, key)
);

CREATE TABLE digest_items (
  id INTEGER PRIMARY KEY,
  response_id BIGINT NOT NULL,
  recipient TEXT NOT NULL,
  threat_id BIGINT NOT NULL,
  outbox_id BIGINT NOT NULL,
  added_at BIGINT NOT NULL,
  delivery_id BIGINT,
  UNIQUE (response_id, recipient, threat_id, outbox_id)
);
CREATE INDEX digest_items_pending ON digest_items (response_id, recipient) WHERE delivery_id IS NULL;
CREATE INDEX digest_items_delivery ON digest_items (delivery_id);

CREATE TABLE digest_state (
  response_id BIGINT NOT NULL,
  recipient TEXT NOT NULL,
  last_slot BIGINT NOT NULL,
  PRIMARY KEY (response_id, recipient)
);

CREATE TABLE subscriptions (
  user_id BIGINT NOT NULL REFERENCES users(id),
  group_id BIGINT NOT NULL REFERENCES tags(id),
  on_assign INTEGER NOT NULL,
  on_change INTEGER NOT NULL,
  PRIMARY KEY (user_id, group_id)
);
CREATE INDEX subscriptions_group ON subscriptions (group_id);

CREATE TABLE notifications (
  id INTEGER PRIMARY KEY,
  user_id BIGINT NOT NULL,
  threat_id BIGINT,
  kind TEXT NOT NULL,
  text TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  read_at BIGINT,
  delivery_id BIGINT UNIQUE
);
CREATE INDEX notifications_user ON notifications (user_id, id);

CREATE TABLE state_automations (
  state_id BIGINT PRIMARY KEY REFERENCES tags(id),
  org_id BIGINT NOT NULL,
  note_template TEXT NOT NULL,
  notify INTEGER NOT NULL
);
CREATE INDEX state_automations_org ON state_automations (org_id);

-- Delivered outbox rows are pruned by age (respond's housekeeping).
CREATE INDEX outbox_delivered ON outbox (delivered_at) WHERE delivered_at IS NOT NULL;
)sql"},
      // No query looks deliveries up by their outbox event (a reclaimed event is known as fanned
      // out by its acknowledgement or marker key): one index fewer to update per delivery.
      {4001, R"sql(
DROP INDEX IF EXISTS deliveries_outbox;
)sql"},
  };
  return kMigrations;
}

}  // namespace td::store::sqlite
