#include "detect/sigma_rule.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <sstream>
#include <stdexcept>

#include "core/text.h"

namespace td::detect {
namespace {

struct ModifierName {
  Modifier mod;
  std::string_view name;
};
constexpr std::array kModifierNames{
    ModifierName{Modifier::kContains, "contains"},
    ModifierName{Modifier::kStartsWith, "startswith"},
    ModifierName{Modifier::kEndsWith, "endswith"},
    ModifierName{Modifier::kAll, "all"},
    ModifierName{Modifier::kRe, "re"},
    ModifierName{Modifier::kReI, "i"},
    ModifierName{Modifier::kReM, "m"},
    ModifierName{Modifier::kReS, "s"},
    ModifierName{Modifier::kBase64, "base64"},
    ModifierName{Modifier::kBase64Offset, "base64offset"},
    ModifierName{Modifier::kUtf16le, "utf16le"},
    ModifierName{Modifier::kUtf16be, "utf16be"},
    ModifierName{Modifier::kWide, "wide"},
    ModifierName{Modifier::kWindash, "windash"},
    ModifierName{Modifier::kCidr, "cidr"},
    ModifierName{Modifier::kExists, "exists"},
    ModifierName{Modifier::kLt, "lt"},
    ModifierName{Modifier::kLte, "lte"},
    ModifierName{Modifier::kGt, "gt"},
    ModifierName{Modifier::kGte, "gte"},
    ModifierName{Modifier::kFieldRef, "fieldref"},
    ModifierName{Modifier::kCased, "cased"},
    ModifierName{Modifier::kExpand, "expand"},
};

Position posOf(const YAML::Node& n) {
  const YAML::Mark m = n.Mark();
  if (m.line < 0) return {};
  return {m.line + 1, m.column + 1};
}

// ---- condition parser -------------------------------------------------------------------------

struct Token {
  enum class Kind { kLParen, kRParen, kWord, kPipe, kEnd };
  Kind kind;
  std::string text;
  size_t offset;
};

class ConditionParser {
 public:
  explicit ConditionParser(std::string_view text) : text_(text) {}

  core::Result<ConditionNode> parse() {
    if (text_.size() > kMaxConditionLength) {
      return core::fail(core::ErrorCode::kTooLarge, "condition longer than 64 KiB");
    }
    if (auto st = tokenize(); !st) return core::fail(st.error());
    ConditionNode root;
    if (auto st = parseOr(root, 0); !st) return core::fail(st.error());
    if (peek().kind == Token::Kind::kPipe) {
      return error("aggregation expressions ('| count() ...') are not supported; use a Sigma "
                   "correlation rule",
                   peek().offset);
    }
    if (peek().kind != Token::Kind::kEnd) {
      return error("unexpected '" + peek().text + "'", peek().offset);
    }
    return root;
  }

 private:
  tl::unexpected<core::Error> error(std::string msg, size_t offset) const {
    return core::fail(core::ErrorCode::kInvalidArgument, std::move(msg),
                      "offset " + std::to_string(offset + 1));
  }

  core::Status tokenize() {
    size_t i = 0;
    while (i < text_.size()) {
      const char c = text_[i];
      if (std::isspace(static_cast<unsigned char>(c))) {
        ++i;
      } else if (c == '(') {
        tokens_.push_back({Token::Kind::kLParen, "(", i++});
      } else if (c == ')') {
        tokens_.push_back({Token::Kind::kRParen, ")", i++});
      } else if (c == '|') {
        tokens_.push_back({Token::Kind::kPipe, "|", i++});
      } else {
        const size_t start = i;
        while (i < text_.size() && !std::isspace(static_cast<unsigned char>(text_[i])) &&
               text_[i] != '(' && text_[i] != ')' && text_[i] != '|') {
          ++i;
        }
        tokens_.push_back({Token::Kind::kWord, std::string(text_.substr(start, i - start)), start});
      }
    }
    tokens_.push_back({Token::Kind::kEnd, "end of condition", text_.size()});
    return {};
  }

