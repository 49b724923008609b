#include "report/query.h"

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdio>
#include <map>
#include <unordered_map>

#include "core/text.h"

namespace td::report {
namespace {

using core::ErrorCode;
using core::fail;
using store::IndexRow;

constexpr size_t kMaxBuckets = 1000;
constexpr size_t kMaxSeries = 8;

TimeMs localMidnight(TimeMs local) { return floorDiv(local, core::kDayMs) * core::kDayMs; }

TimeMs monthStartLocal(int year, int month) {
  return daysFromCivil({year, month, 1}) * core::kDayMs;
}

// Local time of the Monday 00:00 of the week containing `local`.
TimeMs weekStartLocal(TimeMs local) {
  const std::int64_t day = floorDiv(local, core::kDayMs);
  const int wd = weekdayOfDays(day);  // 0 Sunday
  return (day - ((wd + 6) % 7)) * core::kDayMs;
}

// Buckets of the time dimension, in the zone's calendar.
struct Buckets {
  Bucket size = Bucket::kDay;
  std::vector<TimeMs> starts;  // UTC instants, ascending; the last bucket ends at `to`
  std::vector<std::string> labels;

  // The bucket of an instant, or -1 outside.
  int index(TimeMs t) const {
    if (starts.empty() || t < starts.front()) return -1;
    auto it = std::upper_bound(starts.begin(), starts.end(), t);
    return static_cast<int>(it - starts.begin()) - 1;
  }
};

Bucket autoBucket(TimeMs from, TimeMs to) {
  const TimeMs len = to - from;
  if (len <= 2 * core::kDayMs) return Bucket::kHour;
  if (len <= 92 * core::kDayMs) return Bucket::kDay;
  if (len <= 2 * 366 * core::kDayMs) return Bucket::kWeek;
  return Bucket::kMonth;
}

core::Result<Buckets> makeBuckets(Bucket choice, TimeMs from, TimeMs to, const TimeZone& zone,
                                  const std::string& path) {
  Buckets b;
  b.size = choice == Bucket::kAuto ? autoBucket(from, to) : choice;
  TimeMs local = zone.toLocal(from);
  switch (b.size) {
    case Bucket::kHour: local = floorDiv(local, core::kHourMs) * core::kHourMs; break;
    case Bucket::kDay: local = localMidnight(local); break;
    case Bucket::kWeek: local = weekStartLocal(local); break;
    case Bucket::kMonth: {
      const CivilDate d = civilFromDays(floorDiv(local, core::kDayMs));
      local = monthStartLocal(d.year, d.month);
      break;
    }
    case Bucket::kAuto: break;
  }
  while (true) {
    const TimeMs at = b.size == Bucket::kHour ? local - zone.offsetSeconds(local) * 1000LL
                                              : zone.toUtc(local);
    if (at >= to) break;
    if (b.starts.empty() || at > b.starts.back()) {
      b.starts.push_back(at);
      const CivilDate d = civilFromDays(floorDiv(local, core::kDayMs));
      char buf[32];
      if (b.size == Bucket::kHour)
        std::snprintf(buf, sizeof buf, "%02d-%02d %02d:00", d.month, d.day,
                      static_cast<int>(floorDiv(local, core::kHourMs) % 24));
      else if (b.size == Bucket::kMonth)
        std::snprintf(buf, sizeof buf, "%04d-%02d", d.year, d.month);
      else
        std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", d.year, d.month, d.day);
      b.labels.push_back(buf);
    }
    if (b.starts.size() > kMaxBuckets)
      return fail(ErrorCode::kUnprocessable,
                  "bucket '" + std::string(bucketName(b.size)) + "' gives more than " +
                      std::to_string(kMaxBuckets) + " buckets over the report's range",
                  path);
    switch (b.size) {
      case Bucket::kHour: local += core::kHourMs; break;
      case Bucket::kDay: local += core::kDayMs; break;
      case Bucket::kWeek: local += 7 * core::kDayMs; break;
      case Bucket::kMonth: {
        const CivilDate d = civilFromDays(floorDiv(local, core::kDayMs));
        local = d.month == 12 ? monthStartLocal(d.year + 1, 1) : monthStartLocal(d.year, d.month + 1);
        break;
      }
      case Bucket::kAuto: break;
    }
  }
  if (!b.starts.empty()) b.starts.front() = std::max(b.starts.front(), from);
  return b;
}

// What the whole report needs from the store besides scans, loaded once and only when needed.
class Context {
 public:
  Context(store::Store& store, const ReportSpec& spec, const QueryOptions& options,
          ResolvedRange range, std::shared_ptr<const TimeZone> zone)
      : store_(store), spec_(spec), options_(options), range_(range), zone_(std::move(zone)) {}

