#include "report/spec.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "core/text.h"
#include "core/threat.h"

namespace td::report {
namespace {

using Json = nlohmann::json;
using core::ErrorCode;

template <typename E>
struct Names {
  std::vector<std::pair<std::string_view, E>> values;
  std::string_view name(E e) const {
    for (const auto& [n, v] : values)
      if (v == e) return n;
    return "";
  }
  std::optional<E> parse(std::string_view text) const {
    for (const auto& [n, v] : values)
      if (n == text) return v;
    return std::nullopt;
  }
  std::string list() const {
    std::string out;
    for (const auto& [n, v] : values) {
      if (!out.empty()) out += ", ";
      out += n;
    }
    return out;
  }
};

const Names<Dimension> kDimensions{{{"group", Dimension::kGroup},
                                    {"severity", Dimension::kSeverity},
                                    {"source", Dimension::kSource},
                                    {"state", Dimension::kState},
                                    {"outcome", Dimension::kOutcome},
                                    {"owner", Dimension::kOwner},
                                    {"host", Dimension::kHost},
                                    {"entity_group", Dimension::kEntityGroup},
                                    {"rule", Dimension::kRule},
                                    {"kind", Dimension::kKind},
                                    {"time", Dimension::kTime}}};
const Names<Population> kPopulations{{{"active", Population::kActive},
                                      {"new", Population::kNew},
                                      {"closed", Population::kClosed},
                                      {"open", Population::kOpen}}};
const Names<Metric> kMetrics{
    {{"count", Metric::kCount},
     {"mtta", Metric::kMtta},
     {"mttr", Metric::kMttr},
     {"false_positive_rate", Metric::kFalsePositiveRate}}};
const Names<KpiMetric> kKpiMetrics{{{"open", KpiMetric::kOpen},
                                    {"new", KpiMetric::kNew},
                                    {"closed", KpiMetric::kClosed},
                                    {"mtta", KpiMetric::kMtta},
                                    {"mttr", KpiMetric::kMttr},
                                    {"false_positive_rate", KpiMetric::kFalsePositiveRate}}};
const Names<ChartKind> kChartKinds{{{"bar", ChartKind::kBar},
                                    {"stacked_bar", ChartKind::kStackedBar},
                                    {"line", ChartKind::kLine},
                                    {"pie", ChartKind::kPie}}};
const Names<Bucket> kBuckets{{{"auto", Bucket::kAuto},
                              {"hour", Bucket::kHour},
                              {"day", Bucket::kDay},
                              {"week", Bucket::kWeek},
                              {"month", Bucket::kMonth}}};
const Names<WidgetType> kWidgetTypes{
    {{"kpi", WidgetType::kKpi}, {"chart", WidgetType::kChart}, {"table", WidgetType::kTable}}};
const Names<TableKind> kTableKinds{{{"top", TableKind::kTop}, {"threats", TableKind::kThreats}}};
const Names<PageSize> kPageSizes{{{"A4", PageSize::kA4}, {"Letter", PageSize::kLetter}}};

constexpr std::array<std::string_view, 10> kFixedRelative = {
    "today",     "yesterday",  "this_week",    "last_week", "this_month",
    "last_month", "this_quarter", "this_year", "last_24_hours", "last_year"};

bool validRelative(std::string_view r) {
  if (std::find(kFixedRelative.begin(), kFixedRelative.end(), r) != kFixedRelative.end())
    return true;
  // last_N_days
  if (r.size() < 11 || r.substr(0, 5) != "last_" || r.substr(r.size() - 5) != "_days") return false;
  std::string_view digits = r.substr(5, r.size() - 10);
  int n = 0;
  auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
  return ec == std::errc() && p == digits.data() + digits.size() && n >= 1 && n <= 3660 &&
         digits[0] != '0';
}

// Walks the document, collecting every problem with its path.
class Checker {
 public:
  std::vector<core::Error> errors;

