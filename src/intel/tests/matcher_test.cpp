#include "intel/matcher.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <atomic>
#include <thread>

#include "intel/feeds.h"

namespace td::intel {
namespace {

constexpr core::TimeMs kNow = 1'700'000'000'000;

class CollectingSink : public core::DetectionSink {
 public:
  void submit(std::vector<core::Detection> batch) override {
    std::lock_guard lock(mu_);
    for (auto& d : batch) got.push_back(std::move(d));
  }
  std::vector<core::Detection> got;

 private:
  std::mutex mu_;
};

std::shared_ptr<LiveIndex> liveFrom(const std::string& list, int confidence = 50,
                                    std::optional<IndicatorType> type = std::nullopt) {
  CsvMapping mapping;
  mapping.type = type;
  auto b = parseCsv(list, mapping, FeedInfo{"test-feed", confidence});
  EXPECT_TRUE(b) << b.error().message;
  IndexBuilder builder;
  builder.add(std::move(*b));
  auto live = std::make_shared<LiveIndex>();
  live->store(builder.build());
  return live;
}

std::vector<Match> run(Matcher& m, std::string_view event) {
  std::vector<Match> out;
  EXPECT_TRUE(m.match(event, out, kNow));
  return out;
}

TEST(MatchConfigTest, DefaultsCoverEcsAndWindows) {
  const auto& c = MatchConfig::defaults();
  EXPECT_GT(c.fields.size(), 40u);
  EXPECT_FALSE(c.host_fields.empty());
  EXPECT_FALSE(MatchConfig::parse("fields: [{path: a}]"));
  EXPECT_FALSE(MatchConfig::parse("fields: [{path: a, kind: nope}]"));
  EXPECT_FALSE(MatchConfig::parse("[1, 2"));
  auto json = MatchConfig::parse(R"({"fields":[{"path":"x.y","kind":"ip"}]})");
  ASSERT_TRUE(json);
  EXPECT_EQ(json->fields[0].path, "x.y");
}

TEST(MatcherTest, EcsNestedAndFlatKeys) {
  Matcher m(liveFrom("198.51.100.7\nevil.example\n"));
  auto nested = run(m, R"({"host":{"name":"ws-1"},"destination":{"ip":"198.51.100.7"}})");
  ASSERT_EQ(nested.size(), 1u);
  EXPECT_EQ(nested[0].field, "destination.ip");
  EXPECT_EQ(nested[0].host, "ws-1");
  auto flat = run(m, R"({"dns.question.name":"www.EVIL.example.","user.name":"bob"})");
  ASSERT_EQ(flat.size(), 1u);
  EXPECT_EQ(flat[0].user, "bob");
  EXPECT_EQ(run(m, R"({"related":{"ip":["10.0.0.1","198.51.100.7"]}})").size(), 1u);
}

TEST(MatcherTest, ExactMatchesOnly) {
  Matcher m(liveFrom("198.51.100.7\n"));
  EXPECT_TRUE(run(m, R"({"destination":{"ip":"198.51.100.70"}})").empty());
  EXPECT_TRUE(run(m, R"({"message":"198.51.100.7"})").empty());  // not a configured field
  EXPECT_TRUE(run(m, R"({"destination":{"ip":"x198.51.100.7"}})").empty());
  EXPECT_EQ(run(m, R"({"destination":{"ip":"::ffff:198.51.100.7"}})").size(), 1u);
}

TEST(MatcherTest, RawWindowsSysmonHashesAndAttributes) {
  std::string sha256 = "1A061C74619DE6AF8C02CBA0FA00754BDD9E3515C0E08CAD6350C7ADFC8CDD5B";
  std::string imphash = "40BEC1A4A3BCB7D3089B5E1532386613";
  Matcher m(liveFrom(sha256 + "\n" + imphash + "\n"));
  std::string ev = R"({"Event":{"System":{"Computer":"IEWIN7","EventID":1},"EventData":{
    "Image":"C:\\Users\\IEUser\\Downloads\\Flash_update.exe","User":"IEWIN7\\IEUser",
    "Hashes":"SHA1=B4E581F173F782A2F1DA5D29C95946EE500EB2D0,MD5=42893ADBC36605EC79B5BD610759947E,SHA256=)" +
                   sha256 + ",IMPHASH=" + imphash + R"("}}})";
  auto hits = run(m, ev);
  ASSERT_EQ(hits.size(), 1u);  // the SHA256, never the import hash as an MD5
  EXPECT_EQ(hits[0].field, "Event.EventData.Hashes");
  EXPECT_EQ(hits[0].value, sha256);
  EXPECT_EQ(hits[0].host, "IEWIN7");
  Matcher names(liveFrom("Flash_Update.exe\n", 50, IndicatorType::kFileName));
  auto by_name = run(names, ev);
  ASSERT_EQ(by_name.size(), 1u);
  EXPECT_EQ(by_name[0].field, "Event.EventData.Image");
  // evtx-rs attribute objects: {"#attributes":…, "#text":"value"}
  Matcher ip(liveFrom("172.217.17.132\n"));
  EXPECT_EQ(run(ip, R"({"Event":{"System":{"Computer":{"#text":"PC"}},"EventData":{
      "DestinationIp":{"#attributes":{"x":1},"#text":"172.217.17.132"}}}})")
                .size(),
            1u);
}

