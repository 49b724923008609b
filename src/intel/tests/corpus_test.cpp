// Importers and the matcher on the real feeds and events of ../shared/corpus (label: corpus).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <unistd.h>

#include "intel/feeds.h"
#include "intel/matcher.h"
#include "intel/warninglist.h"

namespace td::intel {
namespace {

namespace fs = std::filesystem;

fs::path corpus() {
  if (const char* c = std::getenv("THREATDESK_CORPUS")) return c;
  const char* src = std::getenv("THREATDESK_SOURCE_DIR");
  return fs::path(src ? src : TD_SOURCE_DIR) / ".." / "shared" / "corpus";
}

#define REQUIRE_CORPUS(sub)                                                           \
  const fs::path dir = corpus() / (sub);                                              \
  if (!fs::exists(dir))                                                               \
    GTEST_SKIP() << "corpus not found at " << dir                                     \
                 << " (set THREATDESK_CORPUS to the shared corpus directory)";

TEST(IntelCorpusTest, StixExamplesImport) {
  REQUIRE_CORPUS("intel/stix/examples");
  size_t indicators = 0, rejected = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.path().extension() != ".json") continue;
    auto b = loadFeed(entry.path().string(), FeedFormat::kStix);
    ASSERT_TRUE(b) << entry.path() << ": " << b.error().message;
    indicators += b->indicators.size();
    rejected += b->report.rejected;
  }
  EXPECT_GT(indicators, 40u);
  EXPECT_GT(rejected, 0u);  // MATCHES and x509 patterns are reported
}

TEST(IntelCorpusTest, PoisonIvyContextAndApt1Actors) {
  REQUIRE_CORPUS("intel/stix/examples/threat-reports");
  auto ivy = loadFeed((dir / "poisonivy.json").string());
  ASSERT_TRUE(ivy) << ivy.error().message;
  size_t with_malware = 0;
  for (const auto& d : ivy->indicators)
    if (d.context.malware.find("Poison Ivy") != std::string::npos ||
        !d.context.malware.empty())
      ++with_malware;
  EXPECT_GT(with_malware, 10u);
  auto apt1 = loadFeed((dir / "apt1.json").string());
  ASSERT_TRUE(apt1);
  bool actor = false, cidr = false;
  for (const auto& d : apt1->indicators) {
    actor = actor || !d.context.actor.empty();
    cidr = cidr || d.type == IndicatorType::kCidr4;
  }
  EXPECT_TRUE(actor);
  EXPECT_TRUE(cidr);
  IndexBuilder b;
  auto r = b.add(std::move(*apt1));
  EXPECT_GT(r.added, 5u);
}

TEST(IntelCorpusTest, EmailIndicatorWithMatchesIsReported) {
  REQUIRE_CORPUS("intel/stix/examples");
  auto b = loadFeed((dir / "malicious-email-indicator-with-attachment.json").string());
  ASSERT_TRUE(b);
  ASSERT_GE(b->report.rejected, 1u);
  EXPECT_NE(b->report.rejections[0].reason.find("MATCHES"), std::string::npos);
}

TEST(IntelCorpusTest, AttackBundleLoadsAsStix20) {
  REQUIRE_CORPUS("intel/attack");
  auto b = loadFeed((dir / "enterprise-attack-objects.json.gz").string(), FeedFormat::kStix);
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_TRUE(b->indicators.empty());  // techniques and groups, no indicators
}

TEST(IntelCorpusTest, MispEventsImportRespectingToIds) {
  REQUIRE_CORPUS("intel/misp/events");
  IndexBuilder builder;
  size_t drafts = 0, to_ids_ignored = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    auto b = loadFeed(entry.path().string(), FeedFormat::kMispEvent);
    ASSERT_TRUE(b) << entry.path() << ": " << b.error().message;
    drafts += b->indicators.size();
    for (const auto& w : b->report.warnings)
      if (w.find("to_ids is false") != std::string::npos) ++to_ids_ignored;
    builder.add(std::move(*b));
  }
  EXPECT_GT(drafts, 300u);
  EXPECT_LT(drafts, 1123u);  // 409 attributes have to_ids false
  EXPECT_GT(to_ids_ignored, 0u);
  auto ix = builder.build();
  EXPECT_GT(ix->size(), 100u);
  // The same event under a second feed name: every indicator gains a second source.
  auto again = loadFeed((dir / "long_event.json").string(), FeedFormat::kMispEvent, {},
                        FeedInfo{"mirror", 50});
  ASSERT_TRUE(again);
  size_t n = again->indicators.size();
  auto r = builder.add(std::move(*again));
  EXPECT_EQ(r.added, 0u);
  EXPECT_EQ(r.updated, n);
  auto ix2 = builder.build();
  EXPECT_EQ(ix2->size(), ix->size());
  size_t multi = 0;
  for (IndicatorId i = 0; i < ix2->size(); ++i) multi += ix2->view(i).sources.size() > 1;
  EXPECT_GT(multi, 0u);
}

