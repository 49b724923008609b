// Offline ingest: NDJSON (plain and gzip) through the engine to NDJSON detections, bad lines
// counted by number, correlations across worker threads, detections handed to a sink, extra
// stages beside the rules or alone.
#include "detect/ingest.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "detect/tests/test_util.h"

namespace td::detect {
namespace {
namespace fs = std::filesystem;

const char* kRules = R"(title: Failed logon
id: failed
logsource: {}
level: low
tags: [attack.t1110]
detection:
  sel: {EventID: 4625}
  condition: sel
---
title: Brute force
id: brute
level: high
correlation:
  type: event_count
  rules: [failed]
  group-by: [TargetUserName]
  timespan: 10m
  condition: {gte: 5}
)";

class CollectingSink : public core::DetectionSink {
 public:
  void submit(std::vector<core::Detection> batch) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& d : batch) got.push_back(std::move(d));
  }
  std::vector<core::Detection> got;

 private:
  std::mutex mu_;
};

std::string events(int n) {
  std::ostringstream out;
  for (int i = 0; i < n; ++i) {
    out << R"({"EventID":4625,"TargetUserName":"bob","Computer":"dc1","@timestamp":"2026-01-01T00:00:)"
        << (i < 10 ? "0" : "") << i << "Z\"}\n";
    if (i == 2) out << "this is not json\n\n";
  }
  return out.str();
}

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("td-ingest-" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

size_t countLines(const fs::path& p) {
  std::ifstream in(p);
  size_t n = 0;
  std::string line;
  while (std::getline(in, line)) n += !line.empty();
  return n;
}

TEST(IngestTest, PlainAndGzipWithBadLinesOnOneAndTwoThreads) {
  TempDir dir;
  const std::string text = events(20);
  {
    std::ofstream(dir.path / "e.ndjson") << text;
    gzFile gz = gzopen((dir.path / "e.ndjson.gz").c_str(), "wb");
    gzwrite(gz, text.data(), static_cast<unsigned>(text.size()));
    gzclose(gz);
  }
  auto engine = testing::compile({kRules});
  for (const char* input : {"e.ndjson", "e.ndjson.gz"}) {
    for (int threads : {1, 2}) {
      CollectingSink sink;
      IngestOptions opts;
      opts.inputs = {(dir.path / input).string()};
      opts.out = (dir.path / "out.ndjson").string();
      opts.threads = threads;
      opts.sink = &sink;
      auto s = runOfflineIngest(engine, opts);
      ASSERT_TRUE(s.has_value()) << s.error().message;
      EXPECT_EQ(s->events, 21u) << input << " threads " << threads;
      EXPECT_EQ(s->bad_events, 1u);
      ASSERT_EQ(s->bad_lines.size(), 1u);
      EXPECT_EQ(s->bad_lines[0].line, 4u);
      // 4 correlations (every 5 failed logons of bob); the base rule's 20 matches are counted
      // but raise nothing of their own (a correlation's generate defaults to false).
      EXPECT_EQ(s->detections, 4u);
      EXPECT_EQ(countLines(dir.path / "out.ndjson"), 4u);
      EXPECT_EQ(sink.got.size(), 4u);
      std::uint64_t base = 0;
      for (std::uint32_t r = 0; r < engine->ruleCount(); ++r) {
        if (engine->rule(r).id == "failed") base = s->per_rule[r];
      }
      EXPECT_EQ(base, 20u);
      size_t brute = 0;
      for (const auto& d : sink.got) {
        EXPECT_TRUE(core::validateDetection(d).has_value());
        brute += d.rule_id == "brute";
      }
      EXPECT_EQ(brute, 4u);
    }
  }
}

// A stage that counts events holding "bob" and writes one line for each.
class BobStage : public IngestStage {
 public:
  long event(std::string_view line, bool padded, std::uint64_t line_no, std::string& out,
             std::vector<core::Detection>*) noexcept override {
    if (!padded) return 0;
    if (line.empty() || line.front() != '{') return -1;
    if (line.find("bob") == std::string_view::npos) return 0;
    out += "{\"stage\":\"bob\",\"line\":" + std::to_string(line_no) + "}\n";
    return 1;
  }
};

TEST(IngestTest, ExtraStagesSeeEveryEventBesideTheRulesOrAlone) {
  TempDir dir;
  std::ofstream(dir.path / "e.ndjson") << events(20);
  IngestOptions opts;
  opts.inputs = {(dir.path / "e.ndjson").string()};
  opts.out = (dir.path / "out.ndjson").string();
  opts.stages.push_back([] { return std::make_unique<BobStage>(); });
  for (int threads : {1, 2}) {
    opts.threads = threads;
    // With rules: the engine judges the bad line; the stage sees the 20 good events.
    auto s = runOfflineIngest(testing::compile({kRules}), opts);
    ASSERT_TRUE(s.has_value()) << s.error().message;
    ASSERT_EQ(s->per_stage.size(), 1u);
    EXPECT_EQ(s->per_stage[0], 20u);
    EXPECT_EQ(s->detections, 4u);
    EXPECT_EQ(countLines(dir.path / "out.ndjson"), 24u);  // 4 correlations + 20 stage lines
    // No rules: only the stage runs, and its -1 makes the line bad.
    LoadReport report;
    auto empty = Engine::build({}, {}, report);
    ASSERT_TRUE(empty.has_value()) << empty.error().message;
    s = runOfflineIngest(*empty, opts);
    ASSERT_TRUE(s.has_value()) << s.error().message;
    EXPECT_EQ(s->events, 21u);
    EXPECT_EQ(s->bad_events, 1u);
    ASSERT_EQ(s->bad_lines.size(), 1u);
    EXPECT_EQ(s->bad_lines[0].line, 4u);
    EXPECT_EQ(s->per_stage[0], 20u);
    EXPECT_EQ(s->detections, 0u);
    EXPECT_EQ(countLines(dir.path / "out.ndjson"), 20u);
  }
}

// Detections of the rule `failed` written for `inputs`, one "line" number per matched event,
// in line order (two threads may write batches in any order).
std::vector<std::uint64_t> matchedLines(const std::vector<std::string>& inputs, int threads,
                                        const fs::path& out, IngestSummary& summary) {
  IngestOptions opts;
  opts.inputs = inputs;
  opts.out = out.string();
  opts.threads = threads;
  // The rule alone: with its correlation it raises nothing of its own.
  auto s = runOfflineIngest(
      testing::compile({std::string(kRules).substr(0, std::string(kRules).find("---"))}), opts);
  EXPECT_TRUE(s.has_value()) << s.error().message;
  if (!s) return {};
  summary = *s;
  std::vector<std::uint64_t> lines;
  std::ifstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    const auto at = line.find("\"line\":");
    if (line.find("\"rule_id\":\"failed\"") == std::string::npos || at == std::string::npos)
      continue;
    lines.push_back(std::stoull(line.substr(at + 7)));
  }
  std::sort(lines.begin(), lines.end());
  return lines;
}

