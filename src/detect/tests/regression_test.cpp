// SigmaHQ's own regression suite: for each rule in corpus/sigma/regression_data, the real events
// it must match (match_count of them). Also: the whole SigmaHQ rule folder loads, reporting
// per-rule errors without failing the load. Skips when the corpus is absent.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "detect/rule_loader.h"
#include "detect/tests/test_util.h"

namespace td::detect {
namespace {
namespace fs = std::filesystem;
using testing::corpusDir;

std::string readAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Splits concatenated (pretty-printed) JSON documents.
std::vector<std::string> splitDocuments(const std::string& text) {
  std::vector<std::string> docs;
  int depth = 0;
  bool in_string = false, escape = false;
  size_t start = std::string::npos;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (escape) escape = false;
      else if (c == '\\') escape = true;
      else if (c == '"') in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{') {
      if (depth++ == 0) start = i;
    } else if (c == '}') {
      if (--depth == 0 && start != std::string::npos) {
        docs.push_back(text.substr(start, i - start + 1));
        start = std::string::npos;
      }
    }
  }
  return docs;
}

class SigmaCorpusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sigma_ = fs::path(corpusDir()) / "sigma";
    if (!fs::is_directory(sigma_ / "regression_data")) {
      GTEST_SKIP() << "corpus not found at " << sigma_.string()
                   << " (set THREATDESK_CORPUS to the shared corpus folder)";
    }
  }
  fs::path sigma_;
};

TEST_F(SigmaCorpusTest, EveryRegressionRuleFiresOnItsEvents) {
  // Index rule files by id (a cheap text scan, not a full parse).
  std::map<std::string, fs::path> by_id;
  const std::regex id_line(R"(^id:\s*([0-9a-fA-F-]{36}))");
  for (const char* dir : {"rules", "rules-emerging-threats", "rules-threat-hunting",
                          "rules-compliance", "rules-dfir", "rules-placeholder"}) {
    if (!fs::is_directory(sigma_ / dir)) continue;
    for (const auto& e : fs::recursive_directory_iterator(sigma_ / dir)) {
      if (!e.is_regular_file() || e.path().extension() != ".yml") continue;
      std::ifstream in(e.path());
      std::string line;
      while (std::getline(in, line)) {
        std::smatch m;
        if (std::regex_search(line, m, id_line)) {
          by_id[m[1]] = e.path();
          break;
        }
      }
    }
  }
  struct Case {
    std::string id;
    fs::path rule;
    std::vector<fs::path> events;
    int match_count = 0;  // 0 when info.yml gives none
  };
  std::vector<Case> cases;
  std::vector<std::string> skipped;
  for (const auto& e : fs::recursive_directory_iterator(sigma_ / "regression_data")) {
    if (e.path().filename() != "info.yml") continue;
    const YAML::Node info = YAML::LoadFile(e.path().string());
    Case c;
    c.id = info["rule_metadata"][0]["id"].as<std::string>();
    if (const auto t = info["regression_tests_info"]; t && t[0]["match_count"]) {
      c.match_count = t[0]["match_count"].as<int>();
    }
    if (const auto t = info["regression_tests_info"]; t && t[0]["type"] &&
                                                       t[0]["type"].as<std::string>() != "evtx") {
      skipped.push_back(c.id + ": event type " + t[0]["type"].as<std::string>() +
                        " is not JSON (no Windows event to replay)");
      continue;
    }
    for (const auto& f : fs::directory_iterator(e.path().parent_path())) {
      if (f.path().extension() == ".json") c.events.push_back(f.path());
    }
    if (c.events.empty()) {
      skipped.push_back(c.id + ": no JSON event in " + e.path().parent_path().string() +
                        " (raw log line, not a Windows event)");
      continue;
    }
    auto it = by_id.find(c.id);
    ASSERT_NE(it, by_id.end()) << "no rule with id " << c.id << " for " << e.path();
    c.rule = it->second;
    cases.push_back(std::move(c));
  }
  ASSERT_GT(cases.size(), 150u);

  std::vector<std::string> paths;
  for (const auto& c : cases) paths.push_back(c.rule.string());
  auto loaded = loadRules(paths);
  ASSERT_TRUE(loaded.has_value());
  const auto& engine = loaded->engine;
  std::map<std::string, std::uint32_t> index;
  for (std::uint32_t i = 0; i < engine->ruleCount(); ++i) index[engine->rule(i).id] = i;

  Matcher matcher(engine);
  int passed = 0;
  std::vector<std::string> failures, notes;
  for (const auto& c : cases) {
    auto it = index.find(c.id);
    if (it == index.end()) {
      failures.push_back(c.id + " (" + c.rule.string() + "): rule did not load");
      continue;
    }
    int hits = 0, events = 0;
    for (const auto& ev : c.events) {
      for (const auto& doc : splitDocuments(readAll(ev))) {
        ++events;
        std::vector<std::uint32_t> m;
        EXPECT_TRUE(matcher.evaluate(doc, m).has_value()) << ev;
        hits += std::count(m.begin(), m.end(), it->second) > 0;
      }
    }
    if (hits >= 1) {
      ++passed;
      // SigmaHQ's match_count counts matches in the original .evtx; the JSON conversion holds
      // more of its events, which the rule may rightly match too. Shown, not failed.
      if (c.match_count > 0 && hits != c.match_count) {
        notes.push_back(c.id + " (" + c.rule.filename().string() + "): " + std::to_string(hits) +
                        " of " + std::to_string(events) + " events matched, info.yml says " +
                        std::to_string(c.match_count));
      }
    } else {
      failures.push_back(c.id + " (" + c.rule.filename().string() + "): " + std::to_string(hits) +
                         " of " + std::to_string(events) + " events matched, expected " +
                         std::to_string(c.match_count));
    }
  }
  std::ostringstream msg;
  for (const auto& f : failures) msg << "  " << f << '\n';
  std::cout << "[ regression ] " << passed << "/" << cases.size() << " rules fire on their events ("
            << skipped.size() << " skipped)\n";
  for (const auto& s : skipped) std::cout << "  skipped: " << s << '\n';
  for (const auto& n : notes) std::cout << "  note: " << n << '\n';
  EXPECT_TRUE(failures.empty()) << failures.size() << " regression failures:\n" << msg.str()
                                << "load report:\n" << loaded->report.format(false);
}

