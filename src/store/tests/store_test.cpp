// The Store interface, method by method: organisations, users, credentials, tags, the sink's
// de-duplication, changes with their timeline and outbox, notes, and reopening the store.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

#include "store/tests/store_suite.h"

namespace td::store::testing {
namespace {

using core::ErrorCode;

class StoreTest : public StoreFixture {};

TEST_P(StoreTest, OrganisationsNestAndNamesAreUniqueIgnoringCase) {
  auto root = store().createOrg("Provider", std::nullopt);
  ASSERT_TRUE(root);
  auto child = store().createOrg("Customer A", root->id);
  ASSERT_TRUE(child);
  auto grandchild = store().createOrg("Customer A Branch", child->id);
  ASSERT_TRUE(grandchild);
  auto beside = store().createOrg("Other", std::nullopt);
  ASSERT_TRUE(beside);

  auto dup = store().createOrg("provider", std::nullopt);
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
  auto orphan = store().createOrg("Orphan", 999);
  ASSERT_FALSE(orphan);
  EXPECT_EQ(orphan.error().code, ErrorCode::kUnprocessable);

  auto sub = store().orgSubtree(root->id);
  ASSERT_TRUE(sub);
  EXPECT_EQ(*sub, (std::vector<OrgId>{root->id, child->id, grandchild->id}));
  auto leaf = store().orgSubtree(grandchild->id);
  ASSERT_TRUE(leaf);
  EXPECT_EQ(*leaf, std::vector<OrgId>{grandchild->id});
  EXPECT_EQ(store().orgSubtree(12345).error().code, ErrorCode::kNotFound);

  EXPECT_EQ(store().findOrg("CUSTOMER a")->id, child->id);
  EXPECT_EQ(store().getOrg(child->id)->parent_id, root->id);
  EXPECT_EQ(store().getOrg(777).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().findOrg("nobody").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().listOrgs()->size(), 4u);
}

TEST_P(StoreTest, ProjectsBelongToAnOrganisation) {
  auto org = store().createOrg("Acme", std::nullopt);
  ASSERT_TRUE(org);
  auto p = store().createProject(org->id, "Web Shop");
  ASSERT_TRUE(p);
  EXPECT_EQ(store().createProject(org->id, "web shop").error().code, ErrorCode::kConflict);
  EXPECT_EQ(store().createProject(999, "x").error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(store().findProject("WEB SHOP")->id, p->id);
  EXPECT_EQ(store().getProject(p->id)->org_id, org->id);
  EXPECT_EQ(store().getProject(42).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().findProject("none").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().listProjects()->size(), 1u);
}

TEST_P(StoreTest, UsersAreFoundByEmailIgnoringCase) {
  auto org = store().createOrg("Acme", std::nullopt);
  User u;
  u.org_id = org->id;
  u.email = "Alice@Example.com";
  u.display_name = "Alice";
  u.role = Role::kOperator;
  u.time_zone = "Europe/Berlin";
  u.password_hash = "$argon2id$x";
  auto created = store().createUser(u);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_GT(created->id, 0);
  EXPECT_GT(created->created_at, 0);

  auto found = store().findUserByEmail("alice@example.COM");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, created->id);
  EXPECT_EQ(found->role, Role::kOperator);
  EXPECT_EQ(found->time_zone, "Europe/Berlin");
  EXPECT_EQ(found->display_name, "Alice");
  EXPECT_FALSE(found->disabled);

  u.email = "alice@example.com";
  EXPECT_EQ(store().createUser(u).error().code, ErrorCode::kConflict);
  u.org_id = 999;
  u.email = "bob@example.com";
  EXPECT_EQ(store().createUser(u).error().code, ErrorCode::kUnprocessable);

  ASSERT_TRUE(store().setPasswordHash(created->id, "$argon2id$y"));
  EXPECT_EQ(store().getUser(created->id)->password_hash, "$argon2id$y");
  EXPECT_EQ(store().setPasswordHash(999, "h").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().getUser(999).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().findUserByEmail("x@y").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().listUsers()->size(), 1u);
}

TEST_P(StoreTest, TokensAreFoundByHashAndRevoked) {
  auto t = makeTenant("Acme");
  ApiToken token;
  token.project_id = t.project.id;
  token.name = "ci";
  token.token_hash = std::string(64, 'a');
  token.prefix = "tdk_abcd";
  token.scopes = Scope::kRead | Scope::kIngest;
  auto created = store().createToken(token);
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_EQ(store().createToken(token).error().code, ErrorCode::kConflict);
  token.project_id = 999;
  token.token_hash = std::string(64, 'b');
  EXPECT_EQ(store().createToken(token).error().code, ErrorCode::kUnprocessable);

  auto found = store().findTokenByHash(std::string(64, 'a'));
  ASSERT_TRUE(found);
  EXPECT_EQ(found->scopes, Scope::kRead | Scope::kIngest);
  EXPECT_EQ(found->prefix, "tdk_abcd");
  EXPECT_FALSE(found->revoked_at);
  EXPECT_EQ(store().findTokenByHash("nope").error().code, ErrorCode::kNotFound);

  ASSERT_TRUE(store().touchToken(created->id, 1234));
  EXPECT_EQ(store().findTokenByHash(std::string(64, 'a'))->last_used_at, 1234);
  ASSERT_TRUE(store().revokeToken(created->id));
  EXPECT_TRUE(store().findTokenByHash(std::string(64, 'a'))->revoked_at);
  EXPECT_EQ(store().revokeToken(999).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().touchToken(999, 1).error().code, ErrorCode::kNotFound);

  EXPECT_EQ(store().listTokens(std::nullopt)->size(), 1u);
  EXPECT_EQ(store().listTokens(t.project.id)->size(), 1u);
  EXPECT_EQ(store().listTokens(t.project.id + 1)->size(), 0u);
}

TEST_P(StoreTest, SessionsAreCreatedFoundAndDeleted) {
  auto org = store().createOrg("Acme", std::nullopt);
  User u;
  u.org_id = org->id;
  u.email = "a@b.c";
  auto user = store().createUser(u);
  ASSERT_TRUE(user);
  ASSERT_TRUE(store().createSession({"hash1", user->id, "csrf", 10, 20}));
  auto s = store().findSession("hash1");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->user_id, user->id);
  EXPECT_EQ(s->csrf_token, "csrf");
  EXPECT_EQ(s->expires_at, 20);
  EXPECT_FALSE(store().createSession({"hash2", 999, "csrf", 10, 20}));
  ASSERT_TRUE(store().deleteSession("hash1"));
  EXPECT_EQ(store().findSession("hash1").error().code, ErrorCode::kNotFound);
}

TEST_P(StoreTest, TagsKeepTheirOrderAndNewStatesGoBeforeTheClosedOne) {
  auto t = makeTenant("Acme");
  auto added = store().addTag(t.org.id, TagKind::kState, "Waiting", std::nullopt);
  ASSERT_TRUE(added);
  auto states = store().listTags(t.org.id, TagKind::kState);
  ASSERT_TRUE(states);
  std::vector<std::string> names;
  for (const auto& s : *states) names.push_back(s.name);
  EXPECT_EQ(names,
            (std::vector<std::string>{"New", "In Progress", "On Hold", "Waiting", "Closed"}));
  for (size_t i = 0; i < states->size(); ++i) EXPECT_EQ((*states)[i].position, static_cast<int>(i));

  auto first = store().addTag(t.org.id, TagKind::kGroup, "SOC", 0);
  ASSERT_TRUE(first);
  EXPECT_EQ(store().listTags(t.org.id, TagKind::kGroup)->front().name, "SOC");
  EXPECT_EQ(store().addTag(t.org.id, TagKind::kGroup, "soc", std::nullopt).error().code,
            ErrorCode::kConflict);
  // The same name is fine for another kind or another organisation.
  EXPECT_TRUE(store().addTag(t.org.id, TagKind::kOutcome, "SOC", std::nullopt));
  auto other = makeTenant("Other");
  EXPECT_TRUE(store().addTag(other.org.id, TagKind::kGroup, "SOC", std::nullopt));
  EXPECT_EQ(store().getTag(first->id)->name, "SOC");
  EXPECT_EQ(store().getTag(99999).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().addTag(9999, TagKind::kGroup, "x", std::nullopt).error().code,
            ErrorCode::kUnprocessable);
}

TEST_P(StoreTest, RenamingATagKeepsItsThreats) {
  auto t = makeTenant("Acme");
  auto r = store().applyDetections({detection(t.project.id, "r1", "h1")}, {t.groups[0].id}, alice_);
  ASSERT_TRUE(r);
  auto renamed = store().renameTag(t.groups[0].id, "Tier 1");
  ASSERT_TRUE(renamed);
  EXPECT_EQ(renamed->name, "Tier 1");
  EXPECT_EQ(store().getThreat(r->threat_ids[0])->group, "Tier 1");
  ThreatFilter f;
  f.project_id = t.project.id;
  f.groups = {"tier 1"};
  EXPECT_EQ(store().listThreats(f, {})->total, 1);
  EXPECT_EQ(store().renameTag(t.groups[0].id, "l2 support").error().code, ErrorCode::kConflict);
  EXPECT_EQ(store().renameTag(99999, "x").error().code, ErrorCode::kNotFound);
}

TEST_P(StoreTest, DeletingATagInUseNeedsAReplacement) {
  auto t = makeTenant("Acme");
  std::vector<core::Detection> batch = {detection(t.project.id, "r1", "h1"),
                                        detection(t.project.id, "r2", "h1")};
  auto r = store().applyDetections(batch, {t.groups[0].id, t.groups[0].id}, alice_);
  ASSERT_TRUE(r);

  auto refused = store().deleteTag(t.groups[0].id, std::nullopt);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_NE(refused.error().message.find("2 threats"), std::string::npos)
      << refused.error().message;

  // A replacement of another kind or organisation is refused; nothing moves.
  auto other = makeTenant("Other");
  EXPECT_EQ(store().deleteTag(t.groups[0].id, other.groups[0].id).error().code,
            ErrorCode::kUnprocessable);
  EXPECT_EQ(store().deleteTag(t.groups[0].id, t.states[0].id).error().code,
            ErrorCode::kUnprocessable);
  EXPECT_EQ(store().getThreat(r->threat_ids[0])->group, "L1 Support");

  ASSERT_TRUE(store().deleteTag(t.groups[0].id, t.groups[1].id));
  EXPECT_EQ(store().getThreat(r->threat_ids[0])->group, "L2 Support");
  EXPECT_EQ(store().getThreat(r->threat_ids[1])->group_id, t.groups[1].id);
  ThreatFilter f;
  f.project_id = t.project.id;
  f.groups = {"L2 Support"};
  EXPECT_EQ(store().listThreats(f, {})->total, 2);
  auto groups = store().listTags(t.org.id, TagKind::kGroup);
  ASSERT_EQ(groups->size(), 2u);
  EXPECT_EQ((*groups)[0].position, 0);
  EXPECT_EQ((*groups)[1].position, 1);

  // An unused value goes without a replacement.
  EXPECT_TRUE(store().deleteTag(t.groups[2].id, std::nullopt));
  EXPECT_EQ(store().deleteTag(t.groups[2].id, std::nullopt).error().code, ErrorCode::kNotFound);
}

TEST_P(StoreTest, StatesKeepAtLeastTwoAndTheClosedStateIsGuarded) {
  auto t = makeTenant("Acme");
  auto r = store().applyDetections({detection(t.project.id, "r1", "h1")}, {}, alice_);
  ASSERT_TRUE(r);
  ThreatChange close;
  close.state_id = t.states[3].id;
  close.outcome_id = t.outcomes[0].id;
  ASSERT_TRUE(store().changeThreat(r->threat_ids[0], close, alice_));

  // Open threats cannot be moved into the closed state by a deletion.
  auto r2 = store().applyDetections({detection(t.project.id, "r2", "h1")}, {}, alice_);
  EXPECT_EQ(store().deleteTag(t.states[0].id, t.states[3].id).error().code,
            ErrorCode::kUnprocessable);
  // The closed state in use stays.
  EXPECT_EQ(store().deleteTag(t.states[3].id, t.states[2].id).error().code, ErrorCode::kConflict);
  // Moving New's threats to In Progress works; then the new first state is In Progress.
  ASSERT_TRUE(store().deleteTag(t.states[0].id, t.states[1].id));
  EXPECT_EQ(store().getThreat(r2->threat_ids[0])->state, "In Progress");
  auto r3 = store().applyDetections({detection(t.project.id, "r3", "h1")}, {}, alice_);
  EXPECT_EQ(store().getThreat(r3->threat_ids[0])->state, "In Progress");
  ASSERT_TRUE(store().deleteTag(t.states[2].id, std::nullopt));  // On Hold, unused
  // Two states left: In Progress and Closed.
  auto refused = store().deleteTag(t.states[1].id, std::nullopt);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_NE(refused.error().message.find("two states"), std::string::npos);
}

TEST_P(StoreTest, NewDetectionRaisesAThreatWithTheFirstStateAndAnOutboxEvent) {
  auto t = makeTenant("Acme");
  auto d = detection(t.project.id, "sigma-1", "WS-042");
  d.description = "PowerShell encoded command";
  d.score = 77;
  d.severity = core::Severity::kHigh;
  d.kind = core::ThreatKind::kSignal;
  d.rule_group = "execution";
  d.tags = {"T1059.001", "quote\"d"};
  d.evidence_json = R"({"cmd":"powershell -enc"})";
  auto r = store().applyDetections({d}, {t.groups[1].id}, alice_);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->created, 1);
  EXPECT_EQ(r->updated, 0);
  ASSERT_EQ(r->created_ids.size(), 1u);
  ASSERT_EQ(r->threat_ids, r->created_ids);

