// Aggregates over the seeded store (seed.h): every figure below is worked out by hand from the
// seed's table.
#include "report/query.h"

#include <gtest/gtest.h>

#include "report/templates.h"
#include "report/tests/seed.h"

namespace td::report {
namespace {

using testing::Seed;

class QueryTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(seed_.build()); }

  ReportData run(const std::string& widgets, const std::string& extra = "") {
    auto spec = parseSpec(seed_.spec(widgets, extra));
    EXPECT_TRUE(spec) << spec.error().field << ": " << spec.error().message;
    QueryOptions o;
    o.project_id = seed_.project.id;
    o.now = seed_.D + 7 * testing::kDay;
    auto data = runReport(*seed_.store, *spec, o);
    EXPECT_TRUE(data) << data.error().field << ": " << data.error().message;
    return data ? *data : ReportData{};
  }

  KpiData kpi(const std::string& metric) {
    auto d = run(R"({"type":"kpi","kpi":{"metric":")" + metric + R"("}})");
    return d.widgets.at(0).kpi;
  }

  Seed seed_;
};

TEST_F(QueryTest, KpisAndTheirPreviousPeriod) {
  // Open at the end: T2, T3, T6. At the start (D): T4 (closed later), T6.
  auto open = kpi("open");
  EXPECT_EQ(open.value, 3);
  EXPECT_EQ(open.previous, 2);
  EXPECT_EQ(open.unit, "threats");
  auto fresh = kpi("new");  // T1-T3; before: T4, T5
  EXPECT_EQ(fresh.value, 3);
  EXPECT_EQ(fresh.previous, 2);
  auto closed = kpi("closed");  // T1, T4; before: T5
  EXPECT_EQ(closed.value, 2);
  EXPECT_EQ(closed.previous, 1);
  // MTTA over threats created in the range and acknowledged: T1 30 min, T2 60 min (owner);
  // T3's only change was the system's. Before: T4 120 min, T5 1440 min (closing acknowledges).
  auto mtta = kpi("mtta");
  EXPECT_EQ(mtta.value, 45.0);
  EXPECT_EQ(mtta.previous, 780.0);
  EXPECT_EQ(mtta.samples, 2);
  EXPECT_EQ(mtta.unit, "minutes");
  // MTTR over threats closed in the range: T1 120 min, T4 3 d 5 h = 4620 min. Before: T5 1440.
  auto mttr = kpi("mttr");
  EXPECT_EQ(mttr.value, 2370.0);
  EXPECT_EQ(mttr.previous, 1440.0);
  // False positives among those closed: T1 of T1, T4; before T5 of T5.
  auto fp = kpi("false_positive_rate");
  EXPECT_EQ(fp.value, 50.0);
  EXPECT_EQ(fp.previous, 100.0);
  EXPECT_EQ(fp.unit, "%");
}

TEST_F(QueryTest, KpisFollowFilters) {
  // Global filter: only the rule r1 (T1, T2, T6); MTTA of T1 and T2 is still 45, MTTR of T1 120.
  auto d = run(R"({"type":"kpi","kpi":{"metric":"mttr"}},{"type":"kpi","kpi":{"metric":"open"}},)"
               R"({"type":"kpi","kpi":{"metric":"mtta"},"filters":{"severities":["CRITICAL"]}})",
               R"("filters":{"text":"Threat 1"},)");
  // "Threat 1" matches only T1 by name.
  EXPECT_EQ(d.widgets[0].kpi.value, 120.0);
  EXPECT_EQ(d.widgets[1].kpi.value, 0);
  // The widget's severities join the global text filter: nothing matches both.
  EXPECT_FALSE(d.widgets[2].kpi.value.has_value());
  auto crit = run(R"({"type":"kpi","kpi":{"metric":"mtta"},"filters":{"severities":["CRITICAL"]}})");
  EXPECT_EQ(crit.widgets[0].kpi.value, 60.0);  // T2 alone
}

