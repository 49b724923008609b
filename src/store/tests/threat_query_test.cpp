// Lists, the overview and export against a brute-force answer: a few thousand random threats are
// written through the sink and changed; every threat is then read back by id, and each filter,
// sort, page and aggregate is recomputed naively in C++ and compared with the store's answer.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "core/text.h"
#include "store/tests/store_suite.h"

namespace td::store::testing {
namespace {

using core::ErrorCode;
using core::kDayMs;
using core::Severity;
using core::Threat;

constexpr core::TimeMs kNow = 1'750'000'000'000;
constexpr int kThreats = 2500;

const std::vector<std::string> kSources = {"Rule", "Threat Intelligence", "Vulnerability", "API",
                                           "Manual"};
const std::vector<std::string> kEntityGroups = {"",         "servers", "laptops", "finance",
                                                "payments", "dmz",     "lab"};
const std::vector<std::string> kSpecialNames = {"50% off", "under_score",
                                                "O'Brien \"quoted\"; DROP TABLE threats;--",
                                                "back\\slash", "percent%_both"};

class StoreQueryTest : public StoreFixture {
 protected:
  void SetUp() override {
    StoreFixture::SetUp();
    if (HasFatalFailure()) return;
    a_ = makeTenant("Acme");
    b_ = makeTenant("Beta");
    auto second = store().createProject(a_.org.id, "Acme-second");
    ASSERT_TRUE(second);
    for (int i = 0; i < 3; ++i) {
      User u;
      u.org_id = a_.org.id;
      u.email = "u" + std::to_string(i) + "@example.com";
      users_.push_back(*store().createUser(u));
    }
    std::mt19937 rng(42);
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
    std::vector<ProjectId> projects = {a_.project.id, a_.project.id, a_.project.id, second->id,
                                       b_.project.id};
    std::vector<ThreatId> ids;
    for (int batch = 0; batch < kThreats / 250; ++batch) {
      std::vector<core::Detection> ds;
      std::vector<std::optional<TagId>> groups;
      for (int i = 0; i < 250; ++i) {
        core::Detection d;
        d.project_id = projects[static_cast<size_t>(pick(5))];
        d.rule_id = "R" + std::to_string(pick(30));
        d.name = pick(20) == 0 ? kSpecialNames[static_cast<size_t>(pick(5))]
                               : "Detection of " + d.rule_id;
        const std::string host = "Host-" + std::to_string(pick(40));
        d.entity = {pick(3) == 0 ? "user" : "host",
                    pick(3) == 0 ? "h" + std::to_string(pick(10)) : host};
        d.host = pick(10) == 0 ? "" : host;
        d.entity_group = kEntityGroups[static_cast<size_t>(pick(7))];
        d.source = kSources[static_cast<size_t>(pick(5))];
        d.kind = pick(2) ? core::ThreatKind::kSignal : core::ThreatKind::kThreat;
        d.score = pick(101);
        d.severity = static_cast<Severity>(pick(5));
        d.seen_at = kNow - static_cast<core::TimeMs>(rng() % (60ull * kDayMs));
        d.check_by = pick(4) == 0 ? core::CheckBy::kNone : core::kDefaultCheckBy;
        ds.push_back(d);
        const auto& tenant = d.project_id == b_.project.id ? b_ : a_;
        const int g = pick(4);
        groups.push_back(g == 3 ? std::nullopt
                                : std::optional<TagId>(tenant.groups[static_cast<size_t>(g)].id));
      }
      auto r = store().applyDetections(ds, groups, alice_);
      ASSERT_TRUE(r) << r.error().message;
      for (auto id : r->created_ids) ids.push_back(id);
    }
    // Work a third of them: states (closing needs an outcome), owners, groups.
    for (ThreatId id : ids) {
      if (pick(3) != 0) continue;
      auto t = store().getThreat(id);
      ASSERT_TRUE(t);
      const auto& tenant = t->project_id == b_.project.id ? b_ : a_;
      ThreatChange c;
      const int s = pick(4);
      c.state_id = tenant.states[static_cast<size_t>(s)].id;
      if (s == 3) c.outcome_id = tenant.outcomes[static_cast<size_t>(pick(4))].id;
      if (&tenant == &a_ && pick(2)) c.owner_id = users_[static_cast<size_t>(pick(3))].id;
      if (pick(4) == 0) c.group_id = std::optional<TagId>{};
      if (pick(5) == 0) c.severity = static_cast<Severity>(pick(5));
      ASSERT_TRUE(store().changeThreat(id, c, alice_));
    }
    for (ThreatId id : ids) all_.push_back(*store().getThreat(id));
  }