  auto th = store().getThreat(r->threat_ids[0]);
  ASSERT_TRUE(th);
  EXPECT_EQ(th->name, d.name);
  EXPECT_EQ(th->description, d.description);
  EXPECT_EQ(th->score, 77);
  EXPECT_EQ(th->severity, core::Severity::kHigh);
  EXPECT_EQ(th->kind, core::ThreatKind::kSignal);
  EXPECT_EQ(th->source, "Rule");
  EXPECT_EQ(th->rule_id, "sigma-1");
  EXPECT_EQ(th->rule_group, "execution");
  EXPECT_EQ(th->entity, (core::Entity{"host", "WS-042"}));
  EXPECT_EQ(th->entity_group, "servers");
  EXPECT_EQ(th->host, "WS-042");
  EXPECT_EQ(th->tags, d.tags);
  EXPECT_EQ(th->evidence_json, d.evidence_json);
  EXPECT_EQ(th->state, "New");
  EXPECT_EQ(th->state_id, t.states[0].id);
  EXPECT_EQ(th->group, "L2 Support");
  EXPECT_FALSE(th->outcome_id);
  EXPECT_FALSE(th->owner_id);
  EXPECT_FALSE(th->closed);
  EXPECT_EQ(th->count, 1);
  EXPECT_EQ(th->created_at, d.seen_at);
  EXPECT_EQ(th->last_seen, d.seen_at);
  EXPECT_GT(th->updated_at, 0);
  EXPECT_EQ(th->dedup_key, core::dedupKey(d));