  const ResolvedRange& range() const { return range_; }
  const TimeZone& zone() const { return *zone_; }

  core::Status loadNames() {
    if (names_loaded_) return {};
    auto orgs = store_.listOrgs();
    if (!orgs) return fail(orgs.error());
    for (const auto& org : *orgs)
      for (auto kind : {store::TagKind::kGroup, store::TagKind::kState, store::TagKind::kOutcome}) {
        auto tags = store_.listTags(org.id, kind);
        if (!tags) return fail(tags.error());
        for (const auto& t : *tags) {
          tag_names_[t.id] = t.name;
          tag_order_[t.id] = t.position;
        }
      }
    auto users = store_.listUsers();
    if (!users) return fail(users.error());
    for (const auto& u : *users) user_names_[u.id] = u.email;
    names_loaded_ = true;
    return {};
  }

  core::Status loadTimes() {
    if (times_loaded_) return {};
    const TimeMs since = std::min(range_.prev_from, range_.from);
    auto closed = store_.reports().closedSince(since);
    if (!closed) return fail(closed.error());
    // Ids are dense sequence numbers: a vector by id beats a hash map on every row of a scan.
    for (const auto& c : *closed) put(closed_at_, c.threat_id, c.at);
    auto acks = store_.reports().firstAcknowledgements(since);
    if (!acks) return fail(acks.error());
    for (const auto& a : *acks) put(acked_at_, a.threat_id, a.at);
    times_loaded_ = true;
    return {};
  }

  std::optional<TimeMs> closedAt(store::ThreatId id) const { return get(closed_at_, id); }
  std::optional<TimeMs> ackedAt(store::ThreatId id) const { return get(acked_at_, id); }

  bool openAt(const IndexRow& r, TimeMs t) const {
    if (r.created_at >= t) return false;
    if (!r.closed) return true;
    auto c = closedAt(r.id);  // closed before `since` when unknown
    return c && *c >= t;
  }

  // Whether a row belongs to a population over [from, to), and its time there.
  std::optional<TimeMs> member(const IndexRow& r, Population p, TimeMs from, TimeMs to) const {
    switch (p) {
      case Population::kActive:
        if (r.last_seen >= from && r.last_seen < to) return r.last_seen;
        return std::nullopt;
      case Population::kNew:
        if (r.created_at >= from && r.created_at < to) return r.created_at;
        return std::nullopt;
      case Population::kClosed: {
        auto c = closedAt(r.id);
        if (r.closed && c && *c >= from && *c < to) return *c;
        return std::nullopt;
      }
      case Population::kOpen:
        if (openAt(r, to)) return to;
        return std::nullopt;
    }
    return std::nullopt;
  }

  // A metric's sample of a row over [from, to): its time and value, or none when the row does
  // not count. Count: population membership, value 1. MTTA/MTTR: the population is implied.
  std::optional<std::pair<TimeMs, double>> sample(const IndexRow& r, Metric m, Population p,
                                                  TimeMs from, TimeMs to) const {
    switch (m) {
      case Metric::kCount: {
        auto t = member(r, p, from, to);
        if (!t) return std::nullopt;
        return std::make_pair(*t, 1.0);
      }
      case Metric::kMtta: {
        if (r.created_at < from || r.created_at >= to) return std::nullopt;
        auto a = ackedAt(r.id);
        if (!a) return std::nullopt;
        return std::make_pair(r.created_at,
                              static_cast<double>(*a - r.created_at) / core::kMinuteMs);
      }
      case Metric::kMttr: {
        auto c = member(r, Population::kClosed, from, to);
        if (!c) return std::nullopt;
        return std::make_pair(*c, static_cast<double>(*c - r.created_at) / core::kMinuteMs);
      }
      case Metric::kFalsePositiveRate: {
        auto c = member(r, Population::kClosed, from, to);
        if (!c) return std::nullopt;
        return std::make_pair(*c, falsePositive(r) ? 100.0 : 0.0);
      }
    }
    return std::nullopt;
  }

  bool falsePositive(const IndexRow& r) const {
    if (r.outcome_id == 0) return false;
    auto it = tag_names_.find(r.outcome_id);
    return it != tag_names_.end() && core::equalsIgnoreCase(it->second, "False Positive");
  }

