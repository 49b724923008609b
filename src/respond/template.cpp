#include "respond/template.h"

#include <cstdio>

#include "core/text.h"

namespace td::respond {
namespace {

using core::ErrorCode;
using core::fail;
using Node = Template::Node;

bool isNameChar(char c, bool in_fields) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
      c == '.')
    return true;
  return in_fields && (c == '-' || c == '@' || c == ':');
}

class Parser {
 public:
  Parser(std::string_view src, const VarSchema* schema, std::string_view what)
      : src_(src), schema_(schema), what_(what) {}

  Result<std::vector<Node>> run() {
    std::vector<const VarSchema*> scopes;
    if (schema_) scopes.push_back(schema_);
    auto nodes = parseBlock("", 0, scopes);
    if (!nodes) return fail(nodes.error());
    return nodes;
  }

 private:
  core::Error error(size_t at, const std::string& message) const {
    int line = 1, col = 1;
    for (size_t i = 0; i < at && i < src_.size(); ++i) {
      if (src_[i] == '\n') {
        ++line;
        col = 1;
      } else {
        ++col;
      }
    }
    return core::Error{ErrorCode::kUnprocessable,
                       std::string(what_) + ": " + message + " at line " + std::to_string(line) +
                           ", column " + std::to_string(col),
                       std::string(what_) + ":" + std::to_string(line) + ":" + std::to_string(col)};
  }

  // Whether `name` is known in the scopes (innermost first); sets `list` when it names a list.
  bool known(std::string_view name, const std::vector<const VarSchema*>& scopes,
             const VarSchema** list) const {
    for (auto it = scopes.rbegin(); it != scopes.rend(); ++it) {
      const VarSchema* s = *it;
      if (s->texts.count(name)) return true;
      if (auto l = s->lists.find(name); l != s->lists.end()) {
        if (list) *list = &l->second;
        return true;
      }
      if (s->fields && name.rfind("fields.", 0) == 0 && name.size() > 7) return true;
    }
    return false;
  }

  Result<std::vector<Node>> parseBlock(std::string_view closing, int depth,
                                       std::vector<const VarSchema*>& scopes) {
    std::vector<Node> out;
    while (pos_ < src_.size()) {
      const size_t open = src_.find("{{", pos_);
      if (open == std::string_view::npos) {
        out.push_back({Node::Kind::kText, std::string(src_.substr(pos_)), {}});
        pos_ = src_.size();
        break;
      }
      if (open > pos_)
        out.push_back({Node::Kind::kText, std::string(src_.substr(pos_, open - pos_)), {}});
      const size_t close = src_.find("}}", open + 2);
      if (close == std::string_view::npos) return fail(error(open, "'{{' is never closed"));
      std::string_view inner = src_.substr(open + 2, close - open - 2);
      pos_ = close + 2;
      if (!inner.empty() && inner.front() == '!') continue;  // comment
      if (!inner.empty() && inner.front() == '{')
        return fail(error(open,
                          "unescaped output ({{{...}}}) is not supported; every value is "
                          "escaped for where it lands"));
      char sigil = 0;
      if (!inner.empty() &&
          (inner.front() == '#' || inner.front() == '^' || inner.front() == '/')) {
        sigil = inner.front();
        inner.remove_prefix(1);
      }
      while (!inner.empty() && inner.front() == ' ') inner.remove_prefix(1);
      while (!inner.empty() && inner.back() == ' ') inner.remove_suffix(1);
      if (inner.empty()) return fail(error(open, "empty tag"));
      const bool in_fields = inner.rfind("fields.", 0) == 0;
      for (char c : inner)
        if (!isNameChar(c, in_fields))
          return fail(error(open, "invalid character '" + std::string(1, c) + "' in name '" +
                                      std::string(inner.substr(0, 64)) + "'"));
      if (inner.front() == '.' || inner.back() == '.' || inner.find("..") != std::string_view::npos)
        return fail(error(open, "malformed name '" + std::string(inner.substr(0, 64)) + "'"));
      const std::string name(inner);
      if (sigil == '/') {
        if (name != closing)
          return fail(error(open, closing.empty()
                                      ? "'{{/" + name + "}}' closes no open section"
                                      : "'{{/" + name + "}}' does not close the open section '" +
                                            std::string(closing) + "'"));
        closed_ = true;
        return out;
      }
      const VarSchema* list = nullptr;
      if (schema_ && !known(name, scopes, &list))
        return fail(error(open, "unknown variable '" + name + "'"));
      if (sigil == 0) {
        if (list) return fail(error(open, "'" + name + "' is a list; use it as a section"));
        out.push_back({Node::Kind::kVar, name, {}});
        continue;
      }
      if (depth + 1 > kMaxDepth)
        return fail(error(open, "sections nest deeper than " + std::to_string(kMaxDepth)));
      if (list && sigil == '#') scopes.push_back(list);
      closed_ = false;
      auto children = parseBlock(name, depth + 1, scopes);
      if (list && sigil == '#') scopes.pop_back();
      if (!children) return fail(children.error());
      if (!closed_) return fail(error(open, "section '" + name + "' is never closed"));
      closed_ = false;
      out.push_back({sigil == '#' ? Node::Kind::kSection : Node::Kind::kInverted, name,
                     std::move(*children)});
    }
    if (!closing.empty()) closed_ = false;
    return out;
  }

