#include "detect/rule_explain.h"

#include <set>

#include "detect/engine.h"
#include "detect/entity_analytics.h"
#include "detect/sigma_rule.h"

namespace td::detect {

using core::ErrorCode;
using core::fail;

namespace {

constexpr std::string_view kSelectionPrefix = "\x01selection:";

EngineOptions allStatuses() {
  EngineOptions o;
  o.statuses = {RuleStatus::kStable,     RuleStatus::kTest,        RuleStatus::kExperimental,
                RuleStatus::kDeprecated, RuleStatus::kUnsupported, RuleStatus::kUnknown};
  return o;
}

}  // namespace

core::Error RuleCheck::firstError() const {
  for (const auto& d : report.diagnostics) {
    if (d.level != DiagnosticLevel::kError) continue;
    std::string field = d.line > 0 ? "line " + std::to_string(d.line) : "yaml";
    if (d.line > 0 && d.column > 0) field += ", column " + std::to_string(d.column);
    return core::Error{ErrorCode::kUnprocessable, d.code + ": " + d.message, field};
  }
  if (meta.uid.empty())
    return core::Error{ErrorCode::kUnprocessable, "the rule needs an id", "id"};
  return core::Error{ErrorCode::kUnprocessable, "the rule does not load", "yaml"};
}

RuleCheck checkRuleText(std::string_view yaml) {
  RuleCheck out;
  if (yaml.size() > kMaxRuleTextBytes) {
    out.report.add({DiagnosticLevel::kError, code::kTooLarge, "the rule text is over 1 MiB", "", 0,
                    0, "", ""});
    return out;
  }
  if (isEntityRuleYaml(yaml)) {
    auto er = parseEntityRule(yaml);
    if (!er) {
      int line = 0;
      const auto& f = er.error().field;
      auto p = er.error().message.rfind("(line ");
      if (p != std::string::npos) line = std::atoi(er.error().message.c_str() + p + 6);
      out.report.add({DiagnosticLevel::kError, code::kBadDetection,
                      er.error().message + (f.empty() ? "" : " [" + f + "]"), "", line, 0, "", ""});
      return out;
    }
    out.meta = {er->id, er->title, "", "", "entity", {}};
    ++out.report.rules_loaded;
    return out;
  }
  auto rules = parseSigmaYaml(yaml, "", out.report);
  if (rules.empty()) {
    if (out.report.errorCount() == 0)
      out.report.add({DiagnosticLevel::kError, code::kNotARule, "no rule in the text", "", 0, 0,
                      "", ""});
    return out;
  }
  const SigmaRule& first = rules.front();
  // A correlation's text may carry its base rules; the correlation names the whole.
  const SigmaRule* main = &first;
  for (const auto& r : rules)
    if (r.correlation) main = &r;
  out.meta.uid = main->id;
  out.meta.title = main->title;
  out.meta.level = main->level;
  out.meta.status = std::string(ruleStatusName(main->status));
  out.meta.kind = main->correlation ? "correlation" : "sigma";
  out.meta.tags = main->tags;
  auto engine = Engine::build(std::move(rules), allStatuses(), out.report);
  if (!engine)
    out.report.add({DiagnosticLevel::kError, code::kBadDetection, engine.error().message, "", 0,
                    0, "", ""});
  if (out.meta.uid.empty() && out.report.errorCount() == 0)
    out.report.add({DiagnosticLevel::kError, code::kMissingField,
                    "the rule needs an id (a UUID such as those SigmaHQ uses)", "", 1, 1, "", ""});
  return out;
}

core::Result<RuleExplanation> explainRule(std::string_view yaml,
                                          const std::vector<std::string>& events) {
  if (events.size() > kMaxExplainEvents)
    return fail(ErrorCode::kTooLarge,
                "at most " + std::to_string(kMaxExplainEvents) + " sample events", "events");
  if (isEntityRuleYaml(yaml))
    return fail(ErrorCode::kUnprocessable,
                "entity rules work on signals over time; test the rules that raise the signals",
                "rule");
  RuleExplanation out;
  auto rules = parseSigmaYaml(yaml, "", out.report);
  if (out.report.errorCount() > 0 || rules.empty()) {
    RuleCheck c;
    c.report = out.report;
    if (rules.empty() && out.report.errorCount() == 0)
      return fail(ErrorCode::kUnprocessable, "no rule in the text", "rule");
    return fail(c.firstError());
  }
  if (rules.size() != 1 || rules.front().correlation)
    return fail(ErrorCode::kUnprocessable,
                "test one detection rule at a time (correlations need a stream of events)",
                "rule");
  SigmaRule rule = std::move(rules.front());
  if (rule.id.empty()) rule.id = "rule";
  out.rule_id = rule.id;
  out.title = rule.title;
  std::vector<SigmaRule> set{rule};
  std::set<std::string> fields;
  for (const auto& sel : rule.selections) {
    SigmaRule one = rule;
    one.id = std::string(kSelectionPrefix) + sel.name;
    one.name.clear();
    one.conditions = {ConditionNode{ConditionNode::Kind::kRef, sel.name, {}}};
    set.push_back(std::move(one));
    for (const auto& alt : sel.alternatives)
      for (const auto& item : alt)
        if (!item.field.empty()) fields.insert(item.field);
  }
  LoadReport build_report;
  auto engine = Engine::build(std::move(set), allStatuses(), build_report);
  if (!engine) return fail(engine.error());
  for (const auto& d : build_report.diagnostics) {
    if (d.level == DiagnosticLevel::kError && d.rule_id == out.rule_id) {
      RuleCheck c;
      c.report.add(d);
      return fail(c.firstError());
    }
  }
  for (const auto& d : build_report.diagnostics)
    if (d.rule_id.rfind(kSelectionPrefix, 0) != 0) out.report.add(d);
  Matcher matcher(*engine);
  std::vector<std::uint32_t> hits;
  for (size_t i = 0; i < events.size(); ++i) {
    EventExplanation e;
    e.index = i;
    hits.clear();
    if (auto st = matcher.evaluate(events[i], hits); !st) {
      e.error = st.error().message;
      out.events.push_back(std::move(e));
      continue;
    }
    if (const FieldMap* map = matcher.fieldMap()) e.field_map = map->name;
    for (auto r : hits) {
      const std::string& id = (*engine)->rule(r).id;
      if (id.rfind(kSelectionPrefix, 0) == 0)
        e.selections.push_back(id.substr(kSelectionPrefix.size()));
      else if (id == out.rule_id)
        e.matched = true;
    }
    for (const auto& f : fields) {
      auto v = matcher.fieldText(f);
      if (!v.empty()) e.fields[f] = std::string(v.substr(0, 1024));
    }
    out.events.push_back(std::move(e));
  }
  return out;
}

}  // namespace td::detect
