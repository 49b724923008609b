// Imports every OSV feed in corpus/osv (Go, PyPI, crates.io, AlmaLinux, GitHub) and checks
// that each document loads, and that what the feeds say (withdrawn, GIT ranges, ecosystems) is
// counted rather than lost.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>

#include "vuln/advisory_db.h"
#include "vuln/tests/corpus.h"

namespace td::vuln {
namespace {

struct Feed {
  const char* dir;
  size_t expected;  // from corpus/osv/MANIFEST.md
};

class OsvFeedTest : public ::testing::TestWithParam<Feed> {};

TEST_P(OsvFeedTest, EveryAdvisoryImports) {
  TD_REQUIRE_CORPUS("osv");
  AdvisoryDb db;
  auto start = std::chrono::steady_clock::now();
  auto r = db.importPath(testing::corpusDir() / "osv" / GetParam().dir);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(r) << r.error().message;
  for (const auto& e : r->errors) ADD_FAILURE() << e.field << ": " << e.message;
  EXPECT_EQ(r->documents, GetParam().expected);
  EXPECT_EQ(db.size(), GetParam().expected);
  std::cout << "[osv] " << GetParam().dir << ": " << db.size() << " advisories, "
            << db.packageEntries() << " affected entries, " << r->withdrawn << " withdrawn, "
            << r->git_ranges << " GIT ranges, " << r->warnings.size() << " warnings, "
            << r->errors.size() << " errors, " << secs << " s\n";
  for (const auto& [eco, n] : r->unsupported_ecosystems) {
    std::cout << "[osv]   unsupported ecosystem " << eco << ": " << n << " entries\n";
  }
  EXPECT_TRUE(r->unsupported_ecosystems.empty());
}

INSTANTIATE_TEST_SUITE_P(Feeds, OsvFeedTest,
                         ::testing::Values(Feed{"go", 4291}, Feed{"pypi", 2661},
                                           Feed{"crates", 1206}, Feed{"almalinux9", 471},
                                           Feed{"ghsa", 113}),
                         [](const auto& info) { return std::string(info.param.dir); });

TEST(OsvCorpusTest, WithdrawnAdvisoriesAreKeptButFlagged) {
  TD_REQUIRE_CORPUS("osv/go");
  AdvisoryDb db;
  auto r = db.importPath(testing::corpusDir() / "osv" / "go");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->withdrawn, 17u);  // counted in corpus/osv/go
}

}  // namespace
}  // namespace td::vuln
