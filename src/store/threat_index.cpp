#include "store/threat_index.h"

#include <algorithm>
#include <climits>
#include <mutex>

#include "core/text.h"

namespace td::store {
namespace {

constexpr std::uint8_t kSeverityMask = 0x07;
constexpr std::uint8_t kKindBit = 0x08;
constexpr std::uint8_t kClosedBit = 0x10;
constexpr int kTopN = 10;
// A timeline wider than this many buckets is cut at its start: no chart shows more.
constexpr std::int64_t kMaxBuckets = 5000;
// 1970-01-05 was a Monday; weeks start on Mondays.
constexpr TimeMs kFirstMondayMs = 4 * core::kDayMs;

template <typename T>
bool containsValue(const std::vector<T>& v, T x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::int64_t floorDiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

// Page order for (key, id) pairs: true when `a` comes before `b`.
struct PageOrder {
  bool descending;
  bool operator()(const IndexCursor& a, const IndexCursor& b) const {
    if (a.key != b.key) return descending ? a.key > b.key : a.key < b.key;
    return descending ? a.id > b.id : a.id < b.id;
  }
};

}  // namespace

TimeMs bucketLength(BucketSize size) {
  switch (size) {
    case BucketSize::kHour:
      return core::kHourMs;
    case BucketSize::kDay:
      return core::kDayMs;
    case BucketSize::kWeek:
      return 7 * core::kDayMs;
  }
  return core::kDayMs;
}

TimeMs bucketStart(TimeMs t, BucketSize size) {
  const TimeMs len = bucketLength(size);
  const TimeMs origin = size == BucketSize::kWeek ? kFirstMondayMs : 0;
  return origin + floorDiv(t - origin, len) * len;
}

std::int64_t sortKey(const IndexRow& row, ThreatSort sort) {
  switch (sort) {
    case ThreatSort::kScore:
      return row.score;
    case ThreatSort::kSeverity:
      return static_cast<std::int64_t>(row.severity);
    case ThreatSort::kLastSeen:
      return row.last_seen;
    case ThreatSort::kCreated:
      return row.created_at;
  }
  return 0;
}

ThreatIndex::Dict::Dict() { intern(""); }

std::uint32_t ThreatIndex::Dict::intern(std::string_view s) {
  auto it = ids.find(s);
  if (it != ids.end()) return it->second;
  const auto id = static_cast<std::uint32_t>(values.size());
  values.emplace_back(s);
  lower.push_back(core::toLower(s));
  ids.emplace(values.back(), id);
  return id;
}

size_t ThreatIndex::Dict::bytes() const {
  size_t b = ids.size() * (sizeof(std::string_view) + sizeof(std::uint32_t) + 16) +
             ids.bucket_count() * sizeof(void*);
  for (const auto& v : values) b += sizeof(std::string) + (v.size() > 15 ? v.capacity() : 0);
  for (const auto& v : lower) b += sizeof(std::string) + (v.size() > 15 ? v.capacity() : 0);
  return b;
}

// A filter compiled against the dictionaries: every text comparison happens once per distinct
// value here, and each filter member becomes a lookup table, so that the scan runs tight,
// branch-free loops over the columns.
struct ThreatIndex::Matcher {
  bool nothing = false;
  std::uint32_t project = 0;  // 0: any
  bool time = false;
  TimeMs from = LLONG_MIN;
  TimeMs to = LLONG_MAX;
  // By the flags byte (severity, kind, closed): "base" tests kind only, "full" also severity and
  // open (the overview's chips count across those two).
  std::array<std::uint8_t, 32> base_flags_ok{};
  std::array<std::uint8_t, 32> full_flags_ok{};
  bool base_flags_all = true;
  std::vector<std::uint8_t> state_ok, group_ok, owner_ok;  // by id; ids beyond: no
  bool states = false, groups = false, owners = false;
  std::vector<std::uint8_t> source_ok;  // by dictionary id; empty: any
  std::vector<std::uint8_t> host_ok;
  std::vector<std::uint8_t> entity_group_ok;
  bool entity = false;
  std::vector<std::uint8_t> entity_value_ok;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> entity_pairs;  // (type, value)
  bool text = false;
  std::vector<std::uint8_t> text_name, text_value, text_host, text_rule;
};

namespace {
template <typename Id>
std::vector<std::uint8_t> idTable(const std::vector<Id>& ids) {
  constexpr Id kMaxId = 1 << 24;  // ids are small sequence numbers; larger ones match nothing
  Id max = 0;
  for (Id id : ids) max = std::max(max, std::min(id, kMaxId));
  std::vector<std::uint8_t> table(static_cast<size_t>(max) + 1, 0);
  for (Id id : ids)
    if (id >= 0 && id <= kMaxId) table[static_cast<size_t>(id)] = 1;
  return table;
}
}  // namespace

ThreatIndex::Matcher ThreatIndex::compile(const IndexFilter& f) const {
  Matcher m;
  if (f.project_id > 0) {
    if (f.project_id > UINT32_MAX) m.nothing = true;
    m.project = static_cast<std::uint32_t>(f.project_id);
  } else if (f.project_id < 0) {
    m.nothing = true;
  }
  std::uint8_t severity_mask = 0x1f, kind_mask = 0x03;
  if (!f.severities.empty()) {
    severity_mask = 0;
    for (auto s : f.severities)
      severity_mask |= static_cast<std::uint8_t>(1u << static_cast<int>(s));
  }
  if (!f.kinds.empty()) {
    kind_mask = 0;
    for (auto k : f.kinds) kind_mask |= static_cast<std::uint8_t>(1u << static_cast<int>(k));
  }
  for (unsigned flags = 0; flags < 32; ++flags) {
    const bool kind_ok = (kind_mask >> ((flags & kKindBit) ? 1 : 0)) & 1;
    const unsigned sev = flags & kSeverityMask;
    const bool sev_ok = sev < 5 && ((severity_mask >> sev) & 1);
    const bool closed = flags & kClosedBit;
    const bool open_ok = !f.open || (*f.open != closed);
    m.base_flags_ok[flags] = kind_ok;
    m.full_flags_ok[flags] = kind_ok && sev_ok && open_ok;
    if (!kind_ok) m.base_flags_all = false;
  }
  if (f.group_ids) {
    m.groups = true;
    m.group_ok = idTable(*f.group_ids);
  }
  if (f.state_ids) {
    m.states = true;
    m.state_ok = idTable(*f.state_ids);
  }
  if (f.owner_ids) {
    m.owners = true;
    m.owner_ok = idTable(*f.owner_ids);
  }
  if (!f.sources.empty()) {
    m.source_ok.assign(sources_.values.size(), 0);
    for (size_t i = 0; i < sources_.values.size(); ++i)
      for (const auto& s : f.sources)
        if (core::equalsIgnoreCase(sources_.values[i], s)) m.source_ok[i] = 1;
  }
  if (!f.entity.empty()) {
    m.entity = true;
    m.entity_value_ok.assign(entity_values_.values.size(), 0);
    if (auto it = entity_values_.ids.find(f.entity); it != entity_values_.ids.end())
      m.entity_value_ok[it->second] = 1;
    for (size_t i = f.entity.find(':'); i != std::string::npos; i = f.entity.find(':', i + 1)) {
      std::string_view type = std::string_view(f.entity).substr(0, i);
      std::string_view value = std::string_view(f.entity).substr(i + 1);
      auto t = entity_types_.ids.find(type);
      auto v = entity_values_.ids.find(value);
      if (t != entity_types_.ids.end() && v != entity_values_.ids.end())
        m.entity_pairs.emplace_back(t->second, v->second);
    }
  }
  if (!f.host.empty()) {
    m.host_ok.assign(hosts_.values.size(), 0);
    for (size_t i = 0; i < hosts_.values.size(); ++i)
      if (core::equalsIgnoreCase(hosts_.values[i], f.host)) m.host_ok[i] = 1;
  }
  if (!f.entity_group.empty()) {
    m.entity_group_ok.assign(entity_groups_.values.size(), 0);
    for (size_t i = 0; i < entity_groups_.values.size(); ++i)
      if (core::equalsIgnoreCase(entity_groups_.values[i], f.entity_group))
        m.entity_group_ok[i] = 1;
  }
  if (!f.text.empty()) {
    m.text = true;
    const std::string needle = core::toLower(f.text);
    auto mark = [&](const Dict& d, std::vector<std::uint8_t>& ok) {
      ok.assign(d.lower.size(), 0);
      for (size_t i = 0; i < d.lower.size(); ++i)
        ok[i] = d.lower[i].find(needle) != std::string::npos ? 1 : 0;
    };
    mark(names_, m.text_name);
    mark(entity_values_, m.text_value);
    mark(hosts_, m.text_host);
    mark(rule_ids_, m.text_rule);
  }
  if (f.from || f.to) {
    m.time = true;
    if (f.from) m.from = *f.from;
    if (f.to) m.to = *f.to;
  }
  if (m.from >= m.to) m.nothing = true;
  return m;
}

void ThreatIndex::clear() {
  std::unique_lock lock(mu_);
  row_of_id_.clear();
  id_.clear();
  project_.clear();
  score_.clear();
  flags_.clear();
  state_.clear();
  group_.clear();
  outcome_.clear();
  owner_.clear();
  source_.clear();
  entity_group_.clear();
  host_.clear();
  entity_type_.clear();
  entity_value_.clear();
  rule_id_.clear();
  name_.clear();
  created_.clear();
  last_seen_.clear();
  sources_ = Dict();
  entity_groups_ = Dict();
  hosts_ = Dict();
  entity_types_ = Dict();
  entity_values_ = Dict();
  rule_ids_ = Dict();
  names_ = Dict();
}

void ThreatIndex::reserve(size_t rows) {
  std::unique_lock lock(mu_);
  for (auto* v : {&project_, &state_, &group_, &outcome_, &owner_, &source_, &entity_group_, &host_,
                  &entity_type_, &entity_value_, &rule_id_, &name_})
    v->reserve(rows);
  id_.reserve(rows);
  score_.reserve(rows);
  flags_.reserve(rows);
  created_.reserve(rows);
  last_seen_.reserve(rows);
}

std::uint32_t ThreatIndex::rowOf(ThreatId id) const {
  if (id <= 0 || static_cast<size_t>(id) >= row_of_id_.size()) return kNoRow;
  return row_of_id_[static_cast<size_t>(id)];
}

void ThreatIndex::setRow(std::uint32_t r, const IndexRow& row) {
  project_[r] = static_cast<std::uint32_t>(row.project_id);
  score_[r] = static_cast<std::uint8_t>(std::clamp(row.score, 0, 255));
  flags_[r] = static_cast<std::uint8_t>((static_cast<std::uint8_t>(row.severity) & kSeverityMask) |
                                        (row.kind == core::ThreatKind::kThreat ? kKindBit : 0) |
                                        (row.closed ? kClosedBit : 0));
  state_[r] = static_cast<std::uint32_t>(row.state_id);
  group_[r] = static_cast<std::uint32_t>(row.group_id);
  outcome_[r] = static_cast<std::uint32_t>(row.outcome_id);
  owner_[r] = static_cast<std::uint32_t>(row.owner_id);
  source_[r] = sources_.intern(row.source);
  entity_group_[r] = entity_groups_.intern(row.entity_group);
  host_[r] = hosts_.intern(row.host);
  entity_type_[r] = entity_types_.intern(row.entity_type);
  entity_value_[r] = entity_values_.intern(row.entity_value);
  rule_id_[r] = rule_ids_.intern(row.rule_id);
  name_[r] = names_.intern(row.name);
  created_[r] = row.created_at;
  last_seen_[r] = row.last_seen;
}

void ThreatIndex::put(const IndexRow& row) {
  if (row.id <= 0) return;
  std::unique_lock lock(mu_);
  std::uint32_t r = rowOf(row.id);
  if (r == kNoRow) {
    r = static_cast<std::uint32_t>(id_.size());
    const auto id = static_cast<size_t>(row.id);
    if (id >= row_of_id_.size())
      row_of_id_.resize(std::max(id + 1, row_of_id_.size() * 3 / 2), kNoRow);
    row_of_id_[id] = r;
    id_.push_back(row.id);
    for (auto* v : {&project_, &state_, &group_, &outcome_, &owner_, &source_, &entity_group_,
                    &host_, &entity_type_, &entity_value_, &rule_id_, &name_})
      v->push_back(0);
    score_.push_back(0);
    flags_.push_back(0);
    created_.push_back(0);
    last_seen_.push_back(0);
  }
  setRow(r, row);
}

void ThreatIndex::touch(ThreatId id, TimeMs last_seen) {
  std::unique_lock lock(mu_);
  const std::uint32_t r = rowOf(id);
  if (r != kNoRow) last_seen_[r] = last_seen;
}

void ThreatIndex::replaceTag(int kind, TagId from, TagId to) {
  std::unique_lock lock(mu_);
  auto& column = kind == 0 ? group_ : kind == 1 ? state_ : outcome_;
  const auto f = static_cast<std::uint32_t>(from);
  const auto t = static_cast<std::uint32_t>(to);
  for (auto& v : column)
    if (v == f) v = t;
}

bool ThreatIndex::contains(ThreatId id) const {
  std::shared_lock lock(mu_);
  return rowOf(id) != kNoRow;
}

size_t ThreatIndex::size() const {
  std::shared_lock lock(mu_);
  return id_.size();
}

size_t ThreatIndex::memoryBytes() const {
  std::shared_lock lock(mu_);
  size_t b = row_of_id_.capacity() * 4 + id_.capacity() * 8 + score_.capacity() +
             flags_.capacity() + created_.capacity() * 8 + last_seen_.capacity() * 8;
  for (const auto* v : {&project_, &state_, &group_, &outcome_, &owner_, &source_, &entity_group_,
                        &host_, &entity_type_, &entity_value_, &rule_id_, &name_})
    b += v->capacity() * 4;
  for (const auto* d :
       {&sources_, &entity_groups_, &hosts_, &entity_types_, &entity_values_, &rule_ids_, &names_})
    b += d->bytes();
  return b;
}

namespace {

void topN(const std::vector<std::int64_t>& counts, const std::deque<std::string>& names,
          std::vector<NamedCount>& out) {
  std::vector<std::uint32_t> ids;
  for (size_t i = 1; i < counts.size(); ++i)  // 0 is the empty value: left out
    if (counts[i] > 0) ids.push_back(static_cast<std::uint32_t>(i));
  auto better = [&](std::uint32_t a, std::uint32_t b) {
    if (counts[a] != counts[b]) return counts[a] > counts[b];
    return names[a] < names[b];
  };
  const size_t n = std::min<size_t>(kTopN, ids.size());
  std::partial_sort(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(n), ids.end(), better);
  for (size_t i = 0; i < n; ++i) out.push_back({names[ids[i]], counts[ids[i]]});
}

// sel[r] &= ok[col[r]], with ids beyond the table matching nothing.
void gather(std::uint8_t* sel, const std::uint32_t* col, size_t n,
            const std::vector<std::uint8_t>& ok) {
  const std::uint8_t* table = ok.data();
  const size_t size = ok.size();
  for (size_t r = 0; r < n; ++r) {
    const std::uint32_t v = col[r];
    sel[r] &= v < size ? table[v] : 0;
  }
}

// The best `limit` rows of `sel` (and one more, to tell whether a page follows) in page order.
template <typename KeyOf>
void collectPage(const std::uint8_t* sel, size_t n, const ThreatId* ids, KeyOf keyOf,
                 bool descending, const std::optional<IndexCursor>& after, int limit,
                 IndexPage& page) {
  const PageOrder before{descending};
  const size_t keep = static_cast<size_t>(limit) + 1;
  // A heap whose top is the last of the rows kept so far.
  std::vector<IndexCursor> heap;
  heap.reserve(keep);
  for (size_t r = 0; r < n; ++r) {
    if (!sel[r]) continue;
    const IndexCursor here{keyOf(r), ids[r]};
    if (after && !before(*after, here)) continue;
    if (heap.size() < keep) {
      heap.push_back(here);
      std::push_heap(heap.begin(), heap.end(), before);
    } else if (before(here, heap.front())) {
      std::pop_heap(heap.begin(), heap.end(), before);
      heap.back() = here;
      std::push_heap(heap.begin(), heap.end(), before);
    }
  }
  std::sort_heap(heap.begin(), heap.end(), before);
  if (heap.size() > static_cast<size_t>(limit)) {
    heap.resize(static_cast<size_t>(limit));
    page.next = heap.back();
  }
  page.ids.reserve(heap.size());
  for (const auto& h : heap) page.ids.push_back(h.id);
}

}  // namespace

void ThreatIndex::select(const Matcher& m, std::vector<std::uint8_t>& sel) const {
  const size_t n = id_.size();
  sel.assign(n, 1);
  std::uint8_t* s = sel.data();
  if (m.project) {
    const std::uint32_t* p = project_.data();
    for (size_t r = 0; r < n; ++r) s[r] = p[r] == m.project;
  }
  if (m.time) {
    const TimeMs* t = last_seen_.data();
    const TimeMs from = m.from, to = m.to;
    for (size_t r = 0; r < n; ++r) s[r] &= static_cast<std::uint8_t>((t[r] >= from) & (t[r] < to));
  }
  if (!m.base_flags_all) {
    const std::uint8_t* f = flags_.data();
    for (size_t r = 0; r < n; ++r) s[r] &= m.base_flags_ok[f[r] & 31];
  }
  if (m.states) gather(s, state_.data(), n, m.state_ok);
  if (m.groups) gather(s, group_.data(), n, m.group_ok);
  if (m.owners) gather(s, owner_.data(), n, m.owner_ok);
  if (!m.source_ok.empty()) gather(s, source_.data(), n, m.source_ok);
  if (!m.host_ok.empty()) gather(s, host_.data(), n, m.host_ok);
  if (!m.entity_group_ok.empty()) gather(s, entity_group_.data(), n, m.entity_group_ok);
  if (m.entity) {
    const std::uint32_t* ev = entity_value_.data();
    const std::uint32_t* et = entity_type_.data();
    for (size_t r = 0; r < n; ++r) {
      if (!s[r]) continue;
      bool ok = m.entity_value_ok[ev[r]] != 0;
      for (const auto& [t, v] : m.entity_pairs) ok |= et[r] == t && ev[r] == v;
      s[r] = ok;
    }
  }
  if (m.text) {
    const std::uint32_t *name = name_.data(), *ev = entity_value_.data(), *host = host_.data(),
                        *rule = rule_id_.data();
    const std::uint8_t *tn = m.text_name.data(), *tv = m.text_value.data(),
                       *th = m.text_host.data(), *tr = m.text_rule.data();
    for (size_t r = 0; r < n; ++r) s[r] &= tn[name[r]] | tv[ev[r]] | th[host[r]] | tr[rule[r]];
  }
}

void ThreatIndex::page(const std::vector<std::uint8_t>& sel, const IndexPageRequest& request,
                       IndexPage& out) const {
  const size_t n = sel.size();
  const int limit = std::max(1, request.limit);
  const bool desc = request.descending;
  switch (request.sort) {
    case ThreatSort::kScore: {
      const std::uint8_t* k = score_.data();
      collectPage(
          sel.data(), n, id_.data(), [k](size_t r) { return std::int64_t{k[r]}; }, desc,
          request.after, limit, out);
      break;
    }
    case ThreatSort::kSeverity: {
      const std::uint8_t* k = flags_.data();
      collectPage(
          sel.data(), n, id_.data(), [k](size_t r) { return std::int64_t{k[r] & kSeverityMask}; },
          desc, request.after, limit, out);
      break;
    }
    case ThreatSort::kLastSeen: {
      const TimeMs* k = last_seen_.data();
      collectPage(
          sel.data(), n, id_.data(), [k](size_t r) { return k[r]; }, desc, request.after, limit,
          out);
      break;
    }
    case ThreatSort::kCreated: {
      const TimeMs* k = created_.data();
      collectPage(
          sel.data(), n, id_.data(), [k](size_t r) { return k[r]; }, desc, request.after, limit,
          out);
      break;
    }
  }
}

void ThreatIndex::scan(const IndexFilter& filter,
                       const std::function<void(const IndexRow&)>& row) const {
  std::shared_lock lock(mu_);
  const Matcher m = compile(filter);
  if (m.nothing) return;
  std::vector<std::uint8_t> sel;
  select(m, sel);
  const std::uint8_t* f = flags_.data();
  IndexRow out;
  for (size_t r = 0; r < sel.size(); ++r) {
    if (!sel[r] || !m.full_flags_ok[f[r] & 31]) continue;
    out.id = id_[r];
    out.project_id = project_[r];
    out.score = score_[r];
    out.severity = static_cast<core::Severity>(f[r] & kSeverityMask);
    out.kind = (f[r] & kKindBit) ? core::ThreatKind::kThreat : core::ThreatKind::kSignal;
    out.closed = (f[r] & kClosedBit) != 0;
    out.state_id = state_[r];
    out.group_id = group_[r];
    out.outcome_id = outcome_[r];
    out.owner_id = owner_[r];
    out.source = sources_.values[source_[r]];
    out.entity_group = entity_groups_.values[entity_group_[r]];
    out.host = hosts_.values[host_[r]];
    out.entity_type = entity_types_.values[entity_type_[r]];
    out.entity_value = entity_values_.values[entity_value_[r]];
    out.rule_id = rule_ids_.values[rule_id_[r]];
    out.name = names_.values[name_[r]];
    out.created_at = created_[r];
    out.last_seen = last_seen_[r];
    row(out);
  }
}

IndexPage ThreatIndex::list(const IndexFilter& filter, const IndexPageRequest& request) const {
  std::shared_lock lock(mu_);
  IndexPage out;
  const Matcher m = compile(filter);
  if (m.nothing) return out;
  std::vector<std::uint8_t> sel;
  select(m, sel);
  const std::uint8_t* f = flags_.data();
  std::int64_t total = 0;
  for (size_t r = 0; r < sel.size(); ++r) {
    sel[r] &= m.full_flags_ok[f[r] & 31];
    total += sel[r];
  }
  out.total = total;
  page(sel, request, out);
  return out;
}

IndexOverview ThreatIndex::overview(const IndexFilter& filter,
                                    const IndexOverviewRequest& req) const {
  std::shared_lock lock(mu_);
  IndexOverview out;
  const TimeMs len = bucketLength(req.bucket);
  const TimeMs to = req.to;
  TimeMs first = bucketStart(req.from, req.bucket);
  if (to > first && (to - first) / len > kMaxBuckets)
    first = bucketStart(to - kMaxBuckets * len, req.bucket);
  const std::int64_t buckets = to > first ? (to - first + len - 1) / len : 0;
  for (std::int64_t i = 0; i < buckets; ++i) out.bucket_starts.push_back(first + i * len);
  const size_t nb = static_cast<size_t>(buckets);
  // Counts per bucket and series slot. Severity: five fixed slots. Group: a slot per group id
  // met, counted per row first and laid out per bucket afterwards.
  std::vector<std::int64_t> by_sev(req.split_by_group ? 0 : nb * core::kSeverityCount, 0);
  std::unordered_map<std::uint64_t, std::int64_t> by_group_cells;
  const TimeMs range_from = std::max(req.from, first);
  std::array<std::int64_t, 4> periods{};
  const Matcher m = compile(filter);
  if (!m.nothing) {
    std::vector<std::uint8_t> sel;
    select(m, sel);
    std::vector<std::int64_t> eg(entity_groups_.values.size()), src(sources_.values.size()),
        hst(hosts_.values.size());
    std::array<std::int64_t, core::kSeverityCount> chips{};
    std::int64_t total = 0;
    const size_t n = sel.size();
    const std::uint8_t* f = flags_.data();
    const TimeMs* seen_col = last_seen_.data();
    const TimeMs day_ago = req.now - core::kDayMs, week_ago = req.now - 7 * core::kDayMs,
                 month_ago = req.now - 30 * core::kDayMs;
    const bool by_group = req.split_by_group;
    // The bucket length is a compile-time constant in each instantiation, so the division per
    // matching threat becomes a multiplication.
    auto run = [&](auto bucket_len) {
      constexpr TimeMs kLen = decltype(bucket_len)::value;
      for (size_t r = 0; r < n; ++r) {
        if (!sel[r]) continue;
        const std::uint8_t flags = f[r];
        const int sev = flags & kSeverityMask;
        chips[static_cast<size_t>(sev)] += (flags & kClosedBit) ? 0 : 1;
        if (!m.full_flags_ok[flags & 31]) {
          sel[r] = 0;  // what stays selected are the page's candidates
          continue;
        }
        ++total;
        ++eg[entity_group_[r]];
        ++src[source_[r]];
        ++hst[host_[r]];
        const TimeMs seen = seen_col[r];
        if (seen >= range_from && seen < to) {
          const auto b = static_cast<size_t>((seen - first) / kLen);
          if (!by_group)
            ++by_sev[b * core::kSeverityCount + static_cast<size_t>(sev)];
          else
            ++by_group_cells[(static_cast<std::uint64_t>(b) << 32) | group_[r]];
        }
        periods[0] += seen >= day_ago;
        periods[1] += seen >= week_ago;
        periods[2] += seen >= month_ago;
        periods[3] += seen < month_ago;
      }
    };
    switch (req.bucket) {
      case BucketSize::kHour:
        run(std::integral_constant<TimeMs, core::kHourMs>{});
        break;
      case BucketSize::kDay:
        run(std::integral_constant<TimeMs, core::kDayMs>{});
        break;
      case BucketSize::kWeek:
        run(std::integral_constant<TimeMs, 7 * core::kDayMs>{});
        break;
    }
    out.open_by_severity = chips;
    out.total = total;
    topN(eg, entity_groups_.values, out.by_entity_group);
    topN(src, sources_.values, out.by_source);
    topN(hst, hosts_.values, out.by_host);
    out.page.total = total;
    page(sel, req.page, out.page);
  }
  if (req.split_by_group) {
    out.by_group.resize(nb);
    for (const auto& [cell, count] : by_group_cells)
      out.by_group[static_cast<size_t>(cell >> 32)][static_cast<TagId>(cell & 0xffffffffu)] = count;
  } else {
    out.by_severity.resize(nb);
    for (size_t b = 0; b < nb; ++b)
      for (size_t s = 0; s < static_cast<size_t>(core::kSeverityCount); ++s)
        out.by_severity[b][s] = by_sev[b * core::kSeverityCount + s];
  }
  out.by_period = {{"last_24_hours", periods[0]},
                   {"last_7_days", periods[1]},
                   {"last_30_days", periods[2]},
                   {"older", periods[3]}};
  return out;
}

std::unordered_map<TagId, std::array<std::int64_t, core::kSeverityCount>>
ThreatIndex::countsByState() const {
  std::shared_lock lock(mu_);
  std::unordered_map<TagId, std::array<std::int64_t, core::kSeverityCount>> out;
  for (size_t r = 0; r < id_.size(); ++r) ++out[state_[r]][flags_[r] & kSeverityMask];
  return out;
}

}  // namespace td::store
