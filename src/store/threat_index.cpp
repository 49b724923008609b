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
// value here, so the scan compares integers only.
struct ThreatIndex::Matcher {
  bool nothing = false;
  std::uint32_t project = 0;  // 0: any
  const std::vector<TagId>* groups = nullptr;
  const std::vector<TagId>* states = nullptr;
  const std::vector<UserId>* owners = nullptr;
  std::uint8_t severity_mask = 0x1f;  // bit per severity
  std::uint8_t kind_mask = 0x03;      // bit per kind
  std::vector<std::uint8_t> source_ok;
  std::vector<std::uint8_t> entity_value_ok;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> entity_pairs;  // (type, value)
  bool entity = false;
  std::vector<std::uint8_t> host_ok;
  bool text = false;
  std::vector<std::uint8_t> text_name, text_value, text_host, text_rule;
  int open = -1;  // -1 any, 1 open only, 0 closed only
  TimeMs from = LLONG_MIN;
  TimeMs to = LLONG_MAX;
};

ThreatIndex::Matcher ThreatIndex::compile(const IndexFilter& f) const {
  Matcher m;
  if (f.project_id > 0) {
    if (f.project_id > UINT32_MAX) m.nothing = true;
    m.project = static_cast<std::uint32_t>(f.project_id);
  } else if (f.project_id < 0) {
    m.nothing = true;
  }
  if (f.group_ids) m.groups = &*f.group_ids;
  if (f.state_ids) m.states = &*f.state_ids;
  if (f.owner_ids) m.owners = &*f.owner_ids;
  if (!f.severities.empty()) {
    m.severity_mask = 0;
    for (auto s : f.severities)
      m.severity_mask |= static_cast<std::uint8_t>(1u << static_cast<int>(s));
  }
  if (!f.kinds.empty()) {
    m.kind_mask = 0;
    for (auto k : f.kinds) m.kind_mask |= static_cast<std::uint8_t>(1u << static_cast<int>(k));
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
  if (f.open) m.open = *f.open ? 1 : 0;
  if (f.from) m.from = *f.from;
  if (f.to) m.to = *f.to;
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

// The per-row tests shared by list and overview. `base` checks every member except severity and
// open (the overview's chips count across those); `rest` checks those two.
struct RowTest {
  template <typename M, typename Cols>
  static bool base(const M& m, const Cols& c, std::uint32_t r) {
    if (m.project && c.project[r] != m.project) return false;
    const TimeMs seen = c.last_seen[r];
    if (seen < m.from || seen >= m.to) return false;
    const std::uint8_t flags = c.flags[r];
    if (!(m.kind_mask & (1u << ((flags & kKindBit) ? 1 : 0)))) return false;
    if (m.states && !containsValue<TagId>(*m.states, c.state[r])) return false;
    if (m.groups && !containsValue<TagId>(*m.groups, c.group[r])) return false;
    if (m.owners && !containsValue<UserId>(*m.owners, c.owner[r])) return false;
    if (!m.source_ok.empty() && !m.source_ok[c.source[r]]) return false;
    if (!m.host_ok.empty() && !m.host_ok[c.host[r]]) return false;
    if (m.entity) {
      bool ok = m.entity_value_ok[c.entity_value[r]] != 0;
      for (const auto& [t, v] : m.entity_pairs)
        if (c.entity_type[r] == t && c.entity_value[r] == v) ok = true;
      if (!ok) return false;
    }
    if (m.text && !(m.text_name[c.name[r]] || m.text_value[c.entity_value[r]] ||
                    m.text_host[c.host[r]] || m.text_rule[c.rule_id[r]]))
      return false;
    return true;
  }
  template <typename M>
  static bool rest(const M& m, std::uint8_t flags) {
    if (!(m.severity_mask & (1u << (flags & kSeverityMask)))) return false;
    if (m.open >= 0 && ((flags & kClosedBit) != 0) == (m.open == 1)) return false;
    return true;
  }
};

// Column references for RowTest, so that it reads plain arrays.
struct Cols {
  const std::uint32_t* project;
  const TimeMs* last_seen;
  const std::uint8_t* flags;
  const std::uint32_t* state;
  const std::uint32_t* group;
  const std::uint32_t* owner;
  const std::uint32_t* source;
  const std::uint32_t* host;
  const std::uint32_t* entity_type;
  const std::uint32_t* entity_value;
  const std::uint32_t* name;
  const std::uint32_t* rule_id;
};

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

}  // namespace

#define TD_INDEX_COLS                                                                           \
  Cols {                                                                                        \
    project_.data(), last_seen_.data(), flags_.data(), state_.data(), group_.data(),            \
        owner_.data(), source_.data(), host_.data(), entity_type_.data(), entity_value_.data(), \
        name_.data(), rule_id_.data()                                                           \
  }

IndexPage ThreatIndex::list(const IndexFilter& filter, ThreatSort sort, bool descending,
                            const std::optional<IndexCursor>& after, int limit) const {
  std::shared_lock lock(mu_);
  IndexPage page;
  const Matcher m = compile(filter);
  if (m.nothing) return page;
  const Cols c = TD_INDEX_COLS;
  const PageOrder before{descending};
  limit = std::max(1, limit);
  // A heap of the best limit+1 rows in page order; its top is the last of them. One more than
  // the page tells whether a next page exists.
  std::vector<IndexCursor> heap;
  heap.reserve(static_cast<size_t>(limit) + 1);
  const size_t keep = static_cast<size_t>(limit) + 1;
  auto keyOf = [&](std::uint32_t r) -> std::int64_t {
    switch (sort) {
      case ThreatSort::kScore:
        return score_[r];
      case ThreatSort::kSeverity:
        return flags_[r] & kSeverityMask;
      case ThreatSort::kLastSeen:
        return last_seen_[r];
      case ThreatSort::kCreated:
        return created_[r];
    }
    return 0;
  };
  const auto n = static_cast<std::uint32_t>(id_.size());
  for (std::uint32_t r = 0; r < n; ++r) {
    if (!RowTest::base(m, c, r) || !RowTest::rest(m, flags_[r])) continue;
    ++page.total;
    const IndexCursor here{keyOf(r), id_[r]};
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
  return page;
}

IndexOverview ThreatIndex::overview(const IndexFilter& filter, TimeMs from, TimeMs to,
                                    BucketSize bucket, bool split_by_group, TimeMs now) const {
  std::shared_lock lock(mu_);
  IndexOverview out;
  const TimeMs len = bucketLength(bucket);
  TimeMs first = bucketStart(from, bucket);
  if (to > first && (to - first) / len > kMaxBuckets)
    first = bucketStart(to - kMaxBuckets * len, bucket);
  const std::int64_t buckets = to > first ? (to - first + len - 1) / len : 0;
  for (std::int64_t i = 0; i < buckets; ++i) out.bucket_starts.push_back(first + i * len);
  if (split_by_group)
    out.by_group.resize(static_cast<size_t>(buckets));
  else
    out.by_severity.resize(static_cast<size_t>(buckets));
  const TimeMs range_from = std::max(from, first);
  std::array<std::int64_t, 4> periods{};
  const Matcher m = compile(filter);
  if (!m.nothing) {
    const Cols c = TD_INDEX_COLS;
    std::vector<std::int64_t> eg(entity_groups_.values.size()), src(sources_.values.size()),
        hst(hosts_.values.size());
    const auto n = static_cast<std::uint32_t>(id_.size());
    for (std::uint32_t r = 0; r < n; ++r) {
      if (!RowTest::base(m, c, r)) continue;
      const std::uint8_t flags = flags_[r];
      const int sev = flags & kSeverityMask;
      if (!(flags & kClosedBit)) ++out.open_by_severity[static_cast<size_t>(sev)];
      if (!RowTest::rest(m, flags)) continue;
      ++out.total;
      ++eg[entity_group_[r]];
      ++src[source_[r]];
      ++hst[host_[r]];
      const TimeMs seen = last_seen_[r];
      if (seen >= range_from && seen < to) {
        const auto b = static_cast<size_t>((seen - first) / len);
        if (split_by_group)
          ++out.by_group[b][group_[r]];
        else
          ++out.by_severity[b][static_cast<size_t>(sev)];
      }
      const TimeMs age = now - seen;
      if (age < core::kDayMs) ++periods[0];
      if (age < 7 * core::kDayMs) ++periods[1];
      if (age < 30 * core::kDayMs)
        ++periods[2];
      else
        ++periods[3];
    }
    topN(eg, entity_groups_.values, out.by_entity_group);
    topN(src, sources_.values, out.by_source);
    topN(hst, hosts_.values, out.by_host);
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