  const Token& peek() const { return tokens_[pos_]; }
  bool peekWord(std::string_view w) const {
    return peek().kind == Token::Kind::kWord && core::equalsIgnoreCase(peek().text, w);
  }

  // `depth` counts nesting (parentheses and "not"), the only ways the grammar recurses.
  core::Status parseOr(ConditionNode& out, int depth) {
    ConditionNode first;
    if (auto st = parseAnd(first, depth); !st) return st;
    if (!peekWord("or")) {
      out = std::move(first);
      return {};
    }
    out = ConditionNode{ConditionNode::Kind::kOr, {}, {}};
    out.children.push_back(std::move(first));
    while (peekWord("or")) {
      ++pos_;
      ConditionNode next;
      if (auto st = parseAnd(next, depth); !st) return st;
      out.children.push_back(std::move(next));
    }
    return {};
  }

  core::Status parseAnd(ConditionNode& out, int depth) {
    ConditionNode first;
    if (auto st = parseNot(first, depth); !st) return st;
    if (!peekWord("and")) {
      out = std::move(first);
      return {};
    }
    out = ConditionNode{ConditionNode::Kind::kAnd, {}, {}};
    out.children.push_back(std::move(first));
    while (peekWord("and")) {
      ++pos_;
      ConditionNode next;
      if (auto st = parseNot(next, depth); !st) return st;
      out.children.push_back(std::move(next));
    }
    return {};
  }

  core::Status parseNot(ConditionNode& out, int depth) {
    if (depth > kMaxConditionDepth) return error("condition nested too deeply", peek().offset);
    if (peekWord("not")) {
      ++pos_;
      ConditionNode inner;
      if (auto st = parseNot(inner, depth + 1); !st) return st;
      out = ConditionNode{ConditionNode::Kind::kNot, {}, {}};
      out.children.push_back(std::move(inner));
      return {};
    }
    return parsePrimary(out, depth);
  }

  core::Status parsePrimary(ConditionNode& out, int depth) {
    if (depth > kMaxConditionDepth) return error("condition nested too deeply", peek().offset);
    const Token& t = peek();
    if (t.kind == Token::Kind::kLParen) {
      ++pos_;
      if (auto st = parseOr(out, depth + 1); !st) return st;
      if (peek().kind != Token::Kind::kRParen) {
        return error("expected ')' but found '" + peek().text + "'", peek().offset);
      }
      ++pos_;
      return {};
    }
    if (t.kind != Token::Kind::kWord) {
      return error("expected a selection name but found '" + t.text + "'", t.offset);
    }
    const std::string word = t.text;
    const std::string lower = core::toLower(word);
    if (lower == "and" || lower == "or" || lower == "of" || lower == "them") {
      return error("unexpected keyword '" + word + "'", t.offset);
    }
    if (lower == "near") return error("'near' is not supported", t.offset);
    ++pos_;
    if (lower == "1" || lower == "any" || lower == "all") {
      if (!peekWord("of")) {
        return error("expected 'of' after '" + word + "'", peek().offset);
      }
      ++pos_;
      if (peek().kind != Token::Kind::kWord) {
        return error("expected 'them' or a selection pattern after 'of'", peek().offset);
      }
      out = ConditionNode{lower == "all" ? ConditionNode::Kind::kAllOf : ConditionNode::Kind::kOneOf,
                          peekWord("them") ? std::string("them") : peek().text,
                          {}};
      ++pos_;
      return {};
    }
    if (word.find('*') != std::string::npos) {
      return error("a wildcard pattern needs '1 of' or 'all of': '" + word + "'", t.offset);
    }
    out = ConditionNode{ConditionNode::Kind::kRef, word, {}};
    return {};
  }

