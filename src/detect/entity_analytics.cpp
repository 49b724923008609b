#include "detect/entity_analytics.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <set>

#include "core/text.h"

namespace td::detect {

using core::ErrorCode;
using core::fail;

namespace {

// yaml-cpp can spin on unbalanced flow collections (fuzz/sigma found it); refuse them first.
bool balancedFlow(std::string_view text) {
  int depth = 0;
  char quote = 0;
  bool comment = false;
  for (char c : text) {
    if (c == '\n') {
      comment = false;
      if (quote) return false;  // entity rules have no multi-line quoted scalars
      continue;
    }
    if (comment) continue;
    if (quote) {
      if (c == quote) quote = 0;
      continue;
    }
    if (c == '#') comment = true;
    else if (c == '"' || c == '\'') quote = c;
    else if (c == '[' || c == '{') ++depth;
    else if (c == ']' || c == '}') {
      if (--depth < 0) return false;
    }
  }
  return depth == 0 && quote == 0;
}

std::string at(const YAML::Node& n) {
  const auto m = n.Mark();
  return m.line >= 0 ? " (line " + std::to_string(m.line + 1) + ")" : "";
}

core::Severity severityOfLevel(const std::string& level) {
  if (level == "critical") return core::Severity::kCritical;
  if (level == "high") return core::Severity::kHigh;
  if (level == "low") return core::Severity::kLow;
  if (level == "informational") return core::Severity::kInfo;
  return core::Severity::kMedium;
}

}  // namespace

core::Result<core::TimeMs> parseDuration(std::string_view text) {
  text = core::trim(text);
  if (text.size() < 2)
    return fail(ErrorCode::kUnprocessable, "expected a duration such as 30s, 15m, 24h or 7d");
  std::int64_t n = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size() - 1, n);
  if (ec != std::errc() || ptr != text.data() + text.size() - 1 || n <= 0 || n > 3650)
    return fail(ErrorCode::kUnprocessable, "expected a duration such as 30s, 15m, 24h or 7d");
  switch (text.back()) {
    case 's': return n * core::kSecondMs;
    case 'm': return n * core::kMinuteMs;
    case 'h': return n * core::kHourMs;
    case 'd': return n * core::kDayMs;
    default:
      return fail(ErrorCode::kUnprocessable, "expected a duration such as 30s, 15m, 24h or 7d");
  }
}

bool isEntityRuleYaml(std::string_view yaml) {
  size_t pos = 0;
  while (pos < yaml.size()) {
    size_t end = yaml.find('\n', pos);
    if (end == std::string_view::npos) end = yaml.size();
    const std::string_view line = yaml.substr(pos, end - pos);
    if (line.rfind("entity_rule:", 0) == 0) return true;
    pos = end + 1;
  }
  return false;
}

