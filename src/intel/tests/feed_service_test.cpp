// FeedService over a real SQLite store: imports from files and uploads with their reports, a
// malformed feed that leaves the loaded indicators alone, the live index swapped per import and
// rebuilt from the store after a restart, scheduled refresh, TAXII 2.1 polls against a real
// loopback server (paging, basic auth, added_after), and the intel stage of the event pipeline.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <mutex>

#include <nlohmann/json.hpp>

#include "intel/sync/feed_service.h"
#include "intel/sync/intel_processor.h"
#include "intel/sync/taxii_client.h"
#include "store/store.h"
#include "tests/support/taxii_server.h"
#include "tests/support/temp_dir.h"

namespace td::intel::sync {
namespace {

using core::ErrorCode;
using Json = nlohmann::json;

class CollectingSink : public core::DetectionSink {
 public:
  void submit(std::vector<core::Detection> batch) override {
    std::lock_guard l(mu_);
    for (auto& d : batch) got.push_back(std::move(d));
  }
  std::mutex mu_;
  std::vector<core::Detection> got;
};

class FeedServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    open();
    org_ = store_->createOrg("Acme", std::nullopt).value();
    other_ = store_->createOrg("Other", std::nullopt).value();
    project_ = store_->createProject(org_.id, "acme-web").value();
  }
  void open() {
    auto s = store::openStore("sqlite:" + dir_.file("td.db"));
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    service_ = std::make_unique<FeedService>(*store_);
  }
  void reopen() {
    service_.reset();
    store_.reset();
    open();
  }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir_.file(name), std::ios::binary) << text;
    return dir_.file(name);
  }
  store::IntelFeed feed(const std::string& name, const std::string& type,
                        const std::string& source, core::OrgId org = 0) {
    store::IntelFeed f;
    f.org_id = org ? org : org_.id;
    f.name = name;
    f.type = type;
    f.source = source;
    auto created = service_->createFeed(f);
    EXPECT_TRUE(created) << created.error().message;
    return created ? *created : f;
  }
  size_t indexSize(core::OrgId org) { return service_->liveIndex(org)->load()->size(); }

  testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<FeedService> service_;
  store::Org org_, other_;
  store::Project project_;
};

constexpr const char* kCsv =
    "# ip,malware\n198.51.100.1,Emotet\n198.51.100.2,QakBot\nnot-an-indicator!!,x\n"
    "evil.example,Emotet\n";

TEST_F(FeedServiceTest, ImportsAFileKeepsTheGoodRowsAndReportsTheBadOne) {
  auto f = feed("c2", "csv", write("c2.csv", kCsv));
  auto out = service_->importFeed(f.id, "test");
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(out->report.added, 3u);
  EXPECT_EQ(out->report.rejected, 1u);
  ASSERT_EQ(out->report.rejections.size(), 1u);
  EXPECT_NE(out->report.rejections[0].where.find("4"), std::string::npos)
      << out->report.rejections[0].where;  // the line
  EXPECT_TRUE(out->record.ok);
  EXPECT_EQ(out->record.rejected, 1);
  auto stored = store_->intel().getFeed(f.id).value();
  EXPECT_EQ(stored.indicator_count, 3);
  EXPECT_EQ(stored.last_status, "ok");
  Json report = Json::parse(out->record.report_json);
  EXPECT_EQ(report["rejections"].size(), 1u);
  EXPECT_EQ(indexSize(org_.id), 3u);
  EXPECT_EQ(indexSize(other_.id), 0u);  // another organisation's index is its own

  // The same feed again: everything is known already.
  auto again = service_->importFeed(f.id, "test");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->report.added, 0u);
  EXPECT_EQ(again->report.updated, 3u);
}

