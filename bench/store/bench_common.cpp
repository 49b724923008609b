#include "bench_common.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "store/postgres/connection.h"

namespace td::bench {

ScratchDir::ScratchDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmp ? tmp : "/tmp") + "/td-store-bench-XXXXXX";
  if (!mkdtemp(tmpl.data())) std::abort();
  path_ = tmpl;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

core::Result<std::unique_ptr<store::sqlite::SqliteStore>> openBenchStore(const ScratchDir& dir,
                                                                        const std::string& name,
                                                                        std::string* url) {
  const char* pg = std::getenv("TD_BENCH_PG");
  if (!pg || !*pg) return store::sqlite::SqliteStore::open(dir.path() + "/" + name + ".db");
  const std::string base = pg;
  const std::string db = "td_bench_" + name + "_" + std::to_string(getpid());
  auto admin = store::postgres::PgConnection::open(base);
  if (!admin) return core::fail(admin.error());
  if (auto st = (*admin)->exec("CREATE DATABASE " + db); !st) return core::fail(st.error());
  *url = base.substr(0, base.rfind('/') + 1) + db;
  return store::sqlite::SqliteStore::openPostgres(*url);
}

const char* benchBackendName() {
  const char* pg = std::getenv("TD_BENCH_PG");
  return pg && *pg ? "PostgreSQL" : "SQLite";
}

Tenant makeTenant(store::Store& s, int users) {
  Tenant t;
  t.org = *s.createOrg("Bench Org", std::nullopt);
  t.project = *s.createProject(t.org.id, "bench");
  int i = 0;
  for (const char* n : {"New", "In Progress", "On Hold", "Closed"})
    t.states.push_back(*s.addTag(t.org.id, store::TagKind::kState, n, i++));
  i = 0;
  for (const char* n : {"Malicious", "Benign", "False Positive", "Remediated"})
    t.outcomes.push_back(*s.addTag(t.org.id, store::TagKind::kOutcome, n, i++));
  i = 0;
  for (const char* n : {"L1 Support", "L2 Support", "Patching", "Network", "Identity"})
    t.groups.push_back(*s.addTag(t.org.id, store::TagKind::kGroup, n, i++));
  for (int u = 0; u < users; ++u) {
    store::User user;
    user.org_id = t.org.id;
    user.email = "analyst" + std::to_string(u) + "@example.com";
    t.users.push_back(*s.createUser(user));
  }
  return t;
}

namespace {
const char* kRuleTitles[] = {"Suspicious PowerShell Encoded Command",
                             "Mimikatz Credential Dumping",
                             "Outbound Connection to Known C2",
                             "New Service Installed via sc.exe",
                             "Scheduled Task Persistence",
                             "Vulnerable OpenSSL Package",
                             "LSASS Memory Access",
                             "Office Spawning Script Interpreter",
                             "Brute Force Login Attempts",
                             "DNS Query to Malicious Domain"};
const char* kSources[] = {"Rule", "Threat Intelligence", "Vulnerability", "API", "Manual"};
}  // namespace

core::Detection detectionFor(store::ProjectId project, std::int64_t key, core::TimeMs seen,
                             std::mt19937_64& rng) {
  core::Detection d;
  d.project_id = project;
  const std::int64_t rule = key % 1000;
  const std::int64_t entity = key / 1000;
  d.rule_id = "sigma-" + std::to_string(rule);
  d.name = std::string(kRuleTitles[rule % 10]) + " #" + std::to_string(rule);
  d.description = "Raised by rule " + d.rule_id + " on the entity below; see the evidence.";
  d.score = static_cast<int>(rng() % 101);
  d.severity = core::severityForScore(d.score);
  d.kind = rng() % 4 == 0 ? core::ThreatKind::kSignal : core::ThreatKind::kThreat;
  d.source = kSources[rule % 5];
  d.rule_group = "attack.execution";
  d.entity = {"host", "ws-" + std::to_string(entity)};
  d.entity_group = "site-" + std::to_string(entity % 30);
  d.host = d.entity.value + ".corp.example.com";
  d.tags = {"T1059.001", "T1027"};
  d.evidence_json =
      R"({"EventID":4688,"Image":"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","CommandLine":"powershell -nop -w hidden -enc SQBFAFgA","User":"CORP\\alice","n":)" +
      std::to_string(rng() % 100000) + "}";
  d.seen_at = seen;
  return d;
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double peakRssMiB() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;  // Linux reports KiB
}

double quantileMs(std::vector<double> samples, double q) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  const auto idx = static_cast<size_t>(q * static_cast<double>(samples.size() - 1) + 0.5);
  return samples[std::min(idx, samples.size() - 1)];
}

}  // namespace td::bench
