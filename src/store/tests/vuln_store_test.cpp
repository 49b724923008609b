// The vuln domain's store: assets, SBOM uploads kept with their components, advisories with
// their documents and filters, advisory files, findings upserted by key.
#include <gtest/gtest.h>

#include "store/tests/store_suite.h"
#include "store/vuln_store.h"

namespace td::store::testing {
namespace {

using core::ErrorCode;

class VulnStoreTest : public StoreFixture {
 protected:
  VulnStore& vuln() { return store().vuln(); }
  AssetRecord asset(const Project& p, const std::string& name) {
    AssetRecord a;
    a.project_id = p.id;
    a.name = name;
    a.host = name + ".example.test";
    a.owner = "platform team";
    a.entity_group = "payments";
    a.criticality = 4;
    auto created = vuln().createAsset(a);
    EXPECT_TRUE(created) << created.error().message;
    return created ? *created : a;
  }
};

TEST_P(VulnStoreTest, AssetsAreUniquePerProjectIgnoringCaseAndValidated) {
  auto t = makeTenant("Acme");
  auto other = store().createProject(t.org.id, "Acme-staging");
  ASSERT_TRUE(other);
  AssetRecord a = asset(t.project, "payments-api");
  EXPECT_GT(a.id, 0);
  EXPECT_EQ(a.criticality, 4);
  EXPECT_EQ(a.host, "payments-api.example.test");

  AssetRecord dup;
  dup.project_id = t.project.id;
  dup.name = "Payments-API";
  auto conflict = vuln().createAsset(dup);
  ASSERT_FALSE(conflict);
  EXPECT_EQ(conflict.error().code, ErrorCode::kConflict);
  EXPECT_EQ(conflict.error().field, "name");
  dup.project_id = other->id;
  EXPECT_TRUE(vuln().createAsset(dup));  // another project may use the name

  AssetRecord bad;
  bad.project_id = t.project.id;
  bad.name = "x";
  bad.criticality = 7;
  auto refused = vuln().createAsset(bad);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().field, "criticality");
  bad.criticality = 3;
  bad.project_id = 9999;
  refused = vuln().createAsset(bad);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().field, "project_id");

  a.owner = "sre";
  a.criticality = 5;
  auto updated = vuln().updateAsset(a);
  ASSERT_TRUE(updated) << updated.error().message;
  EXPECT_EQ(updated->owner, "sre");
  auto found = vuln().findAsset(t.project.id, "PAYMENTS-api");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, a.id);
  EXPECT_EQ(found->criticality, 5);

  auto listed = vuln().listAssets({t.project.id});
  ASSERT_TRUE(listed);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(vuln().listAssets({})->size(), 2u);
}

TEST_P(VulnStoreTest, EveryUploadIsKeptAndTheNewestIsCurrent) {
  auto t = makeTenant("Acme");
  AssetRecord a = asset(t.project, "web");
  SbomRecord s;
  s.asset_id = a.id;
  s.format = "CycloneDX";
  s.spec_version = "1.5";
  s.document = R"({"bomFormat":"CycloneDX"})";
  s.uploaded_by = "alice@acme.test";
  s.uploaded_at = 1000;
  auto first = vuln().addSbom(s, {{"r1", "lodash", "4.17.11", "pkg:npm/lodash@4.17.11", "npm",
                                   "lodash"}});
  ASSERT_TRUE(first) << first.error().message;
  s.uploaded_at = 2000;
  auto second = vuln().addSbom(s, {{"r1", "lodash", "4.17.21", "pkg:npm/lodash@4.17.21", "npm",
                                    "lodash"},
                                   {"r2", "left-pad", "1.3.0", "pkg:npm/left-pad@1.3.0", "npm",
                                    "left-pad"}});
  ASSERT_TRUE(second);
  EXPECT_EQ(second->component_count, 2);

  auto history = vuln().listSboms(a.id);
  ASSERT_TRUE(history);
  ASSERT_EQ(history->size(), 2u);
  EXPECT_EQ((*history)[0].id, second->id);  // newest first
  EXPECT_TRUE((*history)[0].document.empty());
  EXPECT_EQ(vuln().getAsset(a.id)->current_sbom_id, second->id);
  auto doc = vuln().getSbom(first->id, true);
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->document, s.document);
  auto comps = vuln().sbomComponents(first->id);
  ASSERT_TRUE(comps);
  ASSERT_EQ(comps->size(), 1u);
  EXPECT_EQ((*comps)[0].version, "4.17.11");

  SbomRecord orphan = s;
  orphan.asset_id = 4242;
  auto refused = vuln().addSbom(orphan, {});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, ErrorCode::kNotFound);

  reopen();
  EXPECT_EQ(vuln().listSboms(a.id)->size(), 2u);
}