TEST(MatcherTest, FlatWindowsUrlsAndEmails) {
  Matcher m(liveFrom("http://evil.example/gate.php?id=1\nbad@evil.example\nc2.example\n"));
  EXPECT_EQ(run(m, R"({"Hostname":"h","QueryName":"x.c2.example"})").size(), 1u);
  EXPECT_EQ(run(m, R"({"url":{"full":"HTTP://EVIL.example:80/gate.php?id=1#x"}})").size(), 1u);
  // A URL field also checks its host against domain indicators.
  EXPECT_EQ(run(m, R"({"url":{"original":"https://a.c2.example/other"}})").size(), 1u);
  EXPECT_EQ(run(m, R"({"email":{"from":{"address":"Bad Guy <BAD@evil.example>"}}})").size(), 1u);
}

TEST(MatcherTest, AllowListNeverMatches) {
  MatcherOptions o;
  o.allow = *AllowList::parse({"10.0.0.0/8", "good.example", std::string(64, 'a')});
  Matcher m(liveFrom("10.1.2.3\nx.good.example\n" + std::string(64, 'a') + "\n8.8.8.8\n"),
            MatchConfig::defaults(), std::move(o));
  EXPECT_TRUE(run(m, R"({"source":{"ip":"10.1.2.3"}})").empty());
  EXPECT_TRUE(run(m, R"({"dns":{"question":{"name":"x.good.example"}}})").empty());
  EXPECT_TRUE(run(m, R"({"file":{"hash":{"sha256":")" + std::string(64, 'A') + R"("}}})").empty());
  EXPECT_EQ(run(m, R"({"source":{"ip":"8.8.8.8"}})").size(), 1u);
  EXPECT_EQ(m.stats().allowed, 3u);
  EXPECT_FALSE(AllowList::parse({"not a value"}));
}

TEST(MatcherTest, SuppressionPeriodPerEntity) {
  MatcherOptions o;
  o.suppression_period = core::kHourMs;
  Matcher m(liveFrom("198.51.100.7\n"), MatchConfig::defaults(), std::move(o));
  CollectingSink sink;
  std::string a = R"({"host":{"name":"a"},"destination":{"ip":"198.51.100.7"}})";
  std::string b = R"({"host":{"name":"b"},"destination":{"ip":"198.51.100.7"}})";
  m.process({a, a, b}, sink, kNow);
  EXPECT_EQ(sink.got.size(), 2u);  // a once, b once
  m.process({a}, sink, kNow + 30 * core::kMinuteMs);
  EXPECT_EQ(sink.got.size(), 2u);
  m.process({a}, sink, kNow + 61 * core::kMinuteMs);
  EXPECT_EQ(sink.got.size(), 3u);
  EXPECT_EQ(m.stats().suppressed, 2u);
}

TEST(MatcherTest, SuppressionMemoryIsBounded) {
  SuppressionCache cache(core::kDayMs, 128);
  for (std::uint64_t k = 0; k < 100000; ++k) cache.admit(k, kNow);
  EXPECT_TRUE(cache.admit(1ull << 40, kNow));
  EXPECT_FALSE(cache.admit(1ull << 40, kNow + 1));
}

TEST(MatcherTest, PortClassesAndMinimumBytes) {
  MatcherOptions o;
  o.port_classes[137] = PortClass::kIgnore;
  o.port_classes[4444] = PortClass::kUnsafe;
  o.min_bytes = 100;
  Matcher m(liveFrom("198.51.100.7\n", 60), MatchConfig::defaults(), std::move(o));
  EXPECT_TRUE(run(m, R"({"destination":{"ip":"198.51.100.7","port":137}})").empty());
  EXPECT_TRUE(run(m, R"({"destination":{"ip":"198.51.100.7"},"network":{"bytes":10}})").empty());
  auto hit = run(m, R"({"destination":{"ip":"198.51.100.7","port":4444},"network":{"bytes":500}})");
  ASSERT_EQ(hit.size(), 1u);
  EXPECT_EQ(m.toDetection(hit[0], "{}").score, 70);
}

TEST(MatcherTest, DetectionCarriesIndicatorFeedAndContext) {
  auto b = parseStixBundle(R"({"type":"bundle","objects":[
    {"type":"indicator","id":"indicator--9","pattern":"[domain-name:value = 'c2.example']",
     "confidence":85,"name":"C2 domain"},
    {"type":"malware","id":"malware--9","name":"Qakbot"},
    {"type":"attack-pattern","id":"attack-pattern--9","name":"x",
     "external_references":[{"source_name":"mitre-attack","external_id":"T1071"}]},
    {"type":"relationship","relationship_type":"indicates","source_ref":"indicator--9",
     "target_ref":"malware--9","id":"relationship--1"},
    {"type":"relationship","relationship_type":"indicates","source_ref":"indicator--9",
     "target_ref":"attack-pattern--9","id":"relationship--2"}]})",
                           FeedInfo{"stix-feed", 50});
  ASSERT_TRUE(b);
  IndexBuilder builder;
  builder.add(std::move(*b));
  auto live = std::make_shared<LiveIndex>();
  live->store(builder.build());
  MatcherOptions o;
  o.project_id = 7;
  Matcher m(live, MatchConfig::defaults(), std::move(o));
  std::string ev = R"({"host":{"name":"ws-9"},"dns":{"question":{"name":"c2.example"}}})";
  CollectingSink sink;
  m.process({ev}, sink, kNow);
  ASSERT_EQ(sink.got.size(), 1u);
  const core::Detection& d = sink.got[0];
  EXPECT_EQ(d.source, "Threat Intelligence");
  EXPECT_EQ(d.project_id, 7);
  EXPECT_EQ(d.rule_id, "domain:c2.example");
  EXPECT_EQ(d.entity.type, "host");
  EXPECT_EQ(d.entity.value, "ws-9");
  EXPECT_EQ(d.score, 85);
  EXPECT_EQ(d.severity, core::Severity::kCritical);
  EXPECT_EQ(d.check_by, core::CheckBy::kRule | core::CheckBy::kEntity);
  ASSERT_EQ(d.tags.size(), 1u);
  EXPECT_EQ(d.tags[0], "T1071");
  EXPECT_TRUE(core::validateDetection(d));
  auto ev_json = nlohmann::json::parse(d.evidence_json);
  EXPECT_EQ(ev_json["indicator"]["id"], "indicator--9");
  EXPECT_EQ(ev_json["indicator"]["feeds"][0]["feed"], "stix-feed");
  EXPECT_EQ(ev_json["indicator"]["context"]["malware"], "Qakbot");
  EXPECT_EQ(ev_json["field"], "dns.question.name");
  EXPECT_EQ(ev_json["event"]["host"]["name"], "ws-9");
}

TEST(MatcherTest, CompoundNeedsEveryAtomInOneEvent) {
  auto b = parseStixBundle(R"({"type":"bundle","objects":[{"type":"indicator","id":"indicator--c",
    "pattern":"[domain-name:value = 'c2.example' AND ipv4-addr:value = '192.0.2.9']"}]})",
                           FeedInfo{"f", 50});
  ASSERT_TRUE(b);
  IndexBuilder builder;
  builder.add(std::move(*b));
  auto live = std::make_shared<LiveIndex>();
  live->store(builder.build());
  Matcher m(live);
  EXPECT_TRUE(run(m, R"({"dns":{"question":{"name":"c2.example"}}})").empty());
  EXPECT_TRUE(run(m, R"({"destination":{"ip":"192.0.2.9"}})").empty());
  EXPECT_EQ(run(m, R"({"dns":{"question":{"name":"c2.example"}},"destination":{"ip":"192.0.2.9"}})")
                .size(),
            1u);
}

