#include "app/demo.h"

#include <array>
#include <random>

#include <fmt/format.h>

#include "server/auth.h"
#include "triage/service.h"
#ifdef TD_WITH_INTEL_SYNC
#include "intel/sync/feed_service.h"
#endif
#ifdef TD_WITH_RULES
#include "app/demo_rules.h"
#endif
#ifdef TD_WITH_VULN
#include "server/vuln_service.h"
#endif
#ifdef TD_WITH_REPORT_ROUTES
#include "report/scheduler.h"
#include "report/templates.h"
#endif

namespace td::app {
namespace {

using core::Severity;

struct Template {
  const char* name;
  std::string_view source;
  Severity severity;
  const char* rule_id;
  const char* rule_group;
  const char* tag;
  const char* entity_type;  // host, user, ip, asset
  const char* group;        // initial queue
};

// Made up for the demo, modelled on what Sigma rules, intel feeds and SBOM scans raise.
constexpr std::array<Template, 16> kTemplates = {{
    {"Suspicious Encoded PowerShell Command Line", core::source::kRule, Severity::kHigh,
     "ca2092a1-c273-4878-9b4b-0d60115bf5ea", "Windows Process Creation", "T1059.001", "host",
     "L1 Support"},
    {"Mimikatz Command Line", core::source::kRule, Severity::kCritical,
     "a642964e-bead-4bed-8910-1bb4d63e3b4d", "Credential Access", "T1003.001", "host",
     "L2 Support"},
    {"LSASS Memory Access by Unusual Process", core::source::kRule, Severity::kHigh,
     "32d0d3e2-e58d-4d41-926b-18b520b2b32d", "Credential Access", "T1003.001", "host",
     "L2 Support"},
    {"Scheduled Task Created from Temp Folder", core::source::kRule, Severity::kMedium,
     "92626ddd-662c-49e3-ac59-f6535f12d189", "Persistence", "T1053.005", "host", "L1 Support"},
    {"Windows Defender Real-Time Protection Disabled", core::source::kRule, Severity::kHigh,
     "fd115e64-97c7-491f-951c-fc8da7e042fa", "Defense Evasion", "T1562.001", "host",
     "L1 Support"},
    {"Brute Force: Many Failed Logons for One User", core::source::kRule, Severity::kMedium,
     "brute-force-threshold", "Correlation", "T1110", "user", "L1 Support"},
    {"RDP Logon from Unusual Source", core::source::kRule, Severity::kLow,
     "rdp-unusual-source", "Lateral Movement", "T1021.001", "user", "L1 Support"},
    {"Connection to Known C2 Server (Feodo Tracker)", core::source::kIntel, Severity::kCritical,
     "feodo-ipblocklist", "abuse.ch", "T1071.001", "ip", "L2 Support"},
    {"DNS Query for Known Phishing Domain", core::source::kIntel, Severity::kHigh,
     "misp-phishing-domains", "MISP", "T1566.002", "host", "L1 Support"},
    {"File Hash Matches Emotet Sample", core::source::kIntel, Severity::kCritical,
     "threatfox-hashes", "ThreatFox", "T1204.002", "host", "L2 Support"},
    {"CVE-2024-3094 in xz-utils 5.6.0", core::source::kVulnerability, Severity::kCritical,
     "CVE-2024-3094", "OSV", "", "asset", "Patching"},
    {"CVE-2021-44228 (Log4Shell) in log4j-core 2.14.1", core::source::kVulnerability,
     Severity::kCritical, "CVE-2021-44228", "OSV", "", "asset", "Patching"},
    {"GHSA-jf85-cpcp-j695 in lodash 4.17.11", core::source::kVulnerability, Severity::kHigh,
     "GHSA-jf85-cpcp-j695", "OSV", "", "asset", "Patching"},
    {"CVE-2023-44487 (HTTP/2 Rapid Reset) in golang.org/x/net", core::source::kVulnerability,
     Severity::kMedium, "CVE-2023-44487", "OSV", "", "asset", "Patching"},
    {"Phishing E-mail Reported by Finance", core::source::kManual, Severity::kMedium, "", "", "T1566",
     "user", "L1 Support"},
    {"EDR Quarantined Trojan", core::source::kApi, Severity::kHigh, "edr-quarantine", "EDR",
     "T1204", "host", "L1 Support"},
}};

constexpr std::array<const char*, 8> kUsers = {"alice", "bob", "carol", "dave",
                                               "erin",  "frank", "grace", "heidi"};
constexpr std::array<const char*, 6> kAssets = {"payments-api", "checkout-web", "ledger-db",
                                                "auth-service", "reporting-etl", "mobile-bff"};
constexpr std::array<const char*, 6> kIps = {"198.51.100.23", "203.0.113.77", "192.0.2.145",
                                             "198.51.100.201", "203.0.113.9", "192.0.2.18"};

std::string hostName(std::mt19937& rng) {
  std::uniform_int_distribution<int> pick(0, 99);
  int n = pick(rng);
  if (n < 70) return fmt::format("WS-{:03d}", n + 1);
  if (n < 80) return "SRV-DC0" + std::to_string(n % 3 + 1);
  if (n < 92) return "SRV-FILE0" + std::to_string(n % 4 + 1);
  return "web-0" + std::to_string(n % 5 + 1);
}

std::string entityGroupOf(const std::string& host) {
  if (host.rfind("WS-", 0) == 0) return "Workstations";
  if (host.rfind("SRV-DC", 0) == 0) return "Domain Controllers";
  if (host.rfind("web-", 0) == 0) return "DMZ";
  return "Servers";
}

#ifdef TD_WITH_VULN
// Three made-up OSV advisories (npm, PyPI, Maven) and two assets whose small made-up SBOMs hit
// them, so that the vulnerability views have something to show. Nothing here is real data.
constexpr const char* kDemoAdvisories = R"json([
{"id": "DEMO-2026-0001", "modified": "2026-01-10T00:00:00Z", "published": "2026-01-10T00:00:00Z",
 "aliases": ["CVE-2026-90001"], "summary": "Request smuggling in acme-http (made up for the demo)",
 "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N"}],
 "references": [{"type": "WEB", "url": "https://example.com/demo/acme-http"}],
 "affected": [{"package": {"ecosystem": "npm", "name": "acme-http"},
   "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "3.2.1"}]}]}]},
{"id": "DEMO-2026-0002", "modified": "2026-02-03T00:00:00Z", "published": "2026-02-03T00:00:00Z",
 "aliases": ["CVE-2026-90002"], "summary": "Unbounded recursion in fastjsonx (made up for the demo)",
 "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}],
 "affected": [{"package": {"ecosystem": "PyPI", "name": "fastjsonx"},
   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"fixed": "1.8.2"}]}]}]},
{"id": "DEMO-2026-0003", "modified": "2026-03-15T00:00:00Z", "published": "2026-03-15T00:00:00Z",
 "aliases": ["CVE-2026-90003"], "summary": "Log message injection in tinylog-core (made up for the demo)",
 "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:L/I:L/A:N"}],
 "affected": [{"package": {"ecosystem": "Maven", "name": "org.example.demo:tinylog-core"},
   "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.0"}, {"fixed": "2.4.1"}]}]}]}
])json";

