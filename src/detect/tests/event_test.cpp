// Event layouts: raw Windows (evtx-rs), ECS and flat events, map choice by shape, logsource
// routing, emitted detections.
#include <gtest/gtest.h>

#include <string>

#include "detect/field_map.h"
#include "detect/tests/test_util.h"

namespace td::detect {
namespace {

using testing::compile;
using testing::matches;

const char* kProcRule = R"(title: Whoami
id: 9a0a4ee5-0000-4000-8000-000000000001
status: test
level: high
tags: [attack.discovery, attack.t1033]
logsource: {product: windows, category: process_creation}
detection:
  sel: {Image|endswith: '\whoami.exe'}
  condition: sel
)";

const char* kRawSysmon = R"({"Event":{"System":{"Provider":{"#attributes":{"Name":"Microsoft-Windows-Sysmon"}},
 "EventID":1,"TimeCreated":{"#attributes":{"SystemTime":"2026-04-17T05:24:53.088849Z"}},
 "Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"ws-042"},
 "EventData":{"Image":"C:\\Windows\\System32\\whoami.exe","User":"CORP\\alice"}}})";

TEST(FieldMapTest, BuiltinsParseInPriorityOrder) {
  const auto& maps = builtinFieldMaps();
  ASSERT_EQ(maps.size(), 3u);
  EXPECT_EQ(maps[0].name, "windows_raw");
  EXPECT_EQ(maps[1].name, "ecs");
  EXPECT_EQ(maps[2].name, "flat");
  EXPECT_FALSE(loadFieldMap("no_such_map").has_value());
}

TEST(EventTest, RawWindowsEventMatchesAndNamesHostUserTime) {
  auto e = compile({kProcRule});
  Matcher m(e);
  std::vector<std::uint32_t> hits;
  ASSERT_TRUE(m.evaluate(kRawSysmon, hits).has_value());
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(m.fieldMap()->name, "windows_raw");
  EXPECT_EQ(m.host(), "ws-042");
  EXPECT_EQ(m.user(), "CORP\\alice");
  EXPECT_EQ(m.time(), parseEventTime("2026-04-17T05:24:53.088Z"));
  const core::Detection d = makeDetection(m, hits[0], kRawSysmon);
  EXPECT_EQ(d.source, "Rule");
  EXPECT_EQ(d.name, "Whoami");
  EXPECT_EQ(d.rule_id, "9a0a4ee5-0000-4000-8000-000000000001");
  EXPECT_EQ(d.severity, core::Severity::kHigh);
  EXPECT_EQ(d.tags, std::vector<std::string>{"T1033"});
  EXPECT_EQ(d.entity, (core::Entity{"host", "ws-042"}));
  EXPECT_EQ(d.evidence_json, kRawSysmon);
  EXPECT_TRUE(core::validateDetection(d).has_value());
}

TEST(EventTest, LogsourceRoutingProcessCreationIsSysmon1OrSecurity4688) {
  auto e = compile({kProcRule});
  // Security 4688 (the same field name is used here to show routing only).
  EXPECT_TRUE(matches(e, R"({"Event":{"System":{"EventID":4688,"Channel":"Security"},
     "EventData":{"Image":"C:\\whoami.exe"}}})"));
  // Sysmon event 11 (file_event) with the same field is not process creation.
  EXPECT_FALSE(matches(e, R"({"Event":{"System":{"EventID":11,"Channel":"Microsoft-Windows-Sysmon/Operational"},
     "EventData":{"Image":"C:\\whoami.exe"}}})"));
}

