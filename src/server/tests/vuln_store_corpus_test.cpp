// Real SBOMs against real advisories through the store (label `corpus`; skipped when
// ../shared/corpus is absent): the GitHub advisories of corpus/osv/ghsa imported into a SQLite
// store, dropwizard's SBOM uploaded for an asset and then replaced by keycloak's, whose
// jackson-databind is 2.10.1 instead of 2.9.10. The expected findings are the hand-worked ones of
// src/vuln/tests/scan_corpus_test.cpp; here they must come out of the store, raise threats, and
// the seven advisories that 2.10.1 is outside of must close their threats as Remediated.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>

#include "server/vuln_service.h"
#include "store/store.h"
#include "tests/support/temp_dir.h"
#include "triage/service.h"

namespace td::server {
namespace {

std::filesystem::path corpusDir() {
  if (const char* env = std::getenv("THREATDESK_CORPUS"); env && *env) return env;
  return std::filesystem::path(TD_SOURCE_DIR) / ".." / "shared" / "corpus";
}

std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class VulnStoreCorpusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* sub : {"osv/ghsa", "sbom/SBOM/dropwizard-1.3.15/bom.json",
                            "sbom/SBOM/keycloak-10.0.2/bom.json"})
      if (!std::filesystem::exists(corpusDir() / sub))
        GTEST_SKIP() << "corpus not found: " << (corpusDir() / sub)
                     << " (set THREATDESK_CORPUS to the shared corpus directory)";
    open();
    auto org = store_->createOrg("Acme", std::nullopt);
    ASSERT_TRUE(org);
    ASSERT_TRUE(triage_->seedDefaultTags(org->id));
    auto project = store_->createProject(org->id, "acme-apps");
    ASSERT_TRUE(project);
    project_ = *project;
  }

  void open() {
    vuln_.reset();
    triage_.reset();
    store_.reset();
    auto s = store::openStore("sqlite:" + dir_.file("td.db"));
    ASSERT_TRUE(s) << s.error().message;
    store_ = std::move(*s);
    triage_ = std::make_unique<triage::TriageService>(*store_);
    vuln_ = std::make_unique<VulnService>(*store_, *triage_);
    ASSERT_TRUE(vuln_->loadAdvisories());
  }

  std::set<std::string> openIds(store::AssetId asset, const std::string& package,
                                const std::string& version) {
    std::set<std::string> ids;
    auto findings = store_->vuln().assetFindings(asset);
    EXPECT_TRUE(findings);
    if (findings)
      for (const auto& f : *findings)
        if (f.state == store::FindingState::kOpen && f.package == package &&
            f.version == version)
          ids.insert(f.advisory_id);
    return ids;
  }

  testing::TempDir dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<triage::TriageService> triage_;
  std::unique_ptr<VulnService> vuln_;
  store::Project project_;
};

constexpr const char* kJackson = "com.fasterxml.jackson.core:jackson-databind";