  auto tl = store().timeline(th->id);
  ASSERT_TRUE(tl);
  ASSERT_EQ(tl->size(), 1u);
  EXPECT_EQ((*tl)[0].action, "created");
  EXPECT_EQ((*tl)[0].actor, "alice@example.com");
  auto ob = store().listOutbox(th->id);
  ASSERT_TRUE(ob);
  ASSERT_EQ(ob->size(), 1u);
  EXPECT_EQ((*ob)[0].kind, "threat.created");
  EXPECT_EQ((*ob)[0].project_id, t.project.id);
  EXPECT_NE((*ob)[0].payload_json.find("\"severity\":\"HIGH\""), std::string::npos);
  EXPECT_EQ(store().getThreat(99999).error().code, ErrorCode::kNotFound);
}

TEST_P(StoreTest, DuplicatesFoldIntoTheOpenThreatWithinAndAcrossBatches) {
  auto t = makeTenant("Acme");
  auto a = detection(t.project.id, "r1", "h1", 1000);
  auto b = detection(t.project.id, "r1", "h1", 3000);
  auto c = detection(t.project.id, "r1", "h2", 2000);  // another entity: another threat
  auto d = detection(t.project.id, "r1", "h1", 2000);
  auto r = store().applyDetections({a, b, c, d}, {}, alice_);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->created, 2);
  EXPECT_EQ(r->updated, 2);  // b and d folded into a's new threat
  ASSERT_EQ(r->threat_ids.size(), 4u);
  EXPECT_EQ(r->threat_ids[0], r->threat_ids[1]);
  EXPECT_EQ(r->threat_ids[0], r->threat_ids[3]);
  EXPECT_NE(r->threat_ids[0], r->threat_ids[2]);
  auto th = store().getThreat(r->threat_ids[0]);
  EXPECT_EQ(th->count, 3);
  EXPECT_EQ(th->created_at, 1000);
  EXPECT_EQ(th->last_seen, 3000);
  EXPECT_EQ(store().listOutbox(th->id)->size(), 1u);

  auto later = detection(t.project.id, "r1", "h1", 5000);
  auto r2 = store().applyDetections({later, later}, {}, alice_);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->created, 0);
  EXPECT_EQ(r2->updated, 2);
  EXPECT_EQ(r2->threat_ids[0], th->id);
  th = store().getThreat(th->id);
  EXPECT_EQ(th->count, 5);
  EXPECT_EQ(th->last_seen, 5000);
  // An older duplicate does not move last_seen back.
  ASSERT_TRUE(store().applyDetections({detection(t.project.id, "r1", "h1", 10)}, {}, alice_));
  EXPECT_EQ(store().getThreat(th->id)->last_seen, 5000);
  EXPECT_EQ(store().listOutbox(th->id)->size(), 1u);

  // The same key in another project is another threat.
  auto p2 = store().createProject(t.org.id, "second");
  auto r3 = store().applyDetections({detection(p2->id, "r1", "h1")}, {}, alice_);
  EXPECT_EQ(r3->created, 1);

  ThreatFilter f;
  f.project_id = t.project.id;
  f.text = "r1";
  auto page = store().listThreats(f, {});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->total, 2);
}

