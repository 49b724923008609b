#include "detect/correlation.h"

#include <algorithm>
#include <deque>

#include <nlohmann/json.hpp>

namespace td::detect {
namespace {

constexpr size_t kMaxHistory = 65'536;

bool holds(const Correlation& def, std::int64_t n) {
  for (const auto& [op, v] : def.conditions) {
    switch (op) {
      case Correlation::Op::kGt: if (!(n > v)) return false; break;
      case Correlation::Op::kGte: if (!(n >= v)) return false; break;
      case Correlation::Op::kLt: if (!(n < v)) return false; break;
      case Correlation::Op::kLte: if (!(n <= v)) return false; break;
      case Correlation::Op::kEq: if (n != v) return false; break;
    }
  }
  return true;
}

}  // namespace

struct CorrelationEngine::Window {
  struct Group {
    std::deque<core::TimeMs> times;                                // event_count
    std::deque<std::pair<core::TimeMs, std::string>> values;       // value_count
    std::unordered_map<std::string, std::int64_t> distinct;
    std::vector<core::TimeMs> last;                                // temporal: per base rule
    std::vector<core::TimeMs> chain;                               // temporal_ordered: start
    std::list<std::string>::iterator lru;
  };
  const CorrelationSpec* spec = nullptr;
  std::unordered_map<std::string, Group> groups;
  std::list<std::string> lru;  // front = least recently updated
};

CorrelationEngine::CorrelationEngine(std::shared_ptr<const Engine> engine)
    : engine_(std::move(engine)) {
  for (const auto& spec : engine_->correlations()) {
    auto w = std::make_unique<Window>();
    w->spec = &spec;
    windows_.push_back(std::move(w));
  }
}

CorrelationEngine::~CorrelationEngine() = default;

CorrelationEngine::Stats CorrelationEngine::stats() const {
  Stats s;
  s.evicted_groups = evicted_;
  s.truncated_events = truncated_;
  for (const auto& w : windows_) s.groups += w->groups.size();
  return s;
}

void CorrelationEngine::observe(const Matcher& matcher, const std::vector<std::uint32_t>& matches,
                                std::vector<CorrelationHit>& fired) {
  if (windows_.empty() || matches.empty()) return;
  core::TimeMs t = matcher.time();
  if (t == 0) t = core::nowMs();
  const size_t cap = std::max<size_t>(1, engine_->options().correlation_max_groups);
  for (auto& wp : windows_) {
    Window& w = *wp;
    const CorrelationSpec& spec = *w.spec;
    for (size_t bi = 0; bi < spec.base_rules.size(); ++bi) {
      if (std::find(matches.begin(), matches.end(), spec.base_rules[bi]) == matches.end()) continue;
      std::string key;
      for (size_t g = 0; g < spec.group_slots.size(); ++g) {
        if (g) key += ", ";
        key += spec.def.group_by[g];
        key += '=';
        key += matcher.fieldText(spec.group_slots[g]);
      }
      auto it = w.groups.find(key);
      if (it == w.groups.end()) {
        if (w.groups.size() >= cap) {
          w.groups.erase(w.lru.front());
          w.lru.pop_front();
          ++evicted_;
        }
        it = w.groups.emplace(key, Window::Group{}).first;
        w.lru.push_back(key);
        it->second.lru = std::prev(w.lru.end());
        it->second.last.assign(spec.base_rules.size(), INT64_MIN);
        it->second.chain.assign(spec.base_rules.size(), INT64_MIN);
      } else {
        w.lru.splice(w.lru.end(), w.lru, it->second.lru);
      }
      Window::Group& g = it->second;
      const core::TimeMs span = spec.def.timespan_ms;
      CorrelationHit hit;
      hit.rule = spec.rule;
      hit.group = key;
      hit.last = t;
      bool fire = false;
      switch (spec.def.type) {
        case Correlation::Type::kEventCount: {
          while (!g.times.empty() && t - g.times.front() > span) g.times.pop_front();
          g.times.push_back(t);
          if (g.times.size() > kMaxHistory) {
            g.times.pop_front();
            ++truncated_;
          }
          hit.count = static_cast<std::int64_t>(g.times.size());
          hit.first = g.times.front();
          if (holds(spec.def, hit.count)) {
            fire = true;
            g.times.clear();
          }
          break;
        }
        case Correlation::Type::kValueCount: {
          while (!g.values.empty() && t - g.values.front().first > span) {
            auto d = g.distinct.find(g.values.front().second);
            if (d != g.distinct.end() && --d->second == 0) g.distinct.erase(d);
            g.values.pop_front();
          }
          std::string v(matcher.fieldText(spec.value_slot));
          if (v.empty()) break;
          ++g.distinct[v];
          g.values.emplace_back(t, std::move(v));
          if (g.values.size() > kMaxHistory) {
            auto d = g.distinct.find(g.values.front().second);
            if (d != g.distinct.end() && --d->second == 0) g.distinct.erase(d);
            g.values.pop_front();
            ++truncated_;
          }
          hit.count = static_cast<std::int64_t>(g.distinct.size());
          hit.first = g.values.front().first;
          if (holds(spec.def, hit.count)) {
            fire = true;
            g.values.clear();
            g.distinct.clear();
          }
          break;
        }
        case Correlation::Type::kTemporal: {
          g.last[bi] = t;
          std::int64_t present = 0;
          core::TimeMs first = t;
          for (auto lt : g.last) {
            if (lt != INT64_MIN && t - lt <= span) {
              ++present;
              first = std::min(first, lt);
            }
          }
          hit.count = present;
          hit.first = first;
          if (holds(spec.def, present)) {
            fire = true;
            std::fill(g.last.begin(), g.last.end(), INT64_MIN);
          }
          break;
        }
        case Correlation::Type::kTemporalOrdered: {
          if (bi == 0) {
            g.chain[0] = t;
          } else if (g.chain[bi - 1] != INT64_MIN && t - g.chain[bi - 1] <= span) {
            g.chain[bi] = g.chain[bi - 1];
          }
          std::int64_t steps = 0;
          for (size_t k = 0; k < g.chain.size(); ++k) {
            if (g.chain[k] != INT64_MIN && t - g.chain[k] <= span) steps = static_cast<std::int64_t>(k + 1);
            else break;
          }
          hit.count = steps;
          hit.first = g.chain[0] == INT64_MIN ? t : g.chain[0];
          if (g.chain.back() != INT64_MIN && t - g.chain.back() <= span &&
              holds(spec.def, static_cast<std::int64_t>(g.chain.size()))) {
            fire = true;
            hit.count = static_cast<std::int64_t>(g.chain.size());
            std::fill(g.chain.begin(), g.chain.end(), INT64_MIN);
          }
          break;
        }
      }
      if (fire) fired.push_back(std::move(hit));
      break;  // one observation per event and correlation
    }
  }
}

core::Detection makeCorrelationDetection(const Engine& engine, const CorrelationHit& hit,
                                         std::string_view host) {
  const RuleInfo& info = engine.rule(hit.rule);
  core::Detection d;
  d.name = info.title.substr(0, core::kMaxNameLength);
  d.source = std::string(core::source::kRule);
  d.rule_id = info.id.substr(0, core::kMaxShortText);
  d.severity = info.severity;
  d.score = info.score;
  d.tags = info.techniques;
  d.host = std::string(host.substr(0, core::kMaxShortText));
  if (!d.host.empty()) d.entity = {"host", d.host};
  nlohmann::json ev{{"correlation", info.title},
                    {"group", hit.group},
                    {"count", hit.count},
                    {"first", core::formatRfc3339(hit.first)},
                    {"last", core::formatRfc3339(hit.last)}};
  d.evidence_json = ev.dump();
  d.seen_at = hit.last;
  return d;
}

}  // namespace td::detect