  std::string label(const IndexRow& r, Dimension d) const {
    auto tag = [&](store::TagId id, const char* none) -> std::string {
      if (id == 0) return none;
      auto it = tag_names_.find(id);
      return it == tag_names_.end() ? "#" + std::to_string(id) : it->second;
    };
    auto text = [](std::string_view v) { return v.empty() ? std::string("(none)") : std::string(v); };
    switch (d) {
      case Dimension::kGroup: return tag(r.group_id, "(no group)");
      case Dimension::kSeverity: return std::string(core::severityName(r.severity));
      case Dimension::kSource: return text(r.source);
      case Dimension::kState: return tag(r.state_id, "(none)");
      case Dimension::kOutcome: return tag(r.outcome_id, "(no outcome)");
      case Dimension::kOwner: {
        if (r.owner_id == 0) return "(unassigned)";
        auto it = user_names_.find(r.owner_id);
        return it == user_names_.end() ? "#" + std::to_string(r.owner_id) : it->second;
      }
      case Dimension::kHost: return text(r.host);
      case Dimension::kEntityGroup: return text(r.entity_group);
      case Dimension::kRule: return text(r.rule_id);
      case Dimension::kKind: return std::string(core::threatKindName(r.kind));
      case Dimension::kTime: return "";
    }
    return "";
  }

  // A fixed order for ordered dimensions (severity high to low, states by position); counts
  // order the others.
  std::optional<int> rank(const IndexRow& r, Dimension d) const {
    if (d == Dimension::kSeverity) return -static_cast<int>(r.severity);
    if (d == Dimension::kState) {
      auto it = tag_order_.find(r.state_id);
      return it == tag_order_.end() ? 0 : it->second;
    }
    return std::nullopt;
  }

  core::Status scan(const Widget& w, const std::function<void(const IndexRow&)>& fn) {
    store::ThreatFilter f = effectiveFilter(spec_, w);
    f.project_id = options_.project_id;
    f.from.reset();
    f.to.reset();
    return store_.reports().scanThreats(f, fn);
  }

  store::Store& store() { return store_; }
  const QueryOptions& options() const { return options_; }
  const ReportSpec& spec() const { return spec_; }

 private:
  store::Store& store_;
  const ReportSpec& spec_;
  const QueryOptions& options_;
  ResolvedRange range_;
  std::shared_ptr<const TimeZone> zone_;
  bool names_loaded_ = false, times_loaded_ = false;
  std::unordered_map<store::TagId, std::string> tag_names_;
  std::unordered_map<store::TagId, int> tag_order_;
  std::unordered_map<store::UserId, std::string> user_names_;
  static constexpr TimeMs kNone = LLONG_MIN;
  static void put(std::vector<TimeMs>& v, store::ThreatId id, TimeMs at) {
    if (id <= 0 || id > (1LL << 32)) return;
    if (static_cast<size_t>(id) >= v.size()) v.resize(static_cast<size_t>(id) + 1, kNone);
    v[static_cast<size_t>(id)] = at;
  }
  static std::optional<TimeMs> get(const std::vector<TimeMs>& v, store::ThreatId id) {
    if (id <= 0 || static_cast<size_t>(id) >= v.size() || v[static_cast<size_t>(id)] == kNone)
      return std::nullopt;
    return v[static_cast<size_t>(id)];
  }
  std::vector<TimeMs> closed_at_, acked_at_;  // by threat id; kNone: unknown
};

// Dimension values of rows as numbers (tag ids, enums, or the address of the read model's interned
// string), turned into labels once per distinct value: a scan over a million rows allocates
// nothing per row.
class Labeler {
 public:
  Labeler(const Context& ctx, Dimension d) : ctx_(ctx), d_(d) {}