TEST_P(StoreTest, ClosedThreatsDoNotAbsorbDuplicates) {
  auto t = makeTenant("Acme");
  auto r = store().applyDetections({detection(t.project.id, "r1", "h1")}, {}, alice_);
  ThreatChange close;
  close.state_id = t.states.back().id;
  close.outcome_id = t.outcomes[1].id;
  auto closed = store().changeThreat(r->threat_ids[0], close, alice_);
  ASSERT_TRUE(closed) << closed.error().message;
  EXPECT_TRUE(closed->closed);
  EXPECT_TRUE(closed->closed_at);

  auto again = store().applyDetections({detection(t.project.id, "r1", "h1")}, {}, alice_);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->created, 1);
  EXPECT_NE(again->threat_ids[0], r->threat_ids[0]);
  EXPECT_EQ(store().getThreat(r->threat_ids[0])->count, 1);

  // Reopening the old one while the new one is open would make two open duplicates.
  ThreatChange reopen;
  reopen.state_id = t.states[0].id;
  reopen.outcome_id = std::optional<TagId>{};
  const auto outbox_before = store().listOutbox(r->threat_ids[0])->size();
  const auto timeline_before = store().timeline(r->threat_ids[0])->size();
  auto refused = store().changeThreat(r->threat_ids[0], reopen, alice_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_NE(refused.error().message.find(std::to_string(again->threat_ids[0])), std::string::npos);
  EXPECT_EQ(store().listOutbox(r->threat_ids[0])->size(), outbox_before);
  EXPECT_EQ(store().timeline(r->threat_ids[0])->size(), timeline_before);
  EXPECT_TRUE(store().getThreat(r->threat_ids[0])->closed);

  // Once the new one is closed too, the old one reopens.
  ASSERT_TRUE(store().changeThreat(again->threat_ids[0], close, alice_));
  auto reopened = store().changeThreat(r->threat_ids[0], reopen, alice_);
  ASSERT_TRUE(reopened) << reopened.error().message;
  EXPECT_FALSE(reopened->closed);
  EXPECT_FALSE(reopened->closed_at);
  EXPECT_FALSE(reopened->outcome_id);
  auto bump = store().applyDetections({detection(t.project.id, "r1", "h1")}, {}, alice_);
  EXPECT_EQ(bump->threat_ids[0], r->threat_ids[0]);
  EXPECT_EQ(store().getThreat(r->threat_ids[0])->count, 2);
}

