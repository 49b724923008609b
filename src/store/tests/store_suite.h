// The backend-neutral store test suite's fixture. Each backend registers a StoreBackend (how to
// open a fresh store in a temporary directory, and how to open it again); every test of the
// suite runs against each registered backend, so the PostgreSQL backend passes the same tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "store/postgres/connection.h"
#include "store/sqlite/connection.h"
#include "store/store.h"
#include "tests/support/pg_server.h"

namespace td::store::testing {

struct StoreBackend {
  std::string name;
  // Opens the store kept under `dir` (a fresh, empty directory the first time).
  std::function<core::Result<std::unique_ptr<Store>>(const std::string& dir)> open;
  // A plain SQL connection to the database of the store opened in `dir` (after open): for the
  // tests that set a column the stores never let a caller set (fixed times in the past).
  std::function<core::Result<std::unique_ptr<sql::Connection>>(const std::string& dir)> connect;
};

// gtest prints parameters of failing tests; a backend prints as its name.
inline void PrintTo(const StoreBackend& backend, std::ostream* os) { *os << backend.name; }

inline StoreBackend sqliteBackend() {
  return {"Sqlite", [](const std::string& dir) {
            // A subdirectory that does not exist yet: openStore creates it.
            return openStore("sqlite:" + dir + "/db/threatdesk.db");
          },
          [](const std::string& dir) -> core::Result<std::unique_ptr<sql::Connection>> {
            auto c = sqlite::SqliteConnection::open(dir + "/db/threatdesk.db", false);
            if (!c) return core::fail(c.error());
            return std::unique_ptr<sql::Connection>(std::move(*c));
          }};
}

// The same store over a fresh database of the test PostgreSQL server (tests/support/pg_server.h);
// the database's URL is kept in `dir` so that reopening finds the same rows.
inline StoreBackend postgresBackend() {
  return {"Postgres", [](const std::string& dir) -> core::Result<std::unique_ptr<Store>> {
            auto& server = td::testing::PgTestServer::instance();
            if (!server.error().empty())
              return core::fail(core::ErrorCode::kUnavailable, server.error());
            const std::string url_file = dir + "/postgres-url";
            std::string url;
            if (std::ifstream in(url_file); in) std::getline(in, url);
            if (url.empty()) {
              url = server.freshDatabase();
              std::ofstream(url_file) << url << "\n";
            }
            return openStore(url);
          },
          [](const std::string& dir) -> core::Result<std::unique_ptr<sql::Connection>> {
            std::string url;
            if (std::ifstream in(dir + "/postgres-url"); in) std::getline(in, url);
            if (url.empty())
              return core::fail(core::ErrorCode::kNotFound, "no database in " + dir);
            auto c = postgres::PgConnection::open(url);
            if (!c) return core::fail(c.error());
            return std::unique_ptr<sql::Connection>(std::move(*c));
          }};
}

class StoreFixture : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "td-store-XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    auto s = GetParam().open(dir_);
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // Closes the store and opens it again from what it kept.
  void reopen() {
    store_.reset();
    auto s = GetParam().open(dir_);
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
  }
  Store& store() { return *store_; }
  // Runs `statement` in a write transaction of its own on a separate connection to the store's
  // database, as another process would (its commit announced like any other).
  void rawSql(const std::string& statement) {
    auto c = GetParam().connect(dir_);
    ASSERT_TRUE(c) << c.error().message;
    sql::Transaction tx(**c);
    ASSERT_TRUE(tx.begin());
    auto st = (*c)->prepare(statement);
    ASSERT_TRUE(st) << st.error().message;
    auto ran = (*st)->run();
    ASSERT_TRUE(ran) << statement << ": " << ran.error().message;
    ASSERT_TRUE(tx.commit());
  }

  // An organisation with the default tag values, and one project.
  struct Tenant {
    Org org;
    Project project;
    std::vector<TagValue> states, outcomes, groups;
  };
  Tenant makeTenant(const std::string& name) {
    Tenant t;
    auto org = store().createOrg(name, std::nullopt);
    EXPECT_TRUE(org) << org.error().message;
    t.org = *org;
    auto project = store().createProject(t.org.id, name + "-web");
    EXPECT_TRUE(project);
    t.project = *project;
    int i = 0;
    for (const char* s : {"New", "In Progress", "On Hold", "Closed"})
      t.states.push_back(*store().addTag(t.org.id, TagKind::kState, s, i++));
    i = 0;
    for (const char* s : {"Malicious", "Benign", "False Positive", "Remediated"})
      t.outcomes.push_back(*store().addTag(t.org.id, TagKind::kOutcome, s, i++));
    i = 0;
    for (const char* s : {"L1 Support", "L2 Support", "Patching"})
      t.groups.push_back(*store().addTag(t.org.id, TagKind::kGroup, s, i++));
    return t;
  }

  static core::Detection detection(ProjectId project, const std::string& rule,
                                   const std::string& entity,
                                   core::TimeMs seen = 1'700'000'000'000) {
    core::Detection d;
    d.project_id = project;
    d.name = "Rule " + rule + " fired";
    d.rule_id = rule;
    d.entity = {"host", entity};
    d.host = entity;
    d.entity_group = "servers";
    d.evidence_json = "{\"n\":0}";
    d.seen_at = seen;
    return d;
  }

  Actor alice_{std::nullopt, "alice@example.com"};
  std::string dir_;
  std::unique_ptr<Store> store_;
};

inline std::string backendName(const ::testing::TestParamInfo<StoreBackend>& info) {
  return info.param.name;
}

}  // namespace td::store::testing