TEST_F(FeedServiceTest, ARefreshWritesOnlyTheRowsThatChanged) {
  const std::string path = write("list.txt", "198.51.100.1\n198.51.100.2\nevil.example\n");
  auto f = feed("list", "csv", path);
  auto first = service_->importFeed(f.id, "test");
  ASSERT_TRUE(first) << first.error().message;
  EXPECT_EQ(first->record.writes.inserted, 3);

  auto same = service_->importFeed(f.id, "test");
  ASSERT_TRUE(same) << same.error().message;
  EXPECT_EQ(same->report.updated, 3u);  // the report counts what the index already knew
  EXPECT_EQ(same->record.writes.inserted, 0);
  EXPECT_EQ(same->record.writes.updated, 0);
  EXPECT_EQ(same->record.writes.deleted, 0);
  EXPECT_EQ(same->record.writes.unchanged, 3);

  write("list.txt", "198.51.100.1\nevil.example\n203.0.113.9\n");
  auto changed = service_->importFeed(f.id, "test");
  ASSERT_TRUE(changed) << changed.error().message;
  EXPECT_EQ(changed->report.added, 1u);
  EXPECT_EQ(changed->report.updated, 2u);
  EXPECT_EQ(changed->record.writes.inserted, 1);
  EXPECT_EQ(changed->record.writes.deleted, 1);
  EXPECT_EQ(changed->record.writes.unchanged, 2);
  EXPECT_EQ(indexSize(org_.id), 3u);
  auto ix = service_->liveIndex(org_.id)->load();
  EXPECT_TRUE(ix->findExact(IndicatorType::kIpv4, "203.0.113.9"));
  EXPECT_FALSE(ix->findExact(IndicatorType::kIpv4, "198.51.100.2"));
  reopen();  // and the same from the store
  EXPECT_EQ(indexSize(org_.id), 3u);
  EXPECT_FALSE(service_->liveIndex(org_.id)->load()->findExact(IndicatorType::kIpv4, "198.51.100.2"));
}

// An import into an organisation whose index is not in memory (the CLI, a server before the
// organisation's first event) starts from the stored rows instead of a loaded index: the report
// and what is stored must be the same either way, including for a stored row whose validity has
// ended (not in a loaded index, so its value counts as added).
TEST_F(FeedServiceTest, AnImportCountsTheSameWhetherOrNotTheIndexIsLoaded) {
  struct Outcome {
    ImportReport report;
    size_t index_size = 0;
    std::vector<std::string> stored;
  };
  auto run = [&](bool loaded) {
    Outcome out;
    testing::TempDir dir;
    auto store = store::openStore("sqlite:" + dir.file("td.db")).value();
    const auto org = store->createOrg("Acme", std::nullopt).value();
    FeedService service(*store);
    store::IntelFeed old;
    old.org_id = org.id;
    old.name = "old";
    old.type = "csv";
    old.source = "upload";
    old = service.createFeed(old).value();
    store::IntelImport imp;
    imp.feed_id = old.id;
    imp.ok = true;
    store::IntelIndicatorRow active, ended;
    active.type = ended.type = "ipv4";
    active.value = "198.51.100.1";
    ended.value = "198.51.100.9";
    ended.valid_until = 1'000'000;  // 1970
    EXPECT_TRUE(store->intel().recordImport(imp, {active, ended}, true, ""));
    if (loaded) {
      EXPECT_EQ(service.liveIndex(org.id)->load()->size(), 1u);
    }
    store::IntelFeed fresh = old;
    fresh.name = "new";
    fresh = service.createFeed(fresh).value();
    auto r = service.importContent(fresh.id, "198.51.100.1\n198.51.100.9\n203.0.113.1\n", "t");
    EXPECT_TRUE(r) << r.error().message;
    if (r) out.report = r->report;
    out.index_size = service.liveIndex(org.id)->load()->size();
    const auto rows = store->intel().listIndicators(fresh.id, 0, 10).value();
    for (const auto& row : rows) out.stored.push_back(row.type + " " + row.value);
    std::sort(out.stored.begin(), out.stored.end());
    return out;
  };
  const Outcome loaded = run(true), cold = run(false);
  EXPECT_EQ(loaded.report.added, 2u);
  EXPECT_EQ(loaded.report.updated, 1u);
  EXPECT_EQ(cold.report.added, loaded.report.added);
  EXPECT_EQ(cold.report.updated, loaded.report.updated);
  EXPECT_EQ(cold.report.expired, loaded.report.expired);
  EXPECT_EQ(cold.index_size, 3u);
  EXPECT_EQ(cold.index_size, loaded.index_size);
  EXPECT_EQ(cold.stored, loaded.stored);
}