  void error(const std::string& path, std::string message) {
    if (errors.size() < 100)
      errors.push_back({ErrorCode::kUnprocessable, std::move(message), path});
  }

  static std::string member(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }
  static std::string index(const std::string& path, size_t i) {
    return path + "[" + std::to_string(i) + "]";
  }

  // Reports members of `obj` not in `allowed`.
  void onlyMembers(const Json& obj, const std::string& path,
                   std::initializer_list<std::string_view> allowed) {
    for (const auto& [key, value] : obj.items()) {
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string list;
        for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        error(member(path, key), "unknown member '" + key + "' (expected one of: " + list + ")");
      }
    }
  }

  bool isObject(const Json& j, const std::string& path) {
    if (j.is_object()) return true;
    error(path, "must be an object");
    return false;
  }

  std::optional<std::string> string(const Json& obj, const std::string& path, std::string_view key,
                                    bool required, size_t max_len = core::kMaxShortText) {
    auto it = obj.find(key);
    const std::string p = member(path, key);
    if (it == obj.end()) {
      if (required) error(p, "is required");
      return std::nullopt;
    }
    if (!it->is_string()) {
      error(p, "must be a string");
      return std::nullopt;
    }
    auto s = it->get<std::string>();
    if (s.size() > max_len) {
      error(p, "is longer than " + std::to_string(max_len) + " characters");
      return std::nullopt;
    }
    return s;
  }

  std::optional<bool> boolean(const Json& obj, const std::string& path, std::string_view key) {
    auto it = obj.find(key);
    if (it == obj.end()) return std::nullopt;
    if (!it->is_boolean()) {
      error(member(path, key), "must be true or false");
      return std::nullopt;
    }
    return it->get<bool>();
  }

  std::optional<int> integer(const Json& obj, const std::string& path, std::string_view key,
                             int min, int max) {
    auto it = obj.find(key);
    if (it == obj.end()) return std::nullopt;
    const std::string p = member(path, key);
    if (!it->is_number_integer()) {
      error(p, "must be an integer");
      return std::nullopt;
    }
    const auto v = it->get<std::int64_t>();
    if (v < min || v > max) {
      error(p, "must be between " + std::to_string(min) + " and " + std::to_string(max));
      return std::nullopt;
    }
    return static_cast<int>(v);
  }

  template <typename E>
  std::optional<E> name(const Json& obj, const std::string& path, std::string_view key,
                        const Names<E>& names, bool required, std::string_view what) {
    auto s = string(obj, path, key, required);
    if (!s) return std::nullopt;
    auto v = names.parse(*s);
    if (!v)
      error(member(path, key),
            "unknown " + std::string(what) + " '" + *s + "' (expected one of: " + names.list() +
                ")");
    return v;
  }

  std::vector<std::string> strings(const Json& obj, const std::string& path, std::string_view key) {
    std::vector<std::string> out;
    auto it = obj.find(key);
    if (it == obj.end()) return out;
    const std::string p = member(path, key);
    if (!it->is_array()) {
      error(p, "must be an array of strings");
      return out;
    }
    if (it->size() > 100) {
      error(p, "has more than 100 values");
      return out;
    }
    for (size_t i = 0; i < it->size(); ++i) {
      const auto& v = (*it)[i];
      if (!v.is_string() || v.get_ref<const std::string&>().size() > core::kMaxShortText) {
        error(index(p, i), "must be a string of at most 256 characters");
        continue;
      }
      out.push_back(v.get<std::string>());
    }
    return out;
  }