std::string demoSbom(const std::string& subject,
                     const std::vector<std::pair<std::string, std::string>>& components) {
  std::string out = R"({"bomFormat": "CycloneDX", "specVersion": "1.5", "version": 1,
 "metadata": {"component": {"type": "application", "name": ")" +
                    subject + R"("}}, "components": [)";
  for (size_t i = 0; i < components.size(); ++i) {
    const auto& [name, purl] = components[i];
    const auto at = purl.rfind('@');
    out += std::string(i ? "," : "") + R"({"type": "library", "name": ")" + name +
           R"(", "version": ")" + purl.substr(at + 1) + R"(", "purl": ")" + purl + R"("})";
  }
  return out + "]}";
}

core::Status seedVulnDemo(store::Store& store, triage::TriageService& triage,
                          const store::Project& project) {
  server::VulnService vuln(store, triage);
  if (auto imported = vuln.importAdvisoryJson(kDemoAdvisories, "demo"); !imported)
    return core::fail(imported.error());
  struct DemoAsset {
    const char* name;
    const char* host;
    const char* owner;
    int criticality;
    std::vector<std::pair<std::string, std::string>> components;
  };
  const std::vector<DemoAsset> assets = {
      {"payments-api", "pay-api-01.demo.local", "Payments team", 5,
       {{"acme-http", "pkg:npm/acme-http@3.1.0"},
        {"tinylog-core", "pkg:maven/org.example.demo/tinylog-core@2.3.0"},
        {"left-pad", "pkg:npm/left-pad@1.3.0"}}},
      {"checkout-web", "checkout-01.demo.local", "Web team", 3,
       {{"acme-http", "pkg:npm/acme-http@3.2.1"}, {"fastjsonx", "pkg:pypi/fastjsonx@1.7.0"}}},
  };
  for (const auto& a : assets) {
    store::AssetRecord rec;
    rec.project_id = project.id;
    rec.name = a.name;
    rec.host = a.host;
    rec.owner = a.owner;
    rec.entity_group = "Applications";
    rec.criticality = a.criticality;
    auto created = store.vuln().createAsset(rec);
    if (!created) return core::fail(created.error());
    auto uploaded = vuln.uploadSbom(created->id, demoSbom(a.name, a.components),
                                    store::Actor{std::nullopt, "system"});
    if (!uploaded) return core::fail(uploaded.error());
  }
  return {};
}
#endif

