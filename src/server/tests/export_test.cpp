// Export over HTTP: CSV and NDJSON, streamed in chunks, with the list's filters.
#include <atomic>
#include <future>
#include <sstream>
#include <thread>

#include "server/tests/api_fixture.h"

namespace td::server {
namespace {

class ExportTest : public ApiTest {
 protected:
  // Many threats through the store's batch write (the sink's path), fast enough for tests.
  void seedMany(const store::Project& project, int n, core::Severity severity,
                const std::string& prefix) {
    std::vector<core::Detection> batch;
    for (int i = 0; i < n; ++i) {
      core::Detection d;
      d.project_id = project.id;
      d.name = prefix + " " + std::to_string(i);
      d.source = "Rule";
      d.rule_id = prefix + std::to_string(i);
      d.entity = {"host", "H" + std::to_string(i)};
      d.severity = severity;
      d.score = core::scoreForSeverity(severity);
      d.seen_at = core::nowMs();
      batch.push_back(d);
    }
    auto r = store_->applyDetections(batch, std::vector<std::optional<core::TagId>>(n),
                                     store::Actor{std::nullopt, "system"});
    ASSERT_TRUE(r) << r.error().message;
  }
  static std::vector<std::string> lines(const std::string& body) {
    std::vector<std::string> out;
    std::istringstream in(body);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) out.push_back(line);
    }
    return out;
  }
};

TEST_F(ExportTest, CsvHasHeaderAndOneRowPerThreatWithFilters) {
  seedMany(a_prod_, 20, core::Severity::kHigh, "high");
  seedMany(a_prod_, 7, core::Severity::kLow, "low");
  seedMany(b_prod_, 5, core::Severity::kHigh, "other");
  Creds t = bearer(a_prod_, store::Scope::kRead);

  auto all = get("/api/v1/threats/export?format=csv", t);
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_NE(all.headers["Content-Type"].find("text/csv"), std::string::npos);
  EXPECT_EQ(all.headers["Transfer-Encoding"], "chunked");
  auto rows = lines(all.body);
  ASSERT_EQ(rows.size(), 28u);
  EXPECT_EQ(rows[0].rfind("id,project_id,name,score,severity", 0), 0u);

  auto high = lines(get("/api/v1/threats/export?format=csv&severity=HIGH", t).body);
  EXPECT_EQ(high.size(), 21u);
  for (size_t i = 1; i < high.size(); ++i) EXPECT_NE(high[i].find(",HIGH,"), std::string::npos);
  auto text = lines(get("/api/v1/threats/export?format=csv&text=low%201", t).body);
  EXPECT_EQ(text.size(), 2u);  // header + "low 1"
}

TEST_F(ExportTest, NdjsonHasOneThreatPerLine) {
  seedMany(a_prod_, 15, core::Severity::kMedium, "m");
  Creds t = bearer(a_prod_, store::Scope::kRead);
  auto a = get("/api/v1/threats/export?format=ndjson&sort=created&order=asc", t);
  ASSERT_EQ(a.status, 200) << a.body;
  EXPECT_EQ(a.headers["Content-Type"], "application/x-ndjson");
  auto rows = lines(a.body);
  ASSERT_EQ(rows.size(), 15u);
  int64_t last_id = 0;
  for (const auto& row : rows) {
    Json j = Json::parse(row, nullptr, false);
    ASSERT_TRUE(j.is_object()) << row;
    EXPECT_EQ(j["project_id"], a_prod_.id);
    EXPECT_GT(j["id"].get<int64_t>(), last_id);
    last_id = j["id"];
  }
}

TEST_F(ExportTest, SpreadsheetFormulasAndSeparatorsAreNeutralised) {
  seedThreat(a_prod_, "=HYPERLINK(\"http://evil\",\"x\")");
  seedThreat(a_prod_, "a, \"quoted\"\nname");
  Creds t = bearer(a_prod_, store::Scope::kRead);
  auto a = get("/api/v1/threats/export?format=csv", t);
  ASSERT_EQ(a.status, 200);
  EXPECT_NE(a.body.find("\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\""), std::string::npos)
      << a.body;
  EXPECT_NE(a.body.find("\"a, \"\"quoted\"\"\nname\""), std::string::npos) << a.body;
}

