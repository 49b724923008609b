// IntelStore: feeds (settings, unique names, credentials kept), imports that replace or add to a
// feed's indicators in one transaction, failed imports that leave them alone, search, the
// scheduler's claim, the per-organisation version, per-project matching settings, and what
// survives reopening the store.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "store/tests/store_suite.h"

namespace td::store::testing {
namespace {

using core::ErrorCode;

class IntelStoreTest : public StoreFixture {
 protected:
  IntelFeed feedFor(OrgId org, const std::string& name) {
    IntelFeed f;
    f.org_id = org;
    f.name = name;
    f.type = "csv";
    f.source = "/feeds/" + name + ".csv";
    f.mapping_json = R"({"column":"ip"})";
    f.refresh_minutes = 60;
    f.username = "reader";
    f.secret = "env:FEED_SECRET";
    return f;
  }
  static IntelIndicatorRow row(const std::string& type, const std::string& value, int confidence) {
    IntelIndicatorRow r;
    r.type = type;
    r.value = value;
    r.confidence = confidence;
    r.external_id = "id-" + value;
    r.first_seen = 1'700'000'000'000;
    r.last_seen = 1'700'000'100'000;
    r.context_json = R"({"malware":"Emotet"})";
    return r;
  }
  static IntelImport okImport(IntelFeedId feed, std::int64_t added) {
    IntelImport i;
    i.feed_id = feed;
    i.started_at = 1'700'000'000'000;
    i.finished_at = 1'700'000'001'000;
    i.ok = true;
    i.added = added;
    i.report_json = R"({"rejections":[]})";
    i.trigger = "test";
    return i;
  }
};

TEST_P(IntelStoreTest, FeedsKeepTheirSettingsAndNamesAreUniquePerOrganisation) {
  auto a = makeTenant("Acme");
  auto b = makeTenant("Beta");
  auto created = store().intel().createFeed(feedFor(a.org.id, "abuse-ips"));
  ASSERT_TRUE(created) << created.error().message;
  EXPECT_GT(created->id, 0);
  EXPECT_EQ(created->mapping_json, R"({"column":"ip"})");
  EXPECT_EQ(created->secret, "env:FEED_SECRET");
  EXPECT_TRUE(created->enabled);
  EXPECT_EQ(created->last_status, "");

  auto dup = store().intel().createFeed(feedFor(a.org.id, "ABUSE-IPS"));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
  EXPECT_EQ(dup.error().field, "name");
  EXPECT_TRUE(store().intel().createFeed(feedFor(b.org.id, "abuse-ips")));  // another org

  IntelFeed change = *created;
  change.name = "abuse-ips-v2";
  change.enabled = false;
  change.refresh_minutes = 0;
  auto updated = store().intel().updateFeed(change);
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ(updated->name, "abuse-ips-v2");
  EXPECT_FALSE(updated->enabled);

  auto listed = store().intel().listFeeds(a.org.id);
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name, "abuse-ips-v2");
  EXPECT_EQ(store().intel().listFeeds(std::nullopt)->size(), 2u);

  auto missing = store().intel().getFeed(999);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

TEST_P(IntelStoreTest, ImportsReplaceOrAddIndicatorsAndAFailureLeavesThemAlone) {
  auto a = makeTenant("Acme");
  auto feed = *store().intel().createFeed(feedFor(a.org.id, "c2"));
  const auto v0 = *store().intel().intelVersion(a.org.id);

  auto first = store().intel().recordImport(
      okImport(feed.id, 2), {row("ipv4", "198.51.100.1", 80), row("domain", "evil.example", 60)},
      true, "");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_GT(first->id, 0);
  auto after = *store().intel().getFeed(feed.id);
  EXPECT_EQ(after.indicator_count, 2);
  EXPECT_EQ(after.last_status, "ok");
  EXPECT_GT(*store().intel().intelVersion(a.org.id), v0);

  // Incremental (TAXII): adds one, bumps the confidence of one, keeps the other.
  auto second = store().intel().recordImport(
      okImport(feed.id, 1), {row("ipv4", "198.51.100.1", 95), row("sha256", std::string(64, 'a'), 70)},
      false, "2026-01-01T00:00:00Z");
  ASSERT_TRUE(second);
  auto rows = *store().intel().listIndicators(feed.id, 0, 100);
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].value, "198.51.100.1");
  EXPECT_EQ(rows[0].confidence, 95);
  EXPECT_EQ(rows[0].context_json, R"({"malware":"Emotet"})");
  EXPECT_EQ(store().intel().getFeed(feed.id)->cursor, "2026-01-01T00:00:00Z");