  std::string_view text_;
  std::vector<Token> tokens_;
  size_t pos_ = 0;
};

// ---- YAML → rule -------------------------------------------------------------------------------

// Thrown inside this file only; parseSigmaYaml turns it into a Diagnostic.
struct RuleError : std::runtime_error {
  RuleError(std::string c, std::string msg, Position p)
      : std::runtime_error(std::move(msg)), code(std::move(c)), pos(p) {}
  std::string code;
  Position pos;
};

std::string scalarOr(const YAML::Node& map, const char* key, std::string fallback = {}) {
  const YAML::Node n = map[key];
  if (!n || !n.IsScalar()) return fallback;
  return n.Scalar();
}

std::vector<std::string> stringList(const YAML::Node& n) {
  std::vector<std::string> out;
  if (!n) return out;
  if (n.IsScalar()) {
    out.push_back(n.Scalar());
  } else if (n.IsSequence()) {
    for (const auto& item : n) {
      if (item.IsScalar()) out.push_back(item.Scalar());
    }
  }
  return out;
}

SigmaValue toValue(const YAML::Node& n) {
  SigmaValue v;
  v.pos = posOf(n);
  if (!n || n.IsNull()) {
    v.kind = SigmaValue::Kind::kNull;
    return v;
  }
  if (!n.IsScalar()) {
    throw RuleError(code::kBadDetection, "a value must be a scalar or a list of scalars", v.pos);
  }
  v.text = n.Scalar();
  // Quoted scalars are strings; plain ones may be numbers or booleans (only informative: Sigma
  // matches numbers by their text, which is what an event's number formats to).
  if (n.Tag() != "!") {
    const std::string& s = v.text;
    if (s == "true" || s == "false") {
      v.kind = SigmaValue::Kind::kBool;
    } else if (!s.empty()) {
      double d = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), d);
      if (ec == std::errc() && p == s.data() + s.size()) v.kind = SigmaValue::Kind::kNumber;
    }
  }
  return v;
}

FieldItem parseItem(const std::string& key, const YAML::Node& value, Position pos) {
  FieldItem item;
  item.pos = pos;
  const auto parts = core::splitTrimmed(key, '|');
  if (key.empty()) throw RuleError(code::kBadDetection, "empty field name", pos);
  item.field = key.front() == '|' ? std::string() : std::string(parts.empty() ? "" : parts[0]);
  for (size_t i = key.front() == '|' ? 0 : 1; i < parts.size(); ++i) {
    if (parts[i].empty()) continue;
    auto m = parseModifier(parts[i]);
    if (!m) {
      throw RuleError(code::kUnknownModifier,
                      "unknown modifier '" + std::string(parts[i]) + "' on '" + key + "'", pos);
    }
    item.modifiers.push_back(*m);
  }
  if (value && value.IsSequence()) {
    for (const auto& v : value) item.values.push_back(toValue(v));
    if (item.values.empty()) {
      throw RuleError(code::kBadDetection, "empty value list for '" + key + "'", pos);
    }
  } else if (value && value.IsMap()) {
    throw RuleError(code::kBadDetection, "'" + key + "' has a map as value", posOf(value));
  } else {
    item.values.push_back(toValue(value));
  }
  // Checks a modifier's values can be checked without an event.
  for (const auto& v : item.values) {
    if (item.has(Modifier::kExists) && v.text != "true" && v.text != "false" &&
        v.text != "yes" && v.text != "no") {
      throw RuleError(code::kBadModifierValue, "'exists' takes true or false, not '" + v.text + "'",
                      v.pos);
    }
    if ((item.has(Modifier::kLt) || item.has(Modifier::kLte) || item.has(Modifier::kGt) ||
         item.has(Modifier::kGte)) &&
        v.kind != SigmaValue::Kind::kNumber) {
      throw RuleError(code::kBadModifierValue,
                      "a comparison modifier takes a number, not '" + v.text + "'", v.pos);
    }
  }
  const bool re_flag = item.has(Modifier::kReI) || item.has(Modifier::kReM) ||
                       item.has(Modifier::kReS);
  if (re_flag && !item.has(Modifier::kRe)) {
    throw RuleError(code::kUnknownModifier, "regex flags i/m/s need the 're' modifier", pos);
  }
  if (item.field.empty() && (item.has(Modifier::kExists) || item.has(Modifier::kFieldRef))) {
    throw RuleError(code::kBadDetection, "a keyword search cannot use exists or fieldref", pos);
  }
  return item;
}

