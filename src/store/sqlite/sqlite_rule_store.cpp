#include "store/sqlite/sqlite_rule_store.h"

#include <map>
#include <nlohmann/json.hpp>

#include "core/text.h"
#include "store/sqlite/sqlite_store.h"

namespace td::store::sqlite {

using core::ErrorCode;
using core::fail;

namespace {

constexpr size_t kMaxRuleYamlBytes = 1 << 20;
constexpr size_t kMaxActionBytes = 16 * 1024;

constexpr const char* kGroupColumns =
    "SELECT g.id, g.name, g.kind, g.description, g.enabled, g.action, g.created_at, "
    "g.updated_at, (SELECT count(*) FROM rules r WHERE r.group_id = g.id), "
    "(SELECT count(*) FROM rules r WHERE r.group_id = g.id AND r.enabled = 1), "
    "(SELECT coalesce(sum(r.hits), 0) FROM rules r WHERE r.group_id = g.id) FROM rule_groups g ";

constexpr const char* kRuleColumns =
    "SELECT r.id, r.group_id, g.name, g.enabled, r.uid, r.title, r.level, r.status, r.kind, "
    "r.tags, r.yaml, r.enabled, r.action, r.hits, r.last_hit_at, r.created_at, r.updated_at "
    "FROM rules r JOIN rule_groups g ON g.id = r.group_id ";

std::string tagsJson(const std::vector<std::string>& tags) { return nlohmann::json(tags).dump(); }

std::vector<std::string> parseTags(std::string_view text) {
  std::vector<std::string> out;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_array()) return out;
  for (const auto& t : j)
    if (t.is_string()) out.push_back(t.get<std::string>());
  return out;
}

RuleGroup groupFromRow(Statement& st) {
  RuleGroup g;
  g.id = st.i64(0);
  g.name = st.text(1);
  g.kind = st.i32(2) == 0 ? RuleGroupKind::kManaged : RuleGroupKind::kCustom;
  g.description = st.text(3);
  g.enabled = st.i32(4) != 0;
  g.action_json = st.text(5);
  g.created_at = st.i64(6);
  g.updated_at = st.i64(7);
  g.rule_count = st.i64(8);
  g.enabled_rules = st.i64(9);
  g.hits = st.i64(10);
  return g;
}

StoredRule ruleFromRow(Statement& st) {
  StoredRule r;
  r.id = st.i64(0);
  r.group_id = st.i64(1);
  r.group = st.text(2);
  r.group_enabled = st.i32(3) != 0;
  r.uid = st.text(4);
  r.title = st.text(5);
  r.level = st.text(6);
  r.status = st.text(7);
  r.kind = st.text(8);
  r.tags = parseTags(st.textView(9));
  r.yaml = st.text(10);
  r.enabled = st.i32(11) != 0;
  r.action_json = st.text(12);
  r.hits = st.i64(13);
  r.last_hit_at = st.optI64(14);
  r.created_at = st.i64(15);
  r.updated_at = st.i64(16);
  return r;
}

core::Status validateRule(const StoredRule& r) {
  if (r.uid.empty() || r.uid.size() > core::kMaxShortText)
    return fail(ErrorCode::kUnprocessable, "a rule needs an id of 1-256 characters", "id");
  if (r.title.size() > core::kMaxNameLength)
    return fail(ErrorCode::kUnprocessable, "the title is too long", "title");
  if (r.yaml.size() > kMaxRuleYamlBytes)
    return fail(ErrorCode::kTooLarge, "the rule text is over 1 MiB", "yaml");
  if (r.action_json.size() > kMaxActionBytes)
    return fail(ErrorCode::kTooLarge, "the action is over 16 KiB", "action");
  return {};
}

core::Status bumpVersion(Connection& c) {
  TD_TRY(st, c.prepare("UPDATE rules_version SET version = version + 1 WHERE id = 1"));
  return st->run();
}

core::Result<RuleGroup> readGroup(Connection& c, RuleGroupId id) {
  TD_TRY(st, c.prepare(std::string(kGroupColumns) + "WHERE g.id = ?"));
  st->bind(1, id);
  TD_TRY(row, st->step());
  if (!row) return fail(ErrorCode::kNotFound, "no rule group " + std::to_string(id), "group");
  RuleGroup g = groupFromRow(*st);
  st->reset();
  return g;
}

core::Result<StoredRule> readRule(Connection& c, RuleRowId id) {
  TD_TRY(st, c.prepare(std::string(kRuleColumns) + "WHERE r.id = ?"));
  st->bind(1, id);
  TD_TRY(row, st->step());
  if (!row) return fail(ErrorCode::kNotFound, "no rule " + std::to_string(id), "id");
  StoredRule r = ruleFromRow(*st);
  st->reset();
  return r;
}

core::Error conflictAs(core::Error e, std::string message, std::string field) {
  if (e.code == ErrorCode::kConflict) {
    e.message = std::move(message);
    e.field = std::move(field);
  }
  return e;
}

core::Status insertRule(Connection& c, const StoredRule& r, core::TimeMs now) {
  TD_TRY(st, c.prepare(
                  "INSERT INTO rules (group_id, uid, title, level, status, kind, tags, yaml, "
                  "enabled, action, hits, created_at, updated_at) "
                  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)"));
  st->bind(1, r.group_id)
      .bind(2, r.uid)
      .bind(3, r.title)
      .bind(4, r.level)
      .bind(5, r.status)
      .bind(6, r.kind)
      .bind(7, tagsJson(r.tags))
      .bind(8, r.yaml)
      .bind(9, r.enabled)
      .bind(10, r.action_json)
      .bind(11, now)
      .bind(12, now);
  if (auto s = st->run(); !s)
    return fail(conflictAs(s.error(), "the group holds a rule with id '" + r.uid + "' already",
                           "id"));
  return {};
}

}  // namespace

// --- groups ---------------------------------------------------------------------------------

core::Result<RuleGroup> SqliteRuleStore::createGroup(const std::string& name, RuleGroupKind kind,
                                                     const std::string& description) {
  if (core::trim(name).empty() || name.size() > core::kMaxShortText)
    return fail(ErrorCode::kUnprocessable, "a rule group needs a name of 1-256 characters",
                "name");
  if (description.size() > core::kMaxDescriptionLength)
    return fail(ErrorCode::kTooLarge, "the description is too long", "description");
  core::Result<RuleGroup> out = fail(ErrorCode::kInternal, "not run");
  TD_CHECK(store_.withWriter([&](Connection& c) -> core::Status {
    Transaction tx(c);
    TD_CHECK(tx.begin());
    const core::TimeMs now = core::nowMs();
    TD_TRY(st, c.prepare("INSERT INTO rule_groups (name, kind, description, enabled, action, "
                          "created_at, updated_at) VALUES (?, ?, ?, 1, '', ?, ?)"));
    st->bind(1, name)
        .bind(2, static_cast<int>(kind))
        .bind(3, description)
        .bind(4, now)
        .bind(5, now);
    if (auto s = st->run(); !s)
      return fail(conflictAs(s.error(), "rule group '" + name + "' exists already", "name"));
    const auto id = c.lastInsertId();
    TD_CHECK(bumpVersion(c));
    TD_CHECK(tx.commit());
    out = readGroup(c, id);
    return {};
  }));
  return out;
}

core::Result<RuleGroup> SqliteRuleStore::getGroup(RuleGroupId id) {
  core::Result<RuleGroup> out = fail(ErrorCode::kInternal, "not run");
  TD_CHECK(store_.withReader([&](Connection& c) -> core::Status {
    out = readGroup(c, id);
    return {};
  }));
  return out;
}

core::Result<RuleGroup> SqliteRuleStore::findGroup(const std::string& name) {
  core::Result<RuleGroup> out = fail(ErrorCode::kNotFound, "no rule group '" + name + "'", "group");
  TD_CHECK(store_.withReader([&](Connection& c) -> core::Status {
    TD_TRY(st, c.prepare(std::string(kGroupColumns) + "WHERE lower(g.name) = lower(?)"));
    st->bind(1, name);
    TD_TRY(row, st->step());
    if (row) out = groupFromRow(*st);
    st->reset();
    return {};
  }));
  return out;
}

core::Result<std::vector<RuleGroup>> SqliteRuleStore::listGroups() {
  std::vector<RuleGroup> out;
  TD_CHECK(store_.withReader([&](Connection& c) -> core::Status {
    TD_TRY(st, c.prepare(std::string(kGroupColumns) + "ORDER BY g.kind, lower(g.name)"));
    while (true) {
      TD_TRY(row, st->step());
      if (!row) break;
      out.push_back(groupFromRow(*st));
    }
    return {};
  }));
  return out;
}

core::Result<RuleGroup> SqliteRuleStore::changeGroup(RuleGroupId id, const RuleGroupChange& ch) {
  if (ch.description && ch.description->size() > core::kMaxDescriptionLength)
    return fail(ErrorCode::kTooLarge, "the description is too long", "description");
  if (ch.action_json && ch.action_json->size() > kMaxActionBytes)
    return fail(ErrorCode::kTooLarge, "the action is over 16 KiB", "action");
  core::Result<RuleGroup> out = fail(ErrorCode::kInternal, "not run");
  TD_CHECK(store_.withWriter([&](Connection& c) -> core::Status {
    Transaction tx(c);
    TD_CHECK(tx.begin());
    TD_TRY(before, readGroup(c, id));
    (void)before;
    TD_TRY(st, c.prepare("UPDATE rule_groups SET enabled = coalesce(?, enabled), "
                          "description = coalesce(?, description), action = coalesce(?, action), "
                          "updated_at = ? WHERE id = ?"));
    if (ch.enabled) st->bind(1, *ch.enabled); else st->bindNull(1);
    st->bind(2, ch.description).bind(3, ch.action_json).bind(4, core::nowMs()).bind(5, id);
    TD_CHECK(st->run());
    TD_CHECK(bumpVersion(c));
    TD_CHECK(tx.commit());
    out = readGroup(c, id);
    return {};
  }));
  return out;
}

core::Status SqliteRuleStore::deleteGroup(RuleGroupId id) {
  return store_.withWriter([&](Connection& c) -> core::Status {
    Transaction tx(c);
    TD_CHECK(tx.begin());
    TD_TRY(before, readGroup(c, id));
    (void)before;
    for (const char* sql :
         {"DELETE FROM rule_project_actions WHERE target = 0 AND target_id IN "
          "(SELECT id FROM rules WHERE group_id = ?)",
          "DELETE FROM rule_project_actions WHERE target = 1 AND target_id = ?",
          "DELETE FROM rules WHERE group_id = ?", "DELETE FROM rule_groups WHERE id = ?"}) {
      TD_TRY(st, c.prepare(sql));
      st->bind(1, id);
      TD_CHECK(st->run());
    }
    TD_CHECK(bumpVersion(c));
    return tx.commit();
  });
}

core::Result<RuleInstallCounts> SqliteRuleStore::replaceGroupRules(
    RuleGroupId group, const std::vector<StoredRule>& rules) {
  for (const auto& r : rules) TD_CHECK(validateRule(r));
  RuleInstallCounts counts;
  TD_CHECK(store_.withWriter([&](Connection& c) -> core::Status {
    Transaction tx(c);
    TD_CHECK(tx.begin());
    TD_TRY(g, readGroup(c, group));
    (void)g;
    // uid -> (row id, yaml) of what the group holds now.
    std::map<std::string, std::pair<RuleRowId, std::string>> existing;
    {
      TD_TRY(st, c.prepare("SELECT uid, id, yaml FROM rules WHERE group_id = ?"));
      st->bind(1, group);
      while (true) {
        TD_TRY(row, st->step());
        if (!row) break;
        existing[st->text(0)] = {st->i64(1), st->text(2)};
      }
    }
    const core::TimeMs now = core::nowMs();
    std::map<std::string, bool> seen;
    for (StoredRule r : rules) {
      if (seen.count(r.uid)) continue;  // the loader reports duplicate ids; first one wins
      seen[r.uid] = true;
      r.group_id = group;
      auto it = existing.find(r.uid);
      if (it == existing.end()) {
        TD_CHECK(insertRule(c, r, now));
        ++counts.added;
      } else if (it->second.second == r.yaml) {
        ++counts.unchanged;
      } else {
        TD_TRY(st, c.prepare("UPDATE rules SET title = ?, level = ?, status = ?, kind = ?, "
                              "tags = ?, yaml = ?, updated_at = ? WHERE id = ?"));
        st->bind(1, r.title)
            .bind(2, r.level)
            .bind(3, r.status)
            .bind(4, r.kind)
            .bind(5, tagsJson(r.tags))
            .bind(6, r.yaml)
            .bind(7, now)
            .bind(8, it->second.first);
        TD_CHECK(st->run());
        ++counts.updated;
      }
    }
    for (const auto& [uid, row] : existing) {
      if (seen.count(uid)) continue;
      for (const char* sql :
           {"DELETE FROM rule_project_actions WHERE target = 0 AND target_id = ?",
            "DELETE FROM rules WHERE id = ?"}) {
        TD_TRY(st, c.prepare(sql));
        st->bind(1, row.first);
        TD_CHECK(st->run());
      }
      ++counts.removed;
    }
    TD_TRY(touch, c.prepare("UPDATE rule_groups SET updated_at = ? WHERE id = ?"));
    touch->bind(1, now).bind(2, group);
    TD_CHECK(touch->run());
    TD_CHECK(bumpVersion(c));
    return tx.commit();
  }));
  return counts;
}

// --- rules ----------------------------------------------------------------------------------

core::Result<StoredRule> SqliteRuleStore::createRule(const StoredRule& rule) {
  TD_CHECK(validateRule(rule));
  core::Result<StoredRule> out = fail(ErrorCode::kInternal, "not run");
  TD_CHECK(store_.withWriter([&](Connection& c) -> core::Status {
    Transaction tx(c);
    TD_CHECK(tx.begin());
    TD_TRY(g, readGroup(c, rule.group_id));
    (void)g;
    TD_CHECK(insertRule(c, rule, core::nowMs()));
    const auto id = c.lastInsertId();
    TD_CHECK(bumpVersion(c));
    TD_CHECK(tx.commit());
    out = readRule(c, id);
    return {};
  }));
  return out;
}

core::Result<StoredRule> SqliteRuleStore::getRule(RuleRowId id) {
  core::Result<StoredRule> out = fail(ErrorCode::kInternal, "not run");
  TD_CHECK(store_.withReader([&](Connection& c) -> core::Status {
    out = readRule(c, id);
    return {};
  }));
  return out;
}

core::Result<RulePage> SqliteRuleStore::listRules(const RuleFilter& f) {
  if (f.limit < 1 || f.limit > 1000)
    return fail(ErrorCode::kInvalidArgument, "limit must be 1-1000", "limit");
  if (f.offset < 0) return fail(ErrorCode::kInvalidArgument, "offset must be >= 0", "offset");
  std::string where = "WHERE 1 = 1";
  if (f.group_id) where += " AND r.group_id = ?1";
  if (f.enabled) where += " AND r.enabled = ?2";
  if (!f.text.empty()) {
    // A plain substring test (no LIKE metacharacters to escape): instr in SQLite, strpos in
    // PostgreSQL.
    const std::string pos = store_.backend() == sql::Backend::kSqlite ? "instr" : "strpos";
    where += " AND (" + pos + "(lower(r.title), lower(?3)) > 0 OR " + pos +
             "(lower(r.uid), lower(?3)) > 0)";
  }
  if (f.kind) where += " AND r.kind = ?4";
  auto bindAll = [&](Statement& st) {
    if (f.group_id) st.bind(1, *f.group_id);
    if (f.enabled) st.bind(2, *f.enabled);
    if (!f.text.empty()) st.bind(3, f.text);
    if (f.kind) st.bind(4, *f.kind);
  };
  RulePage page;
  TD_CHECK(store_.withReader([&](Connection& c) -> core::Status {
    {
      TD_TRY(st, c.prepare("SELECT count(*) FROM rules r " + where));
      bindAll(*st);
      TD_TRY(row, st->step());
      if (row) page.total = st->i64(0);
      st->reset();
    }
    TD_TRY(st, c.prepare(std::string(kRuleColumns) + where +
                          " ORDER BY lower(g.name), lower(r.title), r.id LIMIT ?5 OFFSET ?6"));
    bindAll(*st);
    st->bind(5, f.limit).bind(6, f.offset);
    while (true) {
      TD_TRY(row, st->step());
      if (!row) break;
      page.items.push_back(ruleFromRow(*st));
    }
    return {};
  }));
  return page;
}

core::Result<StoredRule> SqliteRuleStore::changeRule(RuleRowId id, const RuleChange& ch) {
  if (ch.action_json && ch.action_json->size() > kMaxActionBytes)
    return fail(ErrorCode::kTooLarge, "the action is over 16 KiB", "action");
  if (ch.content) TD_CHECK(validateRule(*ch.content));
  core::Result<StoredRule> out = fail(ErrorCode::kInternal, "not run");
  TD_CHECK(store_.withWriter([&](Connection& c) -> core::Status {
    Transaction tx(c);
    TD_CHECK(tx.begin());
    TD_TRY(before, readRule(c, id));
    const core::TimeMs now = core::nowMs();
    if (ch.enabled || ch.action_json) {
      TD_TRY(st, c.prepare("UPDATE rules SET enabled = coalesce(?, enabled), "
                            "action = coalesce(?, action), updated_at = ? WHERE id = ?"));
      if (ch.enabled) st->bind(1, *ch.enabled); else st->bindNull(1);
      st->bind(2, ch.action_json).bind(3, now).bind(4, id);
      TD_CHECK(st->run());
    }
    if (ch.content) {
      const auto& r = *ch.content;
      TD_TRY(st, c.prepare("UPDATE rules SET uid = ?, title = ?, level = ?, status = ?, "
                            "kind = ?, tags = ?, yaml = ?, updated_at = ? WHERE id = ?"));
      st->bind(1, r.uid)
          .bind(2, r.title)
          .bind(3, r.level)
          .bind(4, r.status)
          .bind(5, r.kind)
          .bind(6, tagsJson(r.tags))
          .bind(7, r.yaml)
          .bind(8, now)
          .bind(9, id);
      if (auto s = st->run(); !s)
        return fail(conflictAs(s.error(),
                               "group '" + before.group + "' holds a rule with id '" + r.uid +
                                   "' already",
                               "id"));
    }
    TD_CHECK(bumpVersion(c));
    TD_CHECK(tx.commit());
    out = readRule(c, id);
    return {};
  }));
  return out;
}

core::Status SqliteRuleStore::deleteRule(RuleRowId id) {
  return store_.withWriter([&](Connection& c) -> core::Status {
    Transaction tx(c);
    TD_CHECK(tx.begin());
    TD_TRY(before, readRule(c, id));
    (void)before;
    for (const char* sql : {"DELETE FROM rule_project_actions WHERE target = 0 AND target_id = ?",
                            "DELETE FROM rules WHERE id = ?"}) {
      TD_TRY(st, c.prepare(sql));
      st->bind(1, id);
      TD_CHECK(st->run());
    }
    TD_CHECK(bumpVersion(c));
    return tx.commit();
  });
}

core::Result<std::vector<StoredRule>> SqliteRuleStore::activeRules() {
  std::vector<StoredRule> out;
  TD_CHECK(store_.withReader([&](Connection& c) -> core::Status {
    TD_TRY(st, c.prepare(std::string(kRuleColumns) +
                          "WHERE r.enabled = 1 AND g.enabled = 1 ORDER BY g.id, r.id"));
    while (true) {
      TD_TRY(row, st->step());
      if (!row) break;
      out.push_back(ruleFromRow(*st));
    }
    return {};
  }));
  return out;
}

// --- per-project actions ----------------------------------------------------------------------

core::Status SqliteRuleStore::setProjectAction(const ProjectRuleAction& a) {
  if (a.action_json.size() > kMaxActionBytes)
    return fail(ErrorCode::kTooLarge, "the action is over 16 KiB", "action");
  return store_.withWriter([&](Connection& c) -> core::Status {
    Transaction tx(c);
    TD_CHECK(tx.begin());
    if (a.target == ProjectRuleAction::Target::kRule) {
      TD_TRY(r, readRule(c, a.target_id));
      (void)r;
    } else {
      TD_TRY(g, readGroup(c, a.target_id));
      (void)g;
    }
    if (a.action_json.empty()) {
      TD_TRY(st, c.prepare("DELETE FROM rule_project_actions WHERE target = ? AND "
                            "target_id = ? AND project_id = ?"));
      st->bind(1, static_cast<int>(a.target)).bind(2, a.target_id).bind(3, a.project_id);
      TD_CHECK(st->run());
    } else {
      TD_TRY(st, c.prepare("INSERT INTO rule_project_actions (target, target_id, project_id, "
                            "action) VALUES (?, ?, ?, ?) ON CONFLICT (target, target_id, "
                            "project_id) DO UPDATE SET action = excluded.action"));
      st->bind(1, static_cast<int>(a.target))
          .bind(2, a.target_id)
          .bind(3, a.project_id)
          .bind(4, a.action_json);
      if (auto s = st->run(); !s)
        return fail(conflictAs(s.error(), "no project " + std::to_string(a.project_id),
                               "project"));
    }
    TD_CHECK(bumpVersion(c));
    return tx.commit();
  });
}

core::Result<std::vector<ProjectRuleAction>> SqliteRuleStore::listProjectActions() {
  std::vector<ProjectRuleAction> out;
  TD_CHECK(store_.withReader([&](Connection& c) -> core::Status {
    TD_TRY(st, c.prepare("SELECT target, target_id, project_id, action FROM "
                          "rule_project_actions ORDER BY target, target_id, project_id"));
    while (true) {
      TD_TRY(row, st->step());
      if (!row) break;
      ProjectRuleAction a;
      a.target = st->i32(0) == 0 ? ProjectRuleAction::Target::kRule
                                 : ProjectRuleAction::Target::kGroup;
      a.target_id = st->i64(1);
      a.project_id = st->i64(2);
      a.action_json = st->text(3);
      out.push_back(std::move(a));
    }
    return {};
  }));
  return out;
}

// --- hits and version -----------------------------------------------------------------------

core::Status SqliteRuleStore::addHits(const std::vector<std::pair<RuleRowId, std::int64_t>>& hits,
                                      core::TimeMs at) {
  if (hits.empty()) return {};
  return store_.withWriter([&](Connection& c) -> core::Status {
    Transaction tx(c);
    TD_CHECK(tx.begin());
    // CASE rather than max(a, b), which PostgreSQL spells greatest().
    TD_TRY(st, c.prepare("UPDATE rules SET hits = hits + ?1, last_hit_at = CASE WHEN "
                          "coalesce(last_hit_at, 0) >= ?2 THEN last_hit_at ELSE ?2 END "
                          "WHERE id = ?3"));
    for (const auto& [id, n] : hits) {
      if (n <= 0) continue;
      st->reset();
      st->bind(1, n).bind(2, at).bind(3, id);
      TD_CHECK(st->run());
    }
    return tx.commit();
  });
}

core::Result<std::int64_t> SqliteRuleStore::rulesVersion() {
  std::int64_t version = 0;
  TD_CHECK(store_.withReader([&](Connection& c) -> core::Status {
    TD_TRY(st, c.prepare("SELECT version FROM rules_version WHERE id = 1"));
    TD_TRY(row, st->step());
    if (row) version = st->i64(0);
    st->reset();
    return {};
  }));
  return version;
}

}  // namespace td::store::sqlite
