#include "triage/service.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "triage/tests/triage_fixture.h"

namespace td::triage {
namespace {

using core::ErrorCode;

class TriageServiceTest : public TriageFixture {};

ChangeRequest stateChange(const std::string& state, std::optional<std::string> outcome = {}) {
  ChangeRequest r;
  r.state = state;
  r.outcome = std::move(outcome);
  return r;
}

bool hasEntry(const std::vector<store::TimelineEntry>& entries, const std::string& action,
              const std::string& from, const std::string& to) {
  return std::any_of(entries.begin(), entries.end(), [&](const auto& e) {
    return e.action == action && e.from == from && e.to == to;
  });
}

TEST_F(TriageServiceTest, SeedsDefaultTagsOnceInOrder) {
  auto states = service_->tags(org_.id, store::TagKind::kState).value();
  ASSERT_EQ(states.size(), 4u);
  EXPECT_EQ(states.front().name, "New");
  EXPECT_EQ(states.back().name, "Closed");
  ASSERT_TRUE(service_->seedDefaultTags(org_.id));
  EXPECT_EQ(service_->tags(org_.id, store::TagKind::kState)->size(), 4u);
  EXPECT_EQ(service_->tags(org_.id, store::TagKind::kOutcome)->size(), 4u);
}

TEST_F(TriageServiceTest, NewThreatStartsInTheFirstStateAndDuplicatesFold) {
  core::Threat first = create("Mimikatz");
  EXPECT_EQ(first.state, "New");
  EXPECT_FALSE(first.closed);
  EXPECT_EQ(first.count, 1);
  core::Threat again = create("Mimikatz");
  EXPECT_EQ(again.id, first.id);
  EXPECT_EQ(again.count, 2);
  core::Threat other_host = create("Mimikatz", "WS-043");
  EXPECT_NE(other_host.id, first.id);
}

TEST_F(TriageServiceTest, CreateRejectsUnknownGroupAndInvalidFields) {
  core::Detection d = detection("x");
  d.group = "Nobody";
  auto r = service_->createThreat(d, actor_);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(r.error().field, "group");
  d = detection("x");
  d.score = -1;
  EXPECT_EQ(service_->createThreat(d, actor_).error().field, "score");
}

TEST_F(TriageServiceTest, AssignsGroupAndOwnerWithTimeline) {
  core::Threat t = create("Beacon");
  ChangeRequest r;
  r.group = "L2 Support";
  r.owner = "alice@acme.test";
  auto changed = service_->change(t.id, r, actor_);
  ASSERT_TRUE(changed) << changed.error().message;
  EXPECT_EQ(changed->group, "L2 Support");
  EXPECT_EQ(changed->owner, "alice@acme.test");
  auto timeline = store_->timeline(t.id).value();
  EXPECT_TRUE(hasEntry(timeline, "assigned_group", "", "L2 Support"));
  EXPECT_TRUE(hasEntry(timeline, "assigned_owner", "", "alice@acme.test"));
  for (const auto& e : timeline) EXPECT_GT(e.at, 0);
}

TEST_F(TriageServiceTest, GroupNamesMatchIgnoringCase) {
  core::Threat t = create("Beacon");
  ChangeRequest r;
  r.group = "l1 support";
  EXPECT_EQ(service_->change(t.id, r, actor_)->group, "L1 Support");
}

TEST_F(TriageServiceTest, OwnerMustSeeTheProject) {
  core::Threat t = create("Beacon");
  ChangeRequest r;
  r.owner = "mallory@globex.test";
  auto changed = service_->change(t.id, r, actor_);
  ASSERT_FALSE(changed);
  EXPECT_EQ(changed.error().field, "owner");
  r.owner = "nobody@acme.test";
  EXPECT_EQ(service_->change(t.id, r, actor_).error().field, "owner");
}

TEST_F(TriageServiceTest, ClosingNeedsAnOutcome) {
  core::Threat t = create("Beacon");
  auto refused = service_->change(t.id, stateChange("Closed"), actor_);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(refused.error().field, "outcome");
  EXPECT_FALSE(store_->getThreat(t.id)->closed);

  auto closed = service_->change(t.id, stateChange("Closed", "False Positive"), actor_);
  ASSERT_TRUE(closed) << closed.error().message;
  EXPECT_TRUE(closed->closed);
  EXPECT_EQ(closed->outcome, "False Positive");
  EXPECT_TRUE(closed->closed_at.has_value());
  EXPECT_TRUE(hasEntry(store_->timeline(t.id).value(), "state", "New", "Closed"));
}

TEST_F(TriageServiceTest, OutcomeOnlyWhenClosed) {
  core::Threat t = create("Beacon");
  ChangeRequest r;
  r.outcome = "Benign";
  EXPECT_EQ(service_->change(t.id, r, actor_).error().field, "outcome");
  EXPECT_EQ(service_->change(t.id, stateChange("Closed", "Unknown Outcome"), actor_).error().field,
            "outcome");
}

TEST_F(TriageServiceTest, ReopeningClearsTheOutcome) {
  core::Threat t = create("Beacon");
  ASSERT_TRUE(service_->change(t.id, stateChange("Closed", "Benign"), actor_));
  auto reopened = service_->change(t.id, stateChange("In Progress"), actor_);
  ASSERT_TRUE(reopened) << reopened.error().message;
  EXPECT_FALSE(reopened->closed);
  EXPECT_TRUE(reopened->outcome.empty());
  EXPECT_FALSE(reopened->outcome_id.has_value());
}

TEST_F(TriageServiceTest, ClosedThreatsDoNotAbsorbDuplicates) {
  core::Threat t = create("Beacon");
  ASSERT_TRUE(service_->change(t.id, stateChange("Closed", "Remediated"), actor_));
  core::Threat again = create("Beacon");
  EXPECT_NE(again.id, t.id);
  // Reopening the old one now collides with the open duplicate.
  auto reopened = service_->change(t.id, stateChange("New"), actor_);
  ASSERT_FALSE(reopened);
  EXPECT_EQ(reopened.error().code, ErrorCode::kConflict);
}

TEST_F(TriageServiceTest, RejectsUnknownStateAndEmptyChange) {
  core::Threat t = create("Beacon");
  EXPECT_EQ(service_->change(t.id, stateChange("Done"), actor_).error().field, "state");
  EXPECT_EQ(service_->change(t.id, ChangeRequest{}, actor_).error().code, ErrorCode::kUnprocessable);
  ChangeRequest r;
  r.score = 101;
  EXPECT_EQ(service_->change(t.id, r, actor_).error().field, "score");
  EXPECT_EQ(service_->change(999999, stateChange("New"), actor_).error().code, ErrorCode::kNotFound);
}

TEST_F(TriageServiceTest, NotesAreKeptAndTimed) {
  core::Threat t = create("Beacon");
  ASSERT_TRUE(service_->addNote(t.id, "looked at the parent process", actor_));
  EXPECT_FALSE(service_->addNote(t.id, "   ", actor_));
  auto notes = store_->listNotes(t.id).value();
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].author, "alice@acme.test");
  EXPECT_EQ(notes[0].text, "looked at the parent process");
}

