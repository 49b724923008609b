// Every ordered pair in corpus/versions (generated from each ecosystem's reference
// implementation: dpkg, packaging, ComparableVersion, Composer, RubyGems, apk, rpm ...) must
// compare as recorded, in both directions, for every ecosystem ThreatDesk claims.
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "vuln/tests/corpus.h"
#include "vuln/version.h"

namespace td::vuln {
namespace {

struct Case {
  std::string file;
  Ecosystem ecosystem;
  std::string label;
};

struct Outcome {
  int total = 0;
  int passed = 0;
  std::vector<std::string> failures;
};

Outcome runFile(const std::filesystem::path& path, Ecosystem e) {
  Outcome out;
  std::ifstream in(path);
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty() || line[0] == '#' || line.rfind("//", 0) == 0) continue;
    size_t pos = std::string::npos;
    char op = 0;
    for (const char* sep : {" < ", " = ", " > "}) {
      size_t p = line.find(sep);
      if (p != std::string::npos && (pos == std::string::npos || p < pos)) {
        pos = p;
        op = sep[1];
      }
    }
    if (pos == std::string::npos) continue;
    std::string a = line.substr(0, pos), b = line.substr(pos + 3);
    int want = op == '<' ? -1 : (op == '>' ? 1 : 0);
    int got = compareVersions(e, a, b);
    int back = compareVersions(e, b, a);
    got = got < 0 ? -1 : (got > 0 ? 1 : 0);
    back = back < 0 ? -1 : (back > 0 ? 1 : 0);
    ++out.total;
    if (got == want && back == -want) {
      ++out.passed;
    } else if (out.failures.size() < 25) {
      out.failures.push_back(path.filename().string() + ":" + std::to_string(lineno) + ": " +
                             line + " (got " + std::to_string(got) + "/" +
                             std::to_string(back) + ")");
    }
  }
  return out;
}

class VersionCorpusTest : public ::testing::TestWithParam<Case> {};

TEST_P(VersionCorpusTest, EveryRecordedPairComparesAsTheReference) {
  TD_REQUIRE_CORPUS("versions");
  const Case& c = GetParam();
  auto path = testing::corpusDir() / "versions" / c.file;
  ASSERT_TRUE(std::filesystem::exists(path)) << path;
  Outcome o = runFile(path, c.ecosystem);
  std::cout << "[versions] " << c.label << " " << c.file << ": " << o.passed << "/" << o.total
            << " pass\n";
  RecordProperty("passed", o.passed);
  RecordProperty("total", o.total);
  EXPECT_GT(o.total, 0);
  for (const auto& f : o.failures) ADD_FAILURE() << f;
  EXPECT_EQ(o.passed, o.total);
}

INSTANTIATE_TEST_SUITE_P(
    Ecosystems, VersionCorpusTest,
    ::testing::Values(Case{"semver-versions.txt", Ecosystem::kNpm, "npm"},
                      Case{"semver-versions.txt", Ecosystem::kCratesIo, "crates_io"},
                      Case{"semver-versions.txt", Ecosystem::kGo, "Go"},
                      Case{"semver-versions.txt", Ecosystem::kHex, "Hex"},
                      Case{"pub-versions.txt", Ecosystem::kPub, "Pub"},
                      Case{"pypi-versions.txt", Ecosystem::kPyPI, "PyPI"},
                      Case{"pypi-versions-generated.txt", Ecosystem::kPyPI, "PyPI"},
                      Case{"maven-versions.txt", Ecosystem::kMaven, "Maven"},
                      Case{"maven-versions-generated.txt", Ecosystem::kMaven, "Maven"},
                      Case{"nuget-versions.txt", Ecosystem::kNuGet, "NuGet"},
                      Case{"rubygems-versions.txt", Ecosystem::kRubyGems, "RubyGems"},
                      Case{"rubygems-versions-generated.txt", Ecosystem::kRubyGems, "RubyGems"},
                      Case{"packagist-versions.txt", Ecosystem::kPackagist, "Packagist"},
                      Case{"packagist-versions-generated.txt", Ecosystem::kPackagist,
                           "Packagist"},
                      Case{"debian-versions.txt", Ecosystem::kDebian, "Debian"},
                      Case{"debian-versions-generated.txt", Ecosystem::kDebian, "Debian"},
                      Case{"debian-versions.txt", Ecosystem::kUbuntu, "Ubuntu"},
                      Case{"alpine-versions.txt", Ecosystem::kAlpine, "Alpine"},
                      Case{"alpine-versions-generated.txt", Ecosystem::kAlpine, "Alpine"},
                      Case{"redhat-versions.txt", Ecosystem::kRpm, "RPM"},
                      Case{"cran-versions.txt", Ecosystem::kCran, "CRAN"},
                      Case{"cran-versions-generated.txt", Ecosystem::kCran, "CRAN"},
                      Case{"hackage-versions.txt", Ecosystem::kHackage, "Hackage"}),
    [](const ::testing::TestParamInfo<Case>& info) {
      std::string name = info.param.file;
      for (char& ch : name) {
        if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return info.param.label + "_" + name;
    });

}  // namespace
}  // namespace td::vuln