  store::ThreatFilter filters(const Json& j, const std::string& path) {
    store::ThreatFilter f;
    if (!isObject(j, path)) return f;
    onlyMembers(j, path,
                {"groups", "states", "severities", "sources", "owners", "kinds", "entity", "host",
                 "text", "open"});
    f.groups = strings(j, path, "groups");
    f.states = strings(j, path, "states");
    f.sources = strings(j, path, "sources");
    f.owners = strings(j, path, "owners");
    auto sev = strings(j, path, "severities");
    for (size_t i = 0; i < sev.size(); ++i) {
      auto s = core::parseSeverity(sev[i]);
      if (s)
        f.severities.push_back(*s);
      else
        error(index(member(path, "severities"), i), "unknown severity '" + sev[i] +
                                                        "' (expected INFO, LOW, MEDIUM, HIGH or "
                                                        "CRITICAL)");
    }
    auto kinds = strings(j, path, "kinds");
    for (size_t i = 0; i < kinds.size(); ++i) {
      auto k = core::parseThreatKind(kinds[i]);
      if (k)
        f.kinds.push_back(*k);
      else
        error(index(member(path, "kinds"), i),
              "unknown kind '" + kinds[i] + "' (expected SIGNAL or THREAT)");
    }
    f.entity = string(j, path, "entity", false).value_or("");
    f.host = string(j, path, "host", false).value_or("");
    f.text = string(j, path, "text", false).value_or("");
    f.open = boolean(j, path, "open");
    return f;
  }

  TimeRange timeRange(const Json& root) {
    TimeRange r;
    auto it = root.find("time_range");
    if (it == root.end()) {
      error("time_range", "is required");
      return r;
    }
    if (it->is_string()) {
      r.relative = it->get<std::string>();
      if (!validRelative(r.relative))
        error("time_range",
              "unknown relative range '" + r.relative +
                  "' (expected today, yesterday, this_week, last_week, this_month, last_month, "
                  "this_quarter, this_year, last_year, last_24_hours or last_N_days)");
      return r;
    }
    if (!it->is_object()) {
      error("time_range", "must be a relative range name or an object {from, to}");
      return r;
    }
    onlyMembers(*it, "time_range", {"from", "to"});
    auto from = string(*it, "time_range", "from", true);
    auto to = string(*it, "time_range", "to", true);
    std::optional<TimeMs> f, t;
    if (from) {
      auto v = core::parseRfc3339(*from);
      if (v)
        f = *v;
      else
        error("time_range.from", "must be an RFC 3339 date-time or a date");
    }
    if (to) {
      auto v = core::parseRfc3339(*to);
      if (v)
        t = *v;
      else
        error("time_range.to", "must be an RFC 3339 date-time or a date");
    }
    if (f && t && *f >= *t) error("time_range.to", "must be after time_range.from");
    if (f) r.from = *f;
    if (t) r.to = *t;
    return r;
  }

  void kpi(const Json& j, const std::string& path, KpiSpec& k) {
    if (!isObject(j, path)) return;
    onlyMembers(j, path, {"metric", "compare"});
    if (auto m = name(j, path, "metric", kKpiMetrics, true, "KPI metric")) k.metric = *m;
    if (auto c = boolean(j, path, "compare")) k.compare = *c;
  }

  void chart(const Json& j, const std::string& path, ChartSpec& c) {
    if (!isObject(j, path)) return;
    onlyMembers(j, path, {"kind", "dimension", "series", "population", "metric", "bucket", "limit"});
    if (auto k = name(j, path, "kind", kChartKinds, true, "chart kind")) c.kind = *k;
    if (auto d = name(j, path, "dimension", kDimensions, true, "dimension")) c.dimension = *d;
    if (j.contains("series"))
      if (auto s = name(j, path, "series", kDimensions, false, "dimension")) c.series = *s;
    if (auto p = name(j, path, "population", kPopulations, false, "population")) c.population = *p;
    if (auto m = name(j, path, "metric", kMetrics, false, "metric")) c.metric = *m;
    if (auto b = name(j, path, "bucket", kBuckets, false, "bucket")) c.bucket = *b;
    if (auto l = integer(j, path, "limit", 1, 50)) c.limit = *l;
    // What the combinations mean.
    if (c.series && *c.series == Dimension::kTime)
      error(member(path, "series"), "time cannot be a series; use it as the dimension");
    if (c.series && *c.series == c.dimension)
      error(member(path, "series"), "must differ from the dimension");
    if (c.kind == ChartKind::kStackedBar && !c.series)
      error(member(path, "series"), "is required for a stacked_bar chart");
    if (c.kind == ChartKind::kPie && c.series)
      error(member(path, "series"), "a pie chart has no series");
    if (c.kind == ChartKind::kPie && c.dimension == Dimension::kTime)
      error(member(path, "dimension"), "a pie chart cannot show time");
    if (c.metric != Metric::kCount && (c.kind == ChartKind::kPie || c.series))
      error(member(path, "metric"), "mtta, mttr and false_positive_rate are averages: only bar "
                                    "and line charts without series show them");
    if (c.dimension == Dimension::kTime && c.population == Population::kOpen)
      error(member(path, "population"), "open threats have no time to put in buckets; use "
                                        "active, new or closed");
    if (c.bucket != Bucket::kAuto && c.dimension != Dimension::kTime)
      error(member(path, "bucket"), "applies only to the time dimension");
  }