TEST_F(TriageServiceTest, BulkByIdsReportsWhatDidNotChange) {
  core::Threat a = create("A"), b = create("B");
  core::Detection elsewhere = detection("C");
  elsewhere.project_id = other_project_.id;
  core::Threat c = service_->createThreat(elsewhere, actor_).value();
  ChangeRequest r;
  r.group = "L2 Support";
  BulkResult result = service_->bulkChange(project_.id, {a.id, b.id, c.id, 424242}, r, actor_);
  EXPECT_EQ(result.matched, 4);
  EXPECT_EQ(result.changed, 2);
  ASSERT_EQ(result.failed.size(), 2u);
  EXPECT_EQ(result.failed[0].id, c.id);
  EXPECT_EQ(result.failed[0].error.code, ErrorCode::kNotFound);
  EXPECT_TRUE(store_->getThreat(c.id)->group.empty());
  EXPECT_EQ(store_->getThreat(b.id)->group, "L2 Support");
}

TEST_F(TriageServiceTest, BulkCloseByFilterNeedsOutcome) {
  for (int i = 0; i < 30; ++i) create("Scan " + std::to_string(i));
  store::ThreatFilter filter;
  filter.project_id = project_.id;
  filter.text = "scan";
  auto refused = service_->bulkChange(filter, stateChange("Closed"), actor_);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->changed, 0);
  EXPECT_EQ(refused->failed.size(), 30u);
  auto closed = service_->bulkChange(filter, stateChange("Closed", "Benign"), actor_);
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->changed, 30);
  filter.open = true;
  EXPECT_EQ(store_->listThreats(filter, {})->total, 0);
}

TEST_F(TriageServiceTest, RenamingATagKeepsItsThreats) {
  core::Threat t = create("Beacon");
  ChangeRequest r;
  r.group = "L1 Support";
  ASSERT_TRUE(service_->change(t.id, r, actor_));
  auto groups = service_->tags(org_.id, store::TagKind::kGroup).value();
  auto renamed = service_->renameTag(org_.id, groups[0].id, "Tier 1");
  ASSERT_TRUE(renamed) << renamed.error().message;
  EXPECT_EQ(store_->getThreat(t.id)->group, "Tier 1");
  EXPECT_EQ(service_->renameTag(org_.id, groups[0].id, "L2 Support").error().code,
            ErrorCode::kConflict);
  EXPECT_EQ(service_->renameTag(other_org_.id, groups[0].id, "X").error().code,
            ErrorCode::kNotFound);
}

TEST_F(TriageServiceTest, DeletingATagInUseNeedsAReplacement) {
  core::Threat t = create("Beacon");
  auto states = service_->tags(org_.id, store::TagKind::kState).value();
  const auto& fresh = states[0];
  auto refused = service_->deleteTag(org_.id, fresh.id, std::nullopt);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
  EXPECT_EQ(service_->deleteTag(org_.id, fresh.id, "Nonexistent").error().field, "replacement");
  ASSERT_TRUE(service_->deleteTag(org_.id, fresh.id, "In Progress"));
  EXPECT_EQ(store_->getThreat(t.id)->state, "In Progress");
  EXPECT_EQ(service_->tags(org_.id, store::TagKind::kState)->size(), 3u);
}

TEST_F(TriageServiceTest, AddsTagValuesAndRefusesDuplicates) {
  ASSERT_TRUE(service_->addTag(org_.id, store::TagKind::kGroup, "Patching", std::nullopt));
  EXPECT_EQ(service_->addTag(org_.id, store::TagKind::kGroup, "patching", std::nullopt)
                .error()
                .code,
            ErrorCode::kConflict);
  EXPECT_EQ(service_->addTag(org_.id, store::TagKind::kGroup, " padded", std::nullopt).error().field,
            "name");
  // A new state goes before the closed one, so Closed stays last.
  ASSERT_TRUE(service_->addTag(org_.id, store::TagKind::kState, "Escalated", std::nullopt));
  auto states = service_->tags(org_.id, store::TagKind::kState).value();
  EXPECT_EQ(states.back().name, "Closed");
}

}  // namespace
}  // namespace td::triage
