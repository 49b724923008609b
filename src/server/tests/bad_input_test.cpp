// Bad input over HTTP: every failure is a JSON error with the right status and field, never a
// 500 and never a crash.
#include <zlib.h>

#include "server/tests/api_fixture.h"

namespace td::server {
namespace {

class BadInputTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    t_ = bearer(a_prod_);
  }
  void expectError(const HttpAnswer& a, int status, const std::string& field = "",
                   const std::string& where = "") {
    EXPECT_EQ(a.status, status) << where << ": " << a.body;
    ASSERT_TRUE(a.json.is_object()) << where << ": " << a.body;
    ASSERT_TRUE(a.json.contains("error")) << where << ": " << a.body;
    EXPECT_TRUE(a.json["error"]["code"].is_string());
    EXPECT_TRUE(a.json["error"]["message"].is_string());
    EXPECT_TRUE(a.json["error"].contains("field"));
    if (!field.empty()) {
      EXPECT_EQ(a.errorField(), field) << where << ": " << a.body;
    }
  }
  HttpAnswer create(const std::string& raw) { return call("POST", "/api/v1/threats", t_, raw); }
  Creds t_;
};

TEST_F(BadInputTest, MalformedJsonIs400) {
  for (const std::string raw : {"", "{", "{\"name\": }", "nul", "{\"name\":\"x\"} trailing",
                                "\xff\xfe", "{\"name\":\"\xc3\x28\"}"}) {
    auto a = create(raw);
    expectError(a, 400, "", raw);
    EXPECT_EQ(a.errorCode(), "invalid_argument");
  }
}

TEST_F(BadInputTest, WrongTypesNameTheField) {
  const std::pair<Json, std::string> cases[] = {
      {Json::array(), ""},
      {Json("a string"), ""},
      {{{"name", 5}}, "name"},
      {{{"name", "x"}, {"score", "high"}}, "score"},
      {{{"name", "x"}, {"score", 50.5}}, "score"},
      {{{"name", "x"}, {"severity", 3}}, "severity"},
      {{{"name", "x"}, {"tags", "T1059"}}, "tags"},
      {{{"name", "x"}, {"tags", {"ok", 7}}}, "tags[1]"},
      {{{"name", "x"}, {"entity", "host WS-1"}}, "entity"},
      {{{"name", "x"}, {"entity", {{"type", "host"}, {"value", 1}}}}, "entity.value"},
      {{{"name", "x"}, {"kind", true}}, "kind"},
      {{{"name", "x"}, {"seen_at", 12345}}, "seen_at"},
  };
  for (const auto& [body, field] : cases) {
    auto a = create(body.dump());
    expectError(a, 400, field, body.dump());
  }
}

TEST_F(BadInputTest, UnknownMembersAreRefusedByName) {
  expectError(create(R"({"name":"x","sevrity":"HIGH"})"), 400, "sevrity");
  expectError(create(R"({"name":"x","entity":{"type":"host","value":"a","extra":1}})"), 400,
              "entity.extra");
  expectError(create(R"({"name":"x","project_id":2})"), 400, "project_id");
  expectError(create(R"({"name":"x","source":"Rule"})"), 400, "source");
}

TEST_F(BadInputTest, UnknownNamesAndOutOfRangeValuesAre422) {
  expectError(create(R"({"name":"x","severity":"URGENT"})"), 422, "severity");
  expectError(create(R"({"name":"x","kind":"INCIDENT"})"), 422, "kind");
  expectError(create(R"({"name":"x","score":101})"), 422, "score");
  expectError(create(R"({"name":"x","score":-1})"), 422, "score");
  expectError(create(R"({"name":"x","score":18446744073709551615})"), 422, "score");
  expectError(create(R"({"name":"x","check_by":"rule,colour"})"), 422, "check_by");
  expectError(create(R"({"name":"x","seen_at":"yesterday"})"), 422, "seen_at");
  expectError(create(R"({"name":"x","group":"No Such Queue"})"), 422, "group");
  expectError(create(R"({"name":"   "})"), 422, "name");
  expectError(create(R"({"description":"no name"})"), 422, "name");

  auto threat = seedThreat(a_prod_, "target");
  const std::string path = "/api/v1/threats/" + std::to_string(threat.id);
  expectError(patch(path, t_, {{"state", "Pending"}}), 422, "state");
  expectError(patch(path, t_, {{"state", "Closed"}, {"outcome", "Maybe"}}), 422, "outcome");
  expectError(patch(path, t_, {{"outcome", "Benign"}}), 422, "outcome");
  expectError(patch(path, t_, {{"score", 1000}}), 422, "score");
  expectError(patch(path, t_, {{"severity", "SEVERE"}}), 422, "severity");
  expectError(patch(path, t_, {{"owner", "nobody@nowhere.test"}}), 422, "owner");
  expectError(patch(path, t_, {{"sate", "New"}}), 400, "sate");
  expectError(patch(path, t_, Json::object()), 422);
  EXPECT_EQ(store_->timeline(threat.id)->size(), 1u);
}