TEST_F(VulnStoreCorpusTest, DropwizardThenKeycloakThroughTheStore) {
  auto imported = vuln_->importAdvisories(corpusDir() / "osv" / "ghsa");
  ASSERT_TRUE(imported) << imported.error().message;
  EXPECT_TRUE(imported->report.errors.empty());
  EXPECT_EQ(imported->stored, imported->report.imported);
  EXPECT_EQ(static_cast<size_t>(*store_->vuln().countAdvisories()), vuln_->advisoryCount());

  store::AssetRecord a;
  a.project_id = project_.id;
  a.name = "billing-service";
  a.criticality = 3;
  auto asset = store_->vuln().createAsset(a);
  ASSERT_TRUE(asset);
  const store::Actor ci{std::nullopt, "ci"};

  auto first = vuln_->uploadSbom(
      asset->id, readFile(corpusDir() / "sbom/SBOM/dropwizard-1.3.15/bom.json"), ci);
  ASSERT_TRUE(first) << first.error().message;
  std::cout << "[vuln-store] stored " << imported->stored << " in memory " << vuln_->advisoryCount()
            << "; first scan: " << first->scan.components << " components, " << first->scan.open
            << " open, " << first->scan.not_checked.size() << " not checked\n";
  // The ten hand-worked advisories of jackson-databind 2.9.10 (scan_corpus_test.cpp).
  const std::set<std::string> at_2_9_10 = {
      "GHSA-57j2-w4cx-62h2", "GHSA-5r5r-6hpj-8gg9", "GHSA-89qr-369f-5m5x", "GHSA-8c4j-34r4-xr8g",
      "GHSA-8w26-6f25-cm9x", "GHSA-9gph-22xh-8x98", "GHSA-9m6f-7xcq-8vf8", "GHSA-cvm9-fjm9-3572",
      "GHSA-jjjh-jjxp-wpff", "GHSA-rgv9-q543-rqg4"};
  EXPECT_EQ(openIds(asset->id, kJackson, "2.9.10"), at_2_9_10);
  EXPECT_GT(first->scan.threats_created, 0);
  EXPECT_LE(first->scan.threats_created, first->scan.open);
  std::map<std::string, core::ThreatId> threat_of;
  auto findings = store_->vuln().assetFindings(asset->id);
  ASSERT_TRUE(findings);
  for (const auto& f : *findings) {
    ASSERT_TRUE(f.threat_id) << f.advisory_id;
    threat_of[f.advisory_id + " " + f.package] = *f.threat_id;
  }
  auto t = store_->getThreat(threat_of["GHSA-5r5r-6hpj-8gg9 " + std::string(kJackson)]);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->source, "Vulnerability");
  EXPECT_EQ(t->entity.value, "billing-service");
  EXPECT_NE(t->name.find(std::string(kJackson) + "@2.9.10"), std::string::npos) << t->name;
  EXPECT_NE(t->description.find("2.9.10.8"), std::string::npos);

  // A new process: the advisories come back from the store, and a rescan changes nothing.
  open();
  EXPECT_EQ(static_cast<size_t>(*store_->vuln().countAdvisories()), vuln_->advisoryCount());
  auto again = vuln_->scanAsset(asset->id);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->added, 0);
  EXPECT_EQ(again->resolved, 0);
  EXPECT_EQ(again->open, first->scan.open);

  // keycloak carries jackson-databind 2.10.1: just above the eight [2.0, 2.9.10.8) ranges.
  auto second = vuln_->uploadSbom(
      asset->id, readFile(corpusDir() / "sbom/SBOM/keycloak-10.0.2/bom.json"), ci);
  ASSERT_TRUE(second) << second.error().message;
  const std::set<std::string> at_2_10_1 = {"GHSA-57j2-w4cx-62h2", "GHSA-jjjh-jjxp-wpff",
                                           "GHSA-rgv9-q543-rqg4"};
  EXPECT_EQ(openIds(asset->id, kJackson, "2.10.1"), at_2_10_1);
  int closed = 0;
  for (const auto& id : at_2_9_10) {
    auto threat = store_->getThreat(threat_of[id + " " + kJackson]);
    ASSERT_TRUE(threat);
    if (at_2_10_1.count(id)) {
      EXPECT_FALSE(threat->closed) << id;  // still vulnerable after the upgrade: kept
      continue;
    }
    EXPECT_TRUE(threat->closed) << id;
    EXPECT_EQ(threat->outcome, "Remediated") << id;
    bool noted = false;
    auto notes = store_->listNotes(threat->id);
    ASSERT_TRUE(notes);
    for (const auto& n : *notes)
      noted |= n.text.find("upgraded from 2.9.10 to 2.10.1") != std::string::npos;
    EXPECT_TRUE(noted) << id;
    ++closed;
  }
  EXPECT_EQ(closed, 7);
  std::cout << "[vuln-store] ghsa advisories stored: " << imported->stored
            << "; dropwizard: " << first->scan.open << " findings, keycloak: " << second->scan.open
            << " findings, " << second->scan.resolved << " gone, " << second->scan.threats_closed
            << " threats closed as Remediated\n";
}

}  // namespace
}  // namespace td::server