TEST_F(QueryTest, ChartsByDimension) {
  auto d = run(
      R"({"type":"chart","chart":{"kind":"bar","dimension":"severity","population":"new"}},)"
      R"({"type":"chart","chart":{"kind":"bar","dimension":"state","population":"open"}},)"
      R"({"type":"chart","chart":{"kind":"pie","dimension":"owner","population":"open"}},)"
      R"({"type":"chart","chart":{"kind":"stacked_bar","dimension":"rule","series":"outcome","population":"closed"}})");
  const auto& sev = d.widgets[0].chart;
  EXPECT_EQ(sev.categories, (std::vector<std::string>{"CRITICAL", "HIGH", "MEDIUM"}));
  ASSERT_EQ(sev.series.size(), 1u);
  EXPECT_EQ(sev.series[0].values, (std::vector<std::optional<double>>{1, 1, 1}));
  const auto& state = d.widgets[1].chart;  // states in their order: New (T2, T6), On Hold (T3)
  EXPECT_EQ(state.categories, (std::vector<std::string>{"New", "On Hold"}));
  EXPECT_EQ(state.series[0].values, (std::vector<std::optional<double>>{2, 1}));
  const auto& owner = d.widgets[2].chart;
  EXPECT_EQ(owner.categories, (std::vector<std::string>{"(unassigned)", "bob@example.com"}));
  EXPECT_EQ(owner.series[0].values, (std::vector<std::optional<double>>{2, 1}));
  const auto& rules = d.widgets[3].chart;  // closed in range: T1 (r1, FP), T4 (r2, Malicious)
  EXPECT_EQ(rules.categories, (std::vector<std::string>{"r1", "r2"}));
  ASSERT_EQ(rules.series.size(), 2u);
  EXPECT_EQ(rules.series[0].name, "False Positive");
  EXPECT_EQ(rules.series[0].values, (std::vector<std::optional<double>>{1, 0}));
  EXPECT_EQ(rules.series[1].name, "Malicious");
  EXPECT_EQ(rules.series[1].values, (std::vector<std::optional<double>>{0, 1}));
}

TEST_F(QueryTest, TimeBucketsInTheReportsZone) {
  auto d = run(R"({"type":"chart","chart":{"kind":"line","dimension":"time","population":"new"}})");
  const auto& c = d.widgets[0].chart;
  ASSERT_EQ(c.categories.size(), 7u);  // a week of days (auto)
  EXPECT_EQ(c.categories[0], "2026-11-16");
  EXPECT_EQ(c.series[0].values[0], 3);  // T1, T2, T3 on the first day
  for (size_t i = 1; i < 7; ++i) EXPECT_EQ(c.series[0].values[i], 0);
  // In New York (UTC-5) the range starts at 19:00 on the 15th: T1 and T2 fall on that local day,
  // T3 (05:00 on the 16th) on the next.
  auto tokyo = run(
      R"({"type":"chart","chart":{"kind":"bar","dimension":"time","population":"new","bucket":"day"}})",
      R"("time_zone":"America/New_York",)");
  const auto& t = tokyo.widgets[0].chart;
  ASSERT_EQ(t.categories.size(), 8u);
  EXPECT_EQ(t.categories[0], "2026-11-15");
  EXPECT_EQ(t.series[0].values[0], 2);
  EXPECT_EQ(t.series[0].values[1], 1);
  // An explicit bucket that makes too many buckets is refused at the widget's path.
  auto spec = parseSpec(R"({"title":"T","time_range":"last_year","widgets":[
      {"type":"chart","chart":{"kind":"bar","dimension":"time","bucket":"hour"}}]})");
  ASSERT_TRUE(spec);
  auto r = runReport(*seed_.store, *spec, {});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().field, "widgets[0].chart.bucket");
}

