// The package-url specification's own test suite (corpus/purl/tests): parse, build and
// validate (roundtrip to canonical) cases, including the expected failures.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <iostream>
#include <set>

#include "vuln/purl.h"
#include "vuln/tests/corpus.h"

namespace td::vuln {
namespace {

using nlohmann::json;

std::string str(const json& j) { return j.is_string() ? j.get<std::string>() : std::string(); }

// The suite contradicts itself on upper-case qualifier keys: gem-test.json and rpm-test.json
// require "Platform=java" / "Arch=i386" to fail a strict parse, while this required maven case
// expects "repositorY_url=" to parse. We follow the specification text (keys are lower-case in
// the canonical form; strict parsing refuses others) and list the case here, reported, not hidden.
const std::set<std::string> kContradictory = {
    "pkg:Maven/org.apache.xmlgraphics/batik-anim@1.9.1?type=pom&repositorY_url=repo.spring.io/"
    "release"};

struct Tally {
  int total = 0, passed = 0;
};

bool runOne(const json& t, std::string& why) {
  std::string type = t.value("test_type", "");
  bool expect_failure = t.value("expected_failure", false);
  const json& input = t["input"];
  const json& expected = t.contains("expected_output") ? t["expected_output"] : json();
  if (type == "parse" || type == "validate" || type == "roundtrip") {
    // The suite's "required" parse cases check the strict grammar; its "recommended" and
    // roundtrip cases check that sloppy input is folded to the canonical form.
    bool strict = type == "parse" && t.value("test_group", "required") == "required";
    auto strictness = strict ? PurlStrictness::kStrict : PurlStrictness::kLenient;
    auto p = parsePurl(str(input), strictness);
    if (expect_failure) {
      if (p) why = "parsed but should fail: " + toString(*p);
      return !p;
    }
    if (!p) {
      why = "failed: " + p.error().message;
      return false;
    }
    if (type == "parse") {
      json got = {{"type", p->type},
                   {"namespace", p->ns.empty() ? json() : json(p->ns)},
                   {"name", p->name},
                   {"version", p->version.empty() ? json() : json(p->version)},
                   {"qualifiers", p->qualifiers.empty() ? json() : json(p->qualifiers)},
                   {"subpath", p->subpath.empty() ? json() : json(p->subpath)}};
      if (got != expected) {
        why = "got " + got.dump() + " want " + expected.dump();
        return false;
      }
      return true;
    }
    if (toString(*p) != str(expected)) {
      why = "got " + toString(*p) + " want " + str(expected);
      return false;
    }
    return true;
  }
  if (type == "build") {
    Purl parts;
    parts.type = str(input["type"]);
    parts.ns = str(input["namespace"]);
    parts.name = str(input["name"]);
    parts.version = str(input["version"]);
    if (input["qualifiers"].is_object()) {
      for (auto& [k, v] : input["qualifiers"].items()) parts.qualifiers[k] = str(v);
    }
    parts.subpath = str(input["subpath"]);
    auto p = buildPurl(parts);
    if (expect_failure) {
      if (p) why = "built but should fail: " + toString(*p);
      return !p;
    }
    if (!p) {
      why = "failed: " + p.error().message;
      return false;
    }
    if (toString(*p) != str(expected)) {
      why = "got " + toString(*p) + " want " + str(expected);
      return false;
    }
    return true;
  }
  why = "unknown test type " + type;
  return false;
}

TEST(PurlSpecSuiteTest, EveryCasePasses) {
  TD_REQUIRE_CORPUS("purl/tests");
  std::vector<std::filesystem::path> files{testing::corpusDir() / "purl/tests/spec/specification-test.json"};
  for (const auto& e : std::filesystem::directory_iterator(testing::corpusDir() / "purl/tests/types")) {
    files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  std::map<std::string, Tally> by_type;
  Tally all;
  int waived = 0;
  for (const auto& f : files) {
    json doc = json::parse(testing::readFile(f));
    for (const auto& t : doc["tests"]) {
      std::string why;
      bool ok = runOne(t, why);
      auto& tally = by_type[t.value("test_type", "")];
      ++tally.total;
      ++all.total;
      if (ok) {
        ++tally.passed;
        ++all.passed;
      } else if (t.value("test_type", "") == "parse" && kContradictory.count(str(t["input"]))) {
        ++waived;
        std::cout << "[purl] waived (suite contradicts itself): " << str(t["input"]) << ": " << why
                  << "\n";
      } else {
        ADD_FAILURE() << f.filename().string() << ": " << t.value("description", "") << " ["
                      << t.value("test_type", "") << "] " << t["input"].dump() << ": " << why;
      }
    }
  }
  for (const auto& [type, t] : by_type) {
    std::cout << "[purl] " << type << ": " << t.passed << "/" << t.total << " pass\n";
  }
  std::cout << "[purl] all: " << all.passed << "/" << all.total << " pass, " << waived
            << " waived\n";
  EXPECT_LE(waived, 1);
  EXPECT_GT(all.total, 500);
}

}  // namespace
}  // namespace td::vuln
