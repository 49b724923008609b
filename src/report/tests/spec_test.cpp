// The report document's validator: valid documents (and every shipped template) parse; every
// kind of mistake is refused with the JSON path of the offending value.
#include "report/spec.h"

#include <gtest/gtest.h>

#include "report/templates.h"

namespace td::report {
namespace {

std::string doc(const std::string& widgets, const std::string& extra = "") {
  return R"({"title":"T","time_range":"last_7_days",)" + extra + R"("widgets":[)" + widgets +
         "]}";
}

// The paths of every error of a document.
std::vector<std::string> paths(const std::string& json) {
  std::vector<std::string> out;
  for (const auto& e : parseSpecAll(json).errors) out.push_back(e.field);
  return out;
}

TEST(SpecTest, ParsesAFullDocument) {
  auto spec = parseSpec(R"({
    "title": "Weekly", "description": "d",
    "time_range": {"from": "2026-11-01", "to": "2026-11-08T00:00:00Z"},
    "time_zone": "Europe/Berlin",
    "filters": {"severities": ["high", "CRITICAL"], "groups": ["L1 Support"], "open": true},
    "page": {"size": "Letter", "orientation": "landscape"},
    "grid": {"columns": 8},
    "widgets": [
      {"id": "k", "type": "kpi", "kpi": {"metric": "mtta", "compare": false}},
      {"type": "chart", "position": {"x": 0, "y": 2, "w": 8, "h": 3},
       "chart": {"kind": "stacked_bar", "dimension": "time", "series": "severity",
                 "population": "new", "bucket": "day"}},
      {"type": "table", "filters": {"sources": ["Rule"]},
       "table": {"kind": "threats", "columns": ["id", "name", "owner"], "sort": "created",
                 "limit": 100}}
    ]})");
  ASSERT_TRUE(spec) << spec.error().field << ": " << spec.error().message;
  EXPECT_EQ(spec->title, "Weekly");
  EXPECT_EQ(spec->time_range.from, *core::parseRfc3339("2026-11-01"));
  EXPECT_EQ(spec->time_zone, "Europe/Berlin");
  EXPECT_EQ(spec->filters.severities.size(), 2u);
  EXPECT_EQ(spec->page_size, PageSize::kLetter);
  EXPECT_TRUE(spec->landscape);
  ASSERT_EQ(spec->widgets.size(), 3u);
  EXPECT_EQ(spec->widgets[0].id, "k");
  EXPECT_EQ(spec->widgets[1].id, "w2");
  EXPECT_FALSE(spec->widgets[0].kpi.compare);
  EXPECT_EQ(spec->widgets[1].chart.series, Dimension::kSeverity);
  EXPECT_EQ(spec->widgets[2].table.sort, store::ThreatSort::kCreated);
  // Unpositioned widgets flow into the first free cells around the positioned ones.
  EXPECT_EQ(spec->widgets[0].position.y, 0);
  EXPECT_EQ(spec->widgets[0].position.w, 2);  // a quarter of the 8 columns
  EXPECT_EQ(spec->widgets[2].position.y, 5);  // a full-width table fits below the chart
  EXPECT_EQ(spec->widgets[2].position.w, 8);
  auto f = effectiveFilter(*spec, spec->widgets[2]);
  EXPECT_EQ(f.sources, std::vector<std::string>{"Rule"});
  EXPECT_EQ(f.groups, std::vector<std::string>{"L1 Support"});  // the global member stays
}

TEST(SpecTest, EveryTemplateIsValid) {
  const auto templates = listTemplates();
  ASSERT_EQ(templates.size(), 4u);
  for (const auto& t : templates) {
    auto spec = parseSpec(t.document);
    EXPECT_TRUE(spec) << t.name << ": " << spec.error().field << ": " << spec.error().message;
    EXPECT_FALSE(t.title.empty());
  }
  EXPECT_TRUE(findTemplate("weekly-soc-summary"));
  EXPECT_TRUE(findTemplate("backlog-by-queue"));
  EXPECT_TRUE(findTemplate("vulnerability-remediation"));
  EXPECT_TRUE(findTemplate("false-positives-by-rule"));
  EXPECT_EQ(findTemplate("nope").error().code, core::ErrorCode::kNotFound);
}

TEST(SpecTest, ErrorsCarryTheJsonPath) {
  const std::pair<std::string, std::string> cases[] = {
      {doc(R"({"type":"kpi","kpi":{"metric":"open"}},{"type":"kpi","kpi":{"metric":"open"}},)"
           R"({"type":"chart","chart":{"kind":"bar","dimension":"colour"}})"),
       "widgets[2].chart.dimension"},
      {doc(R"({"type":"chart","chart":{"kind":"donut","dimension":"group"}})"),
       "widgets[0].chart.kind"},
      {doc(R"({"type":"chart","chart":{"kind":"stacked_bar","dimension":"group"}})"),
       "widgets[0].chart.series"},
      {doc(R"({"type":"chart","chart":{"kind":"pie","dimension":"time"}})"),
       "widgets[0].chart.dimension"},
      {doc(R"({"type":"chart","chart":{"kind":"bar","dimension":"time","population":"open"}})"),
       "widgets[0].chart.population"},
      {doc(R"({"type":"chart","chart":{"kind":"bar","dimension":"rule","bucket":"day"}})"),
       "widgets[0].chart.bucket"},
      {doc(R"({"type":"chart","chart":{"kind":"bar","dimension":"rule","limit":0}})"),
       "widgets[0].chart.limit"},
      {doc(R"({"type":"kpi","kpi":{"metric":"speed"}})"), "widgets[0].kpi.metric"},
      {doc(R"({"type":"kpi"})"), "widgets[0].kpi"},
      {doc(R"({"type":"kpi","kpi":{"metric":"open"},"chart":{}})"), "widgets[0].chart"},
      {doc(R"({"type":"gauge"})"), "widgets[0].type"},
      {doc(R"({"type":"kpi","kpi":{"metric":"open"},"colour":"red"})"), "widgets[0].colour"},
      {doc(R"({"type":"table","table":{"kind":"threats","columns":["id","secret"]}})"),
       "widgets[0].table.columns[1]"},
      {doc(R"({"type":"table","table":{"kind":"threats","columns":["id","id"]}})"),
       "widgets[0].table.columns[1]"},
      {doc(R"({"type":"table","table":{"kind":"threats"}})"), "widgets[0].table.columns"},
      {doc(R"({"type":"table","table":{"kind":"top","dimension":"time"}})"),
       "widgets[0].table.dimension"},
      {doc(R"({"type":"table","table":{"kind":"top","dimension":"rule","sort":"score"}})"),
       "widgets[0].table.sort"},
      {doc(R"({"type":"kpi","kpi":{"metric":"open"},"position":{"x":10,"w":4}})"),
       "widgets[0].position.w"},
      {doc(R"({"type":"kpi","kpi":{"metric":"open"},"position":{"x":0,"y":0,"w":4}},)"
           R"({"type":"kpi","kpi":{"metric":"new"},"position":{"x":2,"y":0,"w":4}})"),
       "widgets[1].position"},
      {doc(R"({"id":"a","type":"kpi","kpi":{"metric":"open"}},)"
           R"({"id":"a","type":"kpi","kpi":{"metric":"new"}})"),
       "widgets[1].id"},
      {doc(R"({"type":"kpi","kpi":{"metric":"open"},"filters":{"severities":["URGENT"]}})"),
       "widgets[0].filters.severities[0]"},
      {doc(R"({"type":"kpi","kpi":{"metric":"open"}})", R"("filters":{"open":"yes"},)"),
       "filters.open"},
      {doc(R"({"type":"kpi","kpi":{"metric":"open"}})", R"("page":{"size":"A3"},)"),
       "page.size"},
      {doc(R"({"type":"kpi","kpi":{"metric":"open"}})", R"("time_zone":"../etc",)"),
       "time_zone"},
      {R"({"title":"T","time_range":"last_fortnight","widgets":[{"type":"kpi","kpi":{"metric":"open"}}]})",
       "time_range"},
      {R"({"title":"T","time_range":{"from":"2026-11-08","to":"2026-11-01"},"widgets":[{"type":"kpi","kpi":{"metric":"open"}}]})",
       "time_range.to"},
      {R"({"title":"T","time_range":"last_7_days","widgets":[]})", "widgets"},
      {R"({"time_range":"last_7_days","widgets":[{"type":"kpi","kpi":{"metric":"open"}}]})",
       "title"},
      {R"({"title":"T","widgets":[{"type":"kpi","kpi":{"metric":"open"}}]})", "time_range"},
      {R"([1,2])", ""},
  };
  for (const auto& [json, path] : cases) {
    auto r = parseSpec(json);
    ASSERT_FALSE(r) << json;
    EXPECT_EQ(r.error().field, path) << json << "\n" << r.error().message;
    EXPECT_EQ(r.error().code, core::ErrorCode::kUnprocessable);
    EXPECT_FALSE(r.error().message.empty());
  }
}

TEST(SpecTest, ReportsEveryErrorNotOnlyTheFirst) {
  auto all = paths(doc(R"({"type":"kpi","kpi":{"metric":"speed"}},{"type":"gauge"})",
                       R"("page":{"size":"A3"},)"));
  EXPECT_EQ(all, (std::vector<std::string>{"page.size", "widgets[0].kpi.metric",
                                           "widgets[1].type"}));
  auto first = parseSpec(doc(R"({"type":"gauge"},{"type":"gauge"})"));
  ASSERT_FALSE(first);
  EXPECT_NE(first.error().message.find("and 1 more"), std::string::npos);
}

TEST(SpecTest, MalformedJsonSaysWhere) {
  auto r = parseSpec(R"({"title": "T", )");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, core::ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().field.rfind("byte ", 0), 0u);
  EXPECT_EQ(parseSpec(std::string(kMaxSpecBytes + 1, ' ')).error().code,
            core::ErrorCode::kTooLarge);
  // Deep nesting is refused by the schema, not by the stack.
  std::string deep = R"({"title":"T","time_range":"last_7_days","widgets":[)" +
                     std::string(10000, '[') + std::string(10000, ']') + "]}";
  EXPECT_FALSE(parseSpec(deep));
}

TEST(SpecTest, RelativeRanges) {
  for (const char* ok : {"today", "yesterday", "this_week", "last_week", "this_month",
                         "last_month", "this_quarter", "this_year", "last_year",
                         "last_24_hours", "last_1_days", "last_90_days"}) {
    auto r = parseSpec(R"({"title":"T","time_range":")" + std::string(ok) +
                       R"(","widgets":[{"type":"kpi","kpi":{"metric":"open"}}]})");
    EXPECT_TRUE(r) << ok;
  }
  for (const char* bad : {"last_0_days", "last_07_days", "last_x_days", "last__days",
                          "last_99999_days", "tomorrow"}) {
    auto r = parseSpec(R"({"title":"T","time_range":")" + std::string(bad) +
                       R"(","widgets":[{"type":"kpi","kpi":{"metric":"open"}}]})");
    EXPECT_FALSE(r) << bad;
  }
}

}  // namespace
}  // namespace td::report