  std::uint64_t key(const IndexRow& r) {
    std::uint64_t k = 0;
    auto text = [](std::string_view v) { return reinterpret_cast<std::uintptr_t>(v.data()); };
    switch (d_) {
      case Dimension::kGroup: k = static_cast<std::uint64_t>(r.group_id); break;
      case Dimension::kSeverity: k = static_cast<std::uint64_t>(r.severity); break;
      case Dimension::kSource: k = text(r.source); break;
      case Dimension::kState: k = static_cast<std::uint64_t>(r.state_id); break;
      case Dimension::kOutcome: k = static_cast<std::uint64_t>(r.outcome_id); break;
      case Dimension::kOwner: k = static_cast<std::uint64_t>(r.owner_id); break;
      case Dimension::kHost: k = text(r.host); break;
      case Dimension::kEntityGroup: k = text(r.entity_group); break;
      case Dimension::kRule: k = text(r.rule_id); break;
      case Dimension::kKind: k = static_cast<std::uint64_t>(r.kind); break;
      case Dimension::kTime: return 0;
    }
    if (labels_.find(k) == labels_.end()) {
      labels_.emplace(k, ctx_.label(r, d_));
      if (auto rank = ctx_.rank(r, d_)) ranks_[k] = *rank;
    }
    return k;
  }
  const std::string& label(std::uint64_t k) const { return labels_.at(k); }
  std::optional<int> rank(std::uint64_t k) const {
    auto it = ranks_.find(k);
    if (it == ranks_.end()) return std::nullopt;
    return it->second;
  }