std::vector<FieldItem> parseMap(const YAML::Node& map) {
  std::vector<FieldItem> items;
  for (const auto& kv : map) {
    if (!kv.first.IsScalar()) {
      throw RuleError(code::kBadDetection, "a field name must be a scalar", posOf(kv.first));
    }
    items.push_back(parseItem(kv.first.Scalar(), kv.second, posOf(kv.first)));
  }
  return items;
}

Selection parseSelection(const std::string& name, const YAML::Node& node) {
  Selection sel;
  sel.name = name;
  sel.pos = posOf(node);
  if (node.IsMap()) {
    sel.alternatives.push_back(parseMap(node));
  } else if (node.IsSequence()) {
    FieldItem keywords;
    keywords.pos = sel.pos;
    for (const auto& elem : node) {
      if (elem.IsMap()) {
        sel.alternatives.push_back(parseMap(elem));
      } else if (elem.IsScalar() || elem.IsNull()) {
        keywords.values.push_back(toValue(elem));
      } else {
        throw RuleError(code::kBadDetection, "nested lists are not valid in a selection",
                        posOf(elem));
      }
    }
    if (!keywords.values.empty()) sel.alternatives.push_back({std::move(keywords)});
  } else if (node.IsScalar()) {
    FieldItem keywords;
    keywords.pos = sel.pos;
    keywords.values.push_back(toValue(node));
    sel.alternatives.push_back({std::move(keywords)});
  } else {
    throw RuleError(code::kBadDetection, "selection '" + name + "' is empty", sel.pos);
  }
  if (sel.alternatives.empty()) {
    throw RuleError(code::kBadDetection, "selection '" + name + "' is empty", sel.pos);
  }
  return sel;
}