  void table(const Json& j, const std::string& path, TableSpec& t) {
    if (!isObject(j, path)) return;
    onlyMembers(j, path, {"kind", "dimension", "metric", "population", "columns", "sort", "limit"});
    if (auto k = name(j, path, "kind", kTableKinds, true, "table kind")) t.kind = *k;
    if (t.kind == TableKind::kTop) {
      for (auto key : {"columns", "sort"})
        if (j.contains(key))
          error(member(path, key), "applies only to a table of kind 'threats'");
      if (auto d = name(j, path, "dimension", kDimensions, true, "dimension")) t.dimension = *d;
      if (t.dimension == Dimension::kTime)
        error(member(path, "dimension"), "a top table ranks values; use a chart for time");
      if (auto m = name(j, path, "metric", kMetrics, false, "metric")) t.metric = *m;
      if (auto p = name(j, path, "population", kPopulations, false, "population"))
        t.population = *p;
      if (auto l = integer(j, path, "limit", 1, 100)) t.limit = *l;
      return;
    }
    for (auto key : {"dimension", "metric", "population"})
      if (j.contains(key)) error(member(path, key), "applies only to a table of kind 'top'");
    t.columns = strings(j, path, "columns");
    const std::string cp = member(path, "columns");
    if (!j.contains("columns")) error(cp, "is required for a table of kind 'threats'");
    if (j.contains("columns") && t.columns.empty() && j["columns"].is_array())
      error(cp, "names at least one column");
    std::set<std::string> seen;
    for (size_t i = 0; i < t.columns.size(); ++i) {
      const auto& col = t.columns[i];
      const auto& all = threatColumns();
      if (std::find(all.begin(), all.end(), col) == all.end()) {
        std::string list;
        for (auto c : all) list += (list.empty() ? "" : ", ") + std::string(c);
        error(index(cp, i), "unknown column '" + col + "' (expected one of: " + list + ")");
      } else if (!seen.insert(col).second) {
        error(index(cp, i), "column '" + col + "' is listed twice");
      }
    }
    if (auto s = string(j, path, "sort", false)) {
      auto sort = store::parseThreatSort(*s);
      if (sort)
        t.sort = *sort;
      else
        error(member(path, "sort"), "unknown sort '" + *s +
                                        "' (expected score, severity, last_seen or created)");
    }
    t.limit = 20;
    if (auto l = integer(j, path, "limit", 1, 500)) t.limit = *l;
  }