 private:
  const Context& ctx_;
  Dimension d_;
  std::unordered_map<std::uint64_t, std::string> labels_;
  std::unordered_map<std::uint64_t, int> ranks_;
};

bool needsTimes(const Widget& w) {
  switch (w.type) {
    case WidgetType::kKpi: return true;
    case WidgetType::kChart:
      return w.chart.metric != Metric::kCount || w.chart.population == Population::kClosed ||
             w.chart.population == Population::kOpen;
    case WidgetType::kTable:
      return w.table.kind == TableKind::kTop &&
             (w.table.metric != Metric::kCount || w.table.population == Population::kClosed ||
              w.table.population == Population::kOpen);
  }
  return false;
}

struct Accumulator {
  double sum = 0;
  std::int64_t n = 0;
  void add(double v) {
    sum += v;
    ++n;
  }
  std::optional<double> value(Metric m) const {
    if (m == Metric::kCount) return static_cast<double>(n);
    if (n == 0) return std::nullopt;
    return sum / static_cast<double>(n);
  }
};

struct KpiPeriod {
  std::int64_t open = 0, fresh = 0, closed = 0, fp = 0;
  Accumulator mtta, mttr;
};
// Every KPI figure of both periods for one filter: KPI tiles that share a filter share one scan.
using KpiCache = std::map<std::string, std::pair<KpiPeriod, KpiPeriod>>;

std::string filterKey(const store::ThreatFilter& f) {
  std::string k;
  auto list = [&](const std::vector<std::string>& v) {
    for (const auto& s : v) k += s + '\x1f';
    k += '\x1e';
  };
  list(f.groups);
  list(f.states);
  list(f.sources);
  list(f.owners);
  for (auto s : f.severities) k += static_cast<char>('0' + static_cast<int>(s));
  k += '\x1e';
  for (auto s : f.kinds) k += static_cast<char>('0' + static_cast<int>(s));
  k += '\x1e' + f.entity + '\x1e' + f.host + '\x1e' + f.entity_group + '\x1e' + f.text + '\x1e';
  k += f.open ? (*f.open ? "o" : "c") : "-";
  return k;
}

core::Status runKpi(Context& ctx, WidgetData& out, KpiCache& cache) {
  const Widget& w = out.widget;
  const auto& r = ctx.range();
  const std::string key = filterKey(effectiveFilter(ctx.spec(), w));
  auto cached = cache.find(key);
  if (cached == cache.end()) {
  KpiPeriod now, prev;
  auto visit = [&](const IndexRow& row, KpiPeriod& p, TimeMs from, TimeMs to) {
    if (ctx.openAt(row, to)) ++p.open;
    if (row.created_at >= from && row.created_at < to) ++p.fresh;
    if (auto c = ctx.member(row, Population::kClosed, from, to)) {
      ++p.closed;
      p.mttr.add(static_cast<double>(*c - row.created_at) / core::kMinuteMs);
      if (ctx.falsePositive(row)) ++p.fp;
    }
    if (auto s = ctx.sample(row, Metric::kMtta, Population::kNew, from, to)) p.mtta.add(s->second);
  };
  auto st = ctx.scan(w, [&](const IndexRow& row) {
    visit(row, now, r.from, r.to);
    visit(row, prev, r.prev_from, r.prev_to);
  });
  if (!st) return st;
  cached = cache.emplace(key, std::make_pair(now, prev)).first;
  }
  const KpiPeriod& now = cached->second.first;
  const KpiPeriod& prev = cached->second.second;
  auto value = [&](const KpiPeriod& p, std::int64_t& samples) -> std::optional<double> {
    switch (w.kpi.metric) {
      case KpiMetric::kOpen: samples = p.open; return static_cast<double>(p.open);
      case KpiMetric::kNew: samples = p.fresh; return static_cast<double>(p.fresh);
      case KpiMetric::kClosed: samples = p.closed; return static_cast<double>(p.closed);
      case KpiMetric::kMtta: samples = p.mtta.n; return p.mtta.value(Metric::kMtta);
      case KpiMetric::kMttr: samples = p.mttr.n; return p.mttr.value(Metric::kMttr);
      case KpiMetric::kFalsePositiveRate:
        samples = p.closed;
        if (p.closed == 0) return std::nullopt;
        return 100.0 * static_cast<double>(p.fp) / static_cast<double>(p.closed);
    }
    return std::nullopt;
  };
  std::int64_t ignored = 0;
  out.kpi.value = value(now, out.kpi.samples);
  if (w.kpi.compare) out.kpi.previous = value(prev, ignored);
  out.kpi.unit = w.kpi.metric == KpiMetric::kMtta || w.kpi.metric == KpiMetric::kMttr ? "minutes"
                 : w.kpi.metric == KpiMetric::kFalsePositiveRate                        ? "%"
                                                                                        : "threats";
  return {};
}

// Orders category labels: by fixed rank when the dimension has one, else by total desc, name.
std::vector<std::string> orderCategories(const std::map<std::string, double>& totals,
                                         const std::map<std::string, int>& ranks) {
  std::vector<std::string> out;
  for (const auto& [k, v] : totals) out.push_back(k);
  std::stable_sort(out.begin(), out.end(), [&](const std::string& a, const std::string& b) {
    auto ra = ranks.find(a), rb = ranks.find(b);
    if (ra != ranks.end() && rb != ranks.end() && ra->second != rb->second)
      return ra->second < rb->second;
    if (ra != ranks.end() && rb != ranks.end()) return a < b;
    const double ta = totals.at(a), tb = totals.at(b);
    if (ta != tb) return ta > tb;
    return a < b;
  });
  return out;
}

core::Status runChart(Context& ctx, WidgetData& out, const std::string& path) {
  const ChartSpec& c = out.widget.chart;
  const auto& r = ctx.range();
  out.chart.unit = c.metric == Metric::kCount                ? "threats"
                   : c.metric == Metric::kFalsePositiveRate ? "%"
                                                            : "minutes";
  std::optional<Buckets> buckets;
  if (c.dimension == Dimension::kTime) {
    auto b = makeBuckets(c.bucket, r.from, r.to, ctx.zone(), path + ".bucket");
    if (!b) return fail(b.error());
    buckets = std::move(*b);
  }
  // cells[category][series] and per-category totals.
  std::map<std::string, std::map<std::string, Accumulator>> cells;
  std::map<std::string, double> cat_totals, series_totals;
  std::map<std::string, int> cat_rank, series_rank;
  std::vector<Accumulator> time_cells;  // [bucket * nseries + s] resolved afterwards
  std::map<int, std::map<std::string, Accumulator>> by_bucket;
  Labeler cat_labels(ctx, c.dimension), series_labels(ctx, c.series.value_or(Dimension::kTime));
  using Cells = std::unordered_map<std::uint64_t, Accumulator>;
  std::unordered_map<std::uint64_t, Cells> key_cells;  // category -> series -> figures
  std::unordered_map<int, Cells> key_buckets;          // bucket -> series -> figures
  auto st = ctx.scan(out.widget, [&](const IndexRow& row) {
    auto s = ctx.sample(row, c.metric, c.population, r.from, r.to);
    if (!s) return;
    const std::uint64_t series = c.series ? series_labels.key(row) : 0;
    if (buckets) {
      const int b = buckets->index(s->first);
      if (b >= 0) key_buckets[b][series].add(s->second);
      return;
    }
    key_cells[cat_labels.key(row)][series].add(s->second);
  });
  if (!st) return st;
  // Back to labels (values that share a label, such as "" and "(none)", merge here).
  auto seriesLabel = [&](std::uint64_t k) {
    return c.series ? series_labels.label(k) : std::string();
  };
  auto countSeries = [&](const Cells& row_cells) {
    if (!c.series) return;
    for (const auto& [k, acc] : row_cells) {
      series_totals[seriesLabel(k)] += static_cast<double>(acc.n);
      if (auto rank = series_labels.rank(k)) series_rank[seriesLabel(k)] = *rank;
    }
  };
  for (const auto& [b, row_cells] : key_buckets) {
    countSeries(row_cells);
    for (const auto& [k, acc] : row_cells) {
      auto& cell = by_bucket[b][seriesLabel(k)];
      cell.sum += acc.sum;
      cell.n += acc.n;
    }
  }
  for (const auto& [ck, row_cells] : key_cells) {
    countSeries(row_cells);
    const std::string& cat = cat_labels.label(ck);
    if (auto rank = cat_labels.rank(ck)) cat_rank[cat] = *rank;
    for (const auto& [k, acc] : row_cells) {
      auto& cell = cells[cat][seriesLabel(k)];
      cell.sum += acc.sum;
      cell.n += acc.n;
      cat_totals[cat] += static_cast<double>(acc.n);
    }
  }
  // Series: the largest kMaxSeries, the rest folded into "Other".
  std::vector<std::string> series_names = {""};
  if (c.series) {
    series_names = orderCategories(series_totals, series_rank);
    if (series_names.size() > kMaxSeries) series_names.resize(kMaxSeries - 1), series_names.push_back("Other");
    if (series_names.empty()) series_names.push_back("(none)");
  }
  auto seriesSlot = [&](const std::string& s) -> std::string {
    if (!c.series) return "";
    return std::find(series_names.begin(), series_names.end(), s) != series_names.end() ? s
                                                                                         : "Other";
  };
  for (const auto& s : series_names) out.chart.series.push_back({s, {}});
  auto put = [&](const std::map<std::string, Accumulator>& row_cells) {
    std::map<std::string, Accumulator> folded;
    for (const auto& [s, acc] : row_cells) {
      auto& f = folded[seriesSlot(s)];
      f.sum += acc.sum;
      f.n += acc.n;
    }
    for (size_t i = 0; i < series_names.size(); ++i) {
      auto it = folded.find(series_names[i]);
      out.chart.series[i].values.push_back(
          it == folded.end() ? (c.metric == Metric::kCount ? std::optional<double>(0.0)
                                                           : std::nullopt)
                             : it->second.value(c.metric));
    }
  };
  if (buckets) {
    out.chart.categories = buckets->labels;
    out.chart.bucket_starts = buckets->starts;
    for (size_t b = 0; b < buckets->starts.size(); ++b) {
      auto it = by_bucket.find(static_cast<int>(b));
      put(it == by_bucket.end() ? std::map<std::string, Accumulator>{} : it->second);
    }
    return {};
  }
  auto cats = orderCategories(cat_totals, cat_rank);
  const bool fold_other = cats.size() > static_cast<size_t>(c.limit) && c.metric == Metric::kCount;
  std::map<std::string, Accumulator> other;
  for (size_t i = 0; i < cats.size(); ++i) {
    if (i < static_cast<size_t>(c.limit)) {
      out.chart.categories.push_back(cats[i]);
      put(cells[cats[i]]);
    } else if (fold_other) {
      for (const auto& [s, acc] : cells[cats[i]]) {
        other[s].sum += acc.sum;
        other[s].n += acc.n;
      }
    }
  }
  if (fold_other) {
    out.chart.categories.push_back("Other");
    put(other);
  }
  return {};
}

std::string formatNumber(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

core::Status runTopTable(Context& ctx, WidgetData& out) {
  const TableSpec& t = out.widget.table;
  const auto& r = ctx.range();
  std::map<std::string, Accumulator> cells;
  std::map<std::string, double> totals;
  std::map<std::string, int> ranks;
  std::int64_t all = 0;
  Labeler labels(ctx, t.dimension);
  std::unordered_map<std::uint64_t, Accumulator> key_cells;
  auto st = ctx.scan(out.widget, [&](const IndexRow& row) {
    auto s = ctx.sample(row, t.metric, t.population, r.from, r.to);
    if (!s) return;
    key_cells[labels.key(row)].add(s->second);
    ++all;
  });
  if (!st) return st;
  for (const auto& [k, acc] : key_cells) {
    auto& cell = cells[labels.label(k)];
    cell.sum += acc.sum;
    cell.n += acc.n;
    if (auto rank = labels.rank(k)) ranks[labels.label(k)] = *rank;
  }
  // Top N: by the metric (highest first; for means the slowest first), ties by count, name.
  for (const auto& [k, acc] : cells) totals[k] = acc.value(t.metric).value_or(0);
  auto cats = orderCategories(totals, {});
  if (cats.size() > static_cast<size_t>(t.limit)) cats.resize(static_cast<size_t>(t.limit));
  std::string dim(dimensionName(t.dimension));
  std::replace(dim.begin(), dim.end(), '_', ' ');
  dim[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(dim[0])));
  if (t.metric == Metric::kCount) {
    out.table.columns = {dim, "Threats", "Share"};
    for (const auto& c : cats) {
      const auto n = cells[c].n;
      out.table.rows.push_back({c, std::to_string(n),
                                formatNumber(all ? 100.0 * static_cast<double>(n) /
                                                       static_cast<double>(all)
                                                 : 0.0,
                                             1) +
                                    " %"});
    }
  } else {
    const bool rate = t.metric == Metric::kFalsePositiveRate;
    out.table.columns = {dim,
                         rate                         ? "False positive rate"
                         : t.metric == Metric::kMtta ? "Mean time to acknowledge"
                                                      : "Mean time to close",
                         rate ? "Closed" : "Threats"};
    for (const auto& c : cats) {
      const double v = *cells[c].value(t.metric);
      out.table.rows.push_back({c, rate ? formatNumber(v, 1) + " %" : formatMinutes(v),
                                std::to_string(cells[c].n)});
    }
  }
  return {};
}

std::string column(const core::Threat& t, std::string_view col, const TimeZone& zone) {
  if (col == "id") return std::to_string(t.id);
  if (col == "name") return t.name;
  if (col == "severity") return std::string(core::severityName(t.severity));
  if (col == "score") return std::to_string(t.score);
  if (col == "state") return t.state;
  if (col == "group") return t.group;
  if (col == "owner") return t.owner;
  if (col == "outcome") return t.outcome;
  if (col == "source") return t.source;
  if (col == "rule") return t.rule_id;
  if (col == "entity") return t.entity.type.empty() ? t.entity.value
                                                     : t.entity.type + ":" + t.entity.value;
  if (col == "host") return t.host;
  if (col == "entity_group") return t.entity_group;
  if (col == "kind") return std::string(core::threatKindName(t.kind));
  if (col == "count") return std::to_string(t.count);
  if (col == "created") return formatLocal(t.created_at, zone);
  if (col == "last_seen") return formatLocal(t.last_seen, zone);
  if (col == "closed_at") return t.closed_at ? formatLocal(*t.closed_at, zone) : "";
  return "";
}

core::Status runThreatTable(Context& ctx, WidgetData& out) {
  const TableSpec& t = out.widget.table;
  store::ThreatFilter f = effectiveFilter(ctx.spec(), out.widget);
  f.project_id = ctx.options().project_id;
  f.from = ctx.range().from;
  f.to = ctx.range().to;
  store::PageRequest page;
  page.sort = t.sort;
  page.descending = true;
  page.limit = t.limit;
  auto list = ctx.store().listThreats(f, page);
  if (!list) return fail(list.error());
  for (const auto& c : t.columns) {
    std::string name(c);
    std::replace(name.begin(), name.end(), '_', ' ');
    name[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(name[0])));
    out.table.columns.push_back(name);
  }
  for (const auto& threat : list->items) {
    std::vector<std::string> row;
    for (const auto& c : t.columns) row.push_back(column(threat, c, ctx.zone()));
    out.table.rows.push_back(std::move(row));
  }
  return {};
}

}  // namespace