  static bool inList(const std::vector<std::string>& names, const std::string& value,
                     bool none_matches_empty) {
    for (const auto& n : names) {
      if (none_matches_empty && (n.empty() || core::equalsIgnoreCase(n, "none")) && value.empty())
        return true;
      if (!n.empty() && core::equalsIgnoreCase(n, value)) return true;
    }
    return false;
  }

  // The documented filter semantics, written as plainly as possible.
  static bool matches(const Threat& t, const ThreatFilter& f, bool ignore_severity_and_open) {
    if (f.project_id && t.project_id != f.project_id) return false;
    if (!f.groups.empty() && !inList(f.groups, t.group, true)) return false;
    if (!f.states.empty() && !inList(f.states, t.state, false)) return false;
    if (!f.sources.empty() && !inList(f.sources, t.source, false)) return false;
    if (!f.owners.empty() && !inList(f.owners, t.owner, true)) return false;
    if (!f.kinds.empty() && std::find(f.kinds.begin(), f.kinds.end(), t.kind) == f.kinds.end())
      return false;
    if (!f.entity.empty() && t.entity.value != f.entity &&
        t.entity.type + ":" + t.entity.value != f.entity)
      return false;
    if (!f.host.empty() && !core::equalsIgnoreCase(f.host, t.host)) return false;
    if (!f.entity_group.empty() && !core::equalsIgnoreCase(f.entity_group, t.entity_group))
      return false;
    if (!f.text.empty() && !core::containsIgnoreCase(t.name, f.text) &&
        !core::containsIgnoreCase(t.entity.value, f.text) &&
        !core::containsIgnoreCase(t.host, f.text) && !core::containsIgnoreCase(t.rule_id, f.text))
      return false;
    if (f.from && t.last_seen < *f.from) return false;
    if (f.to && t.last_seen >= *f.to) return false;
    if (ignore_severity_and_open) return true;
    if (!f.severities.empty() &&
        std::find(f.severities.begin(), f.severities.end(), t.severity) == f.severities.end())
      return false;
    if (f.open && t.closed == *f.open) return false;
    return true;
  }

  static std::int64_t keyOf(const Threat& t, ThreatSort s) {
    switch (s) {
      case ThreatSort::kScore:
        return t.score;
      case ThreatSort::kSeverity:
        return static_cast<int>(t.severity);
      case ThreatSort::kLastSeen:
        return t.last_seen;
      case ThreatSort::kCreated:
        return t.created_at;
    }
    return 0;
  }

  std::vector<ThreatId> expected(const ThreatFilter& f, ThreatSort sort, bool desc) const {
    std::vector<const Threat*> rows;
    for (const auto& t : all_)
      if (matches(t, f, false)) rows.push_back(&t);
    std::sort(rows.begin(), rows.end(), [&](const Threat* a, const Threat* b) {
      auto ka = std::make_pair(keyOf(*a, sort), a->id);
      auto kb = std::make_pair(keyOf(*b, sort), b->id);
      return desc ? ka > kb : ka < kb;
    });
    std::vector<ThreatId> ids;
    for (const auto* t : rows) ids.push_back(t->id);
    return ids;
  }

  // Follows cursors to the end; checks totals and that pages are disjoint.
  std::vector<ThreatId> pageThrough(const ThreatFilter& f, ThreatSort sort, bool desc, int limit,
                                    std::int64_t expect_total) {
    std::vector<ThreatId> out;
    PageRequest p;
    p.sort = sort;
    p.descending = desc;
    p.limit = limit;
    for (int guard = 0; guard < 10000; ++guard) {
      auto page = store().listThreats(f, p);
      EXPECT_TRUE(page) << page.error().message;
      if (!page) break;
      EXPECT_EQ(page->total, expect_total);
      EXPECT_LE(page->items.size(), static_cast<size_t>(limit));
      for (const auto& t : page->items) out.push_back(t.id);
      if (page->next_cursor.empty()) break;
      EXPECT_EQ(page->items.size(), static_cast<size_t>(limit));
      p.cursor = page->next_cursor;
    }
    return out;
  }

