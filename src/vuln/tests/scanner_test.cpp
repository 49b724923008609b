#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "vuln/scanner.h"

namespace td::vuln {
namespace {

const char* kAdvisory = R"({"id": "GHSA-jfh8-c2jp-5v3q", "modified": "2024-01-01T00:00:00Z",
  "aliases": ["CVE-2021-44228"], "summary": "Remote code injection in Log4j",
  "references": [{"type": "ADVISORY", "url": "https://nvd.nist.gov/vuln/detail/CVE-2021-44228"}],
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H"}],
  "affected": [{"package": {"ecosystem": "Maven", "name": "org.apache.logging.log4j:log4j-core"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.13.0"}, {"fixed": "2.15.0"}]}]}]})";

std::string bom(const std::string& version, const std::string& extra = "") {
  return R"({"bomFormat": "CycloneDX", "specVersion": "1.4", "version": 1, "components": [
    {"type": "library", "bom-ref": "log4j", "name": "log4j-core", "version": ")" + version +
         R"(", "purl": "pkg:maven/org.apache.logging.log4j/log4j-core@)" + version +
         R"(?type=jar"},
    {"type": "library", "name": "mystery", "version": "1"},
    {"type": "library", "name": "conan-thing", "version": "1", "purl": "pkg:conan/zlib@1.2"}
  ])" + extra + "}";
}

class ScannerTest : public ::testing::Test {
 protected:
  void SetUp() override { db_.importJson(kAdvisory, "log4shell.json"); }
  ScanResult scanDoc(const std::string& doc) {
    auto s = parseSbom(doc);
    EXPECT_TRUE(s) << s.error().message;
    return scan(*s, db_);
  }
  AdvisoryDb db_;
};

TEST_F(ScannerTest, FindsTheVulnerableComponentAndReportsTheOthers) {
  ScanResult r = scanDoc(bom("2.14.1"));
  ASSERT_EQ(r.findings.size(), 1u);
  const Finding& f = r.findings[0];
  EXPECT_EQ(f.display_id, "CVE-2021-44228");
  EXPECT_EQ(f.package, "org.apache.logging.log4j:log4j-core");
  EXPECT_EQ(f.fixed_versions, std::vector<std::string>{"2.15.0"});
  ASSERT_EQ(r.skipped.size(), 2u);
  EXPECT_EQ(r.skipped[0].reason, "no package URL");
  EXPECT_NE(r.skipped[1].reason.find("unsupported ecosystem \"conan\""), std::string::npos);
  EXPECT_TRUE(scanDoc(bom("2.15.0")).findings.empty());
  EXPECT_TRUE(scanDoc(bom("2.12.4")).findings.empty());
}

TEST_F(ScannerTest, DetectionCarriesNameEntityScoreAndEvidence) {
  ScanResult r = scanDoc(bom("2.14.1"));
  Asset asset{"payments-api", "pay-01", "alice", "prod", 3, 7};
  core::Detection d = toDetection(r.findings.at(0), asset);
  EXPECT_EQ(d.name, "CVE-2021-44228 in org.apache.logging.log4j:log4j-core@2.14.1");
  EXPECT_EQ(d.source, "Vulnerability");
  EXPECT_EQ(d.entity, (core::Entity{"asset", "payments-api"}));
  EXPECT_EQ(d.rule_id, "GHSA-jfh8-c2jp-5v3q org.apache.logging.log4j:log4j-core");
  EXPECT_EQ(d.check_by, core::CheckBy::kRule | core::CheckBy::kEntity);
  EXPECT_EQ(d.severity, core::Severity::kCritical);
  EXPECT_EQ(d.score, 100);
  EXPECT_EQ(d.project_id, 7);
  auto ev = nlohmann::json::parse(d.evidence_json);
  EXPECT_EQ(ev["advisory"], "GHSA-jfh8-c2jp-5v3q");
  EXPECT_EQ(ev["aliases"][0], "CVE-2021-44228");
  EXPECT_EQ(ev["fixed_versions"][0], "2.15.0");
  EXPECT_EQ(ev["references"][0], "https://nvd.nist.gov/vuln/detail/CVE-2021-44228");
  EXPECT_TRUE(core::validateDetection(d).has_value());
}

Asset assetWith(int criticality) {
  Asset a;
  a.name = "a";
  a.criticality = criticality;
  return a;
}

TEST_F(ScannerTest, AssetCriticalityMovesScoreAndSeverity) {
  Finding f;
  f.cvss = 5.0;
  EXPECT_EQ(riskOf(f, assetWith(3)).severity, core::Severity::kMedium);
  EXPECT_EQ(riskOf(f, assetWith(3)).score, 50);
  EXPECT_EQ(riskOf(f, assetWith(5)).severity, core::Severity::kHigh);
  EXPECT_EQ(riskOf(f, assetWith(5)).score, 60);
  EXPECT_EQ(riskOf(f, assetWith(1)).severity, core::Severity::kLow);
  Finding g;
  g.database_severity = "HIGH";
  EXPECT_EQ(riskOf(g, assetWith(3)).severity, core::Severity::kHigh);
}

TEST_F(ScannerTest, VexSuppressesWithJustification) {
  std::string vex = R"(, "vulnerabilities": [{"id": "CVE-2021-44228",
      "analysis": {"state": "not_affected", "justification": "code_not_reachable",
                   "detail": "JNDI lookups disabled"},
      "affects": [{"ref": "log4j"}]}])";
  ScanResult r = scanDoc(bom("2.14.1", vex));
  EXPECT_TRUE(r.findings.empty());
  ASSERT_EQ(r.suppressed.size(), 1u);
  EXPECT_EQ(r.suppressed[0].vex_state, "not_affected");
  EXPECT_EQ(r.suppressed[0].vex_justification, "code_not_reachable");
  // An exploitable/in_triage statement does not suppress.
  std::string triage = R"(, "vulnerabilities": [{"id": "CVE-2021-44228",
      "analysis": {"state": "in_triage"}, "affects": [{"ref": "log4j"}]}])";
  EXPECT_EQ(scanDoc(bom("2.14.1", triage)).findings.size(), 1u);
  // A statement from a separate VEX document naming the component by purl.
  auto sbom = parseSbom(bom("2.14.1"));
  ScanOptions options;
  options.vex.push_back(VexStatement{"GHSA-jfh8-c2jp-5v3q", {},
                                     {"pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"},
                                     "false_positive", "", "", {}});
  EXPECT_TRUE(scan(*sbom, db_, options).findings.empty());
}