core::Result<EntityRule> parseEntityRule(std::string_view yaml) {
  if (!balancedFlow(yaml))
    return fail(ErrorCode::kUnprocessable, "unbalanced [ ] { } or quotes", "yaml");
  YAML::Node doc;
  try {
    doc = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    return fail(ErrorCode::kUnprocessable, e.msg,
                "line " + std::to_string(e.mark.line + 1) + ", column " +
                    std::to_string(e.mark.column + 1));
  }
  try {
    if (!doc.IsMap()) return fail(ErrorCode::kUnprocessable, "an entity rule is a mapping", "");
    EntityRule r;
    const YAML::Node title = doc["title"];
    if (!title || !title.IsScalar() || core::trim(title.Scalar()).empty())
      return fail(ErrorCode::kUnprocessable, "an entity rule needs a title", "title");
    r.title = title.Scalar().substr(0, core::kMaxNameLength);
    r.id = doc["id"] && doc["id"].IsScalar() ? doc["id"].Scalar() : r.title;
    r.id = r.id.substr(0, core::kMaxShortText);
    std::string level = "high";
    if (const YAML::Node l = doc["level"]) {
      if (!l.IsScalar()) return fail(ErrorCode::kUnprocessable, "expected a level" + at(l), "level");
      level = core::toLower(l.Scalar());
      static const std::set<std::string> kLevels = {"informational", "low", "medium", "high",
                                                    "critical"};
      if (!kLevels.count(level))
        return fail(ErrorCode::kUnprocessable,
                    "level is informational, low, medium, high or critical" + at(l), "level");
    }
    r.severity = severityOfLevel(level);
    r.score = core::scoreForSeverity(r.severity);
    const YAML::Node e = doc["entity_rule"];
    if (!e || !e.IsMap())
      return fail(ErrorCode::kUnprocessable, "entity_rule must be a mapping", "entity_rule");
    bool suppress_set = false;
    for (auto it = e.begin(); it != e.end(); ++it) {
      const std::string key = it->first.as<std::string>();
      const YAML::Node v = it->second;
      const std::string field = "entity_rule." + key;
      if (key == "entity") {
        if (v.IsScalar()) {
          r.entity_types.push_back(v.Scalar());
        } else if (v.IsSequence()) {
          for (const auto& t : v) {
            if (!t.IsScalar())
              return fail(ErrorCode::kUnprocessable, "expected entity type names" + at(t), field);
            r.entity_types.push_back(t.Scalar());
          }
        } else {
          return fail(ErrorCode::kUnprocessable, "expected entity type names" + at(v), field);
        }
      } else if (key == "window" || key == "suppress") {
        if (!v.IsScalar()) return fail(ErrorCode::kUnprocessable, "expected a duration" + at(v), field);
        auto d = parseDuration(v.Scalar());
        if (!d) return fail(ErrorCode::kUnprocessable, d.error().message + at(v), field);
        if (key == "window") {
          r.window_ms = *d;
        } else {
          r.suppress_ms = *d;
          suppress_set = true;
        }
      } else if (key == "score_sum" || key == "distinct_rules") {
        std::int64_t n = 0;
        const std::string s = v.IsScalar() ? v.Scalar() : "";
        auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
        if (s.empty() || ec != std::errc() || ptr != s.data() + s.size() || n < 1 || n > 1'000'000)
          return fail(ErrorCode::kUnprocessable, "expected a positive integer" + at(v), field);
        (key == "score_sum" ? r.score_sum : r.distinct_rules) = n;
      } else {
        return fail(ErrorCode::kUnprocessable,
                    "unknown member (entity, window, score_sum, distinct_rules, suppress)" + at(v),
                    field);
      }
    }
    if (!r.score_sum && !r.distinct_rules)
      return fail(ErrorCode::kUnprocessable, "an entity rule needs score_sum or distinct_rules",
                  "entity_rule");
    if (!suppress_set) r.suppress_ms = r.window_ms;
    return r;
  } catch (const YAML::Exception& ex) {
    return fail(ErrorCode::kUnprocessable, ex.msg, "line " + std::to_string(ex.mark.line + 1));
  }
}

EntityAnalytics::EntityAnalytics(std::vector<EntityRule> rules, Limits limits)
    : rules_(std::move(rules)), limits_(limits) {
  for (const auto& r : rules_) max_window_ = std::max(max_window_, r.window_ms);
}

