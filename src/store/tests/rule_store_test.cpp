// The RuleStore: groups, rules, installs that keep a rule's state, per-project actions, hit
// counts and the rules version, against every registered backend.
#include <gtest/gtest.h>

#include "store/tests/store_suite.h"

namespace td::store::testing {
namespace {

using core::ErrorCode;

class RuleStoreTest : public StoreFixture {
 protected:
  RuleStore& rules() { return store().rules(); }
  static StoredRule rule(RuleGroupId group, const std::string& uid, const std::string& yaml = "") {
    StoredRule r;
    r.group_id = group;
    r.uid = uid;
    r.title = "Title of " + uid;
    r.level = "high";
    r.status = "test";
    r.tags = {"attack.execution", "attack.t1059.001"};
    r.yaml = yaml.empty() ? "title: Title of " + uid + "\n" : yaml;
    return r;
  }
};

TEST_P(RuleStoreTest, GroupsHaveUniqueNamesAndCountTheirRules) {
  auto managed = rules().createGroup("Managed Rules", RuleGroupKind::kManaged, "SigmaHQ");
  ASSERT_TRUE(managed) << managed.error().message;
  EXPECT_EQ(managed->kind, RuleGroupKind::kManaged);
  EXPECT_TRUE(managed->enabled);
  EXPECT_EQ(rules().createGroup("managed rules", RuleGroupKind::kCustom, "").error().code,
            ErrorCode::kConflict);
  EXPECT_EQ(rules().createGroup("", RuleGroupKind::kCustom, "").error().code,
            ErrorCode::kUnprocessable);
  auto custom = rules().createGroup("Custom Rules", RuleGroupKind::kCustom, "");
  ASSERT_TRUE(custom);
  ASSERT_TRUE(rules().createRule(rule(custom->id, "a")));
  auto b = rules().createRule(rule(custom->id, "b"));
  ASSERT_TRUE(b);
  EXPECT_EQ(rules().createRule(rule(custom->id, "a")).error().code, ErrorCode::kConflict);
  EXPECT_EQ(rules().createRule(rule(999, "x")).error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(rules().changeRule(b->id, RuleChange{false, std::nullopt, std::nullopt}));

  auto found = rules().findGroup("CUSTOM RULES");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->rule_count, 2);
  EXPECT_EQ(found->enabled_rules, 1);
  auto list = rules().listGroups();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "Managed Rules");  // managed first
  EXPECT_EQ(rules().findGroup("none").error().code, ErrorCode::kNotFound);
}

TEST_P(RuleStoreTest, RulesRoundTripAndFilter) {
  auto g = rules().createGroup("Custom Rules", RuleGroupKind::kCustom, "");
  ASSERT_TRUE(g);
  auto created = rules().createRule(rule(g->id, "11111111-2222"));
  ASSERT_TRUE(created) << created.error().message;
  auto read = rules().getRule(created->id);
  ASSERT_TRUE(read);
  EXPECT_EQ(read->uid, "11111111-2222");
  EXPECT_EQ(read->group, "Custom Rules");
  EXPECT_EQ(read->tags, (std::vector<std::string>{"attack.execution", "attack.t1059.001"}));
  EXPECT_EQ(read->level, "high");
  EXPECT_TRUE(read->enabled);
  EXPECT_EQ(read->hits, 0);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(rules().createRule(rule(g->id, "r" + std::to_string(i))));

  RuleFilter f;
  f.text = "title of r";
  auto page = rules().listRules(f);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->total, 5);
  f.limit = 2;
  f.offset = 4;
  page = rules().listRules(f);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->total, 5);
  f = {};
  f.limit = 0;
  EXPECT_EQ(rules().listRules(f).error().code, ErrorCode::kInvalidArgument);

  StoredRule text = rule(g->id, "11111111-2222", "title: new text\n");
  text.title = "new text";
  auto changed = rules().changeRule(created->id, RuleChange{std::nullopt, "{\"score\":90}", text});
  ASSERT_TRUE(changed) << changed.error().message;
  EXPECT_EQ(changed->title, "new text");
  EXPECT_EQ(changed->action_json, "{\"score\":90}");
  StoredRule clash = rule(g->id, "r1");
  EXPECT_EQ(rules().changeRule(created->id, RuleChange{std::nullopt, std::nullopt, clash})
                .error()
                .code,
            ErrorCode::kConflict);

  ASSERT_TRUE(rules().deleteRule(created->id));
  EXPECT_EQ(rules().getRule(created->id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(rules().deleteRule(created->id).error().code, ErrorCode::kNotFound);
}

TEST_P(RuleStoreTest, ReinstallKeepsStateOfKnownRulesAndRemovesGoneOnes) {
  auto g = rules().createGroup("Managed Rules", RuleGroupKind::kManaged, "");
  ASSERT_TRUE(g);
  auto counts = rules().replaceGroupRules(g->id, {rule(0, "a"), rule(0, "b"), rule(0, "c")});
  ASSERT_TRUE(counts) << counts.error().message;
  EXPECT_EQ(counts->added, 3);

  RuleFilter f;
  f.group_id = g->id;
  auto page = rules().listRules(f);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->items.size(), 3u);
  const auto b_id = page->items[1].id;
  ASSERT_TRUE(rules().changeRule(b_id, RuleChange{false, "{\"kind\":\"SIGNAL\"}", std::nullopt}));
  ASSERT_TRUE(rules().addHits({{b_id, 7}}, 1000));

  counts = rules().replaceGroupRules(
      g->id, {rule(0, "b", "title: b changed\n"), rule(0, "c"), rule(0, "d")});
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->added, 1);
  EXPECT_EQ(counts->updated, 1);
  EXPECT_EQ(counts->unchanged, 1);
  EXPECT_EQ(counts->removed, 1);
  auto b = rules().getRule(b_id);
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->enabled);
  EXPECT_EQ(b->hits, 7);
  EXPECT_EQ(b->last_hit_at, 1000);
  EXPECT_EQ(b->yaml, "title: b changed\n");
  EXPECT_EQ(b->action_json, "{\"kind\":\"SIGNAL\"}");
}

