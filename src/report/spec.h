// The report document: a title, a time range (absolute, or relative such as "last_7_days" or
// "this_month"), global filters (the overview's), page settings and widgets on a grid. KPI tiles,
// charts and tables each say which threats they count (population), by what (dimension), and what
// figure (metric). The document is JSON; parseSpec() is the strict validator: unknown members,
// wrong types, unknown names, out-of-range numbers, widgets off the grid or overlapping, all
// reported with the JSON path of the offending value ("widgets[2].chart.dimension").
//
// The grammar (docs/reports.md has the full reference):
//   report   := {title, description?, time_range, time_zone?, filters?, page?, grid?, widgets}
//   widget   := {id?, type: kpi|chart|table, title?, position?, filters?, kpi|chart|table}
//   kpi      := {metric: open|new|closed|mtta|mttr|false_positive_rate, compare?: bool}
//   chart    := {kind: bar|stacked_bar|line|pie, dimension, series?, population?, metric?,
//               bucket?, limit?}
//   table    := {kind: top, dimension, metric?, population?, limit?}
//             | {kind: threats, columns, sort?, limit?}
//
// Pure functions and value types: safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "store/query.h"

namespace td::report {

using core::TimeMs;

// What threats are grouped by. kTime groups by time buckets of the population's time.
enum class Dimension {
  kGroup,
  kSeverity,
  kSource,
  kState,
  kOutcome,
  kOwner,
  kHost,
  kEntityGroup,
  kRule,
  kKind,
  kTime,
};
std::string_view dimensionName(Dimension d);  // "group", "severity", ..., "entity_group", "time"
std::optional<Dimension> parseDimension(std::string_view text);

// Which threats a widget counts, and so which of their times places them in the range:
// active: last seen in the range (the overview's meaning); new: created in it; closed: closed in
// it; open: open at the end of it (no time dimension).
enum class Population { kActive, kNew, kClosed, kOpen };
std::string_view populationName(Population p);

// count: threats; mtta: mean minutes from creation to the first acknowledgement, over threats
// created in the range; mttr: mean minutes from creation to closing, over threats closed in it;
// false_positive_rate: % of the threats closed in the range whose outcome is "False Positive".
enum class Metric { kCount, kMtta, kMttr, kFalsePositiveRate };
std::string_view metricName(Metric m);

enum class KpiMetric { kOpen, kNew, kClosed, kMtta, kMttr, kFalsePositiveRate };
std::string_view kpiMetricName(KpiMetric m);

enum class ChartKind { kBar, kStackedBar, kLine, kPie };
std::string_view chartKindName(ChartKind k);

enum class Bucket { kAuto, kHour, kDay, kWeek, kMonth };
std::string_view bucketName(Bucket b);

enum class WidgetType { kKpi, kChart, kTable };
enum class TableKind { kTop, kThreats };

enum class PageSize { kA4, kLetter };

// Columns a threat list may show.
const std::vector<std::string_view>& threatColumns();

// Absolute ([from, to)) or relative to the moment of rendering, in the report's time zone.
// Relative names: today, yesterday, this_week, last_week, this_month, last_month,
// this_quarter, this_year, last_24_hours, last_N_days (N 1..3660).
struct TimeRange {
  std::string relative;
  TimeMs from = 0;
  TimeMs to = 0;
};

struct Position {
  int x = 0, y = 0, w = 3, h = 1;
};

struct KpiSpec {
  KpiMetric metric = KpiMetric::kOpen;
  bool compare = true;  // the change against the previous period of the same length
};

struct ChartSpec {
  ChartKind kind = ChartKind::kBar;
  Dimension dimension = Dimension::kSeverity;
  std::optional<Dimension> series;  // stacked_bar, line: one series per value
  Population population = Population::kActive;
  Metric metric = Metric::kCount;
  Bucket bucket = Bucket::kAuto;
  int limit = 10;  // values shown; the rest summed as "Other" (counts only)
};

struct TableSpec {
  TableKind kind = TableKind::kTop;
  Dimension dimension = Dimension::kRule;
  Metric metric = Metric::kCount;
  Population population = Population::kActive;
  std::vector<std::string> columns;  // threats
  store::ThreatSort sort = store::ThreatSort::kScore;
  int limit = 10;
};

struct Widget {
  std::string id;  // unique in the report; "w<index>" when not given
  WidgetType type = WidgetType::kKpi;
  std::string title;
  Position position;
  // Members set here replace the report's global filter members of the same name.
  std::optional<store::ThreatFilter> filters;
  KpiSpec kpi;
  ChartSpec chart;
  TableSpec table;
};

struct ReportSpec {
  std::string title;
  std::string description;
  TimeRange time_range;
  std::string time_zone = "UTC";
  store::ThreatFilter filters;  // from/to/project_id unused: the range and the report set them
  PageSize page_size = PageSize::kA4;
  bool landscape = false;
  int columns = 12;  // grid columns
  std::vector<Widget> widgets;
};

constexpr size_t kMaxSpecBytes = 256 * 1024;
constexpr size_t kMaxWidgets = 64;

// Every problem of the document, each a kUnprocessable (kInvalidArgument for malformed JSON)
// error whose field is the JSON path. Empty when the document is valid.
struct SpecParse {
  std::optional<ReportSpec> spec;
  std::vector<core::Error> errors;
};
SpecParse parseSpecAll(std::string_view json);
// The first error (its message says how many more there are), or the spec.
core::Result<ReportSpec> parseSpec(std::string_view json);

// The filter a widget runs with: the global one with the widget's members laid over it.
store::ThreatFilter effectiveFilter(const ReportSpec& spec, const Widget& widget);

// The title to show for a widget (its own, or one made from what it shows).
std::string widgetTitle(const Widget& w);

}  // namespace td::report