void EntityAnalytics::observe(const core::Detection& signal, std::vector<core::Detection>& raised) {
  if (rules_.empty() || signal.entity.value.empty()) return;
  try {
    const core::TimeMs now = signal.seen_at ? signal.seen_at : core::nowMs();
    const std::string key = signal.entity.type + '\x1f' + signal.entity.value;
    auto it = entities_.find(key);
    if (it == entities_.end()) {
      if (entities_.size() >= limits_.max_entities && !lru_.empty()) {
        entities_.erase(lru_.back());
        lru_.pop_back();
        ++stats_.evicted_entities;
      }
      lru_.push_front(key);
      it = entities_.emplace(key, EntityState{}).first;
      it->second.lru = lru_.begin();
    } else {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
    }
    EntityState& st = it->second;
    st.signals.push_back(Signal{signal.rule_id, signal.name, signal.score, now, signal.tags});
    while (st.signals.size() > limits_.max_signals) {
      st.signals.pop_front();
      ++stats_.dropped_signals;
    }
    // Signals may arrive out of order (several senders); the windows are over signal time.
    while (!st.signals.empty() && st.signals.front().at < now - max_window_) st.signals.pop_front();

    for (size_t i = 0; i < rules_.size(); ++i) {
      const EntityRule& rule = rules_[i];
      if (!rule.entity_types.empty() &&
          std::none_of(rule.entity_types.begin(), rule.entity_types.end(),
                       [&](const std::string& t) { return core::equalsIgnoreCase(t, signal.entity.type); }))
        continue;
      std::int64_t sum = 0;
      std::set<std::string> distinct;
      std::vector<const Signal*> contributing;
      for (const auto& s : st.signals) {
        if (s.at < now - rule.window_ms || s.at > now) continue;
        sum += s.score;
        distinct.insert(s.rule_id);
        contributing.push_back(&s);
      }
      const bool by_score = rule.score_sum && sum >= *rule.score_sum;
      const bool by_rules =
          rule.distinct_rules && static_cast<std::int64_t>(distinct.size()) >= *rule.distinct_rules;
      if (!by_score && !by_rules) continue;
      auto quiet = st.quiet_until.find(i);
      if (quiet != st.quiet_until.end() && now < quiet->second) {
        ++stats_.suppressed;
        continue;
      }
      st.quiet_until[i] = now + rule.suppress_ms;
      ++stats_.raised;

      core::Detection d;
      d.project_id = signal.project_id;
      d.name = (rule.title + " on " + signal.entity.value).substr(0, core::kMaxNameLength);
      d.description = by_score ? "summed signal score " + std::to_string(sum) + " reached " +
                                     std::to_string(*rule.score_sum)
                               : std::to_string(distinct.size()) + " distinct rules signalled";
      d.score = rule.score;
      d.severity = rule.severity;
      d.kind = core::ThreatKind::kThreat;
      d.source = std::string(core::source::kRule);
      d.rule_id = rule.id;
      d.rule_group = signal.rule_group;
      d.entity = signal.entity;
      d.host = signal.host;
      d.check_by = core::CheckBy::kRule | core::CheckBy::kEntity;
      d.seen_at = now;
      std::set<std::string> tags;
      nlohmann::json signals = nlohmann::json::array();
      // The newest first: those are what tipped it.
      for (auto s = contributing.rbegin(); s != contributing.rend(); ++s) {
        for (const auto& t : (*s)->tags) tags.insert(t);
        if (signals.size() < limits_.max_evidence_signals)
          signals.push_back({{"rule_id", (*s)->rule_id},
                             {"name", (*s)->name},
                             {"score", (*s)->score},
                             {"at", core::formatRfc3339((*s)->at)}});
      }
      for (const auto& t : tags)
        if (d.tags.size() < core::kMaxTags) d.tags.push_back(t);
      nlohmann::json ev = {
          {"entity_rule", {{"id", rule.id}, {"title", rule.title}}},
          {"entity", {{"type", signal.entity.type}, {"value", signal.entity.value}}},
          {"window_ms", rule.window_ms},
          {"score_sum", sum},
          {"distinct_rules", distinct.size()},
          {"signal_count", contributing.size()},
          {"signals", signals}};
      d.evidence_json = ev.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      raised.push_back(std::move(d));
    }
  } catch (const std::exception&) {
    // Allocation failure: this signal is lost to the analytics, the stream goes on.
    ++stats_.dropped_signals;
  }
}

EntityAnalytics::Stats EntityAnalytics::stats() const {
  Stats s = stats_;
  s.entities = entities_.size();
  return s;
}

}  // namespace td::detect
