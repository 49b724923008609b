// The CycloneDX specification's own test vectors (valid-* must be accepted, invalid-* refused),
// the real SBOMs and the SPDX examples of the corpus.
#include <gtest/gtest.h>

#include <iostream>
#include <map>

#include "vuln/sbom.h"
#include "vuln/tests/corpus.h"

namespace td::vuln {
namespace {

TEST(CycloneDxSpecVectorsTest, ValidAcceptedInvalidRefused) {
  TD_REQUIRE_CORPUS("sbom/cyclonedx-spec-tests");
  struct Tally { int valid = 0, valid_ok = 0, invalid = 0, invalid_ok = 0; };
  std::map<std::string, Tally> by_version;
  int skipped = 0;
  SbomOptions strict;
  strict.strict_license_ids = true;  // the schema's enum of SPDX ids
  for (const auto& dir : std::filesystem::directory_iterator(testing::corpusDir() / "sbom/cyclonedx-spec-tests")) {
    if (!dir.is_directory()) continue;
    std::string version = dir.path().filename().string();
    for (const auto& f : std::filesystem::directory_iterator(dir.path())) {
      std::string name = f.path().filename().string();
      if (f.path().extension() != ".json") continue;
      if (name.rfind("skip_", 0) == 0) {
        ++skipped;  // upstream marks these as not enforceable by its own schema tooling
        continue;
      }
      bool valid = name.rfind("valid-", 0) == 0;
      auto r = parseSbom(testing::readFile(f.path()), strict);
      Tally& t = by_version[version];
      if (valid) {
        ++t.valid;
        if (r) {
          ++t.valid_ok;
        } else {
          ADD_FAILURE() << version << "/" << name << " refused: " << r.error().message;
        }
      } else {
        ++t.invalid;
        if (!r) {
          ++t.invalid_ok;
        } else {
          ADD_FAILURE() << version << "/" << name << " accepted but is labelled invalid";
        }
      }
    }
  }
  int total = 0, ok = 0;
  for (const auto& [v, t] : by_version) {
    std::cout << "[cyclonedx] " << v << ": valid accepted " << t.valid_ok << "/" << t.valid
              << ", invalid refused " << t.invalid_ok << "/" << t.invalid << "\n";
    total += t.valid + t.invalid;
    ok += t.valid_ok + t.invalid_ok;
  }
  std::cout << "[cyclonedx] all: " << ok << "/" << total << " as labelled; " << skipped
            << " skip_ vectors not run\n";
  EXPECT_GT(total, 300);
}

TEST(SbomCorpusTest, RealSbomsParseWithPurls) {
  TD_REQUIRE_CORPUS("sbom/SBOM");
  int files = 0;
  for (const auto& f : std::filesystem::recursive_directory_iterator(testing::corpusDir() / "sbom/SBOM")) {
    if (f.path().extension() != ".json") continue;
    auto r = parseSbom(testing::readFile(f.path()));
    ASSERT_TRUE(r) << f.path() << ": " << r.error().message;
    ++files;
    size_t with_purl = 0;
    for (const auto& c : r->components) with_purl += c.parsed_purl ? 1 : 0;
    std::cout << "[sbom] " << f.path().lexically_relative(testing::corpusDir()).string() << ": CycloneDX "
              << r->spec_version << ", " << r->components.size() << " components, " << with_purl
              << " with a valid purl, " << r->warnings.size() << " warnings\n";
    EXPECT_GT(with_purl, 0u);
  }
  EXPECT_GE(files, 14);
}

TEST(SbomCorpusTest, SpdxExamplesParse) {
  TD_REQUIRE_CORPUS("sbom/spdx-examples");
  int spdx2 = 0, spdx3 = 0, refused = 0;
  for (const auto& f : std::filesystem::recursive_directory_iterator(testing::corpusDir() / "sbom/spdx-examples")) {
    if (f.path().extension() != ".json" && f.path().extension() != ".jsonld") continue;
    auto r = parseSbom(testing::readFile(f.path()));
    if (!r) {
      ++refused;
      ADD_FAILURE() << f.path() << ": " << r.error().message;
      continue;
    }
    (r->format == SbomFormat::kSpdx2 ? spdx2 : spdx3)++;
  }
  std::cout << "[spdx] parsed SPDX 2: " << spdx2 << ", SPDX 3: " << spdx3 << ", refused: " << refused << "\n";
  EXPECT_EQ(spdx2, 18);
  EXPECT_EQ(spdx3, 26);
}

TEST(SbomCorpusTest, VexExamplesParse) {
  TD_REQUIRE_CORPUS("sbom/VEX");
  int statements = 0;
  for (const auto& f : std::filesystem::recursive_directory_iterator(testing::corpusDir() / "sbom/VEX")) {
    if (f.path().extension() != ".json") continue;
    auto r = parseSbom(testing::readFile(f.path()));
    ASSERT_TRUE(r) << f.path() << ": " << r.error().message;
    statements += static_cast<int>(r->vex.size());
  }
  std::cout << "[vex] statements with an analysis state: " << statements << "\n";
  EXPECT_GT(statements, 10);
}

}  // namespace
}  // namespace td::vuln