#ifdef TD_WITH_INTEL_SYNC
// One small feed of made-up indicators (documentation address ranges, reserved example domains),
// so that the Intel page has something to show and search.
constexpr const char* kDemoFeed =
    "# ioc,type,malware,confidence,first_seen_utc\n"
    "198.51.100.23,ip,Emotet,90,2026-10-01 08:00:00\n"
    "203.0.113.77,ip,QakBot,80,2026-10-12 14:30:00\n"
    "203.0.113.0/28,cidr,Cobalt Strike,70,2026-10-20 09:15:00\n"
    "login-verify.example,domain,Phishing kit,75,2026-11-02 11:00:00\n"
    "http://cdn.bad-updates.example/payload.bin,url,IcedID,85,2026-11-05 16:45:00\n"
    "44d88612fea8a8f36de82e1278abb02f,md5,EICAR test file,60,2026-11-10 10:00:00\n"
    "invoice-reminder@billing-alerts.example,email,Phishing kit,65,2026-11-12 07:20:00\n";

core::Status seedIntelDemo(store::Store& store, core::OrgId org) {
  intel::sync::FeedService feeds(store);
  store::IntelFeed feed;
  feed.org_id = org;
  feed.name = "Demo C2 and phishing indicators";
  feed.type = "csv";
  feed.source = std::string(intel::sync::kUploadSource);
  feed.mapping_json = R"({"column":"ioc"})";
  feed.default_confidence = 70;
  auto created = feeds.createFeed(feed);
  if (!created) return core::fail(created.error());
  auto imported = feeds.importContent(created->id, kDemoFeed, "demo");
  if (!imported) return core::fail(imported.error());
  return {};
}
#endif

