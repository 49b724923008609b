// Importers on small inline feeds and on broken input.
#include "intel/feeds.h"

#include <gtest/gtest.h>

namespace td::intel {
namespace {

FeedInfo feed(std::string name = "test") { return FeedInfo{std::move(name), 50}; }

TEST(StixFeedTest, ImportsIndicatorsWithContextFromRelationships) {
  auto b = parseStixBundle(R"({"type":"bundle","id":"bundle--1","objects":[
    {"type":"indicator","id":"indicator--1","pattern":"[ipv4-addr:value = '198.51.100.1']",
     "pattern_type":"stix","valid_from":"2020-01-01T00:00:00Z","valid_until":"2030-01-01T00:00:00Z",
     "confidence":80,"name":"C2","indicator_types":["malicious-activity"]},
    {"type":"malware","id":"malware--1","name":"Poison Ivy","is_family":true},
    {"type":"threat-actor","id":"threat-actor--1","name":"APT1"},
    {"type":"attack-pattern","id":"attack-pattern--1","name":"Spearphishing",
     "external_references":[{"source_name":"mitre-attack","external_id":"T1566.001"}]},
    {"type":"relationship","id":"relationship--1","relationship_type":"indicates",
     "source_ref":"indicator--1","target_ref":"malware--1"},
    {"type":"relationship","id":"relationship--2","relationship_type":"indicates",
     "source_ref":"indicator--1","target_ref":"threat-actor--1"},
    {"type":"relationship","id":"relationship--3","relationship_type":"indicates",
     "source_ref":"indicator--1","target_ref":"attack-pattern--1"},
    {"type":"report","id":"report--1","name":"R","object_refs":["indicator--1"],
     "external_references":[{"source_name":"x","url":"https://example.org/report"}]}]})",
                           feed());
  ASSERT_TRUE(b) << b.error().message;
  ASSERT_EQ(b->indicators.size(), 1u);
  const auto& d = b->indicators[0];
  EXPECT_EQ(d.external_id, "indicator--1");
  EXPECT_EQ(d.confidence, 80);
  EXPECT_EQ(d.context.malware, "Poison Ivy");
  EXPECT_EQ(d.context.actor, "APT1");
  ASSERT_EQ(d.context.attack_ids.size(), 1u);
  EXPECT_EQ(d.context.attack_ids[0], "T1566.001");
  EXPECT_EQ(d.context.report, "https://example.org/report");
  EXPECT_GT(d.valid_until, d.valid_from);
}

TEST(StixFeedTest, ReportsWhatCannotBeMatched) {
  auto b = parseStixBundle(R"({"type":"bundle","objects":[
    {"type":"indicator","id":"indicator--a","pattern":"[email-message:subject MATCHES 'x']"},
    {"type":"indicator","id":"indicator--b","pattern":"[ipv4-addr:value = '1.2.3.4'"},
    {"type":"indicator","id":"indicator--c","pattern":"alert tcp any any","pattern_type":"snort"},
    {"type":"indicator","id":"indicator--d","pattern":"[domain-name:value = 'x.example']",
     "revoked":true}]})",
                           feed());
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->indicators.empty());
  EXPECT_EQ(b->report.rejected, 4u);
  EXPECT_EQ(b->report.rejections[0].where, "indicator--a");
  EXPECT_NE(b->report.rejections[0].reason.find("cannot be matched"), std::string::npos);
  EXPECT_NE(b->report.rejections[1].reason.find("col"), std::string::npos);
  EXPECT_NE(b->report.rejections[2].reason.find("snort"), std::string::npos);
}

TEST(StixFeedTest, MalformedBundlesFailWithWhatAndWhere) {
  auto notJson = parseStixBundle("{\"type\": \"bundle\", ", feed("f.json"));
  ASSERT_FALSE(notJson);
  EXPECT_NE(notJson.error().message.find("not valid JSON"), std::string::npos);
  EXPECT_EQ(notJson.error().field, "f.json");
  auto badObjects = parseStixBundle(R"({"type":"bundle","objects":{}})", feed());
  ASSERT_FALSE(badObjects);
  EXPECT_NE(badObjects.error().field.find("objects"), std::string::npos);
  EXPECT_FALSE(parseStixBundle(R"({"type":"bundle","objects":[1]})", feed()));
  EXPECT_FALSE(parseStixBundle("42", feed()));
  // Wrong JSON types inside objects are tolerated, never thrown.
  auto odd = parseStixBundle(R"({"type":"bundle","objects":[{"type":"indicator","id":7,
      "pattern":["x"],"confidence":"high","revoked":"yes","valid_from":5}]})",
                             feed());
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->report.rejected, 1u);
}

