// Shared pieces of the store benchmarks: a scratch directory, a tenant with the default tags,
// realistic detections, timing and peak RSS.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "store/sqlite/sqlite_store.h"

namespace td::bench {

// A fresh directory under $TMPDIR (or /tmp), removed by the destructor.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A store for a benchmark: SQLite in `dir` (file `name`.db), or, when TD_BENCH_PG names a
// PostgreSQL server (postgresql://…), a new database td_bench_`name`_<pid> made on that server
// (left there: the benchmark server is a throwaway one). With PostgreSQL, `url` receives the
// database's URL, for further nodes on it; with SQLite it is left empty.
core::Result<std::unique_ptr<store::sqlite::SqliteStore>> openBenchStore(const ScratchDir& dir,
                                                                        const std::string& name,
                                                                        std::string* url);
// "PostgreSQL" when TD_BENCH_PG is set, else "SQLite".
const char* benchBackendName();

struct Tenant {
  store::Org org;
  store::Project project;
  std::vector<store::TagValue> states, outcomes, groups;
  std::vector<store::User> users;
};
// An organisation with states New, In Progress, On Hold, Closed; four outcomes; five groups;
// `users` users; one project.
Tenant makeTenant(store::Store& s, int users);

// The detection with unique key number `key`, seen at `seen`: realistic field sizes (a rule
// title, an entity, a host, a 200-byte JSON evidence, two ATT&CK tags).
core::Detection detectionFor(store::ProjectId project, std::int64_t key, core::TimeMs seen,
                             std::mt19937_64& rng);

double secondsSince(std::chrono::steady_clock::time_point start);
// Peak resident set size of this process in MiB.
double peakRssMiB();
// The q-quantile (0..1) of `samples` in milliseconds.
double quantileMs(std::vector<double> samples, double q);

}  // namespace td::bench
