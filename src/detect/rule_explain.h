// One rule text on its own: checking it (what an upload through the API or CLI goes through,
// with every problem at its line and field) and explaining which sample events it matches and
// why (POST /api/v1/rules/test). Each named selection of the rule is compiled as a rule of its
// own beside it, so the answer says which selections each event satisfied, which field map read
// the event and the values of the fields the rule looks at.
// Pure functions; safe from any thread.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "detect/diagnostics.h"

namespace td::detect {

// What the store keeps beside a rule's text.
struct RuleMeta {
  std::string uid;
  std::string title;
  std::string level;
  std::string status;
  std::string kind;  // sigma | correlation | entity
  std::vector<std::string> tags;
};

struct RuleCheck {
  RuleMeta meta;            // valid when ok()
  LoadReport report;        // every error and warning, with line and column
  bool ok() const { return report.errorCount() == 0 && !meta.uid.empty(); }
  // The first error as a core::Error: code kUnprocessable, field "line L, column C" (or the
  // entity rule's field), message "LOAD_ERR_X: ...".
  core::Error firstError() const;
};

constexpr size_t kMaxRuleTextBytes = 1 << 20;

// Parses and compiles one rule text (a Sigma rule, a correlation with the rules it names in the
// same text, or an entity rule). A rule without an `id` gets none: uploads must name one.
RuleCheck checkRuleText(std::string_view yaml);

struct EventExplanation {
  size_t index = 0;          // 0-based position among the samples
  bool matched = false;
  std::string error;         // the event is not a JSON object
  std::string field_map;     // the field map that read it
  std::vector<std::string> selections;           // selections the event satisfied
  std::map<std::string, std::string> fields;     // the rule's fields present in the event
};

struct RuleExplanation {
  std::string rule_id;
  std::string title;
  std::vector<EventExplanation> events;
  LoadReport report;
};

constexpr size_t kMaxExplainEvents = 1000;

// Fails (kUnprocessable, with line and column) when the rule does not compile; correlation and
// entity rules are refused (they need a stream, not single events).
core::Result<RuleExplanation> explainRule(std::string_view yaml,
                                          const std::vector<std::string>& events);

}  // namespace td::detect
