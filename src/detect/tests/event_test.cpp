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
  for (const std::string& pad : {std::string(), std::string(2000, 'p')}) {
    SCOPED_TRACE(pad.size());
    EXPECT_TRUE(matches(e, event("other " + pad)));
    EXPECT_FALSE(matches(e, event(pad + " a -secret b")));
    EXPECT_FALSE(matches(e, event("RUN.EXE " + pad)));
    EXPECT_FALSE(matches(e, event(pad + " /QUIET")));
    EXPECT_FALSE(matches(e, event(pad + " CaSeD")));
    EXPECT_TRUE(matches(e, event(pad + " cased")));
  }
}

// Evaluates `events` in order with one matcher (which remembers keys, keyword needs and
// routing between events) and expects for each the rules a fresh matcher finds, and `expected`.
void expectSameAsFresh(const std::shared_ptr<const Engine>& e,
                       const std::vector<std::pair<std::string, std::vector<std::string>>>& events) {
  Matcher m(e);
  for (int round = 0; round < 3; ++round) {
    for (const auto& [event, expected] : events) {
      std::vector<std::uint32_t> hits;
      ASSERT_TRUE(m.evaluate(event, hits).has_value()) << event;
      std::vector<std::string> titles;
      for (auto h : hits) titles.push_back(e->rule(h).title);
      EXPECT_EQ(titles, testing::matchTitles(e, event)) << round << " " << event;
      EXPECT_EQ(titles, expected) << round << " " << event;
    }
  }
}

std::string securityEvent(const std::string& data) {
  return R"({"Event":{"System":{"EventID":1,"Channel":"Security"},"EventData":{)" + data + "}}}";
}