TEST_P(StoreTest, CheckByNoneAlwaysRaisesANewThreat) {
  auto t = makeTenant("Acme");
  auto d = detection(t.project.id, "r1", "h1");
  d.check_by = core::CheckBy::kNone;
  auto r = store().applyDetections({d, d}, {}, alice_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->created, 2);
  EXPECT_NE(r->threat_ids[0], r->threat_ids[1]);
  auto r2 = store().applyDetections({d}, {}, alice_);
  EXPECT_EQ(r2->created, 1);
  EXPECT_EQ(store().getThreat(r2->threat_ids[0])->dedup_key, "");
}

TEST_P(StoreTest, CheckByRuleOnlyFoldsAcrossEntities) {
  auto t = makeTenant("Acme");
  auto a = detection(t.project.id, "r1", "h1");
  auto b = detection(t.project.id, "r1", "h2");
  a.check_by = b.check_by = core::CheckBy::kRule;
  auto r = store().applyDetections({a, b}, {}, alice_);
  EXPECT_EQ(r->created, 1);
  EXPECT_EQ(store().getThreat(r->threat_ids[0])->count, 2);
}

TEST_P(StoreTest, EvidenceSamplesAreBounded) {
  auto t = makeTenant("Acme");
  std::vector<core::Detection> batch;
  for (int i = 0; i < 6; ++i) {
    auto d = detection(t.project.id, "r1", "h1", 1000 + i);
    d.evidence_json = "{\"n\":" + std::to_string(i) + "}";
    batch.push_back(d);
  }
  auto r = store().applyDetections(batch, {}, alice_);
  ASSERT_TRUE(r);
  const ThreatId id = r->threat_ids[0];
  auto samples = store().evidenceSamples(id);
  ASSERT_TRUE(samples);
  ASSERT_EQ(samples->size(), 5u);
  EXPECT_EQ((*samples)[0], "{\"n\":1}");
  EXPECT_EQ(store().getThreat(id)->evidence_json, "{\"n\":0}");
  for (int round = 0; round < 3; ++round) {
    std::vector<core::Detection> more;
    for (int i = 0; i < 4; ++i) {
      auto d = detection(t.project.id, "r1", "h1", 2000 + round * 10 + i);
      d.evidence_json = "{\"n\":" + std::to_string(100 + round * 10 + i) + "}";
      more.push_back(d);
    }
    ASSERT_TRUE(store().applyDetections(more, {}, alice_));
  }
  samples = store().evidenceSamples(id);
  ASSERT_EQ(samples->size(), static_cast<size_t>(kEvidenceSamples));
  EXPECT_EQ(samples->back(), "{\"n\":110}");  // the 10th duplicate
  EXPECT_EQ(store().getThreat(id)->count, 18);
  EXPECT_EQ(store().evidenceSamples(9999).error().code, ErrorCode::kNotFound);
}

TEST_P(StoreTest, SinkChecksProjectsAndGroups) {
  auto t = makeTenant("Acme");
  auto other = makeTenant("Other");
  auto bad_project = store().applyDetections({detection(9999, "r1", "h1")}, {}, alice_);
  ASSERT_FALSE(bad_project);
  EXPECT_EQ(bad_project.error().code, ErrorCode::kUnprocessable);
  auto foreign_group =
      store().applyDetections({detection(t.project.id, "r1", "h1")}, {other.groups[0].id}, alice_);
  ASSERT_FALSE(foreign_group);
  EXPECT_EQ(foreign_group.error().code, ErrorCode::kUnprocessable);
  auto state_as_group =
      store().applyDetections({detection(t.project.id, "r1", "h1")}, {t.states[0].id}, alice_);
  EXPECT_FALSE(state_as_group);
  auto mismatched = store().applyDetections({detection(t.project.id, "r1", "h1")},
                                            {std::nullopt, std::nullopt}, alice_);
  EXPECT_FALSE(mismatched);
  EXPECT_EQ(store().listThreats({}, {})->total, 0);
  EXPECT_TRUE(store().applyDetections({}, {}, alice_));

  // An organisation without states cannot take threats.
  auto bare = store().createOrg("Bare", std::nullopt);
  auto bare_project = store().createProject(bare->id, "bare");
  auto no_states = store().applyDetections({detection(bare_project->id, "r", "h")}, {}, alice_);
  ASSERT_FALSE(no_states);
  EXPECT_EQ(no_states.error().code, ErrorCode::kUnprocessable);
}

