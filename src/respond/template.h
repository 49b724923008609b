// The template language of responses: a small, logic-less Mustache dialect for email subjects and
// bodies and for webhook URLs, headers and payloads.
//
//   template  := { text | tag }
//   tag       := "{{" ws name ws "}}"                 variable, escaped for its context
//              | "{{#" ws name ws "}}" template "{{/" ws name ws "}}"   section
//              | "{{^" ws name ws "}}" template "{{/" ws name ws "}}"   inverted section
//              | "{{!" any "}}"                        comment
//   name      := ident { "." ident }                  (fields.<path> also allows '-', '@', ':')
//
// A section renders its body once when its value is a non-empty text, once per item when it is
// a list (the item's names shadow the outer ones), and not at all otherwise; an inverted section
// renders exactly when the section would not. There is no code execution, no partials and no
// unescaped output: every value is escaped for where it lands (Escape). Sections nest at most
// kMaxDepth deep; templates are at most kMaxTemplateBytes long.
//
// Thread safety: a parsed Template is immutable; render it from any thread.
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace td::respond {

using core::Result;
using core::Status;

// Where a rendered value lands, which decides how it is escaped.
enum class Escape {
  kText,    // plain text (email text part, subjects): as is, control characters but \t\n dropped
  kHtml,    // HTML element content or attribute values: & < > " ' escaped
  kJson,    // inside a JSON string literal: \" \\ and control characters escaped
  kUrl,     // a URL component: RFC 3986 percent-encoding of everything but unreserved characters
  kHeader,  // an HTTP or mail header value: CR, LF and other control characters dropped
};

constexpr size_t kMaxTemplateBytes = 64 * 1024;
constexpr int kMaxDepth = 8;

// The values a template sees: texts by name, lists of nested scopes by name, and the threat's
// evidence for fields.<path>.
class Vars {
 public:
  void set(std::string name, std::string value) { texts_[std::move(name)] = std::move(value); }
  void setList(std::string name, std::vector<Vars> items) {
    lists_[std::move(name)] = std::move(items);
  }
  void setFields(std::shared_ptr<const nlohmann::json> fields) { fields_ = std::move(fields); }

  // The text of a name (fields.<path> looked up in the evidence); nullptr when absent.
  const std::string* text(std::string_view name, std::string& scratch) const;
  const std::vector<Vars>* list(std::string_view name) const;

 private:
  std::map<std::string, std::string, std::less<>> texts_;
  std::map<std::string, std::vector<Vars>, std::less<>> lists_;
  std::shared_ptr<const nlohmann::json> fields_;
};

// The names a template may use: text names, list names (each with the names of its items), and
// whether fields.<path> is allowed.
struct VarSchema {
  std::set<std::string, std::less<>> texts;
  std::map<std::string, VarSchema, std::less<>> lists;
  bool fields = true;
};

// The names of a threat (see respond/threat_vars.h) and of a digest ("threats" list + count).
const VarSchema& threatSchema();
const VarSchema& digestSchema();

class Template {
 public:
  // Parses `source`; on failure the error's field is "<what>:<line>:<col>" and its message says
  // what is wrong. With a schema every name must be known to it.
  static Result<Template> parse(std::string_view source, const VarSchema* schema = nullptr,
                                std::string_view what = "template");

  std::string render(const Vars& vars, Escape escape) const;
  bool empty() const { return !nodes_ || nodes_->empty(); }
  const std::string& source() const { return source_; }

  struct Node {
    enum class Kind { kText, kVar, kSection, kInverted } kind = Kind::kText;
    std::string text;  // literal text, or the name
    std::vector<Node> children;
  };

 private:
  std::shared_ptr<const std::vector<Node>> nodes_;
  std::string source_;
};

// Escapes one value for a context (exposed for tests and for the code that builds payloads).
std::string escapeValue(std::string_view value, Escape escape);

// Appends `value` as a JSON string literal ("…"), as nlohmann::json's dump() writes it (quote,
// backslash, \b \f \n \r \t escaped, \u00XX for the other control characters, UTF-8 as is),
// except that bytes that are not UTF-8 become U+FFFD instead of an exception. For payloads built
// on the hot path.
void appendJsonString(std::string& out, std::string_view value);

}  // namespace td::respond