  std::vector<ThreatFilter> filters() const {
    const ProjectId p = a_.project.id;
    std::vector<ThreatFilter> fs;
    auto add = [&](auto edit) {
      ThreatFilter f;
      f.project_id = p;
      edit(f);
      fs.push_back(f);
    };
    fs.push_back(ThreatFilter{});  // every project
    add([](ThreatFilter&) {});
    add([](ThreatFilter& f) { f.groups = {"L1 Support"}; });
    add([](ThreatFilter& f) { f.groups = {"", "l2 support"}; });
    add([](ThreatFilter& f) { f.groups = {"none"}; });
    add([](ThreatFilter& f) { f.groups = {"No Such Group"}; });
    add([](ThreatFilter& f) { f.states = {"New", "closed"}; });
    add([](ThreatFilter& f) { f.severities = {Severity::kHigh, Severity::kCritical}; });
    add([](ThreatFilter& f) { f.sources = {"threat intelligence", "API"}; });
    add([](ThreatFilter& f) { f.owners = {"U1@example.com"}; });
    add([](ThreatFilter& f) { f.owners = {"", "u2@example.com"}; });
    add([](ThreatFilter& f) { f.kinds = {core::ThreatKind::kSignal}; });
    add([](ThreatFilter& f) { f.entity = "h7"; });
    add([](ThreatFilter& f) { f.entity = "user:h3"; });
    add([](ThreatFilter& f) { f.entity = "host:Host-5"; });
    add([](ThreatFilter& f) { f.host = "HOST-3"; });
    add([](ThreatFilter& f) { f.entity_group = std::string(kEntityGroups[1]); });
    add([](ThreatFilter& f) { f.entity_group = "no such group"; });
    add([](ThreatFilter& f) { f.text = "%"; });
    add([](ThreatFilter& f) { f.text = "_"; });
    add([](ThreatFilter& f) { f.text = "'"; });
    add([](ThreatFilter& f) { f.text = "drop TABLE"; });
    add([](ThreatFilter& f) { f.text = "\\"; });
    add([](ThreatFilter& f) { f.text = "r1"; });
    add([](ThreatFilter& f) { f.text = "host-1"; });
    add([](ThreatFilter& f) { f.open = true; });
    add([](ThreatFilter& f) { f.open = false; });
    add([](ThreatFilter& f) {
      f.from = kNow - 7 * kDayMs;
      f.to = kNow - kDayMs;
    });
    add([](ThreatFilter& f) {
      f.severities = {Severity::kMedium, Severity::kHigh};
      f.open = true;
      f.from = kNow - 20 * kDayMs;
      f.text = "detection";
      f.groups = {"L1 Support", "L2 Support"};
    });
    ThreatFilter other;
    other.project_id = b_.project.id;
    other.states = {"In Progress"};
    fs.push_back(other);
    return fs;
  }