TEST_P(VulnStoreTest, AdvisoriesAreReplacedByIdAndFiltered) {
  AdvisoryRecord a;
  a.id = "GHSA-aaaa-bbbb-cccc";
  a.modified = "2024-01-01T00:00:00Z";
  a.aliases = {"CVE-2024-0001"};
  a.summary = "Prototype pollution in lodash";
  a.severity = "HIGH";
  a.cvss = 7.5;
  a.packages = {{"npm", "lodash"}};
  a.document = R"({"id":"GHSA-aaaa-bbbb-cccc"})";
  AdvisoryRecord b;
  b.id = "PYSEC-2024-1";
  b.modified = "2024-02-01T00:00:00Z";
  b.withdrawn = "2024-03-01T00:00:00Z";
  b.summary = "Something in requests";
  b.packages = {{"PyPI", "requests"}};
  b.document = "{}";
  ASSERT_TRUE(vuln().putAdvisories({a, b}));
  EXPECT_EQ(*vuln().countAdvisories(), 2);

  a.summary = "Prototype pollution in lodash (revised)";
  a.packages = {{"npm", "lodash"}, {"npm", "lodash-es"}};
  ASSERT_TRUE(vuln().putAdvisories({a}));
  EXPECT_EQ(*vuln().countAdvisories(), 2);
  auto got = vuln().getAdvisory(a.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->summary, a.summary);
  EXPECT_EQ(got->packages.size(), 2u);
  EXPECT_EQ(got->document, a.document);
  ASSERT_TRUE(got->cvss);
  EXPECT_DOUBLE_EQ(*got->cvss, 7.5);
  EXPECT_EQ(got->aliases, a.aliases);

  AdvisoryListFilter f;
  f.query = "cve-2024-0001";
  EXPECT_EQ(vuln().listAdvisories(f)->total, 1);
  f = {};
  f.ecosystem = "pypi";
  auto page = vuln().listAdvisories(f);
  ASSERT_TRUE(page);
  ASSERT_EQ(page->items.size(), 1u);
  EXPECT_EQ(page->items[0].id, b.id);
  EXPECT_TRUE(page->items[0].document.empty());
  f = {};
  f.withdrawn = false;
  EXPECT_EQ(vuln().listAdvisories(f)->total, 1);
  f = {};
  f.query = "100%_";  // LIKE wildcards are literal
  EXPECT_EQ(vuln().listAdvisories(f)->total, 0);

  int seen = 0;
  ASSERT_TRUE(vuln().forEachAdvisory([&](const AdvisoryRecord& r) {
    ++seen;
    EXPECT_FALSE(r.document.empty());
    return true;
  }));
  EXPECT_EQ(seen, 2);

  EXPECT_FALSE(*vuln().advisoryFile("/osv/npm.zip"));
  ASSERT_TRUE(vuln().putAdvisoryFile({"/osv/npm.zip", 123, 456, 789, 10, 0}));
  auto file = vuln().advisoryFile("/osv/npm.zip");
  ASSERT_TRUE(file && *file);
  EXPECT_EQ((*file)->mtime_ns, 456);
}

TEST_P(VulnStoreTest, FindingsAreUpsertedByKeyAndListedByState) {
  auto t = makeTenant("Acme");
  AssetRecord a = asset(t.project, "web");
  FindingRecord f;
  f.key = "GHSA-1|npm|lodash";
  f.advisory_id = "GHSA-1";
  f.display_id = "CVE-2024-0001";
  f.ecosystem = "npm";
  f.package = "lodash";
  f.version = "4.17.11";
  f.fixed_versions = {"4.17.12"};
  f.severity = core::Severity::kHigh;
  f.score = 75;
  f.first_seen = f.last_seen = 100;
  f.threat_id = 42;
  FindingRecord g = f;
  g.key = "GHSA-2|npm|lodash";
  g.advisory_id = "GHSA-2";
  g.severity = core::Severity::kCritical;
  auto saved = vuln().saveFindings(a.id, {f, g}, 100);
  ASSERT_TRUE(saved) << saved.error().message;
  ASSERT_EQ(saved->size(), 2u);
  EXPECT_GT((*saved)[0].id, 0);

  auto asset_now = vuln().getAsset(a.id);
  ASSERT_TRUE(asset_now);
  EXPECT_EQ(asset_now->last_scan_at, 100);
  EXPECT_EQ(asset_now->open_findings[static_cast<size_t>(core::Severity::kHigh)], 1);
  EXPECT_EQ(asset_now->open_findings[static_cast<size_t>(core::Severity::kCritical)], 1);

  f.state = FindingState::kResolved;
  f.reason = "component upgraded";
  f.note = "lodash upgraded from 4.17.11 to 4.17.21";
  f.resolved_at = 200;
  f.last_seen = 200;
  f.first_seen = 999;  // not overwritten: first_seen stays
  ASSERT_TRUE(vuln().saveFindings(a.id, {f}, 200));
  auto all = vuln().assetFindings(a.id);
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].state, FindingState::kResolved);
  EXPECT_EQ((*all)[0].first_seen, 100);
  EXPECT_EQ((*all)[0].fixed_versions, std::vector<std::string>{"4.17.12"});
  EXPECT_EQ((*all)[0].threat_id, 42);

  FindingFilter open;
  open.asset_id = a.id;
  open.state = FindingState::kOpen;
  auto page = vuln().listFindings(open);
  ASSERT_TRUE(page);
  EXPECT_EQ(page->total, 1);
  EXPECT_EQ(page->items[0].advisory_id, "GHSA-2");
  FindingFilter other;
  other.projects = {t.project.id + 1000};
  EXPECT_EQ(vuln().listFindings(other)->total, 0);

  ASSERT_TRUE(vuln().deleteAsset(a.id));
  EXPECT_EQ(vuln().assetFindings(a.id)->size(), 0u);
  EXPECT_FALSE(vuln().getAsset(a.id));
  EXPECT_EQ(vuln().deleteAsset(a.id).error().code, ErrorCode::kNotFound);
}

TEST(FindingStateTest, NamesRoundTrip) {
  for (auto s : {FindingState::kOpen, FindingState::kResolved, FindingState::kSuppressed})
    EXPECT_EQ(*parseFindingState(findingStateName(s)), s);
  EXPECT_FALSE(parseFindingState("closed"));
}

INSTANTIATE_TEST_SUITE_P(Backends, VulnStoreTest, ::testing::Values(sqliteBackend(), postgresBackend()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace td::store::testing