TEST(MispFeedTest, MapsAttributeTypesAndRespectsToIds) {
  auto b = parseMispEvent(R"({"Event":{"info":"Qakbot wave","uuid":"e-1","threat_level_id":"1",
    "date":"2020-02-02",
    "Tag":[{"name":"misp-galaxy:threat-actor=\"TA570\""},
           {"name":"misp-galaxy:mitre-attack-pattern=\"Spearphishing Link - T1566.002\""},
           {"name":"tlp:white"}],
    "Attribute":[
      {"type":"ip-dst","value":"203.0.113.5","to_ids":true,"uuid":"a-1"},
      {"type":"ip-dst|port","value":"203.0.113.6|443","to_ids":true},
      {"type":"domain|ip","value":"c2.example|203.0.113.7","to_ids":true},
      {"type":"filename|sha256","value":"x.exe|)" + std::string(64, 'a') + R"(","to_ids":true},
      {"type":"url","value":"http://c2.example/gate.php","to_ids":false},
      {"type":"text","value":"hello","to_ids":true},
      {"type":"ip-dst","value":"not-an-ip","to_ids":true},
      {"type":"md5","value":"00000000000000000000000000000000","to_ids":"1","deleted":true}],
    "Object":[{"name":"file","Attribute":[
      {"type":"sha1","value":")" + std::string(40, 'b') + R"(","to_ids":true}]}]}})",
                          feed());
  ASSERT_TRUE(b) << b.error().message;
  ASSERT_EQ(b->indicators.size(), 6u);
  EXPECT_EQ(b->indicators[0].external_id, "a-1");
  EXPECT_EQ(b->indicators[0].confidence, 90);
  EXPECT_EQ(b->indicators[0].context.actor, "TA570");
  ASSERT_EQ(b->indicators[0].context.attack_ids.size(), 1u);
  EXPECT_EQ(b->indicators[0].context.attack_ids[0], "T1566.002");
  EXPECT_EQ(b->indicators[1].value, "203.0.113.6");
  EXPECT_EQ(b->indicators[2].type, IndicatorType::kDomain);
  EXPECT_EQ(b->indicators[3].type, IndicatorType::kIpv4);
  EXPECT_EQ(b->indicators[4].type, IndicatorType::kSha256);
  EXPECT_EQ(b->indicators[5].type, IndicatorType::kSha1);
  EXPECT_EQ(b->report.rejected, 1u);
  EXPECT_EQ(b->report.rejections[0].where, "Event.Attribute[6]");
  std::string warnings;
  for (const auto& w : b->report.warnings) warnings += w + "\n";
  EXPECT_NE(warnings.find("to_ids is false"), std::string::npos);
  EXPECT_NE(warnings.find("\"text\""), std::string::npos);
}

TEST(MispFeedTest, MalformedEventsFail) {
  EXPECT_FALSE(parseMispEvent("not json", feed()));
  EXPECT_FALSE(parseMispEvent("{\"hello\": 1}", feed()));
  auto bad = parseMispEvent(R"({"Event":{"Attribute":{"type":"ip-dst"}}})", feed("e.json"));
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().field.find("Attribute"), std::string::npos);
  EXPECT_FALSE(parseMispEvent(R"({"response":[{"nope":1}]})", feed()));
}

TEST(CsvFeedTest, AbuseChStyleWithHeaderAndComments) {
  auto b = parseCsv(R"(################
# abuse.ch Feodo Tracker
#
"first_seen_utc","dst_ip","dst_port","c2_status","last_online","malware"
"2023-05-23 17:51:44","192.9.135.73","1194","online","2024-04-01","Pikabot"
"2024-02-08 19:20:49","85.239.243.155","5000","offline","2024-03-11","Pikabot"
"2024-02-08 19:20:49","999.1.1.1","5000","offline","2024-03-11","Pikabot"
)",
                    CsvMapping{}, feed());
  ASSERT_TRUE(b) << b.error().message;
  ASSERT_EQ(b->indicators.size(), 2u);
  EXPECT_EQ(b->indicators[0].value, "192.9.135.73");
  EXPECT_EQ(b->indicators[0].context.malware, "Pikabot");
  EXPECT_EQ(b->indicators[0].first_seen, *core::parseRfc3339("2023-05-23T17:51:44Z"));
  EXPECT_EQ(b->indicators[0].last_seen, *core::parseRfc3339("2024-04-01"));
  EXPECT_EQ(b->report.rejected, 1u);
  EXPECT_EQ(b->report.rejections[0].where, "line 7");
}