  std::string_view src_;
  const VarSchema* schema_;
  std::string_view what_;
  size_t pos_ = 0;
  bool closed_ = false;
};

// Resolves a name through the scopes, innermost first.
const std::string* lookupText(const std::vector<const Vars*>& scopes, std::string_view name,
                              std::string& scratch) {
  for (auto it = scopes.rbegin(); it != scopes.rend(); ++it)
    if (const auto* t = (*it)->text(name, scratch)) return t;
  return nullptr;
}
const std::vector<Vars>* lookupList(const std::vector<const Vars*>& scopes, std::string_view name) {
  for (auto it = scopes.rbegin(); it != scopes.rend(); ++it)
    if (const auto* l = (*it)->list(name)) return l;
  return nullptr;
}

void renderNodes(const std::vector<Node>& nodes, std::vector<const Vars*>& scopes, Escape escape,
                 std::string& out) {
  std::string scratch;
  for (const auto& n : nodes) {
    switch (n.kind) {
      case Node::Kind::kText:
        out += n.text;
        break;
      case Node::Kind::kVar:
        if (const auto* t = lookupText(scopes, n.text, scratch)) out += escapeValue(*t, escape);
        break;
      case Node::Kind::kSection:
      case Node::Kind::kInverted: {
        const auto* list = lookupList(scopes, n.text);
        bool truthy = false;
        if (list) {
          truthy = !list->empty();
        } else if (const auto* t = lookupText(scopes, n.text, scratch)) {
          truthy = !t->empty() && *t != "false" && *t != "0";
        }
        if (n.kind == Node::Kind::kInverted) {
          if (!truthy) renderNodes(n.children, scopes, escape, out);
        } else if (truthy && list) {
          for (const auto& item : *list) {
            scopes.push_back(&item);
            renderNodes(n.children, scopes, escape, out);
            scopes.pop_back();
          }
        } else if (truthy) {
          renderNodes(n.children, scopes, escape, out);
        }
        break;
      }
    }
  }
}

const nlohmann::json* walk(const nlohmann::json& j, std::string_view path) {
  if (path.empty()) return &j;
  if (!j.is_object()) return nullptr;
  // A key may itself hold dots ("EventData.Image"): try the whole rest first, then each prefix.
  if (auto it = j.find(std::string(path)); it != j.end()) return &*it;
  for (size_t dot = path.find('.'); dot != std::string_view::npos; dot = path.find('.', dot + 1)) {
    if (auto it = j.find(std::string(path.substr(0, dot))); it != j.end())
      if (const auto* r = walk(*it, path.substr(dot + 1))) return r;
  }
  return nullptr;
}

}  // namespace

const std::string* Vars::text(std::string_view name, std::string& scratch) const {
  if (auto it = texts_.find(name); it != texts_.end()) return &it->second;
  if (fields_ && name.rfind("fields.", 0) == 0) {
    const auto* v = walk(*fields_, name.substr(7));
    if (!v || v->is_null()) return nullptr;
    scratch = v->is_string() ? v->get<std::string>() : v->dump();
    return &scratch;
  }
  return nullptr;
}

const std::vector<Vars>* Vars::list(std::string_view name) const {
  if (auto it = lists_.find(name); it != lists_.end()) return &it->second;
  return nullptr;
}

const VarSchema& threatSchema() {
  static const VarSchema kSchema = [] {
    VarSchema s;
    s.texts = {"threat_id",   "signal_id",    "rule_id",         "rule_group",     "group_id",
               "project_id",  "project",      "organisation_id", "status",         "name",
               "description", "severity",     "score",           "source",         "kind",
               "entity.type", "entity.value", "entity.group",    "host",           "group",
               "state",       "outcome",      "owner",           "count",          "tags",
               "link",        "event",        "actor",           "previous_state", "created_at",
               "updated_at",  "response",     "recipient"};
    s.fields = true;
    return s;
  }();
  return kSchema;
}