  void widget(const Json& j, const std::string& path, size_t i, int columns, Widget& w) {
    w.id = "w" + std::to_string(i + 1);
    if (!isObject(j, path)) return;
    onlyMembers(j, path, {"id", "type", "title", "position", "filters", "kpi", "chart", "table"});
    if (auto id = string(j, path, "id", false, 64)) {
      const bool ok = !id->empty() && std::all_of(id->begin(), id->end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
      });
      if (ok)
        w.id = *id;
      else
        error(member(path, "id"), "must be 1 to 64 letters, digits, '-' or '_'");
    }
    auto type = name(j, path, "type", kWidgetTypes, true, "widget type");
    if (type) w.type = *type;
    w.title = string(j, path, "title", false).value_or("");
    if (auto it = j.find("filters"); it != j.end())
      w.filters = filters(*it, member(path, "filters"));
    if (auto it = j.find("position"); it != j.end()) {
      const std::string pp = member(path, "position");
      if (isObject(*it, pp)) {
        onlyMembers(*it, pp, {"x", "y", "w", "h"});
        w.position.x = integer(*it, pp, "x", 0, columns - 1).value_or(0);
        w.position.y = integer(*it, pp, "y", 0, 1000).value_or(0);
        w.position.w = integer(*it, pp, "w", 1, columns).value_or(std::min(3, columns));
        w.position.h = integer(*it, pp, "h", 1, 20).value_or(1);
        if (w.position.x + w.position.w > columns)
          error(member(pp, "w"), "the widget reaches past the grid's " + std::to_string(columns) +
                                     " columns (x + w > columns)");
      }
    }
    if (!type) return;
    // Exactly the member of its type.
    for (auto [key, t] : {std::pair<const char*, WidgetType>{"kpi", WidgetType::kKpi},
                          {"chart", WidgetType::kChart},
                          {"table", WidgetType::kTable}}) {
      if (t == *type) {
        auto it = j.find(key);
        if (it == j.end()) {
          error(member(path, key), std::string("is required for a widget of type '") + key + "'");
          continue;
        }
        if (t == WidgetType::kKpi) kpi(*it, member(path, key), w.kpi);
        if (t == WidgetType::kChart) chart(*it, member(path, key), w.chart);
        if (t == WidgetType::kTable) table(*it, member(path, key), w.table);
      } else if (j.contains(key)) {
        error(member(path, key), std::string("does not belong to a widget of type '") +
                                     std::string(kWidgetTypes.name(*type)) + "'");
      }
    }
  }
};

// Flows widgets without a position, in document order, into the first free cells of the grid
// (row by row) around the positioned ones; then checks that no two widgets overlap.
void layout(const Json& root, ReportSpec& spec, Checker& check) {
  const auto& list = root["widgets"];
  auto positioned = [&](size_t i) { return list[i].is_object() && list[i].contains("position"); };
  auto overlaps = [](const Position& a, const Position& b) {
    return a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
  };
  std::vector<Position> taken;
  for (size_t i = 0; i < spec.widgets.size(); ++i)
    if (positioned(i)) taken.push_back(spec.widgets[i].position);
  int cursor_x = 0, cursor_y = 0;
  for (size_t i = 0; i < spec.widgets.size(); ++i) {
    if (positioned(i)) continue;
    auto& w = spec.widgets[i];
    // Default sizes: KPI tiles a quarter row, charts half, tables full width.
    w.position.w = w.type == WidgetType::kKpi     ? std::max(1, spec.columns / 4)
                   : w.type == WidgetType::kChart ? std::max(1, spec.columns / 2)
                                                  : spec.columns;
    w.position.h = w.type == WidgetType::kKpi ? 1 : 3;
    for (int y = cursor_y;; ++y) {
      bool placed = false;
      for (int x = y == cursor_y ? cursor_x : 0; x + w.position.w <= spec.columns; ++x) {
        Position p{x, y, w.position.w, w.position.h};
        if (std::none_of(taken.begin(), taken.end(),
                         [&](const Position& t) { return overlaps(p, t); })) {
          w.position = p;
          placed = true;
          break;
        }
      }
      if (placed) break;
    }
    taken.push_back(w.position);
    cursor_x = w.position.x + w.position.w;
    cursor_y = w.position.y;
  }
  for (size_t i = 0; i < spec.widgets.size(); ++i)
    for (size_t k = 0; k < i; ++k) {
      const auto& a = spec.widgets[k].position;
      const auto& b = spec.widgets[i].position;
      if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) {
        check.error("widgets[" + std::to_string(i) + "].position",
                    "overlaps widgets[" + std::to_string(k) + "] ('" + spec.widgets[k].id + "')");
        break;
      }
    }
}

}  // namespace