bool globMatch(std::string_view pattern, std::string_view s) {
  // Only '*' is special in selection patterns; iterative with backtracking to the last star.
  size_t p = 0, i = 0, star = std::string_view::npos, mark = 0;
  while (i < s.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = i;
    } else if (p < pattern.size() && pattern[p] == s[i]) {
      ++p;
      ++i;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

void checkRefs(const ConditionNode& n, const SigmaRule& rule, Position pos,
               std::vector<bool>& used) {
  auto mark = [&](std::string_view pattern) {
    bool any = false;
    for (size_t i = 0; i < rule.selections.size(); ++i) {
      const auto& name = rule.selections[i].name;
      const bool hit = pattern == "them" ? name.empty() || name[0] != '_' : globMatch(pattern, name);
      if (hit) {
        used[i] = true;
        any = true;
      }
    }
    return any;
  };
  switch (n.kind) {
    case ConditionNode::Kind::kRef:
      if (!mark(n.name) || !rule.findSelection(n.name)) {
        throw RuleError(code::kUnknownSelection,
                        "condition names '" + n.name + "', which is not a selection", pos);
      }
      break;
    case ConditionNode::Kind::kOneOf:
    case ConditionNode::Kind::kAllOf:
      if (!mark(n.name)) {
        throw RuleError(code::kUnknownSelection,
                        "'" + n.name + "' matches no selection of the rule", pos);
      }
      break;
    default:
      for (const auto& c : n.children) checkRefs(c, rule, pos, used);
  }
}

std::int64_t parseTimespan(const std::string& s, Position pos) {
  if (s.size() < 2) throw RuleError(code::kBadCorrelation, "bad timespan '" + s + "'", pos);
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size() - 1, n);
  if (ec != std::errc() || p != s.data() + s.size() - 1 || n <= 0) {
    throw RuleError(code::kBadCorrelation, "bad timespan '" + s + "'", pos);
  }
  switch (s.back()) {
    case 's': return n * 1000;
    case 'm': return n * 60'000;
    case 'h': return n * 3'600'000;
    case 'd': return n * 86'400'000;
    case 'w': return n * 7 * 86'400'000;
    default: throw RuleError(code::kBadCorrelation, "bad timespan unit in '" + s + "'", pos);
  }
}

Correlation parseCorrelation(const YAML::Node& node) {
  Correlation c;
  const Position pos = posOf(node);
  if (!node.IsMap()) throw RuleError(code::kBadCorrelation, "correlation must be a map", pos);
  const std::string type = scalarOr(node, "type");
  if (type == "event_count") {
    c.type = Correlation::Type::kEventCount;
  } else if (type == "value_count") {
    c.type = Correlation::Type::kValueCount;
  } else if (type == "temporal") {
    c.type = Correlation::Type::kTemporal;
  } else if (type == "temporal_ordered") {
    c.type = Correlation::Type::kTemporalOrdered;
  } else {
    throw RuleError(code::kBadCorrelation, "unknown correlation type '" + type + "'", pos);
  }
  c.rules = stringList(node["rules"]);
  if (c.rules.empty()) throw RuleError(code::kBadCorrelation, "correlation without rules", pos);
  c.group_by = stringList(node["group-by"]);
  const std::string span = scalarOr(node, "timespan", scalarOr(node, "timeframe"));
  if (span.empty()) throw RuleError(code::kBadCorrelation, "correlation without timespan", pos);
  c.timespan_ms = parseTimespan(span, pos);
  c.generate = scalarOr(node, "generate") == "true";
  const YAML::Node cond = node["condition"];
  if (cond && cond.IsMap()) {
    for (const auto& kv : cond) {
      const std::string k = kv.first.Scalar();
      if (k == "field") {
        c.value_field = kv.second.Scalar();
        continue;
      }
      Correlation::Op op;
      if (k == "gt") {
        op = Correlation::Op::kGt;
      } else if (k == "gte") {
        op = Correlation::Op::kGte;
      } else if (k == "lt") {
        op = Correlation::Op::kLt;
      } else if (k == "lte") {
        op = Correlation::Op::kLte;
      } else if (k == "eq") {
        op = Correlation::Op::kEq;
      } else {
        throw RuleError(code::kBadCorrelation, "unknown condition operator '" + k + "'",
                        posOf(kv.first));
      }
      std::int64_t n = 0;
      const std::string v = kv.second.IsScalar() ? kv.second.Scalar() : "";
      auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (ec != std::errc() || p != v.data() + v.size()) {
        throw RuleError(code::kBadCorrelation, "threshold must be an integer", posOf(kv.second));
      }
      c.conditions.emplace_back(op, n);
    }
  } else if (c.type == Correlation::Type::kEventCount || c.type == Correlation::Type::kValueCount) {
    throw RuleError(code::kBadCorrelation, "event_count and value_count need a condition", pos);
  }
  if (c.type == Correlation::Type::kValueCount && c.value_field.empty()) {
    throw RuleError(code::kBadCorrelation, "value_count needs condition.field", pos);
  }
  if (c.conditions.empty() && (c.type == Correlation::Type::kTemporal ||
                               c.type == Correlation::Type::kTemporalOrdered)) {
    c.conditions.emplace_back(Correlation::Op::kGte, static_cast<std::int64_t>(c.rules.size()));
  }
  return c;
}

SigmaRule parseDocument(const YAML::Node& doc, const std::string& file) {
  SigmaRule rule;
  rule.file = file;
  rule.pos = posOf(doc);
  if (!doc.IsMap()) throw RuleError(code::kNotARule, "a rule must be a YAML map", rule.pos);
  if (doc["action"]) {
    throw RuleError(code::kNotARule,
                    "multi-document rule collections ('action: global') are not supported",
                    posOf(doc["action"]));
  }
  rule.id = scalarOr(doc, "id");
  rule.name = scalarOr(doc, "name");
  rule.title = scalarOr(doc, "title");
  rule.description = scalarOr(doc, "description");
  rule.author = scalarOr(doc, "author");
  rule.level = core::toLower(scalarOr(doc, "level"));
  rule.status = parseRuleStatus(scalarOr(doc, "status"));
  rule.tags = stringList(doc["tags"]);
  rule.falsepositives = stringList(doc["falsepositives"]);
  if (rule.title.empty()) throw RuleError(code::kMissingField, "rule has no title", rule.pos);
  if (const YAML::Node corr = doc["correlation"]) {
    rule.correlation = parseCorrelation(corr);
    return rule;
  }
  const YAML::Node ls = doc["logsource"];
  if (!ls || !ls.IsMap()) throw RuleError(code::kMissingField, "rule has no logsource", rule.pos);
  rule.logsource.product = core::toLower(scalarOr(ls, "product"));
  rule.logsource.category = core::toLower(scalarOr(ls, "category"));
  rule.logsource.service = core::toLower(scalarOr(ls, "service"));
  const YAML::Node det = doc["detection"];
  if (!det || !det.IsMap()) throw RuleError(code::kMissingField, "rule has no detection", rule.pos);
  YAML::Node cond;
  for (const auto& kv : det) {
    const std::string key = kv.first.Scalar();
    if (key == "condition") {
      cond = kv.second;
    } else if (key == "timeframe") {
      continue;  // only meaningful with an aggregation, which the condition check refuses
    } else {
      rule.selections.push_back(parseSelection(key, kv.second));
    }
  }
  if (!cond) throw RuleError(code::kMissingField, "detection has no condition", posOf(det));
  std::vector<std::pair<std::string, Position>> texts;
  if (cond.IsScalar()) {
    texts.emplace_back(cond.Scalar(), posOf(cond));
  } else if (cond.IsSequence()) {
    for (const auto& c : cond) {
      if (c.IsScalar()) texts.emplace_back(c.Scalar(), posOf(c));
    }
  }
  if (texts.empty()) throw RuleError(code::kBadCondition, "condition is empty", posOf(cond));
  std::vector<bool> used(rule.selections.size(), false);
  for (const auto& [text, pos] : texts) {
    auto parsed = parseCondition(text);
    if (!parsed) {
      const bool agg = parsed.error().message.find("aggregation") != std::string::npos ||
                       parsed.error().message.find("near") != std::string::npos;
      throw RuleError(agg ? code::kAggregation : code::kBadCondition,
                      parsed.error().message + " (at " + parsed.error().field + ")", pos);
    }
    checkRefs(*parsed, rule, pos, used);
    rule.conditions.push_back(std::move(*parsed));
  }
  return rule;
}

// yaml-cpp 0.7 can loop forever on a flow collection that is never closed (found by
// fuzz/sigma). Sigma rules are block YAML: refuse unbalanced flow brackets before parsing.
// Returns the 1-based line of the problem, or 0 when the text is fine.
int unbalancedFlowLine(std::string_view t) {
  std::vector<char> flow;
  bool value_start = true;  // at a place where a YAML node may begin
  int line = 1;
  size_t line_indent = 0, i = 0;
  auto skipQuoted = [&](char q) {
    for (++i; i < t.size(); ++i) {
      if (t[i] == '\n') ++line;
      if (q == '"' && t[i] == '\\') {
        ++i;
      } else if (t[i] == q) {
        if (q == '\'' && i + 1 < t.size() && t[i + 1] == '\'') {
          ++i;
        } else {
          return true;
        }
      }
    }
    return false;
  };
  while (i < t.size()) {
    const char c = t[i];
    if (c == '\n') {
      ++line;
      ++i;
      line_indent = 0;
      while (i < t.size() && t[i] == ' ') {
        ++line_indent;
        ++i;
      }
      if (flow.empty()) value_start = true;
      continue;
    }
    if (c == '#' && (i == 0 || t[i - 1] == ' ' || t[i - 1] == '\t')) {
      while (i < t.size() && t[i] != '\n') ++i;
      continue;
    }
    if (!flow.empty()) {
      if (c == '\'' || c == '"') {
        if (!skipQuoted(c)) return line;
      } else if (c == '[' || c == '{') {
        flow.push_back(c);
      } else if (c == ']' || c == '}') {
        if (flow.back() != (c == ']' ? '[' : '{')) return line;
        flow.pop_back();
        value_start = false;
      }
      ++i;
      continue;
    }
    if (value_start && (c == '[' || c == '{')) {
      flow.push_back(c);
    } else if (value_start && (c == '\'' || c == '"')) {
      if (!skipQuoted(c)) return line;
      value_start = false;
    } else if (value_start && (c == '|' || c == '>')) {
      // A block scalar: its lines are more indented than the key's line; skip them.
      const size_t key_indent = line_indent;
      while (i < t.size()) {
        while (i < t.size() && t[i] != '\n') ++i;
        if (i >= t.size()) break;
        size_t j = i + 1, ind = 0;
        while (j < t.size() && t[j] == ' ') {
          ++j;
          ++ind;
        }
        if (j < t.size() && t[j] != '\n' && ind <= key_indent) break;
        ++line;
        i = j;
      }
      continue;
    } else if (c == ':' && (i + 1 == t.size() || t[i + 1] == ' ' || t[i + 1] == '\n')) {
      value_start = true;
    } else if (c == '-' && value_start && (i + 1 == t.size() || t[i + 1] == ' ')) {
      value_start = true;
    } else if (c != ' ' && c != '\t' && c != '?') {
      value_start = false;
    }
    ++i;
  }
  return flow.empty() ? 0 : line;
}

}  // namespace