TEST(EventTest, EventKeysMatchFieldsWithoutRegardToCaseOrSpaces) {
  // Keys of every length around the word and inline-key boundaries (8, 16, 32 bytes), with
  // characters next to the ASCII capitals ('@', '[', '`', '{') that case folding must not mix.
  auto e = compile({R"(title: keys
logsource: {product: windows, service: security}
detection:
  sel:
    A: '1'
    ThreatName: x
    Abcdefgh: '8'
    Abcdefghi: '9'
    FieldNameOfExactlyThirtyTwoBytes: '32'
    FieldNameLongerThanThirtyTwoBytes_X: '35'
    K@[Z: k
  condition: sel
)"});
  auto event = [](const std::string& data) {
    return R"({"Event":{"System":{"EventID":1,"Channel":"Security"},"EventData":{)" + data + "}}}";
  };
  const std::string good =
      R"("a":"1","Threat Name":"x","ABCDEFGH":"8","abcdefghI":"9",)"
      R"("fieldnameofexactlythirtytwobytes":"32","FIELDNAMELONGERTHANTHIRTYTWOBYTES_x":"35",)"
      R"("k@[z":"k")";
  EXPECT_TRUE(matches(e, event(good)));
  EXPECT_FALSE(matches(e, event(R"("a":"1","Threat Name":"x","ABCDEFGH":"8","abcdefghI":"9",)"
                                R"("fieldnameofexactlythirtytwobytes":"32",)"
                                R"("FIELDNAMELONGERTHANTHIRTYTWOBYTES_x":"35","k`{z":"k")")));
  EXPECT_FALSE(matches(e, event(R"("a":"1","Threat Name":"x","ABCDEFGX":"8","abcdefghI":"9",)"
                                R"("fieldnameofexactlythirtytwobytes":"32",)"
                                R"("FIELDNAMELONGERTHANTHIRTYTWOBYTES_x":"35","k@[z":"k")")));
}

TEST(EventTest, FilterLiteralsGiveTheSameAnswerOnShortAndLongValues) {
  // The filter's literals are not what triggers the rule: they are tested directly on short
  // values and by their Hyperscan database on long ones; both must agree.
  auto e = compile({R"(title: filters
logsource: {product: windows, service: security}
detection:
  sel: {Image|endswith: '\tool.exe'}
  f1: {CommandLine|contains: ' -SECRET '}
  f2: {CommandLine|startswith: 'run.exe'}
  f3: {CommandLine|endswith: '/quiet'}
  f4: {CommandLine|contains|cased: 'CaSeD'}
  condition: sel and not 1 of f*
)"});
  auto event = [](const std::string& cmd) {
    return R"({"Event":{"System":{"EventID":1,"Channel":"Security"},"EventData":{)"
           R"("Image":"C:\\x\\TOOL.EXE","CommandLine":")" + cmd + "\"}}}";
  };
  for (const std::string pad : {std::string(), std::string(2000, 'p')}) {
    SCOPED_TRACE(pad.size());
    EXPECT_TRUE(matches(e, event("other " + pad)));
    EXPECT_FALSE(matches(e, event(pad + " a -secret b")));
    EXPECT_FALSE(matches(e, event("RUN.EXE " + pad)));
    EXPECT_FALSE(matches(e, event(pad + " /QUIET")));
    EXPECT_FALSE(matches(e, event(pad + " CaSeD")));
    EXPECT_TRUE(matches(e, event(pad + " cased")));
  }
}

TEST(EventTest, OneMatcherRoutesEachEventByItsOwnKind) {
  // A matcher remembers routing decisions by the logsource fields' values: events of kinds seen
  // before, interleaved, must still be routed by their own values (including absent fields).
  auto e = compile({kProcRule});
  Matcher m(e);
  const std::string sysmon1 = R"({"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational"},
     "EventData":{"Image":"C:\\whoami.exe"}}})";
  const std::string sysmon11 = R"({"Event":{"System":{"EventID":11,"Channel":"Microsoft-Windows-Sysmon/Operational"},
     "EventData":{"Image":"C:\\whoami.exe"}}})";
  const std::string no_channel = R"({"Event":{"System":{"EventID":1},"EventData":{"Image":"C:\\whoami.exe"}}})";
  const std::string security = R"({"Event":{"System":{"EventID":4688,"Channel":"Security"},
     "EventData":{"Image":"C:\\whoami.exe"}}})";
  for (int round = 0; round < 3; ++round) {
    for (const auto& [event, expected] : {std::pair{sysmon1, true}, std::pair{sysmon11, false},
                                          std::pair{no_channel, false}, std::pair{security, true}}) {
      std::vector<std::uint32_t> hits;
      ASSERT_TRUE(m.evaluate(event, hits).has_value());
      EXPECT_EQ(hits.size() == 1, expected) << round << " " << event;
    }
  }
}

TEST(EventTest, TextValuesAndUserDataAreRead) {
  auto e = compile({R"(title: svc
logsource: {product: windows, service: system}
detection:
  sel: {EventID: 7045, ServiceName: evil, Provider_Name: Service Control Manager}
  condition: sel
)"});
  EXPECT_TRUE(matches(e, R"({"Event":{"System":{"Provider":{"#attributes":{"Name":"Service Control Manager"}},
    "EventID":{"#attributes":{"Qualifiers":16384},"#text":7045},"Channel":"System"},
    "EventData":{"ServiceName":"evil"}}})"));
  auto u = compile({R"(title: ud
logsource: {product: windows, service: security}
detection:
  sel: {EventID: 1102, SubjectUserName: bob}
  condition: sel
)"});
  EXPECT_TRUE(matches(u, R"({"Event":{"System":{"EventID":1102,"Channel":"Security"},
    "UserData":{"LogFileCleared":{"SubjectUserName":"bob"}}}})"));
}

TEST(EventTest, FlatAndEcsLayoutsAreChosenByShape) {
  auto e = compile({kProcRule});
  // OTRF / nxlog flat layout.
  EXPECT_TRUE(matches(e, R"({"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational",
    "Hostname":"WS1","Image":"C:\\Windows\\System32\\whoami.exe"})"));
  // ECS (Winlogbeat) layout.
  Matcher m(e);
  std::vector<std::uint32_t> hits;
  ASSERT_TRUE(m.evaluate(R"({"@timestamp":"2024-01-02T03:04:05Z","ecs":{"version":"8.0"},
    "winlog":{"channel":"Microsoft-Windows-Sysmon/Operational","event_id":1,"computer_name":"ws9"},
    "process":{"executable":"C:\\Windows\\System32\\whoami.exe"}})",
                         hits)
                  .has_value());
  EXPECT_EQ(hits.size(), 1u);
  EXPECT_EQ(m.fieldMap()->name, "ecs");
  EXPECT_EQ(m.host(), "ws9");
}

TEST(EventTest, ForcedFieldMap) {
  EngineOptions opts;
  opts.field_map = *loadFieldMap("flat");
  auto e = compile({kProcRule}, nullptr, opts);
  EXPECT_FALSE(matches(e, kRawSysmon));  // read as flat, the raw event has no Image
}

TEST(EventTest, BadJsonIsAnErrorNotACrash) {
  auto e = compile({kProcRule});
  Matcher m(e);
  std::vector<std::uint32_t> hits;
  for (const char* bad : {"", "{", "[1,2]", "nul", "{\"a\":}", "\"str\"", "{\"a\":1}}"}) {
    EXPECT_FALSE(m.evaluate(bad, hits).has_value()) << bad;
  }
  EXPECT_TRUE(hits.empty());
  EXPECT_EQ(m.stats().bad_events, 7u);
}

TEST(EventTest, DeeplyNestedEventDoesNotOverflow) {
  auto e = compile({testing::flatRule("  keywords: [deep]\n  condition: keywords\n")});
  std::string deep;
  for (int i = 0; i < 500; ++i) deep += "{\"a\":";
  deep += "\"deep\"";
  for (int i = 0; i < 500; ++i) deep += "}";
  Matcher m(e);
  std::vector<std::uint32_t> hits;
  EXPECT_TRUE(m.evaluate(deep, hits).has_value());
}

TEST(EventTest, ParsesEventTimes) {
  EXPECT_EQ(parseEventTime("1970-01-01T00:00:01Z"), 1000);
  EXPECT_EQ(parseEventTime("1970-01-01 00:00:01.5"), 1500);
  EXPECT_EQ(parseEventTime("1970-01-01T01:00:00+01:00"), 0);
  EXPECT_EQ(parseEventTime("1700000000"), 1700000000000);
  EXPECT_EQ(parseEventTime("garbage"), 0);
}

}  // namespace
}  // namespace td::detect
