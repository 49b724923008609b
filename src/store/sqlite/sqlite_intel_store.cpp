#include "store/sqlite/sqlite_intel_store.h"

#include <algorithm>
#include <functional>
#include <numeric>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/time.h"
#include "store/sql/multi_row.h"
#include "store/sqlite/sqlite_store.h"

namespace td::store::sqlite {
namespace {

using core::ErrorCode;
using core::fail;

#define TDI_TRY(var, expr)                              \
  auto var##_result = (expr);                           \
  if (!var##_result) return fail(var##_result.error()); \
  auto& var = *var##_result
#define TDI_CHECK(expr)                                          \
  do {                                                           \
    if (auto td_s_ = (expr); !td_s_) return fail(td_s_.error()); \
  } while (0)

constexpr const char* kFeedColumns =
    "id, org_id, name, type, source, mapping_json, refresh_minutes, default_confidence, enabled, "
    "username, secret, created_at, updated_at, last_import_at, last_status, next_run_at, cursor, "
    "indicator_count";

IntelFeed feedFromRow(const Statement& st) {
  IntelFeed f;
  f.id = st.i64(0);
  f.org_id = st.i64(1);
  f.name = st.text(2);
  f.type = st.text(3);
  f.source = st.text(4);
  f.mapping_json = st.text(5);
  f.refresh_minutes = st.i32(6);
  f.default_confidence = st.i32(7);
  f.enabled = st.i64(8) != 0;
  f.username = st.text(9);
  f.secret = st.text(10);
  f.created_at = st.i64(11);
  f.updated_at = st.i64(12);
  f.last_import_at = st.optI64(13);
  f.last_status = st.text(14);
  f.next_run_at = st.optI64(15);
  f.cursor = st.text(16);
  f.indicator_count = st.i64(17);
  return f;
}

constexpr const char* kIndicatorColumns =
    "id, feed_id, type, value, atoms_json, external_id, confidence, first_seen, last_seen, "
    "valid_from, valid_until, context_json";

// Into an existing row: assigning keeps the strings' buffers, so a million-row walk does not
// allocate per row.
void fillIndicator(const Statement& st, IntelIndicatorRow& r) {
  r.id = st.i64(0);
  r.feed_id = st.i64(1);
  r.type.assign(st.textView(2));
  r.value.assign(st.textView(3));
  r.atoms_json.assign(st.textView(4));
  r.external_id.assign(st.textView(5));
  r.confidence = st.i32(6);
  r.first_seen = st.i64(7);
  r.last_seen = st.i64(8);
  r.valid_from = st.i64(9);
  r.valid_until = st.i64(10);
  r.context_json.assign(st.textView(11));
}

IntelIndicatorRow indicatorFromRow(const Statement& st, int at = 0) {
  IntelIndicatorRow r;
  r.id = st.i64(at + 0);
  r.feed_id = st.i64(at + 1);
  r.type = st.text(at + 2);
  r.value = st.text(at + 3);
  r.atoms_json = st.text(at + 4);
  r.external_id = st.text(at + 5);
  r.confidence = st.i32(at + 6);
  r.first_seen = st.i64(at + 7);
  r.last_seen = st.i64(at + 8);
  r.valid_from = st.i64(at + 9);
  r.valid_until = st.i64(at + 10);
  r.context_json = st.text(at + 11);
  return r;
}

constexpr const char* kImportColumns =
    "id, feed_id, started_at, finished_at, ok, error, added, updated, expired, suppressed, "
    "rejected, report_json, trigger_name";

IntelImport importFromRow(const Statement& st) {
  IntelImport i;
  i.id = st.i64(0);
  i.feed_id = st.i64(1);
  i.started_at = st.i64(2);
  i.finished_at = st.i64(3);
  i.ok = st.i64(4) != 0;
  i.error = st.text(5);
  i.added = st.i64(6);
  i.updated = st.i64(7);
  i.expired = st.i64(8);
  i.suppressed = st.i64(9);
  i.rejected = st.i64(10);
  i.report_json = st.text(11);
  i.trigger = st.text(12);
  return i;
}

Status bumpVersion(Connection& c, OrgId org) {
  TDI_TRY(st, c.prepare("INSERT INTO intel_versions (org_id, version) VALUES (?, 1) "
                        "ON CONFLICT (org_id) DO UPDATE SET "
                        "version = intel_versions.version + 1"));
  st->bind(1, org);
  return st->run();
}

core::Error nameTaken(const core::Error& e, const std::string& name) {
  if (e.code != ErrorCode::kConflict) return e;
  return core::Error{ErrorCode::kConflict, "a feed named '" + name + "' exists already", "name"};
}

Result<IntelFeed> readFeed(Connection& c, IntelFeedId id) {
  TDI_TRY(st, c.prepare(std::string("SELECT ") + kFeedColumns + " FROM intel_feeds WHERE id = ?"));
  st->bind(1, id);
  TDI_TRY(row, st->step());
  if (!row) return fail(ErrorCode::kNotFound, "no intel feed " + std::to_string(id), "id");
  IntelFeed f = feedFromRow(*st);
  st->reset();
  return f;
}

// ---- writing an import ----------------------------------------------------------------------

// The columns an import writes, and what a second row with the same (feed, type, value) does to
// the first (the upsert of an incremental import, and the fold of duplicates within one import).
constexpr const char* kInsertHead =
    "INSERT INTO intel_indicators (feed_id, type, value, atoms_json, external_id, confidence, "
    "first_seen, last_seen, valid_from, valid_until, context_json) VALUES ";
constexpr const char* kInsertGroup = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
constexpr int kInsertParams = 11;
// A value seen again keeps the higher confidence and the wider seen times; the first external id
// stays; validity, atoms and context are the newest. The existing row's columns are named with
// their table, as PostgreSQL requires beside excluded.
constexpr const char* kUpsertTail =
    " ON CONFLICT (feed_id, type, value) DO UPDATE SET "
    "confidence = max(intel_indicators.confidence, excluded.confidence), "
    "external_id = CASE WHEN intel_indicators.external_id = '' "
    "THEN excluded.external_id ELSE intel_indicators.external_id END, "
    "first_seen = CASE WHEN intel_indicators.first_seen = 0 OR "
    "(excluded.first_seen <> 0 AND excluded.first_seen < intel_indicators.first_seen) "
    "THEN excluded.first_seen ELSE intel_indicators.first_seen END, "
    "last_seen = max(intel_indicators.last_seen, excluded.last_seen), "
    "valid_from = excluded.valid_from, valid_until = excluded.valid_until, "
    "atoms_json = excluded.atoms_json, context_json = excluded.context_json";

// The same rule in memory: `later` folded into `acc`.
void foldInto(IntelIndicatorRow& acc, const IntelIndicatorRow& later) {
  acc.confidence = std::max(acc.confidence, later.confidence);
  if (acc.external_id.empty()) acc.external_id = later.external_id;
  if (acc.first_seen == 0 || (later.first_seen != 0 && later.first_seen < acc.first_seen))
    acc.first_seen = later.first_seen;
  acc.last_seen = std::max(acc.last_seen, later.last_seen);
  acc.valid_from = later.valid_from;
  acc.valid_until = later.valid_until;
  acc.atoms_json = later.atoms_json;
  acc.context_json = later.context_json;
}

std::uint64_t keyHash(std::string_view type, std::string_view value) {
  const std::uint64_t h = std::hash<std::string_view>{}(value);
  return h ^ (std::hash<std::string_view>{}(type) * 0x9e3779b97f4a7c15ULL);
}

// The rows of one import with each (type, value) once, later duplicates folded into the first
// (foldInto), findable by key. Rows without duplicates are not copied.
class ImportRows {
 public:
  explicit ImportRows(const std::vector<IntelIndicatorRow>& rows) : rows_(rows) {
    size_t cap = 16;
    while (cap < rows.size() * 2) cap <<= 1;
    slots_.assign(cap, 0);
    unique_.reserve(rows.size());
    for (std::uint32_t i = 0; i < rows.size(); ++i) {
      const IntelIndicatorRow& r = rows[i];
      std::uint64_t& slot = slotFor(r.type, r.value);
      if (slot == 0) {
        unique_.push_back(i);
        slot = (last_hash_ & kTag) | unique_.size();
        continue;
      }
      std::uint32_t& u = unique_[static_cast<std::uint32_t>(slot) - 1];
      if ((u & kMerged) == 0) {
        merged_.push_back(rows_[u]);
        u = kMerged | static_cast<std::uint32_t>(merged_.size() - 1);
      }
      foldInto(merged_[u & ~kMerged], r);
    }
  }

  size_t size() const { return unique_.size(); }
  const IntelIndicatorRow& at(size_t u) const {
    const std::uint32_t v = unique_[u];
    return (v & kMerged) ? merged_[v & ~kMerged] : rows_[v];
  }
  // Where at(u) looks first (for prefetching).
  const void* entry(size_t u) const { return &unique_[u]; }
  // The unique row with this key, or -1.
  std::int64_t find(std::string_view type, std::string_view value) {
    const std::uint64_t slot = slotFor(type, value);
    return slot == 0 ? -1 : static_cast<std::int64_t>(static_cast<std::uint32_t>(slot) - 1);
  }
  // `which` (unique row numbers) sorted by (value, type): the order of the value index, so that
  // a large import fills its B-tree pages one after the other instead of at random.
  void sortByKey(std::vector<std::uint32_t>& which) const {
    // The first 8 bytes of the value as a big-endian number order most pairs without a string
    // comparison; ties fall back to comparing the strings.
    std::vector<std::pair<std::uint64_t, std::uint32_t>> keyed;
    keyed.reserve(which.size());
    for (std::uint32_t u : which) {
      const std::string& v = at(u).value;
      std::uint64_t prefix = 0;
      for (size_t i = 0; i < 8; ++i)
        prefix = prefix << 8 | (i < v.size() ? static_cast<unsigned char>(v[i]) : 0);
      keyed.emplace_back(prefix, u);
    }
    std::sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
      if (a.first != b.first) return a.first < b.first;
      const IntelIndicatorRow& ra = at(a.second);
      const IntelIndicatorRow& rb = at(b.second);
      if (int c = ra.value.compare(rb.value); c != 0) return c < 0;
      return ra.type < rb.type;
    });
    for (size_t i = 0; i < keyed.size(); ++i) which[i] = keyed[i].second;
  }