  Tenant a_, b_;
  std::vector<User> users_;
  std::vector<Threat> all_;
};

TEST_P(StoreQueryTest, EveryFilterSortAndDirectionPagesThroughTheBruteForceAnswer) {
  const auto fs = filters();
  for (size_t i = 0; i < fs.size(); ++i) {
    for (auto sort :
         {ThreatSort::kScore, ThreatSort::kSeverity, ThreatSort::kLastSeen, ThreatSort::kCreated}) {
      for (bool desc : {true, false}) {
        const auto want = expected(fs[i], sort, desc);
        const int limit = i == 0 ? 500 : (i % 2 ? 37 : 100);
        const auto got =
            pageThrough(fs[i], sort, desc, limit, static_cast<std::int64_t>(want.size()));
        EXPECT_EQ(got, want) << "filter " << i << " sort " << threatSortName(sort)
                             << (desc ? " desc" : " asc");
      }
    }
  }
  // The special names are really there, so the metacharacter filters found something.
  ThreatFilter pct;
  pct.text = "%";
  EXPECT_GT(store().listThreats(pct, {})->total, 0);
  ThreatFilter nothing;
  nothing.text = "%%%";
  EXPECT_EQ(store().listThreats(nothing, {})->total, 0);
}

TEST_P(StoreQueryTest, PagesStayDisjointAndCompleteUnderHeavyTies) {
  ThreatFilter f;  // severity has five values for 2500 threats
  const auto want = expected(f, ThreatSort::kSeverity, true);
  const auto got =
      pageThrough(f, ThreatSort::kSeverity, true, 7, static_cast<std::int64_t>(want.size()));
  EXPECT_EQ(std::set<ThreatId>(got.begin(), got.end()).size(), got.size());
  EXPECT_EQ(got, want);
}

TEST_P(StoreQueryTest, OverviewMatchesBruteForceCounts) {
  const auto fs = filters();
  for (size_t i = 0; i < fs.size(); ++i) {
    for (auto split : {TimelineSplit::kSeverity, TimelineSplit::kGroup}) {
      OverviewRequest req;
      req.filter = fs[i];
      req.split = split;
      req.now = kNow;
      req.page.limit = 20;
      auto ov = store().overview(req);
      ASSERT_TRUE(ov) << ov.error().message;
      const auto& f = fs[i];
      const core::TimeMs to = f.to.value_or(kNow);
      const core::TimeMs from = f.from.value_or(to - 30 * kDayMs);
      const BucketSize bucket = bucketSizeFor(from, to);
      EXPECT_EQ(ov->bucket, bucket);

      std::array<std::int64_t, core::kSeverityCount> chips{};
      std::int64_t total = 0;
      std::map<std::string, std::int64_t> eg, src, host;
      std::map<std::pair<core::TimeMs, std::string>, std::int64_t> timeline;
      std::array<std::int64_t, 4> periods{};
      const core::TimeMs len = bucket == BucketSize::kHour  ? core::kHourMs
                               : bucket == BucketSize::kDay ? kDayMs
                                                            : 7 * kDayMs;
      const core::TimeMs origin = bucket == BucketSize::kWeek ? 4 * kDayMs : 0;  // Mondays
      for (const auto& t : all_) {
        if (!matches(t, f, true)) continue;
        if (!t.closed) ++chips[static_cast<size_t>(t.severity)];
        if (!matches(t, f, false)) continue;
        ++total;
        if (!t.entity_group.empty()) ++eg[t.entity_group];
        ++src[t.source];
        if (!t.host.empty()) ++host[t.host];
        if (t.last_seen >= from && t.last_seen < to) {
          const core::TimeMs start = origin + (t.last_seen - origin) / len * len;
          const std::string series = split == TimelineSplit::kSeverity
                                         ? std::string(core::severityName(t.severity))
                                         : t.group;
          ++timeline[{start, series}];
        }
        const core::TimeMs age = kNow - t.last_seen;
        if (age < kDayMs) ++periods[0];
        if (age < 7 * kDayMs) ++periods[1];
        if (age < 30 * kDayMs)
          ++periods[2];
        else
          ++periods[3];
      }
      EXPECT_EQ(ov->open_by_severity, chips) << "filter " << i;
      EXPECT_EQ(ov->total, total) << "filter " << i;
      EXPECT_EQ(ov->first_page.total, total);

      auto top = [](const std::map<std::string, std::int64_t>& m) {
        std::vector<std::pair<std::string, std::int64_t>> v(m.begin(), m.end());
        std::stable_sort(v.begin(), v.end(),
                         [](const auto& a, const auto& b) { return a.second > b.second; });
        if (v.size() > 10) v.resize(10);
        return v;
      };
      auto asPairs = [](const std::vector<NamedCount>& v) {
        std::vector<std::pair<std::string, std::int64_t>> out;
        for (const auto& n : v) out.emplace_back(n.name, n.count);
        return out;
      };
      EXPECT_EQ(asPairs(ov->by_entity_group), top(eg)) << "filter " << i;
      EXPECT_EQ(asPairs(ov->by_source), top(src)) << "filter " << i;
      EXPECT_EQ(asPairs(ov->by_host), top(host)) << "filter " << i;
      ASSERT_EQ(ov->by_period.size(), 4u);
      for (size_t k = 0; k < 4; ++k) EXPECT_EQ(ov->by_period[k].count, periods[k]);

      // Buckets are contiguous, aligned, cover [from, to), and carry the naive counts.
      ASSERT_FALSE(ov->timeline.empty());
      EXPECT_LE(ov->timeline.front().start, from);
      EXPECT_GT(ov->timeline.front().start + len, from);
      EXPECT_GE(ov->timeline.back().start + len, to);
      std::map<std::pair<core::TimeMs, std::string>, std::int64_t> got;
      for (size_t b = 0; b < ov->timeline.size(); ++b) {
        const auto& tb = ov->timeline[b];
        if (b) {
          EXPECT_EQ(tb.start, ov->timeline[b - 1].start + len);
        }
        EXPECT_EQ((tb.start - origin) % len, 0);
        ASSERT_EQ(tb.counts.size(), ov->series.size());
        for (size_t s = 0; s < tb.counts.size(); ++s)
          if (tb.counts[s]) got[{tb.start, ov->series[s]}] += tb.counts[s];
      }
      EXPECT_EQ(got, timeline) << "filter " << i << " split " << static_cast<int>(split);
      if (split == TimelineSplit::kSeverity) {
        EXPECT_EQ(ov->series.size(), 5u);
      }

      const auto want = expected(f, req.page.sort, true);
      std::vector<ThreatId> first;
      for (const auto& t : ov->first_page.items) first.push_back(t.id);
      EXPECT_EQ(first, std::vector<ThreatId>(want.begin(),
                                             want.begin() + std::min<size_t>(20, want.size())));
    }
  }
}

TEST_P(StoreQueryTest, MalformedCursorsAndLimitsAreRefused) {
  PageRequest p;
  for (const std::string& bad :
       std::vector<std::string>{"!!!", "a", "djEueHl6", "djEuc2NvcmUuZC4xLjI", "%27%20OR%201=1",
                                std::string(300, 'A'), std::string("\0\1", 2)}) {
    p.cursor = bad;
    auto r = store().listThreats({}, p);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().field, "cursor");
  }
  // A cursor of one sort does not page another.
  PageRequest by_score;
  by_score.sort = ThreatSort::kScore;
  by_score.limit = 5;
  auto first = store().listThreats({}, by_score);
  ASSERT_TRUE(first);
  ASSERT_FALSE(first->next_cursor.empty());
  PageRequest by_time;
  by_time.cursor = first->next_cursor;
  EXPECT_EQ(store().listThreats({}, by_time).error().field, "cursor");
  by_score.cursor = first->next_cursor;
  by_score.descending = false;
  EXPECT_EQ(store().listThreats({}, by_score).error().field, "cursor");

