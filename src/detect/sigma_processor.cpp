#include "detect/sigma_processor.h"

#include <nlohmann/json.hpp>

#include "core/text.h"

namespace td::detect {

using Json = nlohmann::json;

namespace {

constexpr size_t kMaxIdleMatchers = 32;
constexpr int kMaxLookupDepth = 8;

EngineOptions storeEngineOptions() {
  EngineOptions o;
  // The store's enabled flag decides what runs; every status a user enabled is loaded.
  o.statuses = {RuleStatus::kStable,     RuleStatus::kTest,        RuleStatus::kExperimental,
                RuleStatus::kDeprecated, RuleStatus::kUnsupported, RuleStatus::kUnknown};
  return o;
}

void reportAction(LoadReport& report, const RuleSource& src, const core::Error& e) {
  report.add({DiagnosticLevel::kError, code::kBadDetection,
              "action: " + e.message + (e.field.empty() ? "" : " (" + e.field + ")"),
              "rule " + std::to_string(src.row_id), 0, 0, "", ""});
}

// Resolves the action of a rule for "every project" and the projects that have their own.
Ruleset::Binding bind(const RuleSource& src, LoadReport& report) {
  Ruleset::Binding b;
  b.row_id = src.row_id;
  b.group = src.group;
  auto parse = [&](const std::string& text) -> std::optional<RuleAction> {
    if (text.empty()) return std::nullopt;
    auto a = parseRuleAction(text);
    if (!a) {
      reportAction(report, src, a.error());
      return std::nullopt;
    }
    return *a;
  };
  const auto rule = parse(src.action_json);
  const auto group = parse(src.group_action_json);
  b.action = rule ? *rule : group ? *group : RuleAction{};
  for (const auto& [project, text] : src.group_project_actions) {
    if (rule) continue;  // the rule's own action is more specific than any group action
    if (auto a = parse(text)) b.per_project[project] = *a;
  }
  for (const auto& [project, text] : src.project_actions)
    if (auto a = parse(text)) b.per_project[project] = *a;
  return b;
}

// A scalar's text at a dotted path, or under a key of that name anywhere (bounded depth).
std::string findField(const Json& node, std::string_view field, int depth) {
  if (depth > kMaxLookupDepth || !node.is_object()) return {};
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (core::equalsIgnoreCase(it.key(), field)) {
      const Json& v = it.value();
      if (v.is_string()) return v.get<std::string>();
      if (v.is_number() || v.is_boolean()) return v.dump();
      if (v.is_object() && v.contains("#text") && v["#text"].is_string())
        return v["#text"].get<std::string>();
    }
  }
  for (auto it = node.begin(); it != node.end(); ++it) {
    if (!it.value().is_object()) continue;
    auto found = findField(it.value(), field, depth + 1);
    if (!found.empty()) return found;
  }
  return {};
}

std::string dottedField(const Json& root, std::string_view path) {
  const Json* node = &root;
  for (auto part : core::splitTrimmed(path, '.')) {
    if (!node->is_object()) return {};
    auto it = node->find(std::string(part));
    if (it == node->end()) return {};
    node = &*it;
  }
  if (node->is_string()) return node->get<std::string>();
  if (node->is_number() || node->is_boolean()) return node->dump();
  return {};
}

// Field values of one matched event: the engine's extracted fields first, else the JSON itself.
class EventLookup {
 public:
  EventLookup(const Matcher& m, std::string_view json) : m_(m), json_(json) {}
  std::string operator()(std::string_view field) {
    if (core::equalsIgnoreCase(field, "host")) return std::string(m_.host());
    if (core::equalsIgnoreCase(field, "user")) return std::string(m_.user());
    std::string v(m_.fieldText(field));
    if (!v.empty()) return v;
    if (!parsed_) {
      parsed_ = true;
      root_ = Json::parse(json_, nullptr, false);
    }
    if (root_.is_discarded()) return {};
    if (field.find('.') != std::string_view::npos) {
      v = dottedField(root_, field);
      if (!v.empty()) return v;
    }
    return findField(root_, field, 0);
  }