std::string_view modifierName(Modifier m) {
  for (const auto& mn : kModifierNames) {
    if (mn.mod == m) return mn.name;
  }
  return "?";
}

std::optional<Modifier> parseModifier(std::string_view name) {
  for (const auto& mn : kModifierNames) {
    if (mn.name == name) return mn.mod;
  }
  return std::nullopt;
}

bool FieldItem::has(Modifier m) const {
  return std::find(modifiers.begin(), modifiers.end(), m) != modifiers.end();
}

core::Result<ConditionNode> parseCondition(std::string_view text) {
  return ConditionParser(text).parse();
}

std::string Logsource::key() const { return product + "/" + category + "/" + service; }

std::string_view ruleStatusName(RuleStatus s) {
  switch (s) {
    case RuleStatus::kStable: return "stable";
    case RuleStatus::kTest: return "test";
    case RuleStatus::kExperimental: return "experimental";
    case RuleStatus::kDeprecated: return "deprecated";
    case RuleStatus::kUnsupported: return "unsupported";
    case RuleStatus::kUnknown: return "";
  }
  return "";
}

RuleStatus parseRuleStatus(std::string_view s) {
  const std::string l = core::toLower(s);
  if (l == "stable") return RuleStatus::kStable;
  if (l == "test") return RuleStatus::kTest;
  if (l == "experimental") return RuleStatus::kExperimental;
  if (l == "deprecated") return RuleStatus::kDeprecated;
  if (l == "unsupported") return RuleStatus::kUnsupported;
  return RuleStatus::kUnknown;
}