  // A failed import is recorded with its error; the indicators and the cursor stay.
  IntelImport bad;
  bad.feed_id = feed.id;
  bad.ok = false;
  bad.error = "c2.csv: line 1: not a CSV";
  bad.started_at = bad.finished_at = 1'700'000'002'000;
  ASSERT_TRUE(store().intel().recordImport(bad, {row("ipv4", "203.0.113.9", 50)}, true, "x"));
  EXPECT_EQ(store().intel().listIndicators(feed.id, 0, 100)->size(), 3u);
  auto now = *store().intel().getFeed(feed.id);
  EXPECT_EQ(now.last_status, "c2.csv: line 1: not a CSV");
  EXPECT_EQ(now.cursor, "2026-01-01T00:00:00Z");

  auto imports = *store().intel().listImports(feed.id, 10);
  ASSERT_EQ(imports.size(), 3u);
  EXPECT_FALSE(imports[0].ok);  // newest first
  EXPECT_EQ(imports[2].added, 2);
  EXPECT_EQ(imports[2].report_json, R"({"rejections":[]})");
  EXPECT_EQ(store().intel().getImport(imports[1].id)->trigger, "test");

  // A full refresh replaces the whole set.
  ASSERT_TRUE(store().intel().recordImport(okImport(feed.id, 1), {row("ipv4", "192.0.2.7", 50)},
                                           true, ""));
  rows = *store().intel().listIndicators(feed.id, 0, 100);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].value, "192.0.2.7");
}

// A row's content without its id and feed, for comparing what two feeds hold.
std::string contentOf(const IntelIndicatorRow& r) {
  return r.type + "|" + r.value + "|" + r.atoms_json + "|" + r.external_id + "|" +
         std::to_string(r.confidence) + "|" + std::to_string(r.first_seen) + "|" +
         std::to_string(r.last_seen) + "|" + std::to_string(r.valid_from) + "|" +
         std::to_string(r.valid_until) + "|" + r.context_json;
}