std::string formatLocal(TimeMs t, const TimeZone& zone, bool with_time) {
  const TimeMs local = zone.toLocal(t);
  const std::int64_t day = floorDiv(local, core::kDayMs);
  const CivilDate d = civilFromDays(day);
  const std::int64_t minutes = (local - day * core::kDayMs) / core::kMinuteMs;
  char buf[40];
  if (with_time)
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d %02d:%02d", d.year, d.month, d.day,
                  static_cast<int>(minutes / 60), static_cast<int>(minutes % 60));
  else
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", d.year, d.month, d.day);
  return buf;
}

std::string formatMinutes(double minutes) {
  if (!std::isfinite(minutes)) return "-";
  const auto m = static_cast<std::int64_t>(std::llround(std::max(0.0, minutes)));
  if (m < 60) return std::to_string(m) + " min";
  if (m < 24 * 60) {
    const auto rest = m % 60;
    return std::to_string(m / 60) + " h" + (rest ? " " + std::to_string(rest) + " min" : "");
  }
  const auto rest = (m % (24 * 60)) / 60;
  return std::to_string(m / (24 * 60)) + " d" + (rest ? " " + std::to_string(rest) + " h" : "");
}

ResolvedRange resolveRange(const TimeRange& range, const TimeZone& zone, TimeMs now) {
  ResolvedRange r;
  if (range.relative.empty()) {
    r.from = range.from;
    r.to = range.to;
  } else {
    const std::string& rel = range.relative;
    const TimeMs local = zone.toLocal(now);
    const TimeMs midnight = localMidnight(local);
    const CivilDate today = civilFromDays(floorDiv(local, core::kDayMs));
    auto utc = [&](TimeMs l) { return zone.toUtc(l); };
    if (rel == "today") {
      r.from = utc(midnight);
      r.to = now;
    } else if (rel == "yesterday") {
      r.from = utc(midnight - core::kDayMs);
      r.to = utc(midnight);
    } else if (rel == "this_week") {
      r.from = utc(weekStartLocal(local));
      r.to = now;
    } else if (rel == "last_week") {
      const TimeMs monday = weekStartLocal(local);
      r.from = utc(monday - 7 * core::kDayMs);
      r.to = utc(monday);
    } else if (rel == "this_month") {
      r.from = utc(monthStartLocal(today.year, today.month));
      r.to = now;
    } else if (rel == "last_month") {
      const int y = today.month == 1 ? today.year - 1 : today.year;
      const int m = today.month == 1 ? 12 : today.month - 1;
      r.from = utc(monthStartLocal(y, m));
      r.to = utc(monthStartLocal(today.year, today.month));
    } else if (rel == "this_quarter") {
      r.from = utc(monthStartLocal(today.year, (today.month - 1) / 3 * 3 + 1));
      r.to = now;
    } else if (rel == "this_year") {
      r.from = utc(monthStartLocal(today.year, 1));
      r.to = now;
    } else if (rel == "last_year") {
      r.from = utc(monthStartLocal(today.year - 1, 1));
      r.to = utc(monthStartLocal(today.year, 1));
    } else if (rel == "last_24_hours") {
      r.from = now - core::kDayMs;
      r.to = now;
    } else {  // last_N_days (validated by the spec parser)
      int n = 7;
      std::from_chars(rel.data() + 5, rel.data() + rel.size() - 5, n);
      r.from = now - n * core::kDayMs;
      r.to = now;
    }
  }
  if (r.to <= r.from) r.to = r.from + 1;
  r.prev_to = r.from;
  r.prev_from = r.from - (r.to - r.from);
  return r;
}