TEST_F(BadInputTest, VeryLongStringsAreRefusedWithTheirField) {
  expectError(create(Json{{"name", std::string(100000, 'A')}}.dump()), 422, "name");
  expectError(create(Json{{"name", "x"}, {"host", std::string(5000, 'h')}}.dump()), 422, "host");
  expectError(create(Json{{"name", "x"}, {"description", std::string(40000, 'd')}}.dump()), 422,
              "description");
  Json many = {{"name", "x"}, {"tags", Json::array()}};
  for (int i = 0; i < 100; ++i) many["tags"].push_back("T" + std::to_string(i));
  expectError(create(many.dump()), 422, "tags");
  expectError(create(Json{{"name", "x"}, {"evidence", std::string(300 * 1024, 'e')}}.dump()), 413,
              "evidence");
  expectError(get("/api/v1/threats?text=" + std::string(5000, 'q'), t_), 422, "text");
}

TEST_F(BadInputTest, OversizedBodyIs413Json) {
  auto a = create(std::string(2 * 1024 * 1024, ' '));
  expectError(a, 413);
  EXPECT_EQ(a.errorCode(), "too_large");
}

TEST_F(BadInputTest, DeeplyNestedJsonIsRefused) {
  std::string deep =
      "{\"name\":\"x\",\"evidence\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  expectError(create(deep), 400);
}

TEST_F(BadInputTest, SqlMetacharactersAndWildcardsInTextSearchAreLiteral) {
  seedThreat(a_prod_, "100% sure");
  seedThreat(a_prod_, "under_score");
  seedThreat(a_prod_, "plain name");
  seedThreat(a_prod_, "O'Brien's laptop");
  auto total = [&](const std::string& query) {
    auto a = get("/api/v1/threats?text=" + query, t_);
    EXPECT_EQ(a.status, 200) << query << ": " << a.body;
    return a.json.value("total", -1);
  };
  EXPECT_EQ(total("%25"), 1);  // %
  EXPECT_EQ(total("_"), 1);
  EXPECT_EQ(total("%25%25"), 0);  // %%
  EXPECT_EQ(total("'"), 1);
  EXPECT_EQ(total("%27%20OR%201%3D1%20--"), 0);  // ' OR 1=1 --
  EXPECT_EQ(total("%27%3B%20DROP%20TABLE%20threats%3B%20--"), 0);
  EXPECT_EQ(total("%5C"), 0);  // backslash
  EXPECT_EQ(total("plain"), 1);
  EXPECT_EQ(get("/api/v1/threats", t_).json["total"], 4);  // the table is still there
  // The same characters elsewhere in the filter.
  EXPECT_EQ(get("/api/v1/threats?group=%27%20OR%20%271%27%3D%271", t_).json["total"], 0);
  EXPECT_EQ(get("/api/v1/threats?entity=host%3A%25", t_).json["total"], 0);
}

TEST_F(BadInputTest, BadQueryParametersAreRefused) {
  expectError(get("/api/v1/threats?cursor=not-a-cursor", t_), 400, "cursor");
  expectError(get("/api/v1/threats?cursor=%00%01%02", t_), 400, "cursor");
  expectError(get("/api/v1/threats?limit=0", t_), 422, "limit");
  expectError(get("/api/v1/threats?limit=501", t_), 422, "limit");
  expectError(get("/api/v1/threats?limit=ten", t_), 400, "limit");
  expectError(get("/api/v1/threats?severity=HIGH,BAD", t_), 422, "severity");
  expectError(get("/api/v1/threats?kind=INCIDENT", t_), 422, "kind");
  expectError(get("/api/v1/threats?sort=name", t_), 422, "sort");
  expectError(get("/api/v1/threats?order=up", t_), 422, "order");
  expectError(get("/api/v1/threats?open=maybe", t_), 400, "open");
  expectError(get("/api/v1/threats?from=last-week", t_), 422, "from");
  expectError(get("/api/v1/threats?from=2026-02-01&to=2026-01-01", t_), 422, "from");
  expectError(get("/api/v1/threats?colour=red", t_), 400, "colour");
  expectError(get("/api/v1/overview?split=host", t_), 422, "split");
  expectError(get("/api/v1/threats/export?format=xml", t_), 422, "format");
}

TEST_F(BadInputTest, BadPathsAndMethods) {
  expectError(get("/api/v1/threats/abc", t_), 400, "id");
  expectError(get("/api/v1/threats/-5", t_), 400, "id");
  expectError(get("/api/v1/threats/99999999999999999999", t_), 400, "id");
  expectError(get("/api/v1/threats/424242", t_), 404);
  expectError(get("/api/v1/nothing-here", t_), 404);
  expectError(call("PUT", "/api/v1/threats", t_, "{}"), 405);
  expectError(get("/api/v1/threats/" + std::string(5000, 'x'), t_), 400);
}