TEST(IntelCorpusTest, MispFeedDirectory) {
  REQUIRE_CORPUS("intel/misp/events");
  fs::path tmp = fs::temp_directory_path() / ("td-misp-feed-" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  const std::string uuid = "57c4445b-c548-4654-af0b-4be3950d210f";
  fs::copy_file(dir / (uuid + ".json"), tmp / (uuid + ".json"), fs::copy_options::overwrite_existing);
  std::ofstream(tmp / "manifest.json") << "{\"" << uuid << "\": {\"info\": \"x\"}}";
  auto b = loadFeed(tmp.string());
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_FALSE(b->indicators.empty());
  std::ofstream(tmp / "manifest.json") << "{\"missing-event\": {}}";
  auto missing = loadFeed(tmp.string());
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().field.find("missing-event.json"), std::string::npos);
  fs::remove_all(tmp);
}

TEST(IntelCorpusTest, CsvFeedsImport) {
  REQUIRE_CORPUS("intel/csv");
  auto feodo = loadFeed((dir / "feodotracker-ipblocklist.csv").string());
  ASSERT_TRUE(feodo) << feodo.error().message;
  EXPECT_EQ(feodo->indicators.size(), 28u);
  EXPECT_EQ(feodo->report.rejected, 0u);
  EXPECT_FALSE(feodo->indicators[0].context.malware.empty());
  auto c2 = loadFeed((dir / "c2-ips-30day.csv").string());
  ASSERT_TRUE(c2);
  EXPECT_EQ(c2->indicators.size(), 1318u);
  auto fox = loadFeed((dir / "threatfox-hosts.csv").string());
  ASSERT_TRUE(fox);
  EXPECT_GT(fox->indicators.size(), 24000u);
}

TEST(IntelCorpusTest, WarninglistsSuppressCloudHostsAndPrivateRanges) {
  REQUIRE_CORPUS("intel");
  Warninglists wl;
  auto st = wl.loadDirectory((dir / "warninglists").string());
  ASSERT_TRUE(st) << st.error().message << " " << st.error().field;
  EXPECT_GT(wl.listCount(), 100u);
  auto private_list = wl.match(IndicatorType::kIpv4, "192.168.1.1");
  ASSERT_TRUE(private_list.has_value());
  EXPECT_TRUE(*private_list == "rfc1918" || *private_list == "rfc5735") << *private_list;
  // A popularity list vouches for duckdns.org itself, not for every dynamic-DNS host under it.
  EXPECT_FALSE(wl.match(IndicatorType::kDomain, "jackpiaaunano.duckdns.org").has_value());
  EXPECT_TRUE(wl.match(IndicatorType::kIpv4, "8.8.8.8").has_value());
  EXPECT_FALSE(wl.match(IndicatorType::kDomain, "tpowe2.com").has_value());
  auto fox = loadFeed((dir / "csv" / "threatfox-hosts.csv").string());
  ASSERT_TRUE(fox);
  IndexBuilder b;
  BuildOptions o;
  o.warninglists = &wl;
  auto r = b.add(std::move(*fox), o);
  EXPECT_GT(r.suppressed, 100u);
  EXPECT_GT(r.added, 24000u);
  bool cloud = false;
  for (const auto& s : r.suppressions)
    cloud = cloud || s.value.find("amazonaws.com") != std::string::npos ||
            s.value.find("azure.com") != std::string::npos;
  EXPECT_TRUE(cloud);
  auto c2 = loadFeed((dir / "csv" / "c2-ips-30day.csv").string());
  ASSERT_TRUE(c2);
  auto r2 = b.add(std::move(*c2), o);
  bool private_suppressed = false;
  for (const auto& s : r2.suppressions)
    private_suppressed = private_suppressed || s.value == "172.21.25.140";
  EXPECT_TRUE(private_suppressed);
}

TEST(IntelCorpusTest, MatcherFindsIndicatorsInRealWindowsEvents) {
  REQUIRE_CORPUS("events");
  auto text = readFileText((dir / "hayabusa-sample.ndjson.gz").string());
  ASSERT_TRUE(text);
  // Values known to occur in the sample: a Sysmon network connection, a Sysmon process hash.
  auto feed = parseCsv(
      "172.217.17.132\n1A061C74619DE6AF8C02CBA0FA00754BDD9E3515C0E08CAD6350C7ADFC8CDD5B\n"
      "1e100.net\n",
      CsvMapping{}, FeedInfo{"known", 50});
  ASSERT_TRUE(feed);
  IndexBuilder b;
  b.add(std::move(*feed));
  auto live = std::make_shared<LiveIndex>();
  live->store(b.build());
  MatcherOptions o;
  o.check_validity = false;
  Matcher m(live, MatchConfig::defaults(), std::move(o));
  std::istringstream in(*text);
  std::string line;
  std::vector<Match> out;
  size_t events = 0, invalid = 0;
  std::set<std::string> fields;
  while (std::getline(in, line)) {
    ++events;
    out.clear();
    if (!m.match(line, out)) ++invalid;
    for (const auto& hit : out) fields.insert(hit.field);
  }
  EXPECT_EQ(events, 23371u);
  EXPECT_EQ(invalid, 0u);
  EXPECT_TRUE(fields.count("Event.EventData.DestinationIp")) << fields.size();
  EXPECT_TRUE(fields.count("Event.EventData.Hashes"));
  EXPECT_TRUE(fields.count("Event.EventData.DestinationHostname"));
}

}  // namespace
}  // namespace td::intel
