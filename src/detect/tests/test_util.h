// Helpers for the detect tests: compile rules from YAML text and evaluate events.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "detect/engine.h"
#include "detect/sigma_rule.h"

namespace td::detect::testing {

inline std::shared_ptr<const Engine> compile(const std::vector<std::string>& yamls,
                                             LoadReport* report_out = nullptr,
                                             EngineOptions options = {}) {
  LoadReport report;
  std::vector<SigmaRule> rules;
  for (const auto& y : yamls) {
    auto parsed = parseSigmaYaml(y, "<test>", report);
    for (auto& r : parsed) rules.push_back(std::move(r));
  }
  auto engine = Engine::build(std::move(rules), options, report);
  if (report_out) *report_out = report;
  EXPECT_TRUE(engine.has_value());
  return engine ? *engine : nullptr;
}

// Titles of the rules that match `json`.
inline std::vector<std::string> matchTitles(const std::shared_ptr<const Engine>& engine,
                                            const std::string& json) {
  Matcher m(engine);
  std::vector<std::uint32_t> hits;
  EXPECT_TRUE(m.evaluate(json, hits).has_value()) << json;
  std::vector<std::string> out;
  for (auto h : hits) out.push_back(engine->rule(h).title);
  return out;
}

inline bool matches(const std::shared_ptr<const Engine>& engine, const std::string& json) {
  return !matchTitles(engine, json).empty();
}

// A rule over flat events with no logsource routing (product only) and the given detection.
inline std::string flatRule(const std::string& detection, const std::string& title = "t") {
  return "title: " + title + "\nid: " + title + "-id\nstatus: test\nlevel: high\n" +
         "logsource: {}\ndetection:\n" + detection;
}

// The corpus folder: $THREATDESK_CORPUS, else $THREATDESK_SOURCE_DIR/../shared/corpus.
inline std::string corpusDir() {
  if (const char* c = std::getenv("THREATDESK_CORPUS"); c && *c) return c;
  if (const char* s = std::getenv("THREATDESK_SOURCE_DIR"); s && *s) {
    return std::string(s) + "/../shared/corpus";
  }
  return "../shared/corpus";
}

}  // namespace td::detect::testing