TEST(MatcherTest, ValidityIsCheckedAtMatchTime) {
  IndexBuilder builder;
  FeedBatch batch;
  batch.feed.name = "f";
  IndicatorDraft d;
  d.type = IndicatorType::kIpv4;
  d.value = "192.0.2.50";
  d.valid_from = kNow - core::kDayMs;
  d.valid_until = kNow + core::kDayMs;
  batch.indicators.push_back(d);
  BuildOptions o;
  o.now = kNow;
  builder.add(std::move(batch), o);
  auto live = std::make_shared<LiveIndex>();
  live->store(builder.build());
  Matcher m(live);
  std::vector<Match> out;
  std::string ev = R"({"source":{"ip":"192.0.2.50"}})";
  m.match(ev, out, kNow);
  EXPECT_EQ(out.size(), 1u);
  out.clear();
  m.match(ev, out, kNow + 2 * core::kDayMs);
  EXPECT_TRUE(out.empty());
}

TEST(MatcherTest, BadEventsAreCountedNotThrown) {
  Matcher m(liveFrom("192.0.2.1\n"));
  std::vector<Match> out;
  EXPECT_FALSE(m.match("{not json", out, kNow));
  EXPECT_FALSE(m.match("[1,2]", out, kNow));
  EXPECT_FALSE(m.match("", out, kNow));
  std::string deep = R"({"related":{"ip":)" + std::string(5000, '[') + std::string(5000, ']') + "}}";
  m.match(deep, out, kNow);
  EXPECT_TRUE(m.match(R"({"source":{"ip":12},"destination":{"ip":null}})", out, kNow));
  EXPECT_EQ(m.stats().invalid, 4u);  // the 5,000-deep array is past simdjson's depth limit
}

TEST(MatcherTest, IndexSwapsAtomicallyUnderConcurrentMatching) {
  auto live = liveFrom("192.0.2.1\n");
  Matcher m(live);
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> seen_old{0}, seen_new{0}, matched{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 3; ++t) {
    workers.emplace_back([&] {
      std::vector<Match> out;
      while (!stop.load()) {
        out.clear();
        m.match(R"({"source":{"ip":"192.0.2.1"},"destination":{"ip":"192.0.2.2"}})", out, kNow);
        matched += out.size();
        for (const auto& hit : out) {
          if (hit.index->value(hit.indicator) == "192.0.2.1") ++seen_old;
          if (hit.index->value(hit.indicator) == "192.0.2.2") ++seen_new;
        }
      }
    });
  }
  for (int i = 0; i < 40; ++i) {
    auto next = liveFrom(i % 2 ? "192.0.2.1\n" : "192.0.2.2\n");
    live->store(next->load());
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  stop = true;
  for (auto& w : workers) w.join();
  EXPECT_GT(matched.load(), 0u);
  EXPECT_GT(seen_old.load() + seen_new.load(), 0u);
}

}  // namespace
}  // namespace td::intel