TEST_P(StoreTest, ChangesWriteOneTimelineEntryPerFieldAndOutboxEvents) {
  auto t = makeTenant("Acme");
  User u;
  u.org_id = t.org.id;
  u.email = "bob@example.com";
  auto bob = store().createUser(u);
  auto r = store().applyDetections({detection(t.project.id, "r1", "h1")}, {}, alice_);
  const ThreatId id = r->threat_ids[0];

  ThreatChange assign;
  assign.group_id = t.groups[0].id;
  assign.owner_id = bob->id;
  assign.state_id = t.states[1].id;
  assign.severity = core::Severity::kCritical;
  assign.score = 95;
  assign.note = "looking into it";
  auto changed = store().changeThreat(id, assign, alice_);
  ASSERT_TRUE(changed) << changed.error().message;
  EXPECT_EQ(changed->group, "L1 Support");
  EXPECT_EQ(changed->owner, "bob@example.com");
  EXPECT_EQ(changed->state, "In Progress");
  EXPECT_EQ(changed->severity, core::Severity::kCritical);
  EXPECT_EQ(changed->score, 95);
  auto stored = store().getThreat(id);
  EXPECT_EQ(stored->owner_id, bob->id);
  EXPECT_EQ(stored->state, "In Progress");

  auto tl = store().timeline(id);
  ASSERT_TRUE(tl);
  std::vector<std::tuple<std::string, std::string, std::string>> got;
  for (const auto& e : *tl) {
    got.emplace_back(e.action, e.from, e.to);
    EXPECT_EQ(e.actor, "alice@example.com");
  }
  EXPECT_EQ(got, (std::vector<std::tuple<std::string, std::string, std::string>>{
                     {"created", "", ""},
                     {"assigned_group", "", "L1 Support"},
                     {"assigned_owner", "", "bob@example.com"},
                     {"state", "New", "In Progress"},
                     {"severity", "MEDIUM", "CRITICAL"},
                     {"score", "50", "95"},
                     {"note", "", "looking into it"}}));
  EXPECT_EQ(store().listNotes(id)->size(), 1u);

  ThreatChange close;
  close.state_id = t.states[3].id;
  close.outcome_id = t.outcomes[2].id;
  close.owner_id = std::optional<UserId>{};
  auto closed = store().changeThreat(id, close, alice_);
  ASSERT_TRUE(closed);
  EXPECT_TRUE(closed->closed);
  EXPECT_EQ(closed->outcome, "False Positive");
  EXPECT_EQ(closed->owner, "");

  ThreatChange reopen;
  reopen.state_id = t.states[0].id;
  reopen.outcome_id = std::optional<TagId>{};
  ASSERT_TRUE(store().changeThreat(id, reopen, alice_));

  tl = store().timeline(id);
  std::vector<std::string> actions;
  for (size_t i = 7; i < tl->size(); ++i)
    actions.push_back((*tl)[i].action + ":" + (*tl)[i].from + ">" + (*tl)[i].to);
  EXPECT_EQ(actions, (std::vector<std::string>{"assigned_owner:bob@example.com>",
                                               "state:In Progress>Closed", "closed:>False Positive",
                                               "state:Closed>New", "reopened:False Positive>"}));

  auto ob = store().listOutbox(id);
  std::vector<std::string> kinds;
  for (const auto& e : *ob) kinds.push_back(e.kind);
  EXPECT_EQ(kinds,
            (std::vector<std::string>{"threat.created", "threat.assigned", "threat.state_changed",
                                      "threat.assigned", "threat.closed", "threat.reopened"}));

  // A change to the same values writes nothing.
  ThreatChange same;
  same.state_id = t.states[0].id;
  ASSERT_TRUE(store().changeThreat(id, same, alice_));
  EXPECT_EQ(store().timeline(id)->size(), tl->size());
  EXPECT_EQ(store().listOutbox(id)->size(), ob->size());
}

