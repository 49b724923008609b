// A real SQLite store in a temporary directory with one organisation, its default tags, two
// projects and two users, for the triage tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "store/store.h"
#include "tests/support/temp_dir.h"
#include "triage/service.h"

namespace td::triage {

class TriageFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = store::openStore("sqlite:" + dir_.file("threatdesk.db"));
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
    service_ = std::make_unique<TriageService>(*store_);
    org_ = store_->createOrg("Acme", std::nullopt).value();
    other_org_ = store_->createOrg("Globex", std::nullopt).value();
    ASSERT_TRUE(service_->seedDefaultTags(org_.id));
    ASSERT_TRUE(service_->seedDefaultTags(other_org_.id));
    project_ = store_->createProject(org_.id, "prod").value();
    other_project_ = store_->createProject(org_.id, "staging").value();
    store::User analyst;
    analyst.org_id = org_.id;
    analyst.email = "alice@acme.test";
    analyst.role = store::Role::kOperator;
    alice_ = store_->createUser(analyst).value();
    store::User outsider;
    outsider.org_id = other_org_.id;
    outsider.email = "mallory@globex.test";
    outsider.role = store::Role::kAdmin;
    mallory_ = store_->createUser(outsider).value();
  }

  core::Detection detection(const std::string& name, const std::string& host = "WS-042") {
    core::Detection d;
    d.project_id = project_.id;
    d.name = name;
    d.source = std::string(core::source::kManual);
    d.rule_id = name;
    d.entity = {"host", host};
    d.host = host;
    d.severity = core::Severity::kHigh;
    d.score = 70;
    return d;
  }

  core::Threat create(const std::string& name, const std::string& host = "WS-042") {
    auto t = service_->createThreat(detection(name, host), actor_);
    EXPECT_TRUE(t) << (t ? "" : t.error().message);
    return t ? *t : core::Threat{};
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<TriageService> service_;
  store::Org org_, other_org_;
  store::Project project_, other_project_;
  store::User alice_, mallory_;
  store::Actor actor_{std::nullopt, "alice@acme.test"};
};

}  // namespace td::triage