const Selection* SigmaRule::findSelection(std::string_view n) const {
  for (const auto& s : selections) {
    if (s.name == n) return &s;
  }
  return nullptr;
}

std::vector<std::string> SigmaRule::attackTechniques() const {
  std::vector<std::string> out;
  for (const auto& tag : tags) {
    const std::string l = core::toLower(tag);
    if (l.rfind("attack.t", 0) == 0 && l.size() > 9 &&
        std::isdigit(static_cast<unsigned char>(l[8]))) {
      std::string t = l.substr(7);
      for (auto& ch : t) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      out.push_back(std::move(t));
    }
  }
  return out;
}

core::Severity SigmaRule::severity() const {
  if (level == "critical") return core::Severity::kCritical;
  if (level == "high") return core::Severity::kHigh;
  if (level == "low") return core::Severity::kLow;
  if (level == "informational") return core::Severity::kInfo;
  return core::Severity::kMedium;
}

int SigmaRule::score() const { return core::scoreForSeverity(severity()); }

std::vector<SigmaRule> parseSigmaYaml(std::string_view yaml_text, const std::string& file,
                                      LoadReport& report) {
  std::vector<SigmaRule> rules;
  std::vector<YAML::Node> docs;
  if (const int bad = unbalancedFlowLine(yaml_text); bad > 0) {
    report.add({DiagnosticLevel::kError, code::kYamlParse,
                "unbalanced flow collection or unterminated quote ([ ] { } ' \")", file, bad, 1,
                "", ""});
    ++report.rules_refused;
    return rules;
  }
  try {
    docs = YAML::LoadAll(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    report.add({DiagnosticLevel::kError, code::kYamlParse, e.msg, file, e.mark.line + 1,
                e.mark.column + 1, "", ""});
    ++report.rules_refused;
    return rules;
  } catch (const std::exception& e) {
    report.add({DiagnosticLevel::kError, code::kYamlParse, e.what(), file, 0, 0, "", ""});
    ++report.rules_refused;
    return rules;
  }
  for (const auto& doc : docs) {
    if (!doc || doc.IsNull()) continue;
    std::string id, title;
    if (doc.IsMap()) {
      id = scalarOr(doc, "id");
      title = scalarOr(doc, "title");
    }
    try {
      SigmaRule rule = parseDocument(doc, file);
      if (rule.level.empty() && !rule.correlation) {
        report.add({DiagnosticLevel::kWarning, code::kUnknownLevel,
                    "rule has no level; medium assumed", file, rule.pos.line, rule.pos.column,
                    id, title});
      } else if (!rule.level.empty() && rule.level != "informational" && rule.level != "low" &&
                 rule.level != "medium" && rule.level != "high" && rule.level != "critical") {
        report.add({DiagnosticLevel::kWarning, code::kUnknownLevel,
                    "unknown level '" + rule.level + "'; medium assumed", file, rule.pos.line,
                    rule.pos.column, id, title});
      }
      rules.push_back(std::move(rule));
    } catch (const RuleError& e) {
      report.add({DiagnosticLevel::kError, e.code, e.what(), file, e.pos.line, e.pos.column, id,
                  title});
      ++report.rules_refused;
    } catch (const YAML::Exception& e) {
      report.add({DiagnosticLevel::kError, code::kYamlParse, e.msg, file, e.mark.line + 1,
                  e.mark.column + 1, id, title});
      ++report.rules_refused;
    } catch (const std::exception& e) {
      report.add({DiagnosticLevel::kError, code::kBadDetection, e.what(), file, 0, 0, id, title});
      ++report.rules_refused;
    }
  }
  return rules;
}

core::Result<SigmaRule> parseSigmaRule(std::string_view yaml_text) {
  LoadReport report;
  auto rules = parseSigmaYaml(yaml_text, "<rule>", report);
  for (const auto& d : report.diagnostics) {
    if (d.level == DiagnosticLevel::kError) {
      return core::fail(core::ErrorCode::kUnprocessable, d.code + ": " + d.message,
                        "line " + std::to_string(d.line) + ":" + std::to_string(d.column));
    }
  }
  if (rules.empty()) return core::fail(core::ErrorCode::kInvalidArgument, "no rule in the text");
  return std::move(rules.front());
}

}  // namespace td::detect