TEST_P(StoreTest, AFailedChangeWritesNothing) {
  auto t = makeTenant("Acme");
  auto other = makeTenant("Other");
  auto r = store().applyDetections({detection(t.project.id, "r1", "h1")}, {}, alice_);
  const ThreatId id = r->threat_ids[0];
  const auto before = *store().getThreat(id);

  ThreatChange bad;
  bad.group_id = t.groups[0].id;      // fine on its own ...
  bad.state_id = other.states[1].id;  // ... but this state is another organisation's
  bad.note = "should not be kept";
  auto refused = store().changeThreat(id, bad, alice_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(refused.error().field, "state");

  ThreatChange wrong_kind;
  wrong_kind.outcome_id = t.groups[0].id;
  EXPECT_EQ(store().changeThreat(id, wrong_kind, alice_).error().code, ErrorCode::kUnprocessable);
  ThreatChange no_user;
  no_user.owner_id = 4242;
  EXPECT_EQ(store().changeThreat(id, no_user, alice_).error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(store().changeThreat(9999, ThreatChange{}, alice_).error().code, ErrorCode::kNotFound);

  const auto after = *store().getThreat(id);
  EXPECT_EQ(after.group_id, before.group_id);
  EXPECT_EQ(after.state_id, before.state_id);
  EXPECT_EQ(after.updated_at, before.updated_at);
  EXPECT_EQ(store().timeline(id)->size(), 1u);
  EXPECT_EQ(store().listOutbox(id)->size(), 1u);
  EXPECT_TRUE(store().listNotes(id)->empty());
}

TEST_P(StoreTest, NotesAreKeptInOrderWithATimelineEntry) {
  auto t = makeTenant("Acme");
  auto r = store().applyDetections({detection(t.project.id, "r1", "h1")}, {}, alice_);
  const ThreatId id = r->threat_ids[0];
  auto n1 = store().addNote(id, "first", alice_);
  ASSERT_TRUE(n1);
  EXPECT_EQ(n1->author, "alice@example.com");
  ASSERT_TRUE(store().addNote(id, "it's a \"quote\"; DROP TABLE notes;--", alice_));
  auto notes = store().listNotes(id);
  ASSERT_EQ(notes->size(), 2u);
  EXPECT_EQ((*notes)[0].text, "first");
  EXPECT_EQ((*notes)[1].text, "it's a \"quote\"; DROP TABLE notes;--");
  EXPECT_EQ(store().timeline(id)->back().action, "note");
  // Each note is an outbox event too, so the group's subscribers hear of it.
  auto ob = store().listOutbox(id);
  ASSERT_EQ(ob->size(), 3u);
  EXPECT_EQ((*ob)[1].kind, "threat.noted");
  EXPECT_NE((*ob)[1].payload_json.find("\"text\":\"first\""), std::string::npos);
  EXPECT_EQ(store().addNote(9999, "x", alice_).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().listNotes(9999).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(store().timeline(9999).error().code, ErrorCode::kNotFound);
}

TEST_P(StoreTest, OutboxEventsAreClaimedOnceUntilTheLeaseEndsAndAcknowledged) {
  auto t = makeTenant("Acme");
  std::vector<core::Detection> batch;
  for (int i = 0; i < 5; ++i)
    batch.push_back(detection(t.project.id, "r" + std::to_string(i), "h"));
  ASSERT_TRUE(store().applyDetections(batch, {}, alice_));
  auto first = store().claimOutbox(3, 60'000);
  ASSERT_TRUE(first);
  ASSERT_EQ(first->size(), 3u);
  EXPECT_LT((*first)[0].id, (*first)[1].id);
  EXPECT_EQ((*first)[0].attempts, 1);
  auto second = store().claimOutbox(10, 60'000);
  ASSERT_EQ(second->size(), 2u);
  EXPECT_GT((*second)[0].id, (*first)[2].id);
  EXPECT_TRUE(store().claimOutbox(10, 60'000)->empty());

  ASSERT_TRUE(store().ackOutbox({(*first)[0].id, (*first)[1].id}));
  auto listed = store().listOutbox((*first)[0].threat_id);
  EXPECT_TRUE(listed->front().delivered_at);

  // The other three are still leased.
  EXPECT_TRUE(store().claimOutbox(10, 60'000)->empty());

  // A lease of 0 ends at once: an unacknowledged event comes back with one more attempt.
  ASSERT_TRUE(store().applyDetections({detection(t.project.id, "late", "h")}, {}, alice_));
  auto once = store().claimOutbox(10, 0);
  ASSERT_EQ(once->size(), 1u);
  auto twice = store().claimOutbox(10, 0);
  ASSERT_EQ(twice->size(), 1u);
  EXPECT_EQ((*twice)[0].id, (*once)[0].id);
  EXPECT_EQ((*twice)[0].attempts, 2);
  ASSERT_TRUE(store().ackOutbox({(*twice)[0].id}));
  EXPECT_TRUE(store().claimOutbox(10, 0)->empty());
  EXPECT_TRUE(store().claimOutbox(0, 0)->empty());
}

TEST_P(StoreTest, ReopenedStoreAnswersFromWhatItKept) {
  auto t = makeTenant("Acme");
  std::vector<core::Detection> batch;
  for (int i = 0; i < 50; ++i) {
    auto d = detection(t.project.id, "r" + std::to_string(i % 7), "h" + std::to_string(i % 5),
                       1'700'000'000'000 + i * 60'000);
    d.score = (i * 37) % 101;
    d.severity = core::severityForScore(d.score);
    batch.push_back(d);
  }
  auto r = store().applyDetections(batch, {}, alice_);
  ASSERT_TRUE(r);
  ThreatChange change;
  change.state_id = t.states[3].id;
  change.outcome_id = t.outcomes[0].id;
  ASSERT_TRUE(store().changeThreat(r->threat_ids[0], change, alice_));
  ThreatChange group;
  group.group_id = t.groups[1].id;
  ASSERT_TRUE(store().changeThreat(r->threat_ids[1], group, alice_));

  auto snapshot = [&] {
    std::vector<std::string> out;
    for (auto sort : {ThreatSort::kScore, ThreatSort::kLastSeen}) {
      ThreatFilter f;
      f.project_id = t.project.id;
      PageRequest p;
      p.sort = sort;
      p.limit = 500;
      auto page = store().listThreats(f, p);
      for (const auto& th : page->items)
        out.push_back(std::to_string(th.id) + "/" + th.state + "/" + th.group + "/" +
                      std::to_string(th.count) + "/" + std::to_string(th.last_seen));
      f.open = true;
      f.groups = {"L2 Support"};
      out.push_back("open-l2=" + std::to_string(store().listThreats(f, p)->total));
    }
    OverviewRequest req;
    req.filter.project_id = t.project.id;
    req.now = 1'700'000'000'000 + core::kDayMs;
    auto ov = store().overview(req);
    for (auto n : ov->open_by_severity) out.push_back(std::to_string(n));
    return out;
  };
  const auto before = snapshot();
  reopen();
  EXPECT_EQ(snapshot(), before);
  auto more = store().applyDetections({detection(t.project.id, "r1", "h1")}, {}, alice_);
  ASSERT_TRUE(more);
  EXPECT_EQ(more->created, 0);  // the folded key survived the reopen
}

TEST_P(StoreTest, ThreatsWrittenByAnotherInstanceShowUpInLists) {
  // Another process on the same SQLite file (the CLI beside a running server), or another node
  // on the same PostgreSQL database.
  auto t = makeTenant("Acme");
  ASSERT_TRUE(store().applyDetections({detection(t.project.id, "r1", "h1")}, {}, alice_));
  ThreatFilter f;
  f.project_id = t.project.id;
  EXPECT_EQ(store().listThreats(f, {})->total, 1);

  auto other = GetParam().open(dir_);
  ASSERT_TRUE(other) << other.error().message;
  auto r = (*other)->applyDetections(
      {detection(t.project.id, "r2", "h2"), detection(t.project.id, "r1", "h1", 1'800'000'000'000)},
      {}, alice_);
  ASSERT_TRUE(r) << r.error().message;
  ThreatChange c;
  c.group_id = t.groups[2].id;
  ASSERT_TRUE((*other)->changeThreat(r->threat_ids[1], c, alice_));
  // Another SQLite connection's commits are seen at the next read; another PostgreSQL node's
  // once their notification has arrived (docs/operations.md: usually within milliseconds, not
  // at once). Wait, a bounded while, for the last of them.
  ThreatFilter patching = f;
  patching.groups = {"Patching"};
  for (int i = 0; i < 500 && store().listThreats(patching, {})->total < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }

  auto page = store().listThreats(f, {});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->total, 2);
  f.groups = {"Patching"};
  EXPECT_EQ(store().listThreats(f, {})->total, 1);
  PageRequest by_time;
  ASSERT_FALSE(store().listThreats({}, by_time)->items.empty());
  EXPECT_EQ(store().listThreats({}, by_time)->items.front().last_seen, 1'800'000'000'000);
  // And this instance's own writes still fold into the other's threats.
  auto mine = store().applyDetections({detection(t.project.id, "r2", "h2")}, {}, alice_);
  EXPECT_EQ(mine->created, 0);
}

TEST_P(StoreTest, ConcurrentWritersAndReadersSeeConsistentAnswers) {
  auto t = makeTenant("Acme");
  constexpr int kWriters = 2, kBatches = 20, kPerBatch = 25;
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w)
    threads.emplace_back([&, w] {
      for (int b = 0; b < kBatches; ++b) {
        std::vector<core::Detection> batch;
        for (int i = 0; i < kPerBatch; ++i)
          batch.push_back(detection(t.project.id, "w" + std::to_string(w),
                                    "h" + std::to_string(b * kPerBatch + i)));
        // Every detection twice: the second folds.
        auto copy = batch;
        batch.insert(batch.end(), copy.begin(), copy.end());
        if (!store().applyDetections(batch, {}, alice_)) failed = true;
      }
    });
  for (int r = 0; r < 2; ++r)
    threads.emplace_back([&] {
      for (int i = 0; i < 30; ++i) {
        ThreatFilter f;
        f.project_id = t.project.id;
        auto page = store().listThreats(f, {});
        OverviewRequest req;
        req.filter = f;
        auto ov = store().overview(req);
        if (!page || !ov) failed = true;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_FALSE(failed);
  ThreatFilter f;
  f.project_id = t.project.id;
  auto page = store().listThreats(f, {});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->total, kWriters * kBatches * kPerBatch);
  for (const auto& th : page->items) EXPECT_EQ(th.count, 2);
}

TEST_P(StoreTest, CountsByStateAndSeverityCoverEveryProject) {
  auto a = makeTenant("Acme");
  auto b = makeTenant("Beta");
  auto d1 = detection(a.project.id, "r1", "h1");
  d1.severity = core::Severity::kHigh;
  auto d2 = detection(b.project.id, "r1", "h1");
  d2.severity = core::Severity::kHigh;
  auto d3 = detection(b.project.id, "r2", "h1");
  d3.severity = core::Severity::kLow;
  ASSERT_TRUE(store().applyDetections({d1, d2, d3}, {}, alice_));
  auto counts = store().countsByStateAndSeverity();
  ASSERT_TRUE(counts);
  ASSERT_EQ(counts->size(), 1u);
  EXPECT_EQ((*counts)[0].first, "New");
  EXPECT_EQ((*counts)[0].second[static_cast<int>(core::Severity::kHigh)], 2);
  EXPECT_EQ((*counts)[0].second[static_cast<int>(core::Severity::kLow)], 1);
}

TEST(StoreOpenTest, RejectsUnknownUrls) {
  EXPECT_EQ(openStore("mysql://x").error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(openStore("sqlite:").error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(openStore("postgres://localhost/x"));
  EXPECT_FALSE(openStore("sqlite:/proc/no/such/dir/x.db"));
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values(sqliteBackend(), postgresBackend()), backendName);

}  // namespace
}  // namespace td::store::testing