TEST(CsvFeedTest, HeaderInACommentAndPlainLists) {
  auto c2 = parseCsv("#ip,ioc\n1.116.160.39,Possible Cobaltstrike C2 IP\n1.2.3.4,x\n",
                     CsvMapping{}, feed());
  ASSERT_TRUE(c2);
  EXPECT_EQ(c2->indicators.size(), 2u);
  auto list = parseCsv("evil.example\r\n\r\nhttp://bad.example/x\n" + std::string(64, 'f') + "\n",
                       CsvMapping{}, feed());
  ASSERT_TRUE(list);
  ASSERT_EQ(list->indicators.size(), 3u);
  EXPECT_EQ(list->indicators[1].type, IndicatorType::kUrl);
  EXPECT_EQ(list->indicators[2].type, IndicatorType::kSha256);
  CsvMapping files;
  files.type = IndicatorType::kFileName;
  auto names = parseCsv("mimikatz.exe\nrubeus.exe\n", files, feed());
  ASSERT_TRUE(names);
  EXPECT_EQ(names->indicators[0].type, IndicatorType::kFileName);
}

TEST(CsvFeedTest, ExplicitMappingAndErrors) {
  CsvMapping m;
  m.value_column = "indicator";
  m.delimiter = ';';
  auto b = parseCsv("when;indicator\n2024-01-01;evil.example\n", m, feed());
  ASSERT_TRUE(b);
  EXPECT_EQ(b->indicators[0].value, "evil.example");
  m.value_column = "missing";
  auto missing = parseCsv("when;indicator\n2024-01-01;evil.example\n", m, feed("x.csv"));
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("\"missing\""), std::string::npos);
  auto garbage = parseCsv("hello world\nfoo bar\n", CsvMapping{}, feed("g.csv"));
  ASSERT_FALSE(garbage);
  EXPECT_NE(garbage.error().message.find("no row holds an indicator"), std::string::npos);
  EXPECT_FALSE(parseCsv(std::string("a\0b", 3), CsvMapping{}, feed()));
  auto empty = parseCsv("", CsvMapping{}, feed());
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->indicators.empty());
}

// The import flow: parse the whole feed first, merge only when it parsed, then swap. A broken
// refresh of a feed leaves the live index exactly as it was.
TEST(FeedFlowTest, MalformedRefreshLeavesTheLiveIndexUntouched) {
  auto live = std::make_shared<LiveIndex>();
  auto good = parseCsv("198.51.100.1\nevil.example\n", CsvMapping{}, feed("f"));
  ASSERT_TRUE(good);
  IndexBuilder first;
  first.add(std::move(*good));
  live->store(first.build());
  auto before = live->load();

  auto broken = parseStixBundle("{\"type\":\"bundle\",\"objects\":[", feed("f"));
  ASSERT_FALSE(broken);
  if (broken) {  // never taken: the flow stops at the error
    IndexBuilder b(*live->load());
    b.add(std::move(*broken));
    live->store(b.build());
  }
  EXPECT_EQ(live->load(), before);
  EXPECT_EQ(live->load()->size(), 2u);

  auto refresh = parseCsv("198.51.100.2\n", CsvMapping{}, feed("f"));
  ASSERT_TRUE(refresh);
  IndexBuilder next(*live->load());
  auto report = next.add(std::move(*refresh));
  EXPECT_EQ(report.added, 1u);
  live->store(next.build());
  EXPECT_EQ(live->load()->size(), 1u);  // the refresh replaced the feed's indicators
  EXPECT_EQ(before->size(), 2u);        // readers holding the old index still see it whole
}

TEST(FeedTimeTest, Formats) {
  EXPECT_EQ(*parseFeedTime("1472548231"), 1472548231000);
  EXPECT_EQ(*parseFeedTime("2024-02-08 19:20:49"), *core::parseRfc3339("2024-02-08T19:20:49Z"));
  EXPECT_TRUE(parseFeedTime("2014-05-08T09:00:00.000000Z"));
  EXPECT_FALSE(parseFeedTime("yesterday"));
}

}  // namespace
}  // namespace td::intel