 private:
  const Matcher& m_;
  std::string_view json_;
  bool parsed_ = false;
  Json root_;
};

std::string evidence(const RuleInfo& info, std::string_view event) {
  std::string out = "{\"rule\":";
  Json rule = {{"id", info.id},
               {"title", info.title},
               {"level", info.level},
               {"tags", info.techniques}};
  out += rule.dump(-1, ' ', false, Json::error_handler_t::replace);
  out += ",\"event\":";
  if (event.size() <= kMaxEvidenceEventBytes) {
    out += event;
  } else {
    out += "{\"truncated\":true,\"bytes\":" + std::to_string(event.size()) + "}";
  }
  out += "}";
  return out;
}

// Applies an action to a detection that carries the rule's defaults.
void applyAction(core::Detection& d, const RuleInfo& info, const RuleAction& a,
                 EventLookup& lookup) {
  if (a.score) {
    d.score = *a.score;
    d.severity = a.severity ? *a.severity : core::severityForScore(*a.score);
  } else if (a.severity) {
    d.severity = *a.severity;
    d.score = core::scoreForSeverity(*a.severity);
  }
  d.kind = a.effectiveKind();
  d.source = a.source;
  d.check_by = a.check_by;
  d.group = a.group;
  for (const auto& ef : a.entity) {
    std::string v = lookup(ef.field);
    if (v.empty()) continue;
    d.entity = {ef.type, v.substr(0, core::kMaxShortText)};
    break;
  }
  if (!a.name_template.empty()) {
    std::string name = renderTemplate(a.name_template, [&](std::string_view var) -> std::string {
      if (var == "rule.title") return info.title;
      if (var == "rule.id") return info.id;
      if (var == "rule.level") return info.level;
      if (var == "entity") return d.entity.value;
      if (var == "entity.type") return d.entity.type;
      if (var == "host") return d.host;
      if (var == "user") return lookup("user");
      if (var.rfind("event.", 0) == 0) return lookup(var.substr(6));
      return {};
    });
    if (!core::trim(name).empty()) d.name = name.substr(0, core::kMaxNameLength);
  }
}

}  // namespace

core::Result<std::shared_ptr<Ruleset>> compileRuleset(const std::vector<RuleSource>& sources,
                                                      std::int64_t version) {
  auto rs = std::make_shared<Ruleset>();
  rs->version = version;
  std::vector<SigmaRule> sigma;
  for (size_t i = 0; i < sources.size(); ++i) {
    const RuleSource& src = sources[i];
    ++rs->report.files;
    if (isEntityRuleYaml(src.yaml)) {
      auto er = parseEntityRule(src.yaml);
      if (!er) {
        rs->report.add({DiagnosticLevel::kError, code::kNotARule,
                        "entity rule: " + er.error().message + " (" + er.error().field + ")",
                        "rule " + std::to_string(src.row_id), 0, 0, "", ""});
        ++rs->report.rules_refused;
        continue;
      }
      rs->entity_fingerprint += er->id + '\x1f' + er->title + '\x1f' +
                                std::to_string(er->window_ms) + '\x1f' +
                                std::to_string(er->score_sum.value_or(0)) + '\x1f' +
                                std::to_string(er->distinct_rules.value_or(0)) + '\x1f' +
                                std::to_string(er->suppress_ms) + '\x1e';
      for (const auto& t : er->entity_types) rs->entity_fingerprint += t + ',';
      rs->entity_rules.push_back(std::move(*er));
      rs->entity_rule_rows.push_back(src.row_id);
      ++rs->report.rules_loaded;
      continue;
    }
    // The file name carries the source's index so that compiled rules find their binding.
    auto parsed = parseSigmaYaml(src.yaml, "#" + std::to_string(i), rs->report);
    for (auto& r : parsed) sigma.push_back(std::move(r));
  }
  if (!sigma.empty()) {
    auto engine = Engine::build(std::move(sigma), storeEngineOptions(), rs->report);
    if (!engine) return core::fail(engine.error());
    rs->engine = *engine;
    rs->bindings.resize(rs->engine->ruleCount());
    for (std::uint32_t r = 0; r < rs->engine->ruleCount(); ++r) {
      const std::string& file = rs->engine->rule(r).file;
      size_t index = 0;
      if (file.size() > 1 && file[0] == '#') index = std::stoul(file.substr(1));
      if (index < sources.size()) rs->bindings[r] = bind(sources[index], rs->report);
    }
    rs->hits = std::vector<std::atomic<std::uint64_t>>(rs->engine->ruleCount());
  }
  // Diagnostics name rules by their row id rather than the internal index.
  for (auto& d : rs->report.diagnostics) {
    if (d.file.size() > 1 && d.file[0] == '#') {
      const size_t index = std::stoul(d.file.substr(1));
      if (index < sources.size()) d.file = "rule " + std::to_string(sources[index].row_id);
    }
  }
  rs->entity_hits = std::vector<std::atomic<std::uint64_t>>(rs->entity_rules.size());
  return rs;
}