TEST_P(RuleStoreTest, ActiveRulesLeaveOutDisabledRulesAndGroups) {
  auto g1 = rules().createGroup("One", RuleGroupKind::kCustom, "");
  auto g2 = rules().createGroup("Two", RuleGroupKind::kCustom, "");
  ASSERT_TRUE(g1 && g2);
  auto a = rules().createRule(rule(g1->id, "a"));
  auto b = rules().createRule(rule(g1->id, "b"));
  ASSERT_TRUE(rules().createRule(rule(g2->id, "c")));
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(rules().changeRule(b->id, RuleChange{false, std::nullopt, std::nullopt}));
  auto v1 = rules().rulesVersion();
  ASSERT_TRUE(v1);
  ASSERT_TRUE(rules().changeGroup(g2->id, RuleGroupChange{false, std::nullopt, std::nullopt}));
  auto v2 = rules().rulesVersion();
  ASSERT_TRUE(v2);
  EXPECT_GT(*v2, *v1);
  auto active = rules().activeRules();
  ASSERT_TRUE(active);
  ASSERT_EQ(active->size(), 1u);
  EXPECT_EQ((*active)[0].uid, "a");
  // Hits do not count as a change of the rules.
  ASSERT_TRUE(rules().addHits({{a->id, 2}, {9999, 5}}, 10));
  EXPECT_EQ(*rules().rulesVersion(), *v2);
  EXPECT_EQ(rules().getRule(a->id)->hits, 2);
}

TEST_P(RuleStoreTest, ProjectActionsAreSetReplacedAndCleared) {
  auto tenant = makeTenant("Acme");
  auto g = rules().createGroup("One", RuleGroupKind::kCustom, "");
  ASSERT_TRUE(g);
  auto a = rules().createRule(rule(g->id, "a"));
  ASSERT_TRUE(a);
  using T = ProjectRuleAction::Target;
  ASSERT_TRUE(rules().setProjectAction({T::kRule, a->id, tenant.project.id, "{\"score\":1}"}));
  ASSERT_TRUE(rules().setProjectAction({T::kRule, a->id, tenant.project.id, "{\"score\":2}"}));
  ASSERT_TRUE(rules().setProjectAction({T::kGroup, g->id, tenant.project.id, "{\"score\":3}"}));
  EXPECT_EQ(rules().setProjectAction({T::kRule, 999, tenant.project.id, "{}"}).error().code,
            ErrorCode::kNotFound);
  auto list = rules().listProjectActions();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].action_json, "{\"score\":2}");
  ASSERT_TRUE(rules().setProjectAction({T::kRule, a->id, tenant.project.id, ""}));
  EXPECT_EQ(rules().listProjectActions()->size(), 1u);
  ASSERT_TRUE(rules().deleteGroup(g->id));
  EXPECT_TRUE(rules().listProjectActions()->empty());
  EXPECT_EQ(rules().getRule(a->id).error().code, ErrorCode::kNotFound);
}

TEST_P(RuleStoreTest, RulesSurviveReopening) {
  auto g = rules().createGroup("One", RuleGroupKind::kCustom, "");
  ASSERT_TRUE(g);
  ASSERT_TRUE(rules().createRule(rule(g->id, "a")));
  reopen();
  auto active = rules().activeRules();
  ASSERT_TRUE(active);
  ASSERT_EQ(active->size(), 1u);
  EXPECT_EQ((*active)[0].group, "One");
}

INSTANTIATE_TEST_SUITE_P(Backends, RuleStoreTest, ::testing::Values(sqliteBackend(), postgresBackend()),
                         backendName);

}  // namespace
}  // namespace td::store::testing
