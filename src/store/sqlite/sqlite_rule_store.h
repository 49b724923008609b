// The SQLite backend of the RuleStore, on the connections of a SqliteStore (its writer under the
// write lock, its reader pool). Thread safety: as for RuleStore.
#pragma once

#include "store/rule_store.h"

namespace td::store::sqlite {

class SqliteStore;

class SqliteRuleStore final : public RuleStore {
 public:
  explicit SqliteRuleStore(SqliteStore& store) : store_(store) {}

  core::Result<RuleGroup> createGroup(const std::string& name, RuleGroupKind kind,
                                      const std::string& description) override;
  core::Result<RuleGroup> getGroup(RuleGroupId id) override;
  core::Result<RuleGroup> findGroup(const std::string& name) override;
  core::Result<std::vector<RuleGroup>> listGroups() override;
  core::Result<RuleGroup> changeGroup(RuleGroupId id, const RuleGroupChange& change) override;
  core::Status deleteGroup(RuleGroupId id) override;
  core::Result<RuleInstallCounts> replaceGroupRules(RuleGroupId group,
                                                    const std::vector<StoredRule>& rules) override;

  core::Result<StoredRule> createRule(const StoredRule& rule) override;
  core::Result<StoredRule> getRule(RuleRowId id) override;
  core::Result<RulePage> listRules(const RuleFilter& filter) override;
  core::Result<StoredRule> changeRule(RuleRowId id, const RuleChange& change) override;
  core::Status deleteRule(RuleRowId id) override;
  core::Result<std::vector<StoredRule>> activeRules() override;

  core::Status setProjectAction(const ProjectRuleAction& action) override;
  core::Result<std::vector<ProjectRuleAction>> listProjectActions() override;

  core::Status addHits(const std::vector<std::pair<RuleRowId, std::int64_t>>& hits,
                       core::TimeMs at) override;
  core::Result<std::int64_t> rulesVersion() override;

 private:
  SqliteStore& store_;
};

}  // namespace td::store::sqlite