TEST_F(SigmaCorpusTest, WholeRuleFolderLoadsReportingPerRuleErrors) {
  auto loaded = loadRules({(sigma_ / "rules").string()});
  ASSERT_TRUE(loaded.has_value());
  const LoadReport& r = loaded->report;
  std::cout << "[ load ] files " << r.files << ", loaded " << r.rules_loaded << ", refused "
            << r.rules_refused << ", filtered " << r.rules_filtered << ", errors "
            << r.errorCount() << ", warnings " << r.warningCount() << "\n";
  EXPECT_GT(r.files, 3000u);
  EXPECT_GT(r.rules_loaded, 2900u);
  // Every refused rule is reported with a code and a position.
  EXPECT_LE(r.rules_refused, r.errorCount());
  for (const auto& d : r.diagnostics) {
    EXPECT_FALSE(d.code.empty());
    if (d.level == DiagnosticLevel::kError) {
      EXPECT_FALSE(d.file.empty()) << d.format();
    }
  }
  EXPECT_EQ(r.errorCount(), 0u) << r.format(false);
}

TEST_F(SigmaCorpusTest, UnsupportedRulesAreRefusedWithALineOrLoad) {
  if (!fs::is_directory(sigma_ / "unsupported")) GTEST_SKIP() << "no unsupported/ folder";
  LoadReport report;
  auto rules = readRules({(sigma_ / "unsupported").string()}, report);
  auto engine = Engine::build(std::move(rules), {}, report);
  ASSERT_TRUE(engine.has_value());
  std::cout << "[ unsupported ] loaded " << report.rules_loaded << ", refused "
            << report.rules_refused << "\n";
  for (const auto& d : report.diagnostics) {
    if (d.level == DiagnosticLevel::kError) {
      EXPECT_GT(d.line, 0) << d.format();
    }
  }
}

}  // namespace
}  // namespace td::detect
