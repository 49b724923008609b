// What a rule's match raises: the create_threat / create_signal action of a rule or rule group.
// Score, severity, kind (SIGNAL or THREAT), source label (default "Rule"), a name template such
// as "{{rule.title}} on {{host}}", the event fields that name the entity, check_by for
// de-duplication and an initial threat group. Stored as JSON text (the store keeps it opaque);
// this file parses and validates it, with the JSON path of every problem in Error::field.
//
// JSON shape (every member optional):
//   {"type": "create_threat" | "create_signal",
//    "score": 0-100, "severity": "INFO".."CRITICAL", "kind": "THREAT" | "SIGNAL",
//    "source": "Rule", "name": "{{rule.title}} on {{host}}",
//    "entity": [{"type": "user", "field": "TargetUserName"}, {"type": "host", "field": "host"}],
//    "check_by": ["rule", "entity"] | "rule,entity", "group": "L1 Support"}
//
// Name template variables: {{rule.title}} {{rule.id}} {{rule.level}} {{host}} {{user}}
// {{entity}} {{entity.type}} and {{event.FIELD}} (a Sigma field or dotted path of the event).
// Unknown variables render as "".
//
// Value types and pure functions; safe from any thread.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/threat.h"

namespace td::detect {

struct EntityField {
  std::string type;   // host, user, ip, ...
  std::string field;  // Sigma field or dotted path; "host" / "user" take the field map's
};

struct RuleAction {
  enum class Type { kCreateThreat, kCreateSignal };
  Type type = Type::kCreateThreat;
  std::optional<int> score;                 // default: from the rule's level
  std::optional<core::Severity> severity;   // default: from the rule's level
  std::optional<core::ThreatKind> kind;     // default: THREAT, or SIGNAL for create_signal
  std::string source{core::source::kRule};
  std::string name_template;                // default: the rule's title
  std::vector<EntityField> entity;          // default: host, else user
  core::CheckBy check_by = core::kDefaultCheckBy;
  std::string group;                        // initial threat group; "" = none

  core::ThreatKind effectiveKind() const {
    if (kind) return *kind;
    return type == Type::kCreateSignal ? core::ThreatKind::kSignal : core::ThreatKind::kThreat;
  }
};

constexpr size_t kMaxNameTemplate = 512;
constexpr size_t kMaxEntityFields = 8;

// Parses an action from JSON text ("" or "null" give the default action). `path` prefixes the
// fields named in errors (e.g. "action").
core::Result<RuleAction> parseRuleAction(std::string_view json, const std::string& path = "action");
// The canonical JSON text of an action (only members that differ from the default).
std::string encodeRuleAction(const RuleAction& action);

// Renders a name template; `lookup` answers variable names (without braces, trimmed).
std::string renderTemplate(std::string_view tmpl,
                           const std::function<std::string(std::string_view)>& lookup);

}  // namespace td::detect