core::Result<ReportData> runReport(store::Store& store, const ReportSpec& spec,
                                   const QueryOptions& options) {
  auto zone = loadTimeZone(spec.time_zone);
  if (!zone) return fail(zone.error());
  ReportData out;
  out.spec = spec;
  out.generated_at = options.now ? options.now : core::nowMs();
  out.range = resolveRange(spec.time_range, **zone, out.generated_at);
  out.range_label = formatLocal(out.range.from, **zone) + " - " +
                    formatLocal(out.range.to, **zone) + " (" + (*zone)->name() + ")";
  QueryOptions opts = options;
  opts.now = out.generated_at;
  Context ctx(store, spec, opts, out.range, *zone);
  if (auto st = ctx.loadNames(); !st) return fail(st.error());
  for (const auto& w : spec.widgets)
    if (needsTimes(w)) {
      if (auto st = ctx.loadTimes(); !st) return fail(st.error());
      break;
    }
  KpiCache kpi_cache;
  for (size_t i = 0; i < spec.widgets.size(); ++i) {
    WidgetData wd;
    wd.widget = spec.widgets[i];
    wd.title = widgetTitle(wd.widget);
    const std::string path = "widgets[" + std::to_string(i) + "]";
    core::Status st;
    switch (wd.widget.type) {
      case WidgetType::kKpi: st = runKpi(ctx, wd, kpi_cache); break;
      case WidgetType::kChart: st = runChart(ctx, wd, path + ".chart"); break;
      case WidgetType::kTable:
        st = wd.widget.table.kind == TableKind::kTop ? runTopTable(ctx, wd)
                                                     : runThreatTable(ctx, wd);
        break;
    }
    if (!st) return fail(st.error());
    out.widgets.push_back(std::move(wd));
  }
  return out;
}

}  // namespace td::report