std::string_view dimensionName(Dimension d) { return kDimensions.name(d); }
std::optional<Dimension> parseDimension(std::string_view text) { return kDimensions.parse(text); }
std::string_view populationName(Population p) { return kPopulations.name(p); }
std::string_view metricName(Metric m) { return kMetrics.name(m); }
std::string_view kpiMetricName(KpiMetric m) { return kKpiMetrics.name(m); }
std::string_view chartKindName(ChartKind k) { return kChartKinds.name(k); }
std::string_view bucketName(Bucket b) { return kBuckets.name(b); }

const std::vector<std::string_view>& threatColumns() {
  static const std::vector<std::string_view> kColumns = {
      "id",     "name",  "severity", "score",        "state",   "group",    "owner",
      "outcome", "source", "rule",   "entity",       "host",    "entity_group", "kind",
      "count",  "created", "last_seen", "closed_at"};
  return kColumns;
}

SpecParse parseSpecAll(std::string_view text) {
  SpecParse out;
  if (text.size() > kMaxSpecBytes) {
    out.errors.push_back({ErrorCode::kTooLarge,
                          "the report document is larger than " +
                              std::to_string(kMaxSpecBytes / 1024) + " KiB",
                          ""});
    return out;
  }
  Json root;
  try {
    root = Json::parse(text);
  } catch (const Json::parse_error& e) {
    out.errors.push_back({ErrorCode::kInvalidArgument,
                          "the report document is not JSON: " + std::string(e.what()),
                          "byte " + std::to_string(e.byte)});
    return out;
  }
  Checker check;
  ReportSpec spec;
  if (!root.is_object()) {
    check.error("", "the report document must be a JSON object");
    out.errors = std::move(check.errors);
    return out;
  }
  check.onlyMembers(root, "",
                    {"title", "description", "time_range", "time_zone", "filters", "page",
                     "grid", "widgets", "$schema"});
  spec.title = check.string(root, "", "title", true, core::kMaxNameLength).value_or("");
  if (root.contains("title") && root["title"].is_string() && spec.title.empty())
    check.error("title", "must not be empty");
  spec.description =
      check.string(root, "", "description", false, core::kMaxDescriptionLength).value_or("");
  spec.time_range = check.timeRange(root);
  if (auto tz = check.string(root, "", "time_zone", false, 64)) {
    const bool ok = !tz->empty() && tz->front() != '/' && tz->find("..") == std::string::npos &&
                    std::all_of(tz->begin(), tz->end(), [](char c) {
                      return std::isalnum(static_cast<unsigned char>(c)) || c == '/' ||
                             c == '_' || c == '-' || c == '+';
                    });
    if (ok)
      spec.time_zone = *tz;
    else
      check.error("time_zone", "must be an IANA time zone name such as Europe/Berlin");
  }
  if (auto it = root.find("filters"); it != root.end()) spec.filters = check.filters(*it, "filters");
  if (auto it = root.find("page"); it != root.end() && check.isObject(*it, "page")) {
    check.onlyMembers(*it, "page", {"size", "orientation"});
    if (auto s = check.name(*it, "page", "size", kPageSizes, false, "page size"))
      spec.page_size = *s;
    if (auto o = check.string(*it, "page", "orientation", false)) {
      if (*o == "landscape")
        spec.landscape = true;
      else if (*o != "portrait")
        check.error("page.orientation", "must be portrait or landscape");
    }
  }
  if (auto it = root.find("grid"); it != root.end() && check.isObject(*it, "grid")) {
    check.onlyMembers(*it, "grid", {"columns"});
    if (auto c = check.integer(*it, "grid", "columns", 1, 24)) spec.columns = *c;
  }
  auto wit = root.find("widgets");
  if (wit == root.end()) {
    check.error("widgets", "is required");
  } else if (!wit->is_array()) {
    check.error("widgets", "must be an array");
  } else if (wit->empty()) {
    check.error("widgets", "must have at least one widget");
  } else if (wit->size() > kMaxWidgets) {
    check.error("widgets", "has more than " + std::to_string(kMaxWidgets) + " widgets");
  } else {
    std::set<std::string> ids;
    for (size_t i = 0; i < wit->size(); ++i) {
      Widget w;
      const std::string path = "widgets[" + std::to_string(i) + "]";
      check.widget((*wit)[i], path, i, spec.columns, w);
      if (!ids.insert(w.id).second) check.error(path + ".id", "id '" + w.id + "' is used twice");
      spec.widgets.push_back(std::move(w));
    }
    if (check.errors.empty()) layout(root, spec, check);
  }
  out.errors = std::move(check.errors);
  if (out.errors.empty()) out.spec = std::move(spec);
  return out;
}