TEST(EventTest, OneMatcherReadsEachEventsOwnKeys) {
  // A matcher remembers the keys met at each position of an object and the fields they named:
  // the same position with another key, another case or another order must be read anew.
  auto e = compile({R"(title: both
logsource: {product: windows, service: security}
detection:
  sel: {Image|endswith: '\whoami.exe', User: alice, KeyLongerThanTwentyFourBytesXY: long}
  condition: sel
)"});
  const std::string img = R"("Image":"C:\\whoami.exe")";
  const std::string tail = R"(,"KeyLongerThanTwentyFourBytesXY":"long")";
  const std::vector<std::string> yes{"both"}, no;
  expectSameAsFresh(
      e, {{securityEvent(img + R"(,"User":"alice")" + tail), yes},
          {securityEvent(img + R"(,"Usr":"alice")" + tail), no},
          {securityEvent(R"("User":"alice",)" + img + tail), yes},
          {securityEvent(R"("IMAGE":"C:\\whoami.exe","user":"alice")" + tail), yes},
          {securityEvent(R"("Imagex":"C:\\whoami.exe","User":"alice")" + tail), no},
          {securityEvent(img + R"(,"User":"alice","KeyLongerThanTwentyFourBytesXZ":"long")"), no},
          {securityEvent(img + R"(,"User":"alice","keylongerthantwentyfourbytesxy":"long")"), yes}});
  // Keys of one length that differ only in their last 8 bytes, or only in bytes 8-15 (of a key
  // of 17-24 bytes): a memo comparing part of a key would take one for the other.
  auto words = compile({R"(title: words
logsource: {product: windows, service: security}
detection:
  sel: {CommandLine: x, AAAAAAAAmiddle16BBBBBBBB: y}
  condition: sel
)"});
  const std::vector<std::string> hit{"words"};
  expectSameAsFresh(words,
                    {{securityEvent(R"("CommandLine":"x","AAAAAAAAmiddle16BBBBBBBB":"y")"), hit},
                     {securityEvent(R"("CommandLinx":"x","AAAAAAAAmiddle16BBBBBBBB":"y")"), no},
                     {securityEvent(R"("CommandLine":"x","AAAAAAAAmiddleXXBBBBBBBB":"y")"), no},
                     {securityEvent(R"("CommandLine":"x","AAAAAAAAmiddle16BBBBBBBB":"y")"), hit}});
}

TEST(EventTest, KeywordValuesAreTheSameGatheredEarlyOrLate) {
  // Keyword values are gathered in the field pass when the previous event needed them, else
  // afterwards when the event does: events alternating between a log with keyword rules and
  // one without must find the same values either way (nested objects, arrays, #text, numbers).
  auto e = compile({R"(title: kw
logsource: {product: windows, service: security}
detection:
  keywords: [mimikatz, '4242']
  condition: keywords
)",
                    R"(title: svc
logsource: {product: windows, service: system}
detection:
  sel: {ServiceName: evil}
  condition: sel
)"});
  const std::string system =
      R"({"Event":{"System":{"EventID":7045,"Channel":"System"},"EventData":{"ServiceName":"mimikatz"}}})";
  const std::string system_evil =
      R"({"Event":{"System":{"EventID":7045,"Channel":"System"},"EventData":{"ServiceName":"evil"}}})";
  const std::vector<std::string> kw{"kw"}, svc{"svc"}, none;
  expectSameAsFresh(
      e, {{securityEvent(R"("A":"x","B":{"#text":"run MIMIKATZ now"})"), kw},
          {system, none},
          {securityEvent(R"("A":["y",{"C":4242}])"), kw},
          {securityEvent(R"("A":"x","B":{"C":[1,2,"z"]})"), none},
          {securityEvent(R"("Image":"C:\\mimikatz.exe")"), kw},
          {system_evil, svc},
          {securityEvent(R"("A":null,"B":true,"C":4243)"), none}});
}

TEST(EventTest, EndsWithFromABackslashIsLookedUp) {
  // Suffixes from a backslash on are looked up with the value's tails rather than scanned:
  // the same answers as any other literal, with or without case, on short and long paths.
  auto rule = [](const std::string& title, const std::string& sel) {
    return "title: " + title + "\nlogsource: {product: windows, service: security}\n" +
           "detection:\n  sel: " + sel + "\n  condition: sel\n";
  };
  auto e = compile({rule("whoami", R"({Image|endswith: '\whoami.exe'})"),
                    rule("net", R"({Image|endswith: '\System32\net.exe'})"),
                    rule("cmd", R"({Image|endswith: 'cmd.exe'})"),
                    rule("cased", R"({Image|endswith|cased: '\CaSe.exe'})")});
  auto image = [](const std::string& path) {  // `path` with JSON escapes
    return securityEvent(R"("Image":")" + path + R"(")");
  };
  std::string deep = R"(C:\\)";
  for (int i = 0; i < 100; ++i) deep += R"(d\\)";
  using V = std::vector<std::string>;
  expectSameAsFresh(
      e, {{image(R"(C:\\Windows\\System32\\WHOAMI.EXE)"), V{"whoami"}},
          {image(R"(C:\\x\\notwhoami.exe)"), V{}},
          {image("whoami.exe"), V{}},
          {image(R"(C:\\a\\whoami.exe\\)"), V{}},
          {image(R"(C:\\Windows\\SYSTEM32\\Net.exe)"), V{"net"}},
          {image(R"(C:\\Windows\\SysWOW64\\net.exe)"), V{}},
          {image(R"(C:\\Windows\\System32\\cmd.exe)"), V{"cmd"}},
          {image(R"(D:\\CaSe.exe)"), V{"cased"}},
          {image(R"(D:\\case.exe)"), V{}},
          {image(deep + "whoami.exe"), V{"whoami"}},
          {securityEvent(R"("Image":["x","C:\\whoami.exe"])"), V{"whoami"}}});
}

TEST(EventTest, FilterLiteralsAskedForOneByOneOrTogether) {
  // A triggered rule's filters: plain literals (windash's with each option character spelled
  // out, up to 25 spellings) and globs (inner '*' and '?', never across two values) are tested
  // one by one on short values, the others (windash with three dashes) and long values have the
  // filters' database scanned, once per event. One matcher keeps what it scanned per event, not
  // across events.
  std::string many;
  for (int i = 0; i < 40; ++i) many += (i ? ", 'lit" : "'lit") + std::to_string(i) + "x'";
  auto e = compile({R"(title: filters
logsource: {product: windows, service: security}
detection:
  sel: {Image|endswith: '\tool.exe'}
  f1: {CommandLine|contains|windash: ' -s '}
  f2: {CommandLine|contains: 'join*split'}
  f3: {CommandLine|contains: [)" +
                    many + R"(]}
  f4: {CommandLine|contains: ' -e* JAB'}
  f5: {CommandLine|contains|windash: ' -a -b '}
  f6: {CommandLine|contains|windash: ' -x -y -z '}
  f7: {CommandLine|endswith|windash: ' -q'}
  f8: {CommandLine|startswith|windash: '-v '}
  f9: {CommandLine|contains: 'q?r*s?t'}
  condition: sel and not 1 of f*
)"});
  auto event = [](const std::string& cmd) {
    return securityEvent(R"("Image":"C:\\x\\tool.exe","CommandLine":")" + cmd + R"(")");
  };
  const std::vector<std::string> yes{"filters"}, no;
  for (const std::string& pad : {std::string(), std::string(2000, 'p')}) {
    SCOPED_TRACE(pad.size());
    expectSameAsFresh(
        e, {{event("other " + pad), yes},
            {event(pad + " a /s b"), no},
            {event(pad + " a /S b"), no},
            {event(pad + " a \xe2\x80\x93s b"), no},
            {event(pad + " a \xe2\x80\x94s b"), no},
            {event(pad + " a \xe2\x80\x95s b"), no},
            {event(pad + " a +s b"), yes},
            {event(pad + " a \xe2\x80\x96s b"), yes},
            {event(pad + " a /A \xe2\x80\x94"
                         "b c"),
             no},
            {event(pad + " a -a +b c"), yes},
            {event(pad + " \xe2\x80\x95x /y -Z c"), no},
            {event(pad + " -x -y +z c"), yes},
            {event(pad + " r /q"), no},
            {event(pad + " r /q "), yes},
            {event("\xe2\x80\x93V r" + pad), no},
            {event(" v r" + pad), yes},
            {event("x JOIN a SPLIT " + pad), no},
            {event(pad + " Q1R s2t"), no},
            {event(pad + " qr st"), yes},
            {event(pad + " s2t q1r"), yes},
            {event(pad + " q1q1r s22t s3t"), no},
            {securityEvent(R"("Image":"C:\\x\\tool.exe","CommandLine":["join a","b split )" + pad +
                           R"("])"),
             yes},
            {securityEvent(R"("Image":"C:\\x\\tool.exe","CommandLine":["a","join b split )" + pad +
                           R"("])"),
             no},
            {event(pad + " lit39x"), no},
            {event("LIT0X " + pad), no},
            {event(pad + " lit40x"), yes},
            {event(" -enc JAB" + pad), no},
            {event(" -s"), yes}});
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
