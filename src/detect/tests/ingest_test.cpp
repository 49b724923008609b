// Offline ingest: NDJSON (plain and gzip) through the engine to NDJSON detections, bad lines
// counted by number, correlations across worker threads, detections handed to a sink, extra
// stages beside the rules or alone.
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "detect/ingest.h"
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

TEST(IngestTest, MissingInputIsAnError) {
  auto engine = testing::compile({kRules});
  IngestOptions opts;
  opts.inputs = {"/nonexistent/events.ndjson"};
  opts.out = "";
  EXPECT_FALSE(runOfflineIngest(engine, opts).has_value());
}

}  // namespace
}  // namespace td::detect
