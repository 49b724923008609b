// End to end: the real SBOMs of corpus/sbom scanned against every advisory of corpus/osv, with
// findings for jackson-databind, guava, lodash and laravel/framework worked out by hand from the
// advisories' ranges (corpus/osv/ghsa), including versions just outside a range; and a
// comparison with what api.osv.dev answered OSV-Scanner for the same (package, version) queries.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include "vuln/scanner.h"
#include "vuln/tests/corpus.h"

namespace td::vuln {
namespace {

class ScanCorpusTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(testing::corpusDir() / "osv")) return;
    db_ = new AdvisoryDb();
    auto r = db_->importPath(testing::corpusDir() / "osv" / feed_);
    ASSERT_TRUE(r);
    ASSERT_TRUE(r->errors.empty());
  }
  static void TearDownTestSuite() {
    delete db_;
    db_ = nullptr;
  }
  ScanResult scanFile(const std::string& rel) {
    auto s = parseSbom(testing::readFile(testing::corpusDir() / "sbom" / rel));
    EXPECT_TRUE(s) << rel << ": " << s.error().message;
    return s ? scan(*s, *db_) : ScanResult{};
  }
  static std::set<std::string> idsFor(const ScanResult& r, const std::string& package,
                                      const std::string& version) {
    std::set<std::string> ids;
    for (const auto& f : r.findings) {
      if (f.package == package && f.version == version) ids.insert(f.advisory_id);
    }
    return ids;
  }
  static const Finding* find(const ScanResult& r, const std::string& id, const std::string& version) {
    for (const auto& f : r.findings) {
      if (f.advisory_id == id && f.version == version) return &f;
    }
    return nullptr;
  }
  static AdvisoryDb* db_;
  static std::string feed_;
};
AdvisoryDb* ScanCorpusTest::db_ = nullptr;
std::string ScanCorpusTest::feed_ = "";  // all of corpus/osv

// The hand-worked cases concern Maven, npm and Packagist packages, whose advisories are all in
// corpus/osv/ghsa (the other feeds are Go, PyPI, crates.io and AlmaLinux); loading only that feed
// keeps these tests fast under the sanitizers. ScanCorpusTest itself runs with every feed.
class HandWorkedScanTest : public ScanCorpusTest {
 protected:
  static void SetUpTestSuite() {
    feed_ = "ghsa";
    ScanCorpusTest::SetUpTestSuite();
    feed_ = "";
  }
};

#define TD_REQUIRE_DB()      \
  TD_REQUIRE_CORPUS("osv");  \
  TD_REQUIRE_CORPUS("sbom"); \
  ASSERT_NE(db_, nullptr)

TEST_F(HandWorkedScanTest, JacksonDatabindInDropwizardByHand) {
  TD_REQUIRE_DB();
  ScanResult r = scanFile("SBOM/dropwizard-1.3.15/bom.json");
  // 2.9.10 lies in [2.0(.0), 2.9.10.8) of eight advisories (Maven orders the fourth number),
  // in [0, 2.12.6.1) of GHSA-57j2, [2.4.0-rc1, 2.12.7.1) of GHSA-jjjh, [0, 2.13.4) of GHSA-rgv9;
  // GHSA-8c4j/cvm9 also list [2.0.0, 2.6.7.5), which 2.9.10 is above.
  std::set<std::string> want = {"GHSA-57j2-w4cx-62h2", "GHSA-5r5r-6hpj-8gg9", "GHSA-89qr-369f-5m5x",
                                "GHSA-8c4j-34r4-xr8g", "GHSA-8w26-6f25-cm9x", "GHSA-9gph-22xh-8x98",
                                "GHSA-9m6f-7xcq-8vf8", "GHSA-cvm9-fjm9-3572", "GHSA-jjjh-jjxp-wpff",
                                "GHSA-rgv9-q543-rqg4"};
  EXPECT_EQ(idsFor(r, "com.fasterxml.jackson.core:jackson-databind", "2.9.10"), want);
  const Finding* f = find(r, "GHSA-5r5r-6hpj-8gg9", "2.9.10");
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->fixed_versions, std::vector<std::string>{"2.9.10.8"});
  EXPECT_EQ(find(r, "GHSA-57j2-w4cx-62h2", "2.9.10")->fixed_versions,
            std::vector<std::string>{"2.12.6.1"});
}