TEST_F(ExportTest, LargeExportArrivesInManyChunks) {
  for (int i = 0; i < 4; ++i)
    seedMany(a_prod_, 1000, core::Severity::kHigh, "bulk" + std::to_string(i));
  Creds t = bearer(a_prod_, store::Scope::kRead);
  httplib::Client client("127.0.0.1", port_);
  size_t chunks = 0;
  size_t bytes = 0;
  size_t newlines = 0;
  auto r = client.Get("/api/v1/threats/export?format=ndjson",
                      {{"Authorization", "Bearer " + t.bearer}}, [&](const char* data, size_t n) {
                        ++chunks;
                        bytes += n;
                        newlines += std::count(data, data + n, '\n');
                        return true;
                      });
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(newlines, 4000u);
  EXPECT_GT(chunks, 2u) << bytes << " bytes";
}

TEST_F(ExportTest, ExportNeedsReadAccessToTheProject) {
  Creds write_only = bearer(a_prod_, store::Scope::kWrite);
  EXPECT_EQ(get("/api/v1/threats/export", write_only).status, 403);
  Creds s = login("operator@a.test");
  EXPECT_EQ(get("/api/v1/threats/export?project=b-prod", s).status, 404);
}

TEST_F(ExportTest, StopLetsAnExportInFlightFinish) {
  for (int i = 0; i < 3; ++i)
    seedMany(a_prod_, 1000, core::Severity::kHigh, "s" + std::to_string(i));
  Creds t = bearer(a_prod_, store::Scope::kRead);
  std::promise<void> first_chunk;
  std::atomic<bool> signalled{false};
  auto download = std::async(std::launch::async, [&] {
    httplib::Client client("127.0.0.1", port_);
    client.set_read_timeout(30, 0);
    size_t newlines = 0;
    auto r = client.Get("/api/v1/threats/export?format=ndjson",
                        {{"Authorization", "Bearer " + t.bearer}}, [&](const char* data, size_t n) {
                          newlines += std::count(data, data + n, '\n');
                          if (!signalled.exchange(true)) {
                            first_chunk.set_value();
                            // A slow reader: the server must keep going after stop().
                            std::this_thread::sleep_for(std::chrono::milliseconds(200));
                          }
                          return true;
                        });
    return std::make_pair(r ? r->status : 0, newlines);
  });
  first_chunk.get_future().wait();
  server_->stop();  // returns once the export has been written
  auto [status, newlines] = download.get();
  EXPECT_EQ(status, 200);
  EXPECT_EQ(newlines, 3000u);
}

TEST_F(ExportTest, ManyConcurrentClientsAreServed) {
  seedMany(a_prod_, 50, core::Severity::kLow, "c");
  Creds t = bearer(a_prod_, store::Scope::kRead | store::Scope::kWrite);
  std::vector<std::future<int>> calls;
  for (int i = 0; i < 16; ++i)
    calls.push_back(std::async(std::launch::async, [&, i] {
      httplib::Client client("127.0.0.1", port_);
      client.set_read_timeout(30, 0);
      httplib::Headers h = {{"Authorization", "Bearer " + t.bearer}};
      auto r = i % 2 == 0 ? client.Get("/api/v1/overview", h)
                          : client.Post("/api/v1/threats", h,
                                        Json{{"name", "parallel " + std::to_string(i)}}.dump(),
                                        "application/json");
      return r ? r->status : 0;
    }));
  for (size_t i = 0; i < calls.size(); ++i) EXPECT_EQ(calls[i].get(), i % 2 == 0 ? 200 : 201);
}

}  // namespace
}  // namespace td::server