#ifdef TD_WITH_REPORT_ROUTES
// A saved report with two versions (from the weekly template, then retitled) and a schedule that
// is switched off (the demo mails no one), so the Reports pages have something to show.
core::Status seedReportDemo(store::Store& store, core::ProjectId project, core::TimeMs now) {
  auto weekly = report::findTemplate("weekly-soc-summary");
  if (!weekly) return core::fail(weekly.error());
  auto created =
      store.reports().createReport(project, "Weekly SOC summary", weekly->document, "system");
  if (!created) return core::fail(created.error());
  std::string retitled = weekly->document;
  const std::string from = "\"title\": \"Weekly SOC summary\"";
  if (auto at = retitled.find(from); at != std::string::npos)
    retitled.replace(at, from.size(), "\"title\": \"Corporate IT: weekly SOC summary\"");
  auto updated = store.reports().updateReport(created->id, std::nullopt, retitled,
                                              "alice@demo.local", created->version);
  if (!updated) return core::fail(updated.error());
  store::ReportSchedule schedule;
  schedule.report_id = created->id;
  schedule.cron = "0 8 * * MON";
  schedule.time_zone = "Europe/London";
  schedule.recipients = {"soc-leads@demo.local"};
  schedule.enabled = false;
  auto prepared = report::prepareSchedule(schedule, now);
  if (!prepared) return core::fail(prepared.error());
  if (auto s = store.reports().createSchedule(*prepared); !s) return core::fail(s.error());
  return {};
}
#endif

}  // namespace