TEST_P(IntelStoreTest, ARefreshWritesOnlyTheDifferenceAndLeavesWhatAFreshImportWould) {
  auto a = makeTenant("Acme");
  auto refreshed = *store().intel().createFeed(feedFor(a.org.id, "refreshed"));
  auto fresh = *store().intel().createFeed(feedFor(a.org.id, "fresh"));
  auto contents = [&](IntelFeedId feed) {
    std::vector<std::string> out;
    const auto rows = store().intel().listIndicators(feed, 0, 10'000).value();
    for (const auto& r : rows) out.push_back(contentOf(r));
    std::sort(out.begin(), out.end());
    return out;
  };

  // 700 rows: more than one statement's worth, and a rest of every smaller size.
  std::vector<IntelIndicatorRow> first;
  for (int i = 0; i < 700; ++i) first.push_back(row("ipv4", "10.0." + std::to_string(i / 256) + "." +
                                                       std::to_string(i % 256), 50));
  auto one = store().intel().recordImport(okImport(refreshed.id, 700), first, true, "");
  ASSERT_TRUE(one) << one.error().message;
  EXPECT_EQ(one->writes.inserted, 700);
  EXPECT_EQ(one->writes.unchanged, 0);
  const auto ids_before = *store().intel().listIndicators(refreshed.id, 0, 10'000);
  ASSERT_EQ(ids_before.size(), 700u);

  // The same rows again: nothing is written, every row keeps its id.
  auto same = store().intel().recordImport(okImport(refreshed.id, 0), first, true, "");
  ASSERT_TRUE(same) << same.error().message;
  EXPECT_EQ(same->writes.inserted, 0);
  EXPECT_EQ(same->writes.updated, 0);
  EXPECT_EQ(same->writes.deleted, 0);
  EXPECT_EQ(same->writes.unchanged, 700);
  auto ids_after = *store().intel().listIndicators(refreshed.id, 0, 10'000);
  ASSERT_EQ(ids_after.size(), 700u);
  for (size_t i = 0; i < ids_after.size(); ++i) EXPECT_EQ(ids_after[i].id, ids_before[i].id);

  // A changed feed: 300 rows gone, 100 changed (each field in turn), 300 kept, 500 new, and one
  // value given three times (folded: highest confidence, earliest first seen, latest last seen,
  // first external id, last validity and context).
  std::vector<IntelIndicatorRow> second;
  for (int i = 300; i < 700; ++i) {
    IntelIndicatorRow r = first[static_cast<size_t>(i)];
    if (i < 400) {
      switch (i % 5) {
        case 0: r.confidence = 90; break;
        case 1: r.last_seen += 1; break;
        case 2: r.context_json = R"({"malware":"QakBot"})"; break;
        case 3: r.external_id = "other"; break;
        default: r.valid_until = 4'000'000'000'000; break;
      }
    }
    second.push_back(r);
  }
  for (int i = 0; i < 500; ++i) second.push_back(row("domain", "d" + std::to_string(i) + ".example", 40));
  IntelIndicatorRow dup = row("sha256", std::string(64, 'b'), 30);
  second.push_back(dup);
  dup.confidence = 80;
  dup.external_id = "second-id";
  dup.first_seen = 1'600'000'000'000;
  dup.last_seen = 1'800'000'000'000;
  dup.context_json = R"({"actor":"APT0"})";
  second.push_back(dup);
  dup.confidence = 10;
  dup.first_seen = 0;
  dup.last_seen = 1'000;
  dup.valid_until = 4'100'000'000'000;
  second.push_back(dup);

  auto diff = store().intel().recordImport(okImport(refreshed.id, 501), second, true, "");
  ASSERT_TRUE(diff) << diff.error().message;
  EXPECT_EQ(diff->writes.deleted, 300);
  EXPECT_EQ(diff->writes.updated, 100);
  EXPECT_EQ(diff->writes.unchanged, 300);
  EXPECT_EQ(diff->writes.inserted, 501);
  EXPECT_EQ(store().intel().getFeed(refreshed.id)->indicator_count, 901);

  // What the refreshed feed holds is what the same import leaves in an empty feed.
  auto plain = store().intel().recordImport(okImport(fresh.id, 901), second, true, "");
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_EQ(plain->writes.inserted, 901);
  EXPECT_EQ(contents(refreshed.id), contents(fresh.id));
  EXPECT_EQ(store().intel().getFeed(fresh.id)->indicator_count, 901);

  auto hits = *store().intel().findIndicators({a.org.id}, std::string(64, 'b'), 10);
  ASSERT_EQ(hits.size(), 2u);  // one row per feed
  const IntelIndicatorRow& folded = hits[0].row;
  EXPECT_EQ(folded.confidence, 80);
  EXPECT_EQ(folded.external_id, "id-" + std::string(64, 'b'));
  EXPECT_EQ(folded.first_seen, 1'600'000'000'000);
  EXPECT_EQ(folded.last_seen, 1'800'000'000'000);
  EXPECT_EQ(folded.valid_until, 4'100'000'000'000);
  EXPECT_EQ(folded.context_json, R"({"actor":"APT0"})");

  // A refresh that keeps none of the rows.
  auto none = store().intel().recordImport(okImport(refreshed.id, 1), {row("url", "http://u.example/", 5)},
                                           true, "");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->writes.deleted, 901);
  EXPECT_EQ(none->writes.inserted, 1);
  EXPECT_EQ(store().intel().listIndicators(refreshed.id, 0, 10)->size(), 1u);
  EXPECT_EQ(store().intel().listIndicators(fresh.id, 0, 10'000)->size(), 901u);  // its own rows
}

TEST_P(IntelStoreTest, AnIncrementalImportFoldsRepeatedValuesAsSeparateImportsWould) {
  auto a = makeTenant("Acme");
  auto once = *store().intel().createFeed(feedFor(a.org.id, "once"));
  auto stepwise = *store().intel().createFeed(feedFor(a.org.id, "stepwise"));
  std::vector<IntelIndicatorRow> rows;
  for (int i = 0; i < 300; ++i) rows.push_back(row("ipv4", "192.0.2." + std::to_string(i % 200), i % 97));
  rows[250].external_id = "";
  rows[250].first_seen = 1'500'000'000'000;
  ASSERT_TRUE(store().intel().recordImport(okImport(once.id, 1), {row("ipv4", "192.0.2.1", 99)},
                                           true, ""));
  ASSERT_TRUE(store().intel().recordImport(okImport(stepwise.id, 1), {row("ipv4", "192.0.2.1", 99)},
                                           true, ""));
  auto together = store().intel().recordImport(okImport(once.id, 200), rows, false, "c");
  ASSERT_TRUE(together) << together.error().message;
  EXPECT_EQ(together->writes.inserted, 199);
  EXPECT_EQ(together->writes.updated, 1);
  for (const auto& r : rows)
    ASSERT_TRUE(store().intel().recordImport(okImport(stepwise.id, 1), {r}, false, "c"));
  auto list = [&](IntelFeedId feed) {
    std::vector<std::string> out;
    const auto rows = store().intel().listIndicators(feed, 0, 1000).value();
    for (const auto& r : rows) out.push_back(contentOf(r));
    std::sort(out.begin(), out.end());
    return out;
  };
  EXPECT_EQ(list(once.id).size(), 200u);
  EXPECT_EQ(list(once.id), list(stepwise.id));
  EXPECT_EQ(store().intel().getFeed(once.id)->indicator_count, 200);
}

TEST_P(IntelStoreTest, SearchAndIterationStayWithinTheOrganisation) {
  auto a = makeTenant("Acme");
  auto b = makeTenant("Beta");
  auto fa = *store().intel().createFeed(feedFor(a.org.id, "one"));
  auto fa2 = *store().intel().createFeed(feedFor(a.org.id, "two"));
  auto fb = *store().intel().createFeed(feedFor(b.org.id, "one"));
  for (auto id : {fa.id, fa2.id, fb.id})
    ASSERT_TRUE(store().intel().recordImport(okImport(id, 1), {row("ipv4", "198.51.100.1", 50)},
                                             true, ""));
  auto hits = *store().intel().findIndicators({a.org.id}, "198.51.100.1", 10);
  ASSERT_EQ(hits.size(), 2u);  // one value, two sources
  EXPECT_EQ(hits[0].feed_name, "one");
  EXPECT_EQ(hits[1].feed_name, "two");
  EXPECT_TRUE(store().intel().findIndicators({a.org.id}, "198.51.100.2", 10)->empty());
  EXPECT_TRUE(store().intel().findIndicators({}, "198.51.100.1", 10)->empty());

  IntelFeed off = fa2;
  off.enabled = false;
  ASSERT_TRUE(store().intel().updateFeed(off));
  int seen = 0;
  ASSERT_TRUE(store().intel().forEachIndicator(a.org.id, true, [&](const IntelFeed& f,
                                                                   const IntelIndicatorRow& r) {
    EXPECT_EQ(f.name, "one");
    EXPECT_EQ(r.feed_id, fa.id);
    ++seen;
    return true;
  }));
  EXPECT_EQ(seen, 1);

  ASSERT_TRUE(store().intel().deleteFeed(fa.id));
  EXPECT_EQ(store().intel().findIndicators({a.org.id}, "198.51.100.1", 10)->size(), 1u);
  EXPECT_FALSE(store().intel().getFeed(fa.id));
  EXPECT_TRUE(store().intel().listImports(fa.id, 10)->empty());
}

TEST_P(IntelStoreTest, DueFeedsAreClaimedOnceUntilTheLeaseEnds) {
  auto a = makeTenant("Acme");
  IntelFeed f = feedFor(a.org.id, "hourly");
  f.next_run_at = 1000;
  auto due = *store().intel().createFeed(f);
  IntelFeed manual = feedFor(a.org.id, "manual");
  manual.refresh_minutes = 0;
  manual.next_run_at = 1000;
  ASSERT_TRUE(store().intel().createFeed(manual));

  auto claimed = *store().intel().claimDueFeeds(2000, 60'000, 10);
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].id, due.id);
  EXPECT_TRUE(store().intel().claimDueFeeds(2000, 60'000, 10)->empty());
  EXPECT_EQ(store().intel().claimDueFeeds(70'000, 60'000, 10)->size(), 1u);  // lease ran out
  ASSERT_TRUE(store().intel().setNextRun(due.id, 500'000));
  EXPECT_TRUE(store().intel().claimDueFeeds(400'000, 60'000, 10)->empty());
  EXPECT_FALSE(store().intel().setNextRun(999, 1));
}

TEST_P(IntelStoreTest, FeedsAndIndicatorsSurviveReopening) {
  auto a = makeTenant("Acme");
  auto feed = *store().intel().createFeed(feedFor(a.org.id, "kept"));
  ASSERT_TRUE(store().intel().recordImport(okImport(feed.id, 1), {row("url", "http://x.example/", 40)},
                                           true, "cursor-1"));
  reopen();
  auto again = store().intel().getFeed(feed.id);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->cursor, "cursor-1");
  EXPECT_EQ(again->username, "reader");
  auto rows = *store().intel().listIndicators(feed.id, 0, 10);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].type, "url");
  EXPECT_EQ(rows[0].first_seen, 1'700'000'000'000);
}

TEST_P(IntelStoreTest, ProjectSettingsDefaultThenKeepWhatWasPut) {
  auto a = makeTenant("Acme");
  auto b = makeTenant("Beta");
  auto none = store().intel().getSettings(a.project.id);
  ASSERT_TRUE(none) << none.error().message;
  EXPECT_EQ(none->updated_at, 0);
  EXPECT_EQ(none->suppression_minutes, 1440);
  EXPECT_TRUE(none->allow.empty());

  IntelSettings s;
  s.project_id = a.project.id;
  s.allow = {"10.0.0.0/8", "corp.example", "2001:db8::/32"};
  s.min_bytes = 512;
  s.ignore_ports = {137, 138};
  s.service_ports = {443};
  s.unsafe_ports = {23};
  s.suppression_minutes = 60;
  auto put = store().intel().putSettings(s);
  ASSERT_TRUE(put) << put.error().message;
  EXPECT_GT(put->updated_at, 0);

  s.allow = {"198.51.100.9"};
  s.ignore_ports.clear();
  ASSERT_TRUE(store().intel().putSettings(s));  // replaces
  reopen();
  auto got = *store().intel().getSettings(a.project.id);
  EXPECT_EQ(got.allow, std::vector<std::string>{"198.51.100.9"});
  EXPECT_EQ(got.min_bytes, 512);
  EXPECT_TRUE(got.ignore_ports.empty());
  EXPECT_EQ(got.service_ports, std::vector<int>{443});
  EXPECT_EQ(got.unsafe_ports, std::vector<int>{23});
  EXPECT_EQ(got.suppression_minutes, 60);
  EXPECT_EQ(store().intel().getSettings(b.project.id)->updated_at, 0);  // per project

  IntelSettings unknown;
  unknown.project_id = 999'999;
  auto missing = store().intel().putSettings(unknown);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  IntelSettings bad = s;
  bad.allow = {"a\nb"};
  EXPECT_FALSE(store().intel().putSettings(bad));
}

INSTANTIATE_TEST_SUITE_P(Backends, IntelStoreTest, ::testing::Values(sqliteBackend(), postgresBackend()),
                         backendName);

}  // namespace
}  // namespace td::store::testing