struct SigmaProcessor::ProjectState {
  std::mutex mu;
  std::shared_ptr<const Ruleset> rules;                  // what the state below was built for
  std::unique_ptr<CorrelationEngine> correlations;       // null when no correlation rules
  std::unique_ptr<EntityAnalytics> entities;             // null when no entity rules
  std::string entity_fingerprint;
};

SigmaProcessor::SigmaProcessor() = default;
SigmaProcessor::~SigmaProcessor() = default;

void SigmaProcessor::swap(std::shared_ptr<const Ruleset> rules) {
  std::lock_guard lock(mu_);
  if (current_) retired_.push_back(std::move(current_));
  current_ = std::move(rules);
  matchers_.clear();
}

std::shared_ptr<const Ruleset> SigmaProcessor::ruleset() const {
  std::lock_guard lock(mu_);
  return current_;
}

std::unique_ptr<Matcher> SigmaProcessor::acquireMatcher(
    const std::shared_ptr<const Engine>& engine) {
  {
    std::lock_guard lock(mu_);
    for (auto it = matchers_.begin(); it != matchers_.end(); ++it) {
      if (&(*it)->engine() == engine.get()) {
        auto m = std::move(*it);
        matchers_.erase(it);
        return m;
      }
    }
  }
  return std::make_unique<Matcher>(engine);
}

void SigmaProcessor::releaseMatcher(std::unique_ptr<Matcher> m) {
  std::lock_guard lock(mu_);
  if (!current_ || current_->engine.get() != &m->engine()) return;  // rules changed meanwhile
  if (matchers_.size() < kMaxIdleMatchers) matchers_.push_back(std::move(m));
}