// Plain files are mapped, gzip files inflated into buffers: both must see the same lines, with
// the same numbers, across many batches, CRLF endings, a last line without a newline, a file that
// ends exactly at a page boundary (no padding after it in the mapping) and several inputs.
TEST(IngestTest, MappedAndInflatedInputsSeeTheSameLines) {
  TempDir dir;
  std::string text;
  std::vector<std::uint64_t> expected;
  std::uint64_t bad = 0;
  for (std::uint64_t i = 1; text.size() < (3u << 20); ++i) {
    if (i % 997 == 0) {
      text += "{not json\n";
      ++bad;
      continue;
    }
    text += R"({"EventID":4625,"TargetUserName":"u)" + std::to_string(i % 13) + R"(","pad":")" +
            std::string(i % 151, 'x') + "\"}";
    text += i % 5 == 0 ? "\r\n" : "\n";
    expected.push_back(i);
  }
  const long page = sysconf(_SC_PAGESIZE);
  // e.ndjson: no newline at the end. exact.ndjson: padded with spaces so that its size is a
  // whole number of pages and its last line ends right at the end of the mapping.
  std::ofstream(dir.path / "e.ndjson", std::ios::binary) << text.substr(0, text.size() - 1);
  std::string exact = text;
  while (exact.size() % static_cast<size_t>(page) != 0) exact.insert(exact.size() - 1, " ");
  std::ofstream(dir.path / "exact.ndjson", std::ios::binary) << exact;
  {
    gzFile gz = gzopen((dir.path / "e.ndjson.gz").c_str(), "wb");
    gzwrite(gz, text.data(), static_cast<unsigned>(text.size()));
    gzclose(gz);
  }
  const auto p = [&](const char* name) { return (dir.path / name).string(); };
  for (int threads : {1, 2}) {
    for (const auto* name : {"e.ndjson", "exact.ndjson", "e.ndjson.gz"}) {
      IngestSummary s;
      EXPECT_EQ(matchedLines({p(name)}, threads, dir.path / "out.ndjson", s), expected)
          << name << " threads " << threads;
      EXPECT_EQ(s.events, expected.size() + bad) << name;
      EXPECT_EQ(s.bad_events, bad) << name;
      ASSERT_FALSE(s.bad_lines.empty());
      EXPECT_EQ(s.bad_lines[0].line, 997u) << name;
      for (const auto& b : s.bad_lines)
        EXPECT_EQ(b.line % 997, 0u) << name << " " << b.line << " " << b.reason;
    }
    // Three inputs, mapped and inflated in turn: line numbers run on over all of them.
    IngestSummary s;
    const auto got = matchedLines({p("e.ndjson"), p("e.ndjson.gz"), p("exact.ndjson")}, threads,
                                  dir.path / "out.ndjson", s);
    const std::uint64_t per_file = expected.size() + bad;
    ASSERT_EQ(got.size(), 3 * expected.size());
    EXPECT_EQ(got[expected.size()], per_file + expected[0]);
    EXPECT_EQ(got.back(), 2 * per_file + expected.back());
    EXPECT_EQ(s.bad_events, 3 * bad);
  }
}

TEST(IngestTest, AnOutputThatCannotBeWrittenIsAnError) {
  // Detection lines that do not reach the output are not dropped silently.
  TempDir dir;
  std::ofstream(dir.path / "e.ndjson") << events(20);
  IngestOptions opts;
  opts.inputs = {(dir.path / "e.ndjson").string()};
  for (const char* out : {"/dev/full", "/nonexistent/dir/out.ndjson"}) {
    opts.out = out;
    auto s = runOfflineIngest(testing::compile({kRules}), opts);
    ASSERT_FALSE(s.has_value()) << out;
    EXPECT_NE(s.error().message.find(std::string("cannot write ") + out), std::string::npos)
        << s.error().message;
    EXPECT_EQ(s.error().field, "--out");
  }
}

TEST(IngestTest, MissingInputIsAnError) {
  auto engine = testing::compile({kRules});
  IngestOptions opts;
  opts.inputs = {"/nonexistent/events.ndjson"};
  opts.out = "";
  EXPECT_FALSE(runOfflineIngest(engine, opts).has_value());
}

}  // namespace
}  // namespace td::detect