  for (int limit : {0, -1, 501}) {
    PageRequest l;
    l.limit = limit;
    auto r = store().listThreats({}, l);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(r.error().field, "limit");
  }
  OverviewRequest req;
  req.page.cursor = "!!";
  EXPECT_EQ(store().overview(req).error().field, "cursor");
}

TEST_P(StoreQueryTest, ExportStreamsEveryMatchInPageOrderAndStopsWhenAsked) {
  ThreatFilter f;
  f.project_id = a_.project.id;
  f.open = true;
  PageRequest order;
  order.sort = ThreatSort::kScore;
  order.descending = false;
  std::vector<ThreatId> got;
  ASSERT_TRUE(store().exportThreats(f, order, [&](const Threat& t) {
    got.push_back(t.id);
    return true;
  }));
  EXPECT_EQ(got, expected(f, ThreatSort::kScore, false));
  int seen = 0;
  ASSERT_TRUE(store().exportThreats({}, order, [&](const Threat&) { return ++seen < 3; }));
  EXPECT_EQ(seen, 3);
}

TEST_P(StoreQueryTest, TheReadModelFollowsChangesAndSurvivesReopening) {
  // Close every open threat of one group; the open filter then sees none of them.
  ThreatFilter f;
  f.project_id = a_.project.id;
  f.groups = {"L1 Support"};
  f.open = true;
  const auto ids = expected(f, ThreatSort::kCreated, true);
  ASSERT_FALSE(ids.empty());
  for (auto id : ids) {
    ThreatChange c;
    c.state_id = a_.states[3].id;
    c.outcome_id = a_.outcomes[0].id;
    ASSERT_TRUE(store().changeThreat(id, c, alice_));
  }
  EXPECT_EQ(store().listThreats(f, {})->total, 0);
  f.open = false;
  const auto closed = store().listThreats(f, {})->total;
  reopen();
  EXPECT_EQ(store().listThreats(f, {})->total, closed);
  f.open = true;
  EXPECT_EQ(store().listThreats(f, {})->total, 0);
  all_.clear();
  for (ThreatId id = 1; id <= kThreats; ++id)
    if (auto t = store().getThreat(id)) all_.push_back(*t);
  for (const auto& filter : filters())
    EXPECT_EQ(store().listThreats(filter, {})->total,
              static_cast<std::int64_t>(expected(filter, ThreatSort::kLastSeen, true).size()));
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreQueryTest, ::testing::Values(sqliteBackend(), postgresBackend()), backendName);

}  // namespace
}  // namespace td::store::testing