TEST_F(FeedServiceTest, AMalformedFeedFailsClearlyAndLeavesTheIndicatorsLoaded) {
  const std::string path = write("intel.json", R"({"type":"bundle","objects":[
    {"type":"indicator","spec_version":"2.1","id":"indicator--1a0b7e9c-3b8d-4d6e-9c59-2f3f1b0f1d11",
     "created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z",
     "pattern":"[ipv4-addr:value = '203.0.113.5']","pattern_type":"stix",
     "valid_from":"2026-01-01T00:00:00Z"}]})");
  auto f = feed("stix", "stix", path);
  ASSERT_TRUE(service_->importFeed(f.id, "test"));
  ASSERT_EQ(indexSize(org_.id), 1u);
  auto before = service_->liveIndex(org_.id)->load();

  write("intel.json", R"({"type":"bundle","objects":[ {"type":"indicator", )");
  auto bad = service_->importFeed(f.id, "test");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_FALSE(bad.error().message.empty());
  EXPECT_EQ(service_->liveIndex(org_.id)->load(), before);  // not swapped
  EXPECT_EQ(store_->intel().getFeed(f.id)->indicator_count, 1);
  auto imports = store_->intel().listImports(f.id, 5).value();
  ASSERT_EQ(imports.size(), 2u);
  EXPECT_FALSE(imports[0].ok);
  EXPECT_NE(imports[0].error.find("JSON"), std::string::npos) << imports[0].error;
  EXPECT_EQ(store_->intel().getFeed(f.id)->last_status, imports[0].error);
}

TEST_F(FeedServiceTest, UploadsAreImportedAndTheIndexComesBackFromTheStoreAfterARestart) {
  auto f = feed("uploads", "csv", "upload");
  auto nothing = service_->importFeed(f.id, "test");
  ASSERT_FALSE(nothing);
  EXPECT_EQ(nothing.error().field, "source");
  auto out = service_->importContent(f.id, "d41d8cd98f00b204e9800998ecf8427e\nbad.example\n",
                                     "upload");
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(out->report.added, 2u);
  reopen();
  EXPECT_EQ(indexSize(org_.id), 2u);
  auto ix = service_->liveIndex(org_.id)->load();
  EXPECT_TRUE(ix->findExact(IndicatorType::kDomain, "bad.example"));
  EXPECT_TRUE(ix->findExact(IndicatorType::kMd5, "d41d8cd98f00b204e9800998ecf8427e"));
}

TEST_F(FeedServiceTest, DisablingOrDeletingAFeedTakesItsIndicatorsOutOfTheIndex) {
  auto a = feed("a", "csv", "upload");
  auto b = feed("b", "csv", "upload");
  ASSERT_TRUE(service_->importContent(a.id, "198.51.100.1\n198.51.100.2\n", "t"));
  ASSERT_TRUE(service_->importContent(b.id, "198.51.100.2\n198.51.100.3\n", "t"));
  EXPECT_EQ(indexSize(org_.id), 3u);
  auto ix = service_->liveIndex(org_.id)->load();
  auto id = ix->findExact(IndicatorType::kIpv4, "198.51.100.2");
  ASSERT_TRUE(id);
  EXPECT_EQ(ix->view(*id).sources.size(), 2u);  // one indicator, two sources

  store::IntelFeed off = store_->intel().getFeed(a.id).value();
  off.enabled = false;
  ASSERT_TRUE(service_->updateFeed(off));
  EXPECT_EQ(indexSize(org_.id), 2u);
  ASSERT_TRUE(service_->deleteFeed(b.id));
  EXPECT_EQ(indexSize(org_.id), 0u);
}

TEST_F(FeedServiceTest, SettingsAreCheckedWithTheFieldNamed) {
  store::IntelFeed f;
  f.org_id = org_.id;
  f.name = "x";
  f.type = "rss";
  f.source = "upload";
  auto bad = service_->createFeed(f);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().field, "type");
  f.type = "taxii";
  EXPECT_EQ(service_->createFeed(f).error().field, "source");
  f.type = "csv";
  f.mapping_json = R"({"type":"ipv9"})";
  EXPECT_EQ(service_->createFeed(f).error().field, "mapping.type");
  f.mapping_json = R"({"colum":"ip"})";
  EXPECT_EQ(service_->createFeed(f).error().field, "mapping.colum");
  f.mapping_json = "{}";
  f.refresh_minutes = 60;  // an upload feed cannot refresh
  EXPECT_EQ(service_->createFeed(f).error().field, "refresh_minutes");
}

