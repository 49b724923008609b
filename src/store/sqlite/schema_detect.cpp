// The detect domain's tables: versions 1000-1999 (rule groups, rules, per-project actions, the
// rules version). Never edit a migration that has shipped; add a new one.
#include "store/sqlite/schema.h"

namespace td::store::sqlite {

const std::vector<Migration>& detectMigrations() {
  static const std::vector<Migration> kMigrations = {
      {1000, R"sql(
-- kind: 0 managed (installed from a pack), 1 custom. action: JSON text, '' = none.
CREATE TABLE rule_groups (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  kind INTEGER NOT NULL,
  description TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  action TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX rule_groups_name ON rule_groups (lower(name));

-- uid: the rule's own id (Sigma `id`), unique within its group. tags: JSON array.
CREATE TABLE rules (
  id INTEGER PRIMARY KEY,
  group_id BIGINT NOT NULL REFERENCES rule_groups(id),
  uid TEXT NOT NULL,
  title TEXT NOT NULL,
  level TEXT NOT NULL,
  status TEXT NOT NULL,
  kind TEXT NOT NULL,
  tags TEXT NOT NULL,
  yaml TEXT NOT NULL,
  enabled INTEGER NOT NULL,
  action TEXT NOT NULL,
  hits BIGINT NOT NULL DEFAULT 0,
  last_hit_at BIGINT,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX rules_group_uid ON rules (group_id, uid);

-- target: 0 rule, 1 group.
CREATE TABLE rule_project_actions (
  target INTEGER NOT NULL,
  target_id BIGINT NOT NULL,
  project_id BIGINT NOT NULL REFERENCES projects(id),
  action TEXT NOT NULL,
  PRIMARY KEY (target, target_id, project_id)
);

-- One row: grows with every change of rules, groups or actions (servers poll it to reload).
CREATE TABLE rules_version (
  id INTEGER PRIMARY KEY,
  version BIGINT NOT NULL
);
INSERT INTO rules_version (id, version) VALUES (1, 0);
)sql"},
  };
  return kMigrations;
}

}  // namespace td::store::sqlite
