#include "intel/stix_pattern.h"

#include <algorithm>
#include <optional>

#include "core/text.h"

namespace td::intel {
namespace {

using core::ErrorCode;

enum class Tok {
  kEnd,
  kLBracket,
  kRBracket,
  kLParen,
  kRParen,
  kComma,
  kOp,       // = == != < <= > >=
  kWord,     // keyword or bare literal (true, 12, 1.5)
  kPath,     // object-type:property...
  kString,   // 'text' (unescaped)
  kTyped,    // t'…' h'…' b'…'
};

struct Token {
  Tok kind = Tok::kEnd;
  std::string text;
  size_t pos = 0;
};

struct Term {
  std::vector<Atom> atoms;
  std::string dead;  // non-empty: why this conjunction cannot be matched
};
using Dnf = std::vector<Term>;

bool isWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.' || c == '+';
}

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}

  core::Result<StixPattern> run() {
    if (!next()) return error();
    auto dnf = obsOr(0);
    if (!dnf) return error();
    if (tok_.kind != Tok::kEnd) {
      fail("unexpected \"" + tok_.text + "\" after the pattern", tok_.pos);
      return error();
    }
    StixPattern out;
    for (auto& t : *dnf) {
      if (!t.dead.empty()) {
        if (std::find(out.dropped.begin(), out.dropped.end(), t.dead) == out.dropped.end())
          out.dropped.push_back(std::move(t.dead));
      } else {
        // The same atom twice in one conjunction is one requirement.
        std::vector<Atom> atoms;
        for (auto& a : t.atoms) {
          bool dup = std::any_of(atoms.begin(), atoms.end(), [&](const Atom& b) {
            return b.type == a.type && b.value == a.value;
          });
          if (!dup) atoms.push_back(std::move(a));
        }
        if (atoms.size() > kMaxAtoms) {
          out.dropped.push_back("a conjunction of more than 16 comparisons");
          continue;
        }
        out.terms.push_back(std::move(atoms));
      }
    }
    out.warnings = std::move(warnings_);
    return out;
  }

 private:
  core::Result<StixPattern> error() const {
    return core::fail(ErrorCode::kInvalidArgument, "STIX pattern: " + error_,
                      "col " + std::to_string(error_pos_ + 1));
  }
  void fail(std::string msg, size_t pos) {
    if (error_.empty()) {
      error_ = std::move(msg);
      error_pos_ = pos;
    }
  }

  bool next() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r'))
      ++i_;
    tok_ = Token{};
    tok_.pos = i_;
    if (i_ >= s_.size()) {
      tok_.kind = Tok::kEnd;
      return true;
    }
    char c = s_[i_];
    switch (c) {
      case '[': tok_.kind = Tok::kLBracket; tok_.text = "["; ++i_; return true;
      case ']': tok_.kind = Tok::kRBracket; tok_.text = "]"; ++i_; return true;
      case '(': tok_.kind = Tok::kLParen; tok_.text = "("; ++i_; return true;
      case ')': tok_.kind = Tok::kRParen; tok_.text = ")"; ++i_; return true;
      case ',': tok_.kind = Tok::kComma; tok_.text = ","; ++i_; return true;
      case '\'': tok_.kind = Tok::kString; return readString();
      default: break;
    }
    if (c == '=' || c == '!' || c == '<' || c == '>') {
      tok_.kind = Tok::kOp;
      tok_.text.push_back(c);
      ++i_;
      if (i_ < s_.size() && s_[i_] == '=') {
        tok_.text.push_back('=');
        ++i_;
      }
      if (tok_.text == "!") {
        fail("\"!\" is not an operator (use !=)", tok_.pos);
        return false;
      }
      return true;
    }
    if ((c == 't' || c == 'h' || c == 'b') && i_ + 1 < s_.size() && s_[i_ + 1] == '\'') {
      ++i_;
      tok_.kind = Tok::kTyped;
      return readString();
    }
    if (!isWordChar(c)) {
      fail(std::string("unexpected character '") + c + "'", i_);
      return false;
    }
    size_t start = i_;
    while (i_ < s_.size() && isWordChar(s_[i_])) ++i_;
    if (i_ < s_.size() && s_[i_] == ':') {
      // An object path: type ':' property path with quoted keys and [n] / [*] indexes.
      ++i_;
      while (i_ < s_.size()) {
        char d = s_[i_];
        if (isWordChar(d)) {
          ++i_;
        } else if (d == '\'') {
          auto close = s_.find('\'', i_ + 1);
          if (close == std::string_view::npos) {
            fail("unterminated quote in object path", i_);
            return false;
          }
          i_ = close + 1;
        } else if (d == '[') {
          auto close = s_.find(']', i_ + 1);
          if (close == std::string_view::npos) {
            fail("unterminated index in object path", i_);
            return false;
          }
          i_ = close + 1;
        } else {
          break;
        }
      }
      tok_.kind = Tok::kPath;
    } else {
      tok_.kind = Tok::kWord;
    }
    tok_.text = std::string(s_.substr(start, i_ - start));
    return true;
  }

  bool readString() {
    size_t start = i_;
    ++i_;  // opening quote
    std::string out;
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == '\\' && i_ + 1 < s_.size()) {
        out.push_back(s_[i_ + 1]);
        i_ += 2;
        continue;
      }
      if (c == '\'') {
        ++i_;
        tok_.text = std::move(out);
        return true;
      }
      out.push_back(c);
      ++i_;
    }
    fail("unterminated string literal", start);
    return false;
  }

  bool isWord(std::string_view w) const { return tok_.kind == Tok::kWord && tok_.text == w; }

  bool enter(int depth) {
    if (depth > kMaxPatternDepth) {
      fail("nesting deeper than " + std::to_string(kMaxPatternDepth), tok_.pos);
      return false;
    }
    return true;
  }

  // Collapses dead terms with the same reason so that a long pattern of unsupported comparisons
  // cannot blow up the product.
  static void compact(Dnf& d) {
    std::vector<std::string> reasons;
    Dnf out;
    for (auto& t : d) {
      if (t.dead.empty()) {
        out.push_back(std::move(t));
      } else if (std::find(reasons.begin(), reasons.end(), t.dead) == reasons.end()) {
        reasons.push_back(t.dead);
        out.push_back(std::move(t));
      }
    }
    d = std::move(out);
  }

  std::optional<Dnf> product(Dnf a, Dnf b) {
    Dnf out;
    for (const auto& x : a) {
      for (const auto& y : b) {
        Term t;
        t.dead = !x.dead.empty() ? x.dead : y.dead;
        if (t.dead.empty()) {
          t.atoms = x.atoms;
          t.atoms.insert(t.atoms.end(), y.atoms.begin(), y.atoms.end());
          if (t.atoms.size() > kMaxAtoms) t.dead = "a conjunction of more than 16 comparisons";
        }
        if (!t.dead.empty()) t.atoms.clear();
        out.push_back(std::move(t));
        compact(out);
        if (out.size() > kMaxPatternTerms) {
          fail("the pattern expands to more than " + std::to_string(kMaxPatternTerms) +
                   " alternatives",
               tok_.pos);
          return std::nullopt;
        }
      }
    }
    return out;
  }

  std::optional<Dnf> unionOf(Dnf a, Dnf b) {
    for (auto& t : b) a.push_back(std::move(t));
    compact(a);
    if (a.size() > kMaxPatternTerms) {
      fail("the pattern expands to more than " + std::to_string(kMaxPatternTerms) + " alternatives",
           tok_.pos);
      return std::nullopt;
    }
    return a;
  }

  std::optional<Dnf> obsOr(int depth) {
    if (!enter(depth)) return std::nullopt;
    auto left = obsAnd(depth);
    while (left && isWord("OR")) {
      if (!next()) return std::nullopt;
      auto right = obsAnd(depth);
      if (!right) return std::nullopt;
      left = unionOf(std::move(*left), std::move(*right));
    }
    return left;
  }

  std::optional<Dnf> obsAnd(int depth) {
    auto left = obsSeq(depth);
    while (left && isWord("AND")) {
      if (!next()) return std::nullopt;
      auto right = obsSeq(depth);
      if (!right) return std::nullopt;
      warn("observation-level AND is matched within one event");
      left = product(std::move(*left), std::move(*right));
    }
    return left;
  }

  std::optional<Dnf> obsSeq(int depth) {
    auto left = obsUnit(depth);
    while (left && isWord("FOLLOWEDBY")) {
      if (!next()) return std::nullopt;
      auto right = obsUnit(depth);
      if (!right) return std::nullopt;
      warn("FOLLOWEDBY is matched as AND within one event");
      left = product(std::move(*left), std::move(*right));
    }
    return left;
  }

  std::optional<Dnf> obsUnit(int depth) {
    std::optional<Dnf> inner;
    if (tok_.kind == Tok::kLBracket) {
      if (!next()) return std::nullopt;
      inner = cmpOr(depth + 1);
      if (!inner) return std::nullopt;
      if (tok_.kind != Tok::kRBracket) {
        fail("expected ']'", tok_.pos);
        return std::nullopt;
      }
      if (!next()) return std::nullopt;
    } else if (tok_.kind == Tok::kLParen) {
      if (!next()) return std::nullopt;
      inner = obsOr(depth + 1);
      if (!inner) return std::nullopt;
      if (tok_.kind != Tok::kRParen) {
        fail("expected ')'", tok_.pos);
        return std::nullopt;
      }
      if (!next()) return std::nullopt;
    } else {
      fail(tok_.kind == Tok::kEnd ? "unexpected end of pattern, expected '['"
                                  : "expected '[' or '(' before \"" + tok_.text + "\"",
           tok_.pos);
      return std::nullopt;
    }
    while (true) {
      if (isWord("WITHIN")) {
        if (!next() || tok_.kind != Tok::kWord) return expected("a number after WITHIN");
        if (!next() || !isWord("SECONDS")) return expected("SECONDS");
        if (!next()) return std::nullopt;
        warn("WITHIN qualifier ignored");
      } else if (isWord("REPEATS")) {
        if (!next() || tok_.kind != Tok::kWord) return expected("a count after REPEATS");
        if (!next() || !isWord("TIMES")) return expected("TIMES");
        if (!next()) return std::nullopt;
        warn("REPEATS qualifier ignored (one occurrence matches)");
      } else if (isWord("START")) {
        if (!next() || tok_.kind != Tok::kTyped) return expected("t'…' after START");
        if (!next() || !isWord("STOP")) return expected("STOP");
        if (!next() || tok_.kind != Tok::kTyped) return expected("t'…' after STOP");
        if (!next()) return std::nullopt;
        warn("START/STOP qualifier ignored");
      } else {
        break;
      }
    }
    return inner;
  }

  std::optional<Dnf> expected(const std::string& what) {
    fail("expected " + what, tok_.pos);
    return std::nullopt;
  }

  void warn(std::string w) {
    if (std::find(warnings_.begin(), warnings_.end(), w) == warnings_.end())
      warnings_.push_back(std::move(w));
  }

  std::optional<Dnf> cmpOr(int depth) {
    if (!enter(depth)) return std::nullopt;
    auto left = cmpAnd(depth);
    while (left && isWord("OR")) {
      if (!next()) return std::nullopt;
      auto right = cmpAnd(depth);
      if (!right) return std::nullopt;
      left = unionOf(std::move(*left), std::move(*right));
    }
    return left;
  }

  std::optional<Dnf> cmpAnd(int depth) {
    auto left = cmpUnit(depth);
    while (left && isWord("AND")) {
      if (!next()) return std::nullopt;
      auto right = cmpUnit(depth);
      if (!right) return std::nullopt;
      left = product(std::move(*left), std::move(*right));
    }
    return left;
  }

  static Dnf deadTerm(std::string why) {
    Term t;
    t.dead = std::move(why);
    return Dnf{std::move(t)};
  }

  std::optional<Dnf> cmpUnit(int depth) {
    if (tok_.kind == Tok::kLParen) {
      if (!next()) return std::nullopt;
      auto inner = cmpOr(depth + 1);
      if (!inner) return std::nullopt;
      if (tok_.kind != Tok::kRParen) return expected("')'");
      if (!next()) return std::nullopt;
      return inner;
    }
    bool negated = false;
    if (isWord("NOT")) {
      negated = true;
      if (!next()) return std::nullopt;
    }
    if (isWord("EXISTS")) {
      if (!next() || tok_.kind != Tok::kPath) return expected("an object path after EXISTS");
      if (!next()) return std::nullopt;
      return deadTerm("EXISTS cannot be matched against a single value");
    }
    if (tok_.kind != Tok::kPath) return expected("an object path such as ipv4-addr:value");
    std::string path = tok_.text;
    if (!next()) return std::nullopt;
    std::string op;
    if (tok_.kind == Tok::kOp) {
      op = tok_.text;
    } else if (tok_.kind == Tok::kWord &&
               (tok_.text == "IN" || tok_.text == "LIKE" || tok_.text == "MATCHES" ||
                tok_.text == "ISSUBSET" || tok_.text == "ISSUPERSET")) {
      op = tok_.text;
    } else {
      return expected("a comparison operator after " + path);
    }
    if (!next()) return std::nullopt;
    std::vector<std::pair<Tok, std::string>> values;
    if (tok_.kind == Tok::kLParen) {
      if (!next()) return std::nullopt;
      while (true) {
        if (tok_.kind != Tok::kString && tok_.kind != Tok::kWord && tok_.kind != Tok::kTyped)
          return expected("a literal in the set");
        values.emplace_back(tok_.kind, tok_.text);
        if (!next()) return std::nullopt;
        if (tok_.kind == Tok::kComma) {
          if (!next()) return std::nullopt;
          continue;
        }
        if (tok_.kind != Tok::kRParen) return expected("',' or ')' in the set");
        if (!next()) return std::nullopt;
        break;
      }
    } else if (tok_.kind == Tok::kString || tok_.kind == Tok::kWord || tok_.kind == Tok::kTyped) {
      values.emplace_back(tok_.kind, tok_.text);
      if (!next()) return std::nullopt;
    } else {
      return expected("a literal after " + op);
    }
    if (negated) return deadTerm("NOT " + path + " " + op + " cannot be matched exactly");
    if (op == "IN" ? false : values.size() != 1) return expected("one literal");
    if (op != "=" && op != "==" && op != "IN")
      return deadTerm(path + " " + op + " is not an exact comparison");
    auto type = typeForPath(path);
    if (!type) return deadTerm("object path " + path + " is not an indicator type ThreatDesk matches");
    Dnf out;
    for (const auto& [kind, text] : values) {
      if (kind != Tok::kString) {
        out.push_back(Term{{}, path + " compared with a non-string literal"});
        continue;
      }
      auto n = normalizeValue(*type, text);
      if (!n && *type == IndicatorType::kIpv4) n = normalizeValue(IndicatorType::kDomain, text);
      if (!n) {
        out.push_back(Term{{}, path + " = '" + text.substr(0, 200) + "': " + n.error().message});
        continue;
      }
      Term t;
      t.atoms.push_back(Atom{n->type, std::move(n->value)});
      out.push_back(std::move(t));
    }
    compact(out);
    return out;
  }

  static std::optional<IndicatorType> typeForPath(const std::string& path) {
    auto colon = path.find(':');
    std::string object = path.substr(0, colon);
    std::string prop = path.substr(colon + 1);
    if (prop == "value") {
      if (object == "ipv4-addr") return IndicatorType::kIpv4;
      if (object == "ipv6-addr") return IndicatorType::kIpv6;
      if (object == "domain-name") return IndicatorType::kDomain;
      if (object == "url") return IndicatorType::kUrl;
      if (object == "email-addr") return IndicatorType::kEmail;
      return std::nullopt;
    }
    if (object == "file") {
      if (prop == "name") return IndicatorType::kFileName;
      if (prop.rfind("hashes.", 0) == 0) {
        std::string algo = prop.substr(7);
        std::erase(algo, '\'');
        algo = core::toLower(algo);
        std::erase(algo, '-');
        if (algo == "md5") return IndicatorType::kMd5;
        if (algo == "sha1") return IndicatorType::kSha1;
        if (algo == "sha256") return IndicatorType::kSha256;
        if (algo == "sha512") return IndicatorType::kSha512;
      }
      return std::nullopt;
    }
    if (object == "email-message" &&
        (prop == "from_ref.value" || prop == "sender_ref.value" || prop == "to_refs[*].value"))
      return IndicatorType::kEmail;
    if (object == "network-traffic" && (prop == "dst_ref.value" || prop == "src_ref.value"))
      return IndicatorType::kIpv4;  // an IP of either family, or a domain name
    return std::nullopt;
  }

  std::string_view s_;
  size_t i_ = 0;
  Token tok_;
  std::string error_;
  size_t error_pos_ = 0;
  std::vector<std::string> warnings_;
};

}  // namespace

core::Result<StixPattern> parseStixPattern(std::string_view pattern) {
  if (pattern.size() > kMaxPatternLength)
    return core::fail(ErrorCode::kTooLarge, "STIX pattern longer than 64 KiB");
  return Parser(pattern).run();
}

}  // namespace td::intel