TEST_F(HandWorkedScanTest, JacksonDatabindInKeycloakIsJustOutsideTheOldRanges) {
  TD_REQUIRE_DB();
  ScanResult r = scanFile("SBOM/keycloak-10.0.2/bom.json");
  // 2.10.1 is above 2.9.10.8, so the eight [2.0, 2.9.10.8) advisories do not apply.
  std::set<std::string> want = {"GHSA-57j2-w4cx-62h2", "GHSA-jjjh-jjxp-wpff", "GHSA-rgv9-q543-rqg4"};
  EXPECT_EQ(idsFor(r, "com.fasterxml.jackson.core:jackson-databind", "2.10.1"), want);
}

TEST_F(HandWorkedScanTest, GuavaLastAffectedAndFixed) {
  TD_REQUIRE_DB();
  // [0, last_affected 29.0]: no fix known; [1.0, 32.0.0): fixed in 32.0.0.
  std::set<std::string> want = {"GHSA-5mg8-w23w-74h3", "GHSA-7g45-4rm6-3mm3"};
  ScanResult d = scanFile("SBOM/dropwizard-1.3.15/bom.json");
  EXPECT_EQ(idsFor(d, "com.google.guava:guava", "24.1.1-jre"), want);
  ASSERT_NE(find(d, "GHSA-5mg8-w23w-74h3", "24.1.1-jre"), nullptr);
  EXPECT_TRUE(find(d, "GHSA-5mg8-w23w-74h3", "24.1.1-jre")->fixed_versions.empty());
  EXPECT_EQ(find(d, "GHSA-7g45-4rm6-3mm3", "24.1.1-jre")->fixed_versions,
            std::vector<std::string>{"32.0.0"});
  ScanResult k = scanFile("SBOM/keycloak-10.0.2/bom.json");
  EXPECT_EQ(idsFor(k, "com.google.guava:guava", "25.0-jre"), want);
  // jackson-datatype-guava, jersey-guava and jdbi3-guava are other packages.
  for (const auto& f : k.findings) EXPECT_EQ(f.package.find("guava:") == std::string::npos || f.package == "com.google.guava:guava", true);
}

TEST_F(HandWorkedScanTest, LodashBoundaries) {
  TD_REQUIRE_DB();
  ScanResult r = scanFile("SBOM/juice-shop/v11.1.2/bom.json");
  // 2.4.2 is below every fix (4.17.5 ... 4.17.21): all seven lodash advisories.
  std::set<std::string> all = {"GHSA-29mw-wpgm-hmr9", "GHSA-35jh-r3h4-6jhm", "GHSA-4xc9-xhrj-v574",
                               "GHSA-fvqr-27wr-82fm", "GHSA-jf85-cpcp-j695", "GHSA-p6mc-m468-83gw",
                               "GHSA-x5rq-j2xg-h7qm"};
  EXPECT_EQ(idsFor(r, "lodash", "2.4.2"), all);
  // 4.17.19: inside [0, 4.17.20) and [0, 4.17.21); just outside [0, 4.17.11), [0, 4.17.12),
  // [0, 4.17.5).
  std::set<std::string> newer = {"GHSA-29mw-wpgm-hmr9", "GHSA-35jh-r3h4-6jhm", "GHSA-p6mc-m468-83gw"};
  EXPECT_EQ(idsFor(r, "lodash", "4.17.19"), newer);
  // 4.17.21 is exactly the last fix: nothing.
  ScanResult p = scanFile("SBOM/protonmail-webclient-v4-0912dff/bom.json");
  EXPECT_TRUE(idsFor(p, "lodash", "4.17.21").empty());
}

TEST_F(HandWorkedScanTest, LaravelAtTheFixedVersionIsNotAffected) {
  TD_REQUIRE_DB();
  for (const char* f : {"SBOM/laravel-7.12.0/bom.1.2.json", "SBOM/laravel-7.12.0/bom.1.3.json",
                        "SBOM/laravel-7.12.0/bom.1.4.json"}) {
    ScanResult r = scanFile(f);
    // v7.30.6 (Composer drops the "v") equals the fix of [7.0.0, 7.30.6) in GHSA-66hf.
    EXPECT_TRUE(idsFor(r, "laravel/framework", "v7.30.6").empty()) << f;
    // guzzle 6.5.8 equals the fix of GHSA-25mq (6.5.8) but is inside GHSA-f2wf/q559? Both fixed
    // in 6.5.8 as well: nothing for guzzle.
    EXPECT_TRUE(idsFor(r, "guzzlehttp/guzzle", "6.5.8").empty()) << f;
  }
}