TEST_F(BadInputTest, BadBulkRequests) {
  auto bulk = [&](const std::string& raw) { return call("POST", "/api/v1/threats/bulk", t_, raw); };
  expectError(bulk(R"({"change":{"state":"New"}})"), 422, "ids");
  expectError(bulk(R"({"ids":[1],"filter":{},"change":{"state":"New"}})"), 422);
  expectError(bulk(R"({"ids":["one"],"change":{"state":"New"}})"), 400, "ids[0]");
  expectError(bulk(R"({"ids":[0],"change":{"state":"New"}})"), 422, "ids[0]");
  expectError(bulk(R"({"ids":[],"change":{"state":"New"}})"), 422, "ids");
  expectError(bulk(R"({"ids":[1]})"), 422, "change");
  expectError(bulk(R"({"ids":[1],"change":{"colour":"red"}})"), 400, "change.colour");
  expectError(bulk(R"({"filter":{"severity":["LOUD"]},"change":{"state":"New"}})"), 422,
              "filter.severity");
  expectError(bulk(R"({"filter":{"open":"yes"},"change":{"state":"New"}})"), 400, "filter.open");
  expectError(bulk(R"({"filter":{"x":1},"change":{"state":"New"}})"), 400, "filter.x");
}

TEST_F(BadInputTest, BadLoginsAndAdminBodies) {
  auto login_body = [&](const std::string& raw) {
    return call("POST", "/api/v1/auth/login", {}, raw);
  };
  expectError(login_body("not json"), 400);
  expectError(login_body(R"({"email":"a@b.c"})"), 422, "password");
  expectError(login_body(R"({"email":5,"password":"x"})"), 400, "email");
  expectError(login_body(R"({"email":"a@b.c","password":"x","remember":true})"), 400, "remember");
  Creds admin = login("admin@provider.test");
  expectError(post("/api/v1/users", admin, {{"email", "not-an-email"}, {"role", "operator"}}), 422,
              "email");
  expectError(post("/api/v1/users", admin, {{"email", "a@b.c"}, {"role", "god"}}), 422, "role");
  expectError(post("/api/v1/users", admin,
                   {{"email", "a@b.c"}, {"role", "operator"}, {"time_zone", "../../etc/passwd"}}),
              422, "time_zone");
  expectError(post("/api/v1/tokens", admin, {{"name", "x"}, {"scopes", {"admin"}}}), 422, "scopes");
  expectError(post("/api/v1/tokens", admin, {{"name", "x"}}), 422, "scopes");
  expectError(post("/api/v1/tags/group", admin, {{"name", ""}}), 422, "name");
  expectError(post("/api/v1/tags/group", admin, {{"name", "x"}, {"position", -1}}), 422,
              "position");
}

TEST_F(BadInputTest, ServerSurvivesGarbageAndKeepsServing) {
  for (const std::string& raw : std::vector<std::string>{
           std::string("\0\0\0", 3), std::string(1000, '{'),
           std::string("[") + std::string(60, '['), std::string("{\"name\":\"\\ud800\"}"),
           std::string("{\"name\":\"x\",\"score\":1e999}")}) {
    auto a = create(raw);
    EXPECT_GE(a.status, 400) << raw.substr(0, 40);
    EXPECT_LT(a.status, 500) << raw.substr(0, 40) << ": " << a.body;
  }
  EXPECT_EQ(get("/healthz", {}).status, 200);
}

// gzip of `n` zero bytes: a few KiB on the wire that would inflate to `n` in memory.
std::string gzipZeros(size_t n) {
  z_stream z{};
  deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY);
  std::string zeros(1 << 20, '\0');
  std::string out;
  char buf[1 << 16];
  size_t left = n;
  while (true) {
    const size_t take = std::min(left, zeros.size());
    z.next_in = reinterpret_cast<Bytef*>(zeros.data());
    z.avail_in = static_cast<uInt>(take);
    left -= take;
    const int flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof(buf);
      deflate(&z, flush);
      out.append(buf, sizeof(buf) - z.avail_out);
    } while (z.avail_out == 0);
    if (flush == Z_FINISH) break;
  }
  deflateEnd(&z);
  return out;
}

TEST_F(BadInputTest, CompressedBodyIsLimitedAfterInflating) {
  // 64 MiB of zeros in ~64 KiB of gzip, against a 1 MiB body limit.
  const std::string bomb = gzipZeros(64u << 20);
  ASSERT_LT(bomb.size(), 1u << 20);
  httplib::Client client("127.0.0.1", port_);
  client.set_read_timeout(30, 0);
  auto r = client.Post("/api/v1/threats",
                       {{"Authorization", "Bearer " + t_.bearer}, {"Content-Encoding", "gzip"}},
                       bomb, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 415);
  EXPECT_NE(r->body.find("Content-Encoding"), std::string::npos);
  EXPECT_EQ(get("/healthz", {}).status, 200);
}

}  // namespace
}  // namespace td::server
