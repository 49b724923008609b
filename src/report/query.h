// The aggregate queries behind report widgets: resolves the report's time range in its time zone,
// then computes each widget's figures from the store. Counting and grouping go through
// ReportStore::scanThreats (the overview's filter engine over the in-memory read model); when
// threats were closed and first acknowledged comes from the store (closed_at and the timeline of
// transitions), so MTTA and MTTR can be cut by any dimension and filter.
//
// Definitions (docs/reports.md):
//   open at T      created before T and not closed before T
//   new            created in [from, to)
//   closed         closed in [from, to)
//   active         last seen in [from, to) (the overview's range)
//   MTTA           mean of (first acknowledgement - created) in minutes, over threats created in
//                  the range that have been acknowledged; an acknowledgement is the first owner
//                  assignment, state change or close by a person (not "system")
//   MTTR           mean of (closed - created) in minutes, over threats closed in the range
//   FP rate        closed in the range with outcome "False Positive" / closed in the range, %
// The previous period is the one of the same length ending where the range starts.
//
// Thread safety: runReport may be called from any thread (the store is thread-safe).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "report/spec.h"
#include "report/time_zone.h"
#include "store/store.h"

namespace td::report {

struct ResolvedRange {
  TimeMs from = 0;
  TimeMs to = 0;
  TimeMs prev_from = 0;
  TimeMs prev_to = 0;
};

// `now` is the moment of rendering. Relative ranges follow the zone's calendar.
ResolvedRange resolveRange(const TimeRange& range, const TimeZone& zone, TimeMs now);

struct KpiData {
  std::optional<double> value;     // none: no threats to average over
  std::optional<double> previous;  // the previous period, when compared
  std::string unit;                // "threats", "minutes", "%"
  std::int64_t samples = 0;        // threats behind a mean or a rate
};

struct SeriesData {
  std::string name;                          // the series value ("" for a chart without series)
  std::vector<std::optional<double>> values;  // one per category; none: nothing to average
};

struct ChartData {
  std::vector<std::string> categories;  // dimension values, or bucket labels for time
  std::vector<TimeMs> bucket_starts;    // time dimension only
  std::vector<SeriesData> series;
  std::string unit;  // "threats" or "minutes"
};

struct TableData {
  std::vector<std::string> columns;
  std::vector<std::vector<std::string>> rows;
};

struct WidgetData {
  Widget widget;
  std::string title;
  KpiData kpi;
  ChartData chart;
  TableData table;
};

struct ReportData {
  ReportSpec spec;
  ResolvedRange range;
  std::string range_label;  // "2026-11-16 00:00 - 2026-11-23 00:00 (Europe/Berlin)"
  TimeMs generated_at = 0;
  std::vector<WidgetData> widgets;
};

struct QueryOptions {
  core::ProjectId project_id = 0;  // 0: every project
  TimeMs now = 0;                  // 0: the current time
};

// Runs every widget's query. Errors name the widget's path (e.g. a time chart whose explicit
// bucket would give too many buckets: "widgets[3].chart.bucket").
core::Result<ReportData> runReport(store::Store& store, const ReportSpec& spec,
                                   const QueryOptions& options);

// "2026-11-23 08:00" in the zone.
std::string formatLocal(TimeMs t, const TimeZone& zone, bool with_time = true);
// Minutes as "3 h 20 min", "2 d 4 h", "45 min".
std::string formatMinutes(double minutes);

}  // namespace td::report