TEST_F(QueryTest, Tables) {
  auto d = run(
      R"({"type":"table","table":{"kind":"top","dimension":"rule","metric":"mtta"}},)"
      R"({"type":"table","table":{"kind":"top","dimension":"rule","metric":"false_positive_rate"}},)"
      R"({"type":"table","table":{"kind":"top","dimension":"host","population":"new","limit":2}},)"
      R"({"type":"table","filters":{"open":true},"table":{"kind":"threats","columns":["id","name","severity","owner"],"sort":"score"}})");
  const auto& mtta = d.widgets[0].table;  // r1: T1 30, T2 60; r2: T3 never acknowledged
  ASSERT_EQ(mtta.rows.size(), 1u);
  EXPECT_EQ(mtta.rows[0], (std::vector<std::string>{"r1", "45 min", "2"}));
  const auto& fp = d.widgets[1].table;
  ASSERT_EQ(fp.rows.size(), 2u);
  EXPECT_EQ(fp.rows[0], (std::vector<std::string>{"r1", "100.0 %", "1"}));
  EXPECT_EQ(fp.rows[1], (std::vector<std::string>{"r2", "0.0 %", "1"}));
  const auto& hosts = d.widgets[2].table;  // ws-1, ws-2, ws-3 one each: first two by name
  EXPECT_EQ(hosts.columns, (std::vector<std::string>{"Host", "Threats", "Share"}));
  ASSERT_EQ(hosts.rows.size(), 2u);
  EXPECT_EQ(hosts.rows[0], (std::vector<std::string>{"ws-1", "1", "33.3 %"}));
  const auto& list = d.widgets[3].table;  // open and active in the range: T2, T3
  ASSERT_EQ(list.rows.size(), 2u);
  EXPECT_EQ(list.rows[0][1], "Threat 2");
  EXPECT_EQ(list.rows[0][2], "CRITICAL");
  EXPECT_EQ(list.rows[0][3], "bob@example.com");
  EXPECT_EQ(list.rows[1][1], "Threat 3");
}

TEST_F(QueryTest, EveryTemplateRuns) {
  for (const auto& t : listTemplates()) {
    auto spec = parseSpec(t.document);
    ASSERT_TRUE(spec) << t.name;
    QueryOptions o;
    o.now = seed_.D + 7 * testing::kDay;
    auto d = runReport(*seed_.store, *spec, o);
    ASSERT_TRUE(d) << t.name << ": " << d.error().message;
    EXPECT_EQ(d->widgets.size(), spec->widgets.size());
  }
}

TEST(RangeTest, RelativeRangesFollowTheCalendarOfTheZone) {
  auto berlin = *loadTimeZone("Europe/Berlin");
  const TimeMs now = *core::parseRfc3339("2026-11-23T10:00:00Z");  // Monday 11:00 CET
  auto r = [&](const char* rel) { return resolveRange({rel, 0, 0}, *berlin, now); };
  EXPECT_EQ(core::formatRfc3339(r("today").from), "2026-11-22T23:00:00Z");
  EXPECT_EQ(core::formatRfc3339(r("yesterday").to), "2026-11-22T23:00:00Z");
  EXPECT_EQ(core::formatRfc3339(r("last_week").from), "2026-11-15T23:00:00Z");
  EXPECT_EQ(core::formatRfc3339(r("last_week").to), "2026-11-22T23:00:00Z");
  EXPECT_EQ(core::formatRfc3339(r("this_month").from), "2026-10-31T23:00:00Z");
  // October 2026 starts in summer time (UTC+2).
  EXPECT_EQ(core::formatRfc3339(r("last_month").from), "2026-09-30T22:00:00Z");
  EXPECT_EQ(core::formatRfc3339(r("this_quarter").from), "2026-09-30T22:00:00Z");
  EXPECT_EQ(core::formatRfc3339(r("this_year").from), "2025-12-31T23:00:00Z");
  auto week = r("last_7_days");
  EXPECT_EQ(week.to, now);
  EXPECT_EQ(week.from, now - 7 * core::kDayMs);
  EXPECT_EQ(week.prev_to, week.from);
  EXPECT_EQ(week.prev_from, now - 14 * core::kDayMs);
}

TEST(FormatTest, Minutes) {
  EXPECT_EQ(formatMinutes(45), "45 min");
  EXPECT_EQ(formatMinutes(120), "2 h");
  EXPECT_EQ(formatMinutes(200), "3 h 20 min");
  EXPECT_EQ(formatMinutes(2370), "1 d 15 h");
}

}  // namespace
}  // namespace td::report