core::Result<ReportSpec> parseSpec(std::string_view json) {
  auto parsed = parseSpecAll(json);
  if (parsed.spec) return std::move(*parsed.spec);
  core::Error first = parsed.errors.front();
  if (parsed.errors.size() > 1)
    first.message += " (and " + std::to_string(parsed.errors.size() - 1) + " more)";
  return core::fail(std::move(first));
}

store::ThreatFilter effectiveFilter(const ReportSpec& spec, const Widget& widget) {
  store::ThreatFilter f = spec.filters;
  if (!widget.filters) return f;
  const auto& w = *widget.filters;
  if (!w.groups.empty()) f.groups = w.groups;
  if (!w.states.empty()) f.states = w.states;
  if (!w.severities.empty()) f.severities = w.severities;
  if (!w.sources.empty()) f.sources = w.sources;
  if (!w.owners.empty()) f.owners = w.owners;
  if (!w.kinds.empty()) f.kinds = w.kinds;
  if (!w.entity.empty()) f.entity = w.entity;
  if (!w.host.empty()) f.host = w.host;
  if (!w.text.empty()) f.text = w.text;
  if (w.open) f.open = w.open;
  return f;
}

std::string widgetTitle(const Widget& w) {
  if (!w.title.empty()) return w.title;
  switch (w.type) {
    case WidgetType::kKpi: {
      static const std::map<KpiMetric, std::string> kTitles = {
          {KpiMetric::kOpen, "Open threats"},
          {KpiMetric::kNew, "New threats"},
          {KpiMetric::kClosed, "Closed threats"},
          {KpiMetric::kMtta, "Mean time to acknowledge"},
          {KpiMetric::kMttr, "Mean time to close"},
          {KpiMetric::kFalsePositiveRate, "False positive rate"}};
      return kTitles.at(w.kpi.metric);
    }
    case WidgetType::kChart: {
      std::string metric = w.chart.metric == Metric::kCount   ? "Threats"
                           : w.chart.metric == Metric::kMtta  ? "Mean time to acknowledge"
                           : w.chart.metric == Metric::kMttr  ? "Mean time to close"
                                                              : "False positive rate";
      std::string t = metric + " by " + std::string(dimensionName(w.chart.dimension));
      if (w.chart.series) t += " and " + std::string(dimensionName(*w.chart.series));
      std::replace(t.begin(), t.end(), '_', ' ');
      return t;
    }
    case WidgetType::kTable: {
      if (w.table.kind == TableKind::kThreats) return "Threats";
      std::string t = "Top " + std::to_string(w.table.limit) + " by " +
                      std::string(dimensionName(w.table.dimension));
      std::replace(t.begin(), t.end(), '_', ' ');
      return t;
    }
  }
  return "";
}

}  // namespace td::report
