// A Sigma rule as parsed from YAML, before compilation: metadata, logsource, named selections
// with their field checks and modifiers, and the condition as an AST. Also Sigma correlation
// rules. Value types, safe to copy between threads.
//
// The condition language (Sigma specification 2.0, as the SigmaHQ rules use it):
//
//   condition   = or_expr ;
//   or_expr     = and_expr , { "or" , and_expr } ;
//   and_expr    = not_expr , { "and" , not_expr } ;
//   not_expr    = "not" , not_expr | primary ;
//   primary     = "(" , or_expr , ")" | quantified | identifier ;
//   quantified  = ( "1" | "any" | "all" ) , "of" , ( "them" | pattern ) ;
//   identifier  = letter_or_underscore , { letter | digit | "_" | "-" | "." } ;
//   pattern     = identifier with "*" wildcards ;
//
// Keywords are case-insensitive. "them" covers every selection whose name does not start with
// "_". The old aggregation forms ("| count() by x > 5", "near") are refused with a diagnostic.
// Nesting deeper than kMaxConditionDepth is refused (no stack exhaustion on hostile input).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/threat.h"
#include "detect/diagnostics.h"

namespace td::detect {

constexpr int kMaxConditionDepth = 200;
constexpr size_t kMaxConditionLength = 64 * 1024;

struct Position {
  int line = 0;  // 1-based, 0 when unknown
  int column = 0;
};

enum class Modifier {
  kContains,
  kStartsWith,
  kEndsWith,
  kAll,
  kRe,
  kReI,  // re flags: i (ignore case), m (multi line), s (dot matches new line)
  kReM,
  kReS,
  kBase64,
  kBase64Offset,
  kUtf16le,
  kUtf16be,
  kWide,  // = utf16le
  kWindash,
  kCidr,
  kExists,
  kLt,
  kLte,
  kGt,
  kGte,
  kFieldRef,
  kCased,
  kExpand,
};
std::string_view modifierName(Modifier m);
std::optional<Modifier> parseModifier(std::string_view name);

// A value of a detection item as written in the rule.
struct SigmaValue {
  enum class Kind { kString, kNumber, kBool, kNull };
  Kind kind = Kind::kString;
  std::string text;  // the scalar as written (numbers and booleans too)
  Position pos;
};

// One `Field|mod1|mod2: value(s)` item. An empty field means a keyword search.
struct FieldItem {
  std::string field;
  std::vector<Modifier> modifiers;
  std::vector<SigmaValue> values;  // OR of values, AND with the `all` modifier
  Position pos;
  bool has(Modifier m) const;
};

// A named selection: a list of alternatives (OR), each a list of items (AND).
struct Selection {
  std::string name;
  std::vector<std::vector<FieldItem>> alternatives;
  Position pos;
};

struct ConditionNode {
  enum class Kind { kAnd, kOr, kNot, kRef, kOneOf, kAllOf };
  Kind kind = Kind::kRef;
  std::string name;  // selection name or pattern ("them" for all selections)
  std::vector<ConditionNode> children;
};

// Parses one condition string. `column_base` positions errors inside the YAML scalar.
core::Result<ConditionNode> parseCondition(std::string_view text);

struct Logsource {
  std::string product;
  std::string category;
  std::string service;
  bool empty() const { return product.empty() && category.empty() && service.empty(); }
  std::string key() const;  // "product/category/service"
};

enum class RuleStatus { kStable, kTest, kExperimental, kDeprecated, kUnsupported, kUnknown };
std::string_view ruleStatusName(RuleStatus s);
RuleStatus parseRuleStatus(std::string_view s);

struct Correlation {
  enum class Type { kEventCount, kValueCount, kTemporal, kTemporalOrdered };
  Type type = Type::kEventCount;
  std::vector<std::string> rules;     // ids or names of the base rules
  std::vector<std::string> group_by;  // Sigma field names
  std::int64_t timespan_ms = 0;
  // The threshold (event_count, value_count; temporal uses the number of rules).
  enum class Op { kGt, kGte, kLt, kLte, kEq };
  std::vector<std::pair<Op, std::int64_t>> conditions;
  std::string value_field;  // value_count: the field whose distinct values are counted
  bool generate = false;    // whether base rules also raise detections of their own
};

struct SigmaRule {
  std::string id;
  std::string name;  // the optional `name:` used by correlations to reference rules
  std::string title;
  std::string description;
  std::string author;
  RuleStatus status = RuleStatus::kUnknown;
  std::string level;  // informational | low | medium | high | critical
  std::vector<std::string> tags;
  std::vector<std::string> falsepositives;
  Logsource logsource;
  std::vector<Selection> selections;
  std::vector<ConditionNode> conditions;  // OR of the conditions
  std::optional<Correlation> correlation;
  std::string file;
  Position pos;

  const Selection* findSelection(std::string_view name) const;
  // ATT&CK technique ids from the tags: attack.t1059.001 -> T1059.001.
  std::vector<std::string> attackTechniques() const;
  core::Severity severity() const;
  int score() const;
};

// Parses every YAML document of one file's text into rules. Diagnostics (with file and
// position) go to `report`; a document with an error yields no rule. Never throws.
std::vector<SigmaRule> parseSigmaYaml(std::string_view yaml_text, const std::string& file,
                                      LoadReport& report);

// Parses exactly one rule (API / tests): the first error becomes the Result's error.
core::Result<SigmaRule> parseSigmaRule(std::string_view yaml_text);

}  // namespace td::detect