void SigmaProcessor::process(const std::vector<std::string_view>& events, core::ProjectId project,
                             core::DetectionSink& sink) noexcept {
  try {
    auto rs = ruleset();
    if (!rs || events.empty()) return;
    ProjectState* ps = nullptr;
    {
      std::lock_guard lock(projects_mu_);
      auto& slot = projects_[project];
      if (!slot) slot = std::make_unique<ProjectState>();
      ps = slot.get();
    }
    {
      std::lock_guard lock(ps->mu);
      if (ps->rules != rs) {
        if (ps->correlations) evictions_ += ps->correlations->stats().evicted_groups;
        ps->correlations.reset();
        if (rs->engine && !rs->engine->correlations().empty())
          ps->correlations = std::make_unique<CorrelationEngine>(rs->engine);
        if (!ps->entities || ps->entity_fingerprint != rs->entity_fingerprint) {
          ps->entities.reset();
          if (!rs->entity_rules.empty())
            ps->entities = std::make_unique<EntityAnalytics>(rs->entity_rules);
          ps->entity_fingerprint = rs->entity_fingerprint;
        }
        ps->rules = rs;
      }
    }
    std::vector<core::Detection> out;
    std::vector<core::Detection> raised;
    if (!rs->engine) return;
    auto matcher = acquireMatcher(rs->engine);
    std::vector<std::uint32_t> hits;
    std::vector<CorrelationHit> fired;
    const Engine& engine = *rs->engine;
    for (std::string_view ev : events) {
      ++events_;
      hits.clear();
      if (!matcher->evaluate(ev, hits)) {
        ++bad_events_;
        continue;
      }
      if (hits.empty()) continue;
      fired.clear();
      if (!engine.correlations().empty()) {
        std::lock_guard lock(ps->mu);
        if (ps->correlations && ps->rules == rs) ps->correlations->observe(*matcher, hits, fired);
      }
      EventLookup lookup(*matcher, ev);
      auto emit = [&](core::Detection d, std::uint32_t r) {
        const auto& binding = rs->bindings[r];
        d.project_id = project;
        d.rule_group = binding.group.substr(0, core::kMaxShortText);
        applyAction(d, engine.rule(r), binding.actionFor(project), lookup);
        if (d.kind == core::ThreatKind::kSignal) {
          ++signals_;
          std::lock_guard lock(ps->mu);
          if (ps->entities) {
            const size_t before = raised.size();
            ps->entities->observe(d, raised);
            entity_threats_ += raised.size() - before;
          }
        }
        ++detections_;
        out.push_back(std::move(d));
      };
      for (auto r : hits) {
        rs->hits[r].fetch_add(1, std::memory_order_relaxed);
        const RuleInfo& info = engine.rule(r);
        if (!info.generate) continue;
        core::Detection d = makeDetection(*matcher, r, ev);
        d.evidence_json = evidence(info, ev);
        emit(std::move(d), r);
      }
      for (const auto& f : fired) {
        rs->hits[f.rule].fetch_add(1, std::memory_order_relaxed);
        emit(makeCorrelationDetection(engine, f, matcher->host()), f.rule);
      }
    }
    releaseMatcher(std::move(matcher));
    for (auto& d : raised) {
      for (size_t i = 0; i < rs->entity_rules.size(); ++i)
        if (rs->entity_rules[i].id == d.rule_id) rs->entity_hits[i].fetch_add(1);
      out.push_back(std::move(d));
    }
    if (!out.empty()) sink.submit(std::move(out));
  } catch (...) {
    // Allocation failure or a bug: this batch's detections are lost, the pipeline goes on.
    ++bad_events_;
  }
}

void SigmaProcessor::collectHits(const Ruleset& rs, std::map<std::int64_t, std::int64_t>& out) {
  for (size_t r = 0; r < rs.hits.size(); ++r) {
    const auto n = rs.hits[r].exchange(0, std::memory_order_relaxed);
    if (n && r < rs.bindings.size() && rs.bindings[r].row_id)
      out[rs.bindings[r].row_id] += static_cast<std::int64_t>(n);
  }
  for (size_t i = 0; i < rs.entity_hits.size(); ++i) {
    const auto n = rs.entity_hits[i].exchange(0, std::memory_order_relaxed);
    if (n && rs.entity_rule_rows[i]) out[rs.entity_rule_rows[i]] += static_cast<std::int64_t>(n);
  }
}

std::vector<std::pair<std::int64_t, std::int64_t>> SigmaProcessor::takeHits() {
  std::vector<std::shared_ptr<const Ruleset>> sets;
  {
    std::lock_guard lock(mu_);
    sets = std::move(retired_);
    retired_.clear();
    if (current_) sets.push_back(current_);
  }
  std::map<std::int64_t, std::int64_t> sum;
  for (const auto& rs : sets) collectHits(*rs, sum);
  return {sum.begin(), sum.end()};
}

SigmaProcessor::Stats SigmaProcessor::stats() const {
  Stats s;
  s.events = events_;
  s.bad_events = bad_events_;
  s.detections = detections_;
  s.signals = signals_;
  s.entity_threats = entity_threats_;
  s.correlation_evictions = evictions_;
  return s;
}

}  // namespace td::detect