const VarSchema& digestSchema() {
  static const VarSchema kSchema = [] {
    VarSchema s;
    s.texts = {"count", "response", "recipient", "period", "base_url", "organisation_id"};
    s.lists["threats"] = threatSchema();
    s.fields = false;
    return s;
  }();
  return kSchema;
}

Result<Template> Template::parse(std::string_view source, const VarSchema* schema,
                                 std::string_view what) {
  if (source.size() > kMaxTemplateBytes)
    return fail(ErrorCode::kTooLarge,
                std::string(what) + ": longer than " + std::to_string(kMaxTemplateBytes) + " bytes",
                std::string(what));
  Parser parser(source, schema, what);
  auto nodes = parser.run();
  if (!nodes) return fail(nodes.error());
  Template t;
  t.nodes_ = std::make_shared<const std::vector<Node>>(std::move(*nodes));
  t.source_ = std::string(source);
  return t;
}

std::string Template::render(const Vars& vars, Escape escape) const {
  std::string out;
  if (!nodes_) return out;
  std::vector<const Vars*> scopes{&vars};
  renderNodes(*nodes_, scopes, escape, out);
  return out;
}

std::string escapeValue(std::string_view value, Escape escape) {
  std::string out;
  out.reserve(value.size() + 8);
  switch (escape) {
    case Escape::kText:
      for (char c : value)
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\n' || c == '\t') out += c;
      return out;
    case Escape::kHeader:
      for (char c : value)
        if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) out += c;
      return out;
    case Escape::kHtml:
      for (char c : value) {
        switch (c) {
          case '&':
            out += "&amp;";
            break;
          case '<':
            out += "&lt;";
            break;
          case '>':
            out += "&gt;";
            break;
          case '"':
            out += "&quot;";
            break;
          case '\'':
            out += "&#39;";
            break;
          default:
            out += c;
        }
      }
      return out;
    case Escape::kJson:
      for (char c : value) {
        const auto u = static_cast<unsigned char>(c);
        switch (c) {
          case '"':
            out += "\\\"";
            break;
          case '\\':
            out += "\\\\";
            break;
          case '\n':
            out += "\\n";
            break;
          case '\r':
            out += "\\r";
            break;
          case '\t':
            out += "\\t";
            break;
          default:
            if (u < 0x20 || u == 0x7f) {
              char buf[8];
              std::snprintf(buf, sizeof buf, "\\u%04x", u);
              out += buf;
            } else if (c == '<') {
              out += "\\u003c";  // keeps "</script>" and HTML sniffers harmless
            } else {
              out += c;
            }
        }
      }
      return out;
    case Escape::kUrl:
      out += core::percentEncode(value);
      return out;
  }
  return out;
}

namespace {
// The length of the UTF-8 sequence at the start of `s` (1-4), or 0 when it is not one: a lead
// byte, its continuation bytes, no overlong form, no surrogate, nothing past U+10FFFF.
size_t utf8Sequence(std::string_view s) {
  const auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char c = b(0);
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xbf;  // the second byte's range
  if (c >= 0xc2 && c <= 0xdf) {
    n = 2;
  } else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0) lo = 0xa0;
    if (c == 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0) lo = 0x90;
    if (c == 0xf4) hi = 0x8f;
  } else {
    return 0;
  }
  if (s.size() < n || b(1) < lo || b(1) > hi) return 0;
  for (size_t i = 2; i < n; ++i)
    if (b(i) < 0x80 || b(i) > 0xbf) return 0;
  return n;
}
}  // namespace

void appendJsonString(std::string& out, std::string_view value) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve(out.size() + value.size() + 2);
  out += '"';
  size_t i = 0;
  while (i < value.size()) {
    // A run that needs no escaping goes in at once.
    size_t run = i;
    while (run < value.size()) {
      const auto u = static_cast<unsigned char>(value[run]);
      if (u < 0x20 || u == '"' || u == '\\' || u >= 0x80) break;
      ++run;
    }
    out.append(value.data() + i, run - i);
    i = run;
    if (i == value.size()) break;
    const auto u = static_cast<unsigned char>(value[i]);
    if (u >= 0x80) {
      const size_t n = utf8Sequence(value.substr(i));
      if (n == 0) {
        out += "\xef\xbf\xbd";  // U+FFFD
        ++i;
      } else {
        out.append(value.data() + i, n);
        i += n;
      }
      continue;
    }
    switch (u) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        out += "\\u00";
        out += kHex[u >> 4];
        out += kHex[u & 15];
    }
    ++i;
  }
  out += '"';
}

}  // namespace td::respond