TEST_F(ScannerTest, DiffGivesTheReasonAFindingWentAway) {
  ScanResult before = scanDoc(bom("2.14.1"));
  ScanDiff upgraded = diffScans(before, scanDoc(bom("2.17.1")), &db_);
  ASSERT_EQ(upgraded.gone.size(), 1u);
  EXPECT_EQ(upgraded.gone[0].reason, GoneReason::kComponentUpgraded);
  EXPECT_EQ(upgraded.gone[0].note, "org.apache.logging.log4j:log4j-core upgraded from 2.14.1 to 2.17.1");
  ScanDiff removed = diffScans(before, scanDoc(R"({"bomFormat": "CycloneDX", "specVersion": "1.4"})"), &db_);
  ASSERT_EQ(removed.gone.size(), 1u);
  EXPECT_EQ(removed.gone[0].reason, GoneReason::kComponentRemoved);
  ScanDiff same = diffScans(before, scanDoc(bom("2.14.0")), &db_);
  EXPECT_TRUE(same.gone.empty());  // still vulnerable after a change of version: same threat
  EXPECT_EQ(same.kept.size(), 1u);
  ScanDiff back = diffScans(scanDoc(bom("2.17.1")), before, &db_);
  EXPECT_EQ(back.added.size(), 1u);  // comes back: reopen
  std::string withdrawn = kAdvisory;
  const std::string old_modified = "\"modified\": \"2024-01-01T00:00:00Z\"";
  withdrawn.replace(withdrawn.find(old_modified), old_modified.size(),
                    "\"modified\": \"2025-01-01T00:00:00Z\", \"withdrawn\": \"2025-01-01T00:00:00Z\"");
  db_.importJson(withdrawn, "withdrawn.json");
  ScanDiff w = diffScans(before, scanDoc(bom("2.14.1")), &db_);
  ASSERT_EQ(w.gone.size(), 1u);
  EXPECT_EQ(w.gone[0].reason, GoneReason::kAdvisoryWithdrawn);
}

class RecordingSink : public core::DetectionSink {
 public:
  void submit(std::vector<core::Detection> batch) override {
    for (auto& d : batch) received.push_back(std::move(d));
    ++batches;
  }
  std::vector<core::Detection> received;
  int batches = 0;
};

TEST_F(ScannerTest, SubmitsOneBatchToTheSink) {
  RecordingSink sink;
  Asset asset = assetWith(3);
  submitFindings(scanDoc(bom("2.14.1")), asset, sink);
  submitFindings(scanDoc(bom("2.15.0")), asset, sink);  // no findings: no empty batch
  EXPECT_EQ(sink.batches, 1);
  ASSERT_EQ(sink.received.size(), 1u);
  EXPECT_EQ(sink.received[0].source, "Vulnerability");
}

TEST_F(ScannerTest, AliasAdvisoriesMergeIntoOneFinding) {
  db_.importJson(R"({"id": "OTHER-1", "aliases": ["CVE-2021-44228"],
    "affected": [{"package": {"ecosystem": "Maven", "name": "org.apache.logging.log4j:log4j-core"},
      "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.16.0"}]}]}]})", "x");
  ScanResult r = scanDoc(bom("2.14.1"));
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].also, std::vector<std::string>{"OTHER-1"});
  EXPECT_EQ(r.findings[0].fixed_versions.size(), 2u);
}

}  // namespace
}  // namespace td::vuln