 private:
  static constexpr std::uint64_t kTag = 0xffffffff00000000ULL;
  static constexpr std::uint32_t kMerged = 0x80000000u;

  std::uint64_t& slotFor(std::string_view type, std::string_view value) {
    last_hash_ = keyHash(type, value);
    const size_t mask = slots_.size() - 1;
    size_t i = last_hash_ & mask;
    while (true) {
      std::uint64_t& s = slots_[i];
      if (s == 0) return s;
      if ((s & kTag) == (last_hash_ & kTag)) {
        const IntelIndicatorRow& r = at(static_cast<std::uint32_t>(s) - 1);
        if (r.value == value && r.type == type) return s;
      }
      i = (i + 1) & mask;
    }
  }

  const std::vector<IntelIndicatorRow>& rows_;
  std::vector<std::uint32_t> unique_;  // a row number, or kMerged | a number in merged_
  std::vector<IntelIndicatorRow> merged_;
  std::vector<std::uint64_t> slots_;  // hash tag | unique row number + 1; 0 empty
  std::uint64_t last_hash_ = 0;
};

// Writes in statements of up to 256 items, the rest in halving sizes (a handful of statement
// texts): one round trip per chunk on PostgreSQL, one statement (its cursors kept between rows)
// per chunk on SQLite.
template <typename Bind>
Status runChunked(Connection& c, std::string_view head, std::string_view group,
                  std::string_view tail, size_t count, int params_per_item, Bind&& bind) {
  return sql::runMultiRow(c, head, group, tail, count, params_per_item,
                          {256, 128, 64, 32, 16, 8, 4, 2, 1}, bind, [](Statement&) {});
}

void bindRow(Statement& st, int p, IntelFeedId feed, const IntelIndicatorRow& r) {
  st.bind(p, feed)
      .bind(p + 1, r.type)
      .bind(p + 2, r.value)
      .bind(p + 3, r.atoms_json)
      .bind(p + 4, r.external_id)
      .bind(p + 5, r.confidence)
      .bind(p + 6, r.first_seen)
      .bind(p + 7, r.last_seen)
      .bind(p + 8, r.valid_from)
      .bind(p + 9, r.valid_until)
      .bind(p + 10, r.context_json);
}

Status insertRows(Connection& c, IntelFeedId feed, const ImportRows& rows,
                  const std::vector<std::uint32_t>& which, bool upsert) {
  // The rows are bound in key order, at random places in memory: without loading them a few
  // rows ahead, a cache miss per row was most of the time spent binding a large import. (Here and
  // not in a helper: GCC takes a function that only prefetches for one without effect and drops
  // the call.)
  constexpr size_t kAhead = 8;
  const size_t n = which.size();
  return runChunked(c, kInsertHead, kInsertGroup, upsert ? kUpsertTail : "", n, kInsertParams,
                    [&](Statement& st, int p, size_t i) {
                      if (i + 2 * kAhead < n) __builtin_prefetch(rows.entry(which[i + 2 * kAhead]));
                      if (i + kAhead < n) {
                        const char* row = reinterpret_cast<const char*>(&rows.at(which[i + kAhead]));
                        for (size_t line = 0; line < sizeof(IntelIndicatorRow); line += 64)
                          __builtin_prefetch(row + line);
                      }
                      if (i + kAhead / 2 < n) __builtin_prefetch(rows.at(which[i + kAhead / 2]).value.data());
                      bindRow(st, p, feed, rows.at(which[i]));
                    });
}

// A full refresh of a feed that has rows already: only the difference is written. Rows whose
// content did not change stay as they are (and keep their ids); changed rows are updated in
// place, rows the feed no longer has are deleted, new rows inserted. What the feed holds after
// is exactly what deleting every row and inserting the import would leave.
Status replaceRows(Connection& c, IntelFeedId feed, ImportRows& rows, IntelImport::Writes& writes) {
  std::vector<bool> kept(rows.size(), false);
  std::vector<std::int64_t> gone;
  std::vector<std::pair<std::int64_t, std::uint32_t>> changed;  // stored id, unique row
  std::int64_t stored = 0;
  {
    TDI_TRY(st, c.prepare("SELECT id, type, value, atoms_json, external_id, confidence, "
                          "first_seen, last_seen, valid_from, valid_until, context_json "
                          "FROM intel_indicators WHERE feed_id = ?"));
    st->bind(1, feed);
    while (true) {
      TDI_TRY(more, st->step());
      if (!more) break;
      ++stored;
      const std::int64_t id = st->i64(0);
      const std::int64_t u = rows.find(st->textView(1), st->textView(2));
      if (u < 0) {
        gone.push_back(id);
        continue;
      }
      kept[static_cast<size_t>(u)] = true;
      const IntelIndicatorRow& r = rows.at(static_cast<size_t>(u));
      const bool same = st->textView(3) == r.atoms_json && st->textView(4) == r.external_id &&
                        st->i64(5) == r.confidence && st->i64(6) == r.first_seen &&
                        st->i64(7) == r.last_seen && st->i64(8) == r.valid_from &&
                        st->i64(9) == r.valid_until && st->textView(10) == r.context_json;
      if (!same) changed.emplace_back(id, static_cast<std::uint32_t>(u));
    }
  }
  if (!gone.empty() && static_cast<std::int64_t>(gone.size()) == stored) {
    TDI_TRY(del, c.prepare("DELETE FROM intel_indicators WHERE feed_id = ?"));
    del->bind(1, feed);
    TDI_CHECK(del->run());
  } else {
    std::sort(gone.begin(), gone.end());
    TDI_CHECK(runChunked(c, "DELETE FROM intel_indicators WHERE id IN (", "?", ")", gone.size(), 1,
                         [&](Statement& st, int p, size_t i) { st.bind(p, gone[i]); }));
  }
  std::sort(changed.begin(), changed.end());
  // Both databases name the columns of a VALUES list column1, column2, ...
  TDI_CHECK(runChunked(
      c,
      "UPDATE intel_indicators SET atoms_json = v.column2, external_id = v.column3, "
      "confidence = v.column4, first_seen = v.column5, last_seen = v.column6, "
      "valid_from = v.column7, valid_until = v.column8, context_json = v.column9 FROM (VALUES ",
      "(?, ?, ?, ?, ?, ?, ?, ?, ?)", ") AS v WHERE intel_indicators.id = v.column1",
      changed.size(), 9, [&](Statement& st, int p, size_t i) {
        const IntelIndicatorRow& r = rows.at(changed[i].second);
        st.bind(p, changed[i].first)
            .bind(p + 1, r.atoms_json)
            .bind(p + 2, r.external_id)
            .bind(p + 3, r.confidence)
            .bind(p + 4, r.first_seen)
            .bind(p + 5, r.last_seen)
            .bind(p + 6, r.valid_from)
            .bind(p + 7, r.valid_until)
            .bind(p + 8, r.context_json);
      }));
  std::vector<std::uint32_t> fresh;
  for (std::uint32_t u = 0; u < rows.size(); ++u)
    if (!kept[u]) fresh.push_back(u);
  rows.sortByKey(fresh);
  TDI_CHECK(insertRows(c, feed, rows, fresh, false));
  writes.inserted = static_cast<std::int64_t>(fresh.size());
  writes.updated = static_cast<std::int64_t>(changed.size());
  writes.deleted = static_cast<std::int64_t>(gone.size());
  writes.unchanged = stored - writes.deleted - writes.updated;
  return {};
}

}  // namespace