TEST_F(FeedServiceTest, TheSchedulerRefreshesDueFeedsAndPicksUpChangesMadeElsewhere) {
  const std::string path = write("list.txt", "198.51.100.1\n");
  store::IntelFeed f;
  f.org_id = org_.id;
  f.name = "hourly";
  f.type = "csv";
  f.source = path;
  f.refresh_minutes = 60;
  auto created = service_->createFeed(f).value();
  EXPECT_EQ(indexSize(org_.id), 0u);
  EXPECT_EQ(service_->runDue(core::nowMs()), 1);
  EXPECT_EQ(indexSize(org_.id), 1u);
  EXPECT_EQ(service_->runDue(core::nowMs()), 0);  // next run an hour on
  auto next = store_->intel().getFeed(created.id)->next_run_at;
  ASSERT_TRUE(next);
  EXPECT_GT(*next, core::nowMs() + 59 * 60'000);

  // Another process (the CLI, another node) imports into the same database.
  FeedService elsewhere(*store_);
  auto up = elsewhere.createFeed([&] {
    store::IntelFeed u;
    u.org_id = org_.id;
    u.name = "cli";
    u.type = "csv";
    u.source = "upload";
    return u;
  }());
  ASSERT_TRUE(up);
  ASSERT_TRUE(elsewhere.importContent(up->id, "203.0.113.77\n", "cli"));
  EXPECT_EQ(indexSize(org_.id), 1u);
  service_->runDue(core::nowMs());
  EXPECT_EQ(indexSize(org_.id), 2u);
}

TEST_F(FeedServiceTest, TheProcessorMatchesEventsAgainstTheProjectsOrganisationAndSeesImports) {
  auto f = feed("c2", "csv", "upload");
  ASSERT_TRUE(service_->importContent(f.id, "198.51.100.1\n", "t"));
  IntelProcessor processor(*store_, *service_);
  CollectingSink sink;
  const std::string hit = R"({"host":{"name":"ws-1"},"destination":{"ip":"198.51.100.1"}})";
  const std::string later = R"({"host":{"name":"ws-2"},"destination":{"ip":"203.0.113.9"}})";
  processor.process({hit, later}, project_.id, sink);
  ASSERT_EQ(sink.got.size(), 1u);
  EXPECT_EQ(sink.got[0].project_id, project_.id);
  EXPECT_EQ(sink.got[0].source, "Threat Intelligence");
  EXPECT_EQ(sink.got[0].host, "ws-1");

  // A new import swaps the index under the running processor.
  ASSERT_TRUE(service_->importContent(f.id, "198.51.100.1\n203.0.113.9\n", "t"));
  processor.process({later}, project_.id, sink);
  EXPECT_EQ(sink.got.size(), 2u);

  processor.process({hit}, 9999, sink);  // unknown project: counted, nothing raised
  EXPECT_EQ(processor.unresolved(), 1u);
  EXPECT_EQ(sink.got.size(), 2u);
  EXPECT_EQ(processor.stats().matches, 2u);
}

TEST_F(FeedServiceTest, TheProcessorUsesTheProjectsStoredSettingsAndSeesThemChange) {
  auto f = feed("c2", "csv", "upload");
  ASSERT_TRUE(service_->importContent(f.id, "198.51.100.1\nbad.example\n", "t"));
  IntelProcessor processor(*store_, *service_);
  processor.setSettingsRecheck(0);  // look at the settings on every batch
  CollectingSink sink;
  const std::string ip = R"({"host":{"name":"ws-1"},"destination":{"ip":"198.51.100.1","port":137}})";
  const std::string dns = R"({"host":{"name":"ws-1"},"dns":{"question":{"name":"x.bad.example"}}})";

  // Defaults: one threat per (indicator, entity) per 24 h.
  processor.process({ip, ip}, project_.id, sink);
  EXPECT_EQ(sink.got.size(), 1u);

  store::IntelSettings s;
  s.project_id = project_.id;
  s.allow = {"bad.example"};
  s.ignore_ports = {137};
  s.suppression_minutes = 0;
  ASSERT_TRUE(store_->intel().putSettings(s));
  sink.got.clear();
  processor.process({ip, dns}, project_.id, sink);
  EXPECT_TRUE(sink.got.empty());  // port 137 ignored, the domain allowed

  s.allow.clear();
  s.ignore_ports.clear();
  s.unsafe_ports = {137};
  ASSERT_TRUE(store_->intel().putSettings(s));
  processor.process({ip, ip, dns}, project_.id, sink);
  ASSERT_EQ(sink.got.size(), 3u);  // no suppression period: every hit
  EXPECT_EQ(sink.got[0].score, 60);  // 50 + 10 for an unsafe port

  s.min_bytes = 1000;
  ASSERT_TRUE(store_->intel().putSettings(s));
  sink.got.clear();
  const std::string small =
      R"({"host":{"name":"ws-1"},"destination":{"ip":"198.51.100.1","bytes":10},"network":{"bytes":10}})";
  processor.process({small}, project_.id, sink);
  EXPECT_TRUE(sink.got.empty());
}

TEST(MatcherOptionsOf, NamesTheBadSetting) {
  store::IntelSettings s;
  s.allow = {"10.0.0.0/8", "not a value!"};
  auto r = matcherOptionsOf(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "allow[1]");
  s.allow = {"10.0.0.0/8"};
  s.unsafe_ports = {23, 70000};
  EXPECT_EQ(matcherOptionsOf(s).error().field, "unsafe_ports[1]");
  s.unsafe_ports = {23};
  s.ignore_ports = {23};
  EXPECT_EQ(matcherOptionsOf(s).error().field, "unsafe_ports[0]");  // in two classes
  s.ignore_ports.clear();
  s.min_bytes = -1;
  EXPECT_EQ(matcherOptionsOf(s).error().field, "min_bytes");
  s.min_bytes = 0;
  s.suppression_minutes = -5;
  EXPECT_EQ(matcherOptionsOf(s).error().field, "suppression_minutes");
  s.suppression_minutes = 30;
  auto ok = matcherOptionsOf(s);
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ(ok->suppression_period, 30 * 60'000);
  EXPECT_FALSE(ok->allow.empty());
}

// ---- TAXII 2.1 against a real server on loopback ---------------------------------------------

std::string indicatorObject(int n, const std::string& ip, const std::string& added) {
  char id[64];
  std::snprintf(id, sizeof id, "indicator--00000000-0000-4000-8000-%012d", n);
  Json o = {{"type", "indicator"},
            {"spec_version", "2.1"},
            {"id", id},
            {"created", "2026-01-01T00:00:00Z"},
            {"modified", "2026-01-01T00:00:00Z"},
            {"name", "C2 server " + std::to_string(n)},
            {"pattern", "[ipv4-addr:value = '" + ip + "']"},
            {"pattern_type", "stix"},
            {"valid_from", "2026-01-01T00:00:00Z"},
            {"x_td_date_added", added}};
  return o.dump();
}

std::string bundleOf(const std::vector<std::string>& objects) {
  std::string s = R"({"type":"bundle","id":"bundle--1","objects":[)";
  for (size_t i = 0; i < objects.size(); ++i) s += (i ? "," : "") + objects[i];
  return s + "]}";
}

class TaxiiTest : public FeedServiceTest {
 protected:
  void SetUp() override {
    FeedServiceTest::SetUp();
    std::vector<std::string> objects;
    for (int i = 1; i <= 5; ++i)
      objects.push_back(indicatorObject(i, "198.51.100." + std::to_string(i),
                                        "2026-02-01T00:00:0" + std::to_string(i) + "Z"));
    // Context on another page than the indicator it describes.
    objects.push_back(R"({"type":"malware","spec_version":"2.1","id":"malware--00000000-0000-4000-8000-000000000001","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","name":"Emotet","is_family":true,"x_td_date_added":"2026-02-01T00:00:06Z"})");
    objects.push_back(R"({"type":"relationship","spec_version":"2.1","id":"relationship--00000000-0000-4000-8000-000000000001","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","relationship_type":"indicates","source_ref":"indicator--00000000-0000-4000-8000-000000000001","target_ref":"malware--00000000-0000-4000-8000-000000000001","x_td_date_added":"2026-02-01T00:00:07Z"})");
    objects_ = objects;
    bundle_ = write("collection.json", bundleOf(objects_));
    server_ = std::make_unique<testing::TaxiiServer>(bundle_, "reader", "s3cret pass", 2);
    ASSERT_GT(server_->port(), 0) << "python3 tests/support/taxii_server.py did not start";
  }
  std::vector<std::string> objects_;
  std::string bundle_;
  std::unique_ptr<testing::TaxiiServer> server_;
};

TEST_F(TaxiiTest, PollsEveryPageWithCredentials) {
  TaxiiPoll poll;
  poll.collection_url = server_->collectionUrl();
  poll.username = "reader";
  poll.password = "s3cret pass";
  poll.page_limit = 100;  // the server serves 2 a page whatever we ask
  auto r = pollTaxii(poll);
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->objects.size(), 7u);
  EXPECT_EQ(r->pages, 4);
  EXPECT_EQ(r->date_added_last, "2026-02-01T00:00:07.000000Z");

  poll.added_after = "2026-02-01T00:00:04Z";
  r = pollTaxii(poll);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->objects.size(), 3u);
}