core::Result<DemoSeeded> seedDemo(store::Store& store, core::TimeMs now) {
  DemoSeeded out;
  auto orgs = store.listOrgs();
  if (!orgs) return core::fail(orgs.error());
  if (!orgs->empty()) return out;

  triage::TriageService triage(store);
  auto org = store.createOrg("Demo Security", std::nullopt);
  if (!org) return core::fail(org.error());
  if (auto s = triage.seedDefaultTags(org->id); !s) return core::fail(s.error());
  for (const char* extra : {"Patching", "Incident Response"})
    if (auto t = triage.addTag(org->id, store::TagKind::kGroup, extra, std::nullopt); !t)
      return core::fail(t.error());

  auto corporate = store.createProject(org->id, "Corporate IT");
  if (!corporate) return core::fail(corporate.error());
  auto payments = store.createProject(org->id, "Payments Platform");
  if (!payments) return core::fail(payments.error());

  out.admin_email = "admin@demo.local";
  out.admin_password = server::generatePassword();
  store::User admin;
  admin.org_id = org->id;
  admin.email = out.admin_email;
  admin.display_name = "Demo Admin";
  admin.role = store::Role::kAdmin;
  auto hash = server::hashPassword(out.admin_password);
  if (!hash) return core::fail(hash.error());
  admin.password_hash = *hash;
  if (auto u = store.createUser(admin); !u) return core::fail(u.error());
  for (const char* analyst : {"alice@demo.local", "bob@demo.local"}) {
    store::User u;
    u.org_id = org->id;
    u.email = analyst;
    u.role = store::Role::kOperator;
    u.time_zone = "Europe/London";
    u.password_hash = *server::hashPassword(server::generatePassword());
    if (auto created = store.createUser(u); !created) return core::fail(created.error());
  }

  auto groups = store.listTags(org->id, store::TagKind::kGroup);
  if (!groups) return core::fail(groups.error());
  auto groupId = [&](std::string_view name) -> std::optional<core::TagId> {
    for (const auto& g : *groups)
      if (g.name == name) return g.id;
    return std::nullopt;
  };

  // A fixed seed keeps the demo the same from one run to the next, relative to today.
  std::mt19937 rng(20261123);
  std::uniform_int_distribution<int> pick_template(0, kTemplates.size() - 1);
  std::exponential_distribution<double> age_days(1.0 / 9.0);
  std::vector<core::Detection> detections;
  std::vector<std::optional<core::TagId>> group_ids;
  for (int i = 0; i < 520; ++i) {
    const Template& t = kTemplates[pick_template(rng)];
    core::Detection d;
    const bool vuln = t.source == core::source::kVulnerability;
    d.project_id = vuln || i % 5 == 0 ? payments->id : corporate->id;
    d.name = t.name;
    d.source = std::string(t.source);
    d.severity = t.severity;
    d.score = std::clamp(core::scoreForSeverity(t.severity) + int(rng() % 15) - 7, 0, 100);
    d.kind = t.severity >= Severity::kHigh ? core::ThreatKind::kThreat : core::ThreatKind::kSignal;
    d.rule_id = t.rule_id;
    d.rule_group = t.rule_group;
    if (*t.tag) d.tags = {t.tag};
    std::string host = hostName(rng);
    const std::string type = t.entity_type;
    if (type == "host") {
      d.entity = {"host", host};
    } else if (type == "user") {
      d.entity = {"user", kUsers[rng() % kUsers.size()]};
    } else if (type == "ip") {
      d.entity = {"ip", kIps[rng() % kIps.size()]};
    } else {
      host = kAssets[rng() % kAssets.size()];
      d.entity = {"asset", host};
    }
    d.host = host;
    d.entity_group = vuln ? "Applications" : entityGroupOf(host);
    d.description = std::string(t.name) + " on " + host + ".";
    d.evidence_json = "{\"demo\":true,\"host\":\"" + host + "\",\"sequence\":" + std::to_string(i) + "}";
    d.seen_at = now - static_cast<core::TimeMs>(std::min(age_days(rng), 29.9) * core::kDayMs);
    detections.push_back(std::move(d));
    group_ids.push_back(groupId(t.group));
  }
  // Oldest first, as they would have arrived.
  std::vector<size_t> order(detections.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return detections[a].seen_at < detections[b].seen_at; });
  std::vector<core::Detection> sorted;
  std::vector<std::optional<core::TagId>> sorted_groups;
  for (size_t i : order) {
    sorted.push_back(detections[i]);
    sorted_groups.push_back(group_ids[i]);
  }
  const store::Actor system{std::nullopt, "system"};
  auto written = store.applyDetections(sorted, sorted_groups, system);
  if (!written) return core::fail(written.error());
  out.threats = static_cast<int>(written->created);

  // Work some of them as a team would have: older threats are more often closed.
  const store::Actor alice{std::nullopt, "alice@demo.local"};
  const std::array<const char*, 4> outcomes = {"False Positive", "Benign", "Remediated",
                                               "Malicious"};
  for (core::ThreatId id : written->created_ids) {
    auto threat = store.getThreat(id);
    if (!threat) continue;
    const double age = double(now - threat->created_at) / core::kDayMs;
    const int roll = static_cast<int>(rng() % 100);
    triage::ChangeRequest change;
    if (roll < 35 + age * 2) {
      change.state = "Closed";
      change.outcome = outcomes[rng() % outcomes.size()];
      change.owner = rng() % 2 ? "alice@demo.local" : "bob@demo.local";
    } else if (roll < 60 + age) {
      change.state = "In Progress";
      change.owner = rng() % 2 ? "alice@demo.local" : "bob@demo.local";
    } else if (roll < 68 + age) {
      change.state = "On Hold";
      change.note = "Waiting for the asset owner to confirm the change window.";
    } else {
      continue;
    }
    (void)triage.change(id, change, alice);
  }
#ifdef TD_WITH_VULN
  if (auto s = seedVulnDemo(store, triage, *payments); !s) return core::fail(s.error());
#endif
#ifdef TD_WITH_RULES
  if (auto s = seedDemoRules(store); !s) return core::fail(s.error());
#endif
#ifdef TD_WITH_INTEL_SYNC
  if (auto s = seedIntelDemo(store, org->id); !s) return core::fail(s.error());
#endif
#ifdef TD_WITH_REPORT_ROUTES
  if (auto s = seedReportDemo(store, corporate->id, now); !s) return core::fail(s.error());
#endif
  out.seeded = true;
  return out;
}

}  // namespace td::app