TEST_F(ScanCorpusTest, EveryRealSbomScansAndReports) {
  TD_REQUIRE_DB();
  for (const auto& e : std::filesystem::recursive_directory_iterator(testing::corpusDir() / "sbom/SBOM")) {
    if (e.path().extension() != ".json") continue;
    auto sbom = parseSbom(testing::readFile(e.path()));
    ASSERT_TRUE(sbom);
    auto start = std::chrono::steady_clock::now();
    ScanResult r = scan(*sbom, *db_);
    double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::map<std::string, int> by_eco;
    for (const auto& f : r.findings) ++by_eco[f.ecosystem];
    std::cout << "[scan] " << e.path().lexically_relative(testing::corpusDir()).string() << ": "
              << r.components << " components, " << r.findings.size() << " findings (";
    for (const auto& [k, v] : by_eco) std::cout << k << " " << v << " ";
    std::cout << "), " << r.skipped.size() << " skipped, " << ms << " ms\n";
    for (const auto& f : r.findings) {
      Asset asset;
      asset.name = "asset";
      auto d = toDetection(f, asset);
      EXPECT_TRUE(core::validateDetection(d).has_value()) << d.name;
    }
  }
}

TEST_F(ScanCorpusTest, ProtonBridgeGoModulesAgainstGoAdvisories) {
  TD_REQUIRE_DB();
  ScanResult old_bridge = scanFile("SBOM/proton-bridge/proton-bridge-v1.6.3.bom.json");
  ScanResult new_bridge = scanFile("SBOM/proton-bridge/proton-bridge-v1.8.0.bom.json");
  size_t go = 0;
  for (const auto& f : old_bridge.findings) go += f.ecosystem == "Go" ? 1 : 0;
  EXPECT_GT(go, 0u);
  ScanDiff diff = diffScans(old_bridge, new_bridge, db_);
  std::cout << "[scan] proton-bridge 1.6.3 -> 1.8.0: " << diff.added.size() << " new, "
            << diff.gone.size() << " gone, " << diff.kept.size() << " kept\n";
  for (const auto& g : diff.gone) std::cout << "[scan]   gone: " << g.note << " (" << goneReasonName(g.reason) << ")\n";
}

TEST_F(ScanCorpusTest, AgreesWithOsvDevOnRecordedQueriesWhereWeHoldTheAdvisories) {
  TD_REQUIRE_DB();
  TD_REQUIRE_CORPUS("sbom/osv-scanner-fixtures/osv-api-recorded-queries.jsonl");
  std::ifstream in(testing::corpusDir() / "sbom/osv-scanner-fixtures/osv-api-recorded-queries.jsonl");
  std::string line;
  std::set<std::string> seen;
  int compared = 0, agreed = 0;
  std::map<std::string, std::pair<int, int>> by_eco;
  while (std::getline(in, line)) {
    auto q = nlohmann::json::parse(line, nullptr, false);
    if (!q.is_object() || !q["query"].contains("package")) continue;
    std::string eco = q["query"]["package"].value("ecosystem", "");
    std::string name = q["query"]["package"].value("name", "");
    std::string version = q["query"].value("version", "");
    if (eco.empty() || name.empty() || version.empty()) continue;
    if (!seen.insert(eco + "|" + name + "|" + version).second) continue;
    EcosystemId id = parseEcosystem(eco);
    if (id.kind == Ecosystem::kUnknown) continue;
    // Ours: every advisory in our database that affects (package, version).
    std::set<std::string> ours;
    for (const auto& c : db_->candidates(id, name)) {
      if (c.advisory->isWithdrawn()) continue;
      if (matchVersion(*c.package, version).affected) ours.insert(c.advisory->id);
    }
    // Theirs, restricted to advisories we hold (the rest of osv.dev is not in the corpus).
    std::set<std::string> theirs;
    for (const auto& r : q["result_ids"]) {
      if (db_->find(r.get<std::string>())) theirs.insert(r.get<std::string>());
    }
    if (ours.empty() && theirs.empty() && db_->candidates(id, name).empty()) continue;
    ++compared;
    ++by_eco[eco].second;
    if (ours == theirs) {
      ++agreed;
      ++by_eco[eco].first;
    } else {
      std::cout << "[peer] differs: " << eco << " " << name << "@" << version << " ours {";
      for (const auto& s : ours) std::cout << " " << s;
      std::cout << " } osv.dev {";
      for (const auto& s : theirs) std::cout << " " << s;
      std::cout << " }\n";
    }
  }
  for (const auto& [eco, t] : by_eco) std::cout << "[peer] " << eco << ": " << t.first << "/" << t.second << " agree\n";
  std::cout << "[peer] all: " << agreed << "/" << compared << " queries agree\n";
  EXPECT_GT(compared, 10);
}

}  // namespace
}  // namespace td::vuln