TEST_F(TaxiiTest, AWrongPasswordIsRefusedClearly) {
  TaxiiPoll poll;
  poll.collection_url = server_->collectionUrl();
  poll.username = "reader";
  poll.password = "wrong";
  auto r = pollTaxii(poll);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kUnauthenticated);
  EXPECT_EQ(r.error().field, "credentials");
  EXPECT_NE(r.error().message.find("refused the credentials (HTTP 401)"), std::string::npos)
      << r.error().message;

  poll.password = "s3cret pass";
  poll.collection_url = "http://127.0.0.1:" + std::to_string(server_->port()) +
                        "/api1/collections/no-such-collection/";
  r = pollTaxii(poll);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kNotFound);
}

TEST_F(TaxiiTest, AFeedPollsOnItsScheduleAndThenOnlyWhatWasAdded) {
  ::setenv("TD_TEST_TAXII_SECRET", "s3cret pass", 1);
  store::IntelFeed f;
  f.org_id = org_.id;
  f.name = "taxii-c2";
  f.type = "taxii";
  f.source = server_->collectionUrl();
  f.username = "reader";
  f.secret = "env:TD_TEST_TAXII_SECRET";
  f.refresh_minutes = 5;
  auto created = service_->createFeed(f);
  ASSERT_TRUE(created) << created.error().message;
  ASSERT_EQ(service_->runDue(core::nowMs()), 1);
  auto stored = store_->intel().getFeed(created->id).value();
  EXPECT_EQ(stored.last_status, "ok");
  EXPECT_EQ(stored.indicator_count, 5);
  EXPECT_EQ(stored.cursor, "2026-02-01T00:00:07.000000Z");
  auto ix = service_->liveIndex(org_.id)->load();
  auto id = ix->findExact(IndicatorType::kIpv4, "198.51.100.1");
  ASSERT_TRUE(id);
  ASSERT_EQ(ix->view(*id).sources.size(), 1u);
  ASSERT_NE(ix->view(*id).sources[0].context, nullptr);
  EXPECT_EQ(ix->view(*id).sources[0].context->malware, "Emotet");  // from another page
  EXPECT_EQ(ix->view(*id).sources[0].external_id, "indicator--00000000-0000-4000-8000-000000000001");

  // The collection grows; the next poll asks only for what came after the cursor and adds it.
  objects_.push_back(indicatorObject(6, "203.0.113.66", "2026-02-02T00:00:00Z"));
  write("collection.json", bundleOf(objects_));
  auto out = service_->importFeed(created->id, "test");
  ASSERT_TRUE(out) << out.error().message;
  EXPECT_EQ(out->report.added, 1u);
  EXPECT_EQ(store_->intel().getFeed(created->id)->indicator_count, 6);
  EXPECT_EQ(indexSize(org_.id), 6u);

  // Wrong credentials: the import fails clearly, nothing is lost.
  store::IntelFeed wrong = store_->intel().getFeed(created->id).value();
  wrong.secret = "not it";
  ASSERT_TRUE(service_->updateFeed(wrong));
  auto refused = service_->importFeed(created->id, "test");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().field, "credentials");
  EXPECT_EQ(indexSize(org_.id), 6u);
  EXPECT_NE(store_->intel().getFeed(created->id)->last_status.find("HTTP 401"), std::string::npos);
}

}  // namespace
}  // namespace td::intel::sync