Result<IntelFeed> SqliteIntelStore::createFeed(const IntelFeed& feed) {
  IntelFeed out = feed;
  auto s = store_.withWriter([&](Connection& c) -> Status {
    Transaction tx(c);
    TDI_CHECK(tx.begin());
    const TimeMs now = core::nowMs();
    TDI_TRY(st, c.prepare("INSERT INTO intel_feeds (org_id, name, type, source, mapping_json, "
                          "refresh_minutes, default_confidence, enabled, username, secret, "
                          "created_at, updated_at, next_run_at) "
                          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    st->bind(1, feed.org_id)
        .bind(2, feed.name)
        .bind(3, feed.type)
        .bind(4, feed.source)
        .bind(5, feed.mapping_json.empty() ? std::string("{}") : feed.mapping_json)
        .bind(6, feed.refresh_minutes)
        .bind(7, feed.default_confidence)
        .bind(8, feed.enabled)
        .bind(9, feed.username)
        .bind(10, feed.secret)
        .bind(11, now)
        .bind(12, now)
        .bind(13, feed.next_run_at);
    if (auto r = st->run(); !r) return fail(nameTaken(r.error(), feed.name));
    const IntelFeedId id = c.lastInsertId();
    TDI_CHECK(bumpVersion(c, feed.org_id));
    TDI_TRY(created, readFeed(c, id));
    out = created;
    return tx.commit();
  });
  if (!s) return fail(s.error());
  return out;
}

Result<IntelFeed> SqliteIntelStore::updateFeed(const IntelFeed& feed) {
  IntelFeed out;
  auto s = store_.withWriter([&](Connection& c) -> Status {
    Transaction tx(c);
    TDI_CHECK(tx.begin());
    TDI_TRY(old, readFeed(c, feed.id));
    TDI_TRY(st, c.prepare("UPDATE intel_feeds SET name = ?, type = ?, source = ?, mapping_json = ?, "
                          "refresh_minutes = ?, default_confidence = ?, enabled = ?, username = ?, "
                          "secret = ?, updated_at = ?, next_run_at = ? WHERE id = ?"));
    st->bind(1, feed.name)
        .bind(2, feed.type)
        .bind(3, feed.source)
        .bind(4, feed.mapping_json.empty() ? std::string("{}") : feed.mapping_json)
        .bind(5, feed.refresh_minutes)
        .bind(6, feed.default_confidence)
        .bind(7, feed.enabled)
        .bind(8, feed.username)
        .bind(9, feed.secret)
        .bind(10, core::nowMs())
        .bind(11, feed.next_run_at)
        .bind(12, feed.id);
    if (auto r = st->run(); !r) return fail(nameTaken(r.error(), feed.name));
    TDI_CHECK(bumpVersion(c, old.org_id));
    TDI_TRY(updated, readFeed(c, feed.id));
    out = updated;
    return tx.commit();
  });
  if (!s) return fail(s.error());
  return out;
}

Result<IntelFeed> SqliteIntelStore::getFeed(IntelFeedId id) {
  IntelFeed out;
  auto s = store_.withReader([&](Connection& c) -> Status {
    TDI_TRY(f, readFeed(c, id));
    out = f;
    return {};
  });
  if (!s) return fail(s.error());
  return out;
}

Result<std::vector<IntelFeed>> SqliteIntelStore::listFeeds(std::optional<OrgId> org) {
  std::vector<IntelFeed> out;
  auto s = store_.withReader([&](Connection& c) -> Status {
    TDI_TRY(st, c.prepare(std::string("SELECT ") + kFeedColumns +
                          " FROM intel_feeds WHERE (?1 IS NULL OR org_id = ?1) ORDER BY id"));
    st->bind(1, org);
    while (true) {
      TDI_TRY(row, st->step());
      if (!row) break;
      out.push_back(feedFromRow(*st));
    }
    return {};
  });
  if (!s) return fail(s.error());
  return out;
}

Status SqliteIntelStore::deleteFeed(IntelFeedId id) {
  return store_.withWriter([&](Connection& c) -> Status {
    Transaction tx(c);
    TDI_CHECK(tx.begin());
    TDI_TRY(old, readFeed(c, id));
    // Children first: explicit deletes are as fast as the cascade and do not depend on the
    // foreign-key pragma.
    for (const char* sql : {"DELETE FROM intel_indicators WHERE feed_id = ?",
                            "DELETE FROM intel_imports WHERE feed_id = ?",
                            "DELETE FROM intel_feeds WHERE id = ?"}) {
      TDI_TRY(st, c.prepare(sql));
      st->bind(1, id);
      TDI_CHECK(st->run());
    }
    TDI_CHECK(bumpVersion(c, old.org_id));
    return tx.commit();
  });
}

Result<IntelImport> SqliteIntelStore::recordImport(const IntelImport& import,
                                                   const std::vector<IntelIndicatorRow>& rows,
                                                   bool replace, const std::string& cursor) {
  IntelImport out = import;
  out.writes = {};
  auto s = store_.withWriter([&](Connection& c) -> Status {
    Transaction tx(c);
    TDI_CHECK(tx.begin());
    TDI_TRY(feed, readFeed(c, import.feed_id));
    std::optional<std::int64_t> count;  // the feed's rows after the import, when known
    if (import.ok) {
      ImportRows unique(rows);
      if (replace) {
        TDI_CHECK(replaceRows(c, import.feed_id, unique, out.writes));
        count = static_cast<std::int64_t>(unique.size());
      } else {
        auto counted = [&]() -> Result<std::int64_t> {
          TDI_TRY(st, c.prepare("SELECT count(*) FROM intel_indicators WHERE feed_id = ?"));
          st->bind(1, import.feed_id);
          TDI_TRY(row, st->step());
          const std::int64_t n = row ? st->i64(0) : 0;
          st->reset();
          return n;
        };
        TDI_TRY(before, counted());
        std::vector<std::uint32_t> all(unique.size());
        std::iota(all.begin(), all.end(), 0u);
        unique.sortByKey(all);
        TDI_CHECK(insertRows(c, import.feed_id, unique, all, true));
        TDI_TRY(after, counted());
        count = after;
        out.writes.inserted = after - before;
        out.writes.updated = static_cast<std::int64_t>(unique.size()) - out.writes.inserted;
      }
    }
    TDI_TRY(st, c.prepare("INSERT INTO intel_imports (feed_id, started_at, finished_at, ok, error, "
                          "added, updated, expired, suppressed, rejected, report_json, "
                          "trigger_name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    st->bind(1, import.feed_id)
        .bind(2, import.started_at)
        .bind(3, import.finished_at)
        .bind(4, import.ok)
        .bind(5, import.error)
        .bind(6, import.added)
        .bind(7, import.updated)
        .bind(8, import.expired)
        .bind(9, import.suppressed)
        .bind(10, import.rejected)
        .bind(11, import.report_json.empty() ? std::string("{}") : import.report_json)
        .bind(12, import.trigger);
    TDI_CHECK(st->run());
    out.id = c.lastInsertId();
    TDI_TRY(up, c.prepare("UPDATE intel_feeds SET last_import_at = ?, last_status = ?, "
                          "cursor = CASE WHEN ?3 <> 0 THEN ? ELSE cursor END, "
                          "indicator_count = CASE WHEN ?3 <> 0 THEN ? ELSE indicator_count END "
                          "WHERE id = ?"));
    up->bind(1, import.finished_at)
        .bind(2, import.ok ? std::string("ok") : import.error)
        .bind(3, import.ok)
        .bind(4, cursor)
        .bind(5, count.value_or(feed.indicator_count))
        .bind(6, import.feed_id);
    TDI_CHECK(up->run());
    TDI_CHECK(bumpVersion(c, feed.org_id));
    return tx.commit();
  });
  if (!s) return fail(s.error());
  return out;
}

Result<std::vector<IntelImport>> SqliteIntelStore::listImports(IntelFeedId feed, int limit) {
  std::vector<IntelImport> out;
  auto s = store_.withReader([&](Connection& c) -> Status {
    TDI_TRY(st, c.prepare(std::string("SELECT ") + kImportColumns +
                          " FROM intel_imports WHERE feed_id = ? ORDER BY id DESC LIMIT ?"));
    st->bind(1, feed).bind(2, limit);
    while (true) {
      TDI_TRY(row, st->step());
      if (!row) break;
      out.push_back(importFromRow(*st));
    }
    return {};
  });
  if (!s) return fail(s.error());
  return out;
}

Result<IntelImport> SqliteIntelStore::getImport(std::int64_t id) {
  IntelImport out;
  auto s = store_.withReader([&](Connection& c) -> Status {
    TDI_TRY(st, c.prepare(std::string("SELECT ") + kImportColumns +
                          " FROM intel_imports WHERE id = ?"));
    st->bind(1, id);
    TDI_TRY(row, st->step());
    if (!row) return fail(ErrorCode::kNotFound, "no intel import " + std::to_string(id), "id");
    out = importFromRow(*st);
    st->reset();
    return {};
  });
  if (!s) return fail(s.error());
  return out;
}

Status SqliteIntelStore::forEachIndicator(
    OrgId org, bool enabled_only,
    const std::function<bool(const IntelFeed&, const IntelIndicatorRow&)>& row) {
  return store_.withReader([&](Connection& c) -> Status {
    ReadTransaction snapshot(c);
    TDI_CHECK(snapshot.begin());
    std::vector<IntelFeed> feeds;
    {
      TDI_TRY(st, c.prepare(std::string("SELECT ") + kFeedColumns +
                            " FROM intel_feeds WHERE org_id = ? ORDER BY id"));
      st->bind(1, org);
      while (true) {
        TDI_TRY(more, st->step());
        if (!more) break;
        IntelFeed f = feedFromRow(*st);
        if (!enabled_only || f.enabled) feeds.push_back(std::move(f));
      }
    }
    for (const auto& feed : feeds) {
      TDI_TRY(st, c.prepare(std::string("SELECT ") + kIndicatorColumns +
                            " FROM intel_indicators WHERE feed_id = ? ORDER BY id"));
      st->bind(1, feed.id);
      IntelIndicatorRow r;
      while (true) {
        TDI_TRY(more, st->step());
        if (!more) break;
        fillIndicator(*st, r);
        if (!row(feed, r)) {
          st->reset();
          return {};
        }
      }
    }
    return {};
  });
}

Result<std::vector<IntelIndicatorHit>> SqliteIntelStore::findIndicators(
    const std::vector<OrgId>& orgs, const std::string& value, int limit) {
  std::vector<IntelIndicatorHit> out;
  auto s = store_.withReader([&](Connection& c) -> Status {
    std::string sql = std::string("SELECT i.id, i.feed_id, i.type, i.value, i.atoms_json, "
                                  "i.external_id, i.confidence, i.first_seen, i.last_seen, "
                                  "i.valid_from, i.valid_until, i.context_json, f.name, f.org_id "
                                  "FROM intel_indicators i JOIN intel_feeds f ON f.id = i.feed_id "
                                  "WHERE i.value = ? AND f.org_id IN (");
    for (size_t i = 0; i < orgs.size(); ++i) sql += i ? ",?" : "?";
    if (orgs.empty()) sql += "NULL";
    sql += ") ORDER BY i.id LIMIT ?";
    TDI_TRY(st, c.prepare(sql));
    int n = 1;
    st->bind(n++, value);
    for (OrgId o : orgs) st->bind(n++, o);
    st->bind(n, limit);
    while (true) {
      TDI_TRY(row, st->step());
      if (!row) break;
      IntelIndicatorHit h;
      h.row = indicatorFromRow(*st);
      h.feed_name = st->text(12);
      h.org_id = st->i64(13);
      out.push_back(std::move(h));
    }
    return {};
  });
  if (!s) return fail(s.error());
  return out;
}

Result<std::vector<IntelIndicatorRow>> SqliteIntelStore::listIndicators(IntelFeedId feed,
                                                                        int offset, int limit) {
  std::vector<IntelIndicatorRow> out;
  auto s = store_.withReader([&](Connection& c) -> Status {
    TDI_TRY(st, c.prepare(std::string("SELECT ") + kIndicatorColumns +
                          " FROM intel_indicators WHERE feed_id = ? ORDER BY id LIMIT ? OFFSET ?"));
    st->bind(1, feed).bind(2, limit).bind(3, offset);
    while (true) {
      TDI_TRY(row, st->step());
      if (!row) break;
      out.push_back(indicatorFromRow(*st));
    }
    return {};
  });
  if (!s) return fail(s.error());
  return out;
}

Result<std::vector<IntelFeed>> SqliteIntelStore::claimDueFeeds(TimeMs now, TimeMs lease_ms,
                                                               int limit) {
  std::vector<IntelFeed> out;
  auto s = store_.withWriter([&](Connection& c) -> Status {
    Transaction tx(c);
    TDI_CHECK(tx.begin());
    // Two nodes never claim one feed (see Connection::claimLock).
    {
      TDI_TRY(st, c.prepare(std::string("SELECT ") + kFeedColumns +
                            " FROM intel_feeds WHERE enabled = 1 AND refresh_minutes > 0 AND "
                            "next_run_at IS NOT NULL AND next_run_at <= ? "
                            "ORDER BY next_run_at LIMIT ?" + std::string(c.claimLock())));
      st->bind(1, now).bind(2, limit);
      while (true) {
        TDI_TRY(row, st->step());
        if (!row) break;
        out.push_back(feedFromRow(*st));
      }
    }
    TDI_TRY(up, c.prepare("UPDATE intel_feeds SET next_run_at = ? WHERE id = ?"));
    for (const auto& f : out) {
      up->bind(1, now + lease_ms).bind(2, f.id);
      TDI_CHECK(up->run());
      up->reset();
    }
    return tx.commit();
  });
  if (!s) return fail(s.error());
  return out;
}

Status SqliteIntelStore::setNextRun(IntelFeedId feed, std::optional<TimeMs> at) {
  return store_.withWriter([&](Connection& c) -> Status {
    TDI_TRY(st, c.prepare("UPDATE intel_feeds SET next_run_at = ? WHERE id = ?"));
    st->bind(1, at).bind(2, feed);
    TDI_CHECK(st->run());
    if (c.changes() == 0)
      return fail(ErrorCode::kNotFound, "no intel feed " + std::to_string(feed), "id");
    return {};
  });
}

Result<std::int64_t> SqliteIntelStore::intelVersion(OrgId org) {
  std::int64_t out = 0;
  auto s = store_.withReader([&](Connection& c) -> Status {
    TDI_TRY(st, c.prepare("SELECT version FROM intel_versions WHERE org_id = ?"));
    st->bind(1, org);
    TDI_TRY(row, st->step());
    out = row ? st->i64(0) : 0;
    st->reset();
    return {};
  });
  if (!s) return fail(s.error());
  return out;
}

namespace {

std::string joinLines(const std::vector<std::string>& v, char sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

std::vector<std::string> splitText(const std::string& text, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(sep, start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::string joinPorts(const std::vector<int>& ports) {
  std::string out;
  for (int p : ports) {
    if (!out.empty()) out += ',';
    out += std::to_string(p);
  }
  return out;
}

std::vector<int> splitPorts(const std::string& text) {
  std::vector<int> out;
  for (const auto& p : splitText(text, ',')) {
    try {
      out.push_back(std::stoi(p));
    } catch (...) {
      // Only putSettings writes this column; a hand-edited bad entry is skipped.
    }
  }
  return out;
}

}  // namespace

Result<IntelSettings> SqliteIntelStore::getSettings(ProjectId project) {
  IntelSettings out;
  out.project_id = project;
  auto s = store_.withReader([&](Connection& c) -> Status {
    TDI_TRY(st, c.prepare("SELECT allow_list, min_bytes, ignore_ports, service_ports, "
                          "unsafe_ports, suppression_minutes, updated_at FROM intel_settings "
                          "WHERE project_id = ?"));
    st->bind(1, project);
    TDI_TRY(row, st->step());
    if (row) {
      out.allow = splitText(st->text(0), '\n');
      out.min_bytes = st->i64(1);
      out.ignore_ports = splitPorts(st->text(2));
      out.service_ports = splitPorts(st->text(3));
      out.unsafe_ports = splitPorts(st->text(4));
      out.suppression_minutes = st->i64(5);
      out.updated_at = st->i64(6);
    }
    st->reset();
    return {};
  });
  if (!s) return fail(s.error());
  return out;
}

Result<IntelSettings> SqliteIntelStore::putSettings(const IntelSettings& settings) {
  IntelSettings out = settings;
  out.updated_at = core::nowMs();
  for (const auto& a : out.allow) {
    if (a.empty() || a.find('\n') != std::string::npos)
      return fail(ErrorCode::kInvalidArgument, "an allow-list entry is empty or holds a newline",
                  "allow");
  }
  auto s = store_.withWriter([&](Connection& c) -> Status {
    TDI_TRY(st, c.prepare(
                    "INSERT INTO intel_settings (project_id, allow_list, min_bytes, ignore_ports, "
                    "service_ports, unsafe_ports, suppression_minutes, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (project_id) DO UPDATE SET "
                    "allow_list = excluded.allow_list, min_bytes = excluded.min_bytes, "
                    "ignore_ports = excluded.ignore_ports, service_ports = excluded.service_ports, "
                    "unsafe_ports = excluded.unsafe_ports, "
                    "suppression_minutes = excluded.suppression_minutes, "
                    "updated_at = excluded.updated_at"));
    st->bind(1, out.project_id)
        .bind(2, joinLines(out.allow, '\n'))
        .bind(3, out.min_bytes)
        .bind(4, joinPorts(out.ignore_ports))
        .bind(5, joinPorts(out.service_ports))
        .bind(6, joinPorts(out.unsafe_ports))
        .bind(7, out.suppression_minutes)
        .bind(8, out.updated_at);
    auto r = st->run();
    if (!r) {
      // SQLite says "FOREIGN KEY constraint failed", PostgreSQL "violates foreign key".
      if (r.error().message.find("FOREIGN KEY") != std::string::npos ||
          r.error().message.find("foreign key") != std::string::npos)
        return fail(ErrorCode::kNotFound, "no project " + std::to_string(out.project_id),
                    "project");
      return fail(r.error());
    }
    return {};
  });
  if (!s) return fail(s.error());
  return out;
}

}  // namespace td::store::sqlite
