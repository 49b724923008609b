#include "detect/engine.h"

#include <arpa/inet.h>
#include <hs/hs.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <re2/filtered_re2.h>
#include <re2/re2.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <map>
#include <stdexcept>
#include <unordered_map>
#include <unordered_set>

#include "core/text.h"
#include "detect/word_load.h"

namespace td::detect {

// ---- compiled tables
// -----------------------------------------------------------------------------

// A run of a glob between two '*': literal bytes and '?' (any one byte), matched as a whole.
struct GlobGroup {
  std::string text;    // the bytes to match, '\0' for a '?' (a glob with a NUL is not direct)
  size_t run_off = 0;  // the longest run of literal bytes in it, searched for first
  size_t run_len = 0;
};

// A literal pattern simple enough to test without Hyperscan: one literal at the start, at the
// end or anywhere in the value (lower-cased when caseless). A lazy pattern of this shape is
// tested on its own on short values instead of scanning its whole database.
struct DirectPattern {
  // kGlob: contains, with '*' and '?' between literal bytes (" -e* JAB", ">?%TEMP%\").
  enum class Kind : std::uint8_t { kNone, kPrefix, kSuffix, kContains, kGlob };
  Kind kind = Kind::kNone;
  bool caseless = false;
  std::string needle;
  // windash: the needle again with each other option character in place of each dash (a
  // match is any of them); the needle itself has '-' there.
  std::vector<std::string> more;
  std::vector<GlobGroup> glob;  // kGlob: the groups, found in this order
};

struct Pattern {
  std::string regex;  // Hyperscan syntax, also valid RE2 syntax (used when Hyperscan refuses it)
  unsigned flags = 0;
  std::uint32_t db = 0;  // field slot, or fields.size() for keyword searches
  // The rule group whose databases hold it (see Engine::Impl::group_dbs); kNoGroup for the
  // patterns of rules that are never evaluated (unmapped logsource).
  std::uint32_t group = 0;
  std::unique_ptr<RE2> fallback;
  // Whole-value literals (no wildcard, anchored both ends) skip Hyperscan: one hash lookup per
  // value answers all of them, far cheaper than a scan of a 4-byte EventID.
  bool exact = false;
  std::string literal;              // lower-cased when caseless
  std::uint32_t literal_chars = 0;  // fixed characters a match contains (for selectivity)
  std::uint32_t min_len = 0;        // no shorter text can match
  // -1: scanned with every event (a literal some rule's evaluation is triggered by); else the
  // database, in Engine::Impl::dbs, scanned only when a rule under evaluation asks for it.
  std::int32_t lazy_db = -1;
  DirectPattern direct;
};

enum class CheckKind {
  kPattern,
  kRegex,
  kCidr,
  kNumber,
  kExists,
  kMissing,
  kNull,
  kAnyValue,
  kEmpty,
  kFieldRef,
};
enum class CmpOp { kLt, kLte, kGt, kGte };
enum class RefMode { kEqual, kContains, kStartsWith, kEndsWith };

struct Cidr {
  int family = AF_INET;
  std::array<std::uint8_t, 16> addr{};
  int bits = 0;
};

// A regular expression RE2 cannot run (lookaround, backreferences, possessive or atomic
// groups): PCRE2, JIT-compiled, with a match limit so that a hostile pattern costs bounded time
// per value (a match that hits a limit counts as no match).
class PcreRegex {
 public:
  static constexpr std::uint32_t kMatchLimit = 100'000;
  static constexpr std::uint32_t kDepthLimit = 1'000;
  static constexpr PCRE2_SIZE kHeapLimitKib = 16 * 1024;

  // nullptr and `error` set when PCRE2 refuses the pattern too.
  static std::shared_ptr<const PcreRegex> compile(const std::string& pattern, bool caseless,
                                                  bool multiline, bool dotall, std::string& error) {
    int code = 0;
    PCRE2_SIZE offset = 0;
    std::uint32_t options = PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C;
    if (caseless) options |= PCRE2_CASELESS;
    if (multiline) options |= PCRE2_MULTILINE;
    if (dotall) options |= PCRE2_DOTALL;
    pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   options, &code, &offset, nullptr);
    if (!re) {
      PCRE2_UCHAR buf[256];
      pcre2_get_error_message(code, buf, sizeof buf);
      error = reinterpret_cast<const char*>(buf);
      error += " at offset " + std::to_string(offset);
      return nullptr;
    }
    auto out = std::shared_ptr<PcreRegex>(new PcreRegex());
    out->code_ = re;
    out->jit_ = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
    out->context_ = pcre2_match_context_create(nullptr);
    pcre2_set_match_limit(out->context_, kMatchLimit);
    pcre2_set_depth_limit(out->context_, kDepthLimit);
    pcre2_set_heap_limit(out->context_, kHeapLimitKib);
    return out;
  }

  ~PcreRegex() {
    if (context_) pcre2_match_context_free(context_);
    if (code_) pcre2_code_free(code_);
  }

  bool jit() const { return jit_; }

  // Whether the pattern matches somewhere in `text`; false when a limit was hit.
  bool partialMatch(std::string_view text) const {
    // One match block per thread, reused (a match never allocates).
    thread_local std::unique_ptr<pcre2_match_data, decltype(&pcre2_match_data_free)> data(
        pcre2_match_data_create(1, nullptr), &pcre2_match_data_free);
    const int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), 0, 0,
                               data.get(), context_);
    return rc >= 0;
  }

 private:
  PcreRegex() = default;
  pcre2_code* code_ = nullptr;
  pcre2_match_context* context_ = nullptr;
  bool jit_ = false;
};

struct Check {
  CheckKind kind = CheckKind::kPattern;
  std::uint32_t pattern = 0;
  std::shared_ptr<const RE2> re;
  std::shared_ptr<const PcreRegex> pcre;  // instead of `re` when RE2 refused the pattern
  // Literals (caseless contains patterns) of which any match of `re` contains at least one, as
  // RE2's own prefilter finds them; empty when the regex has no such literal. The regex only
  // runs when one of them hit, and rules made of regexes are triggered by them.
  std::vector<std::uint32_t> prefilter;
  // Punctuation bytes every match of `re` contains (see requiredBytes): a value without one of
  // them is not run through the regex.
  std::string required;
  Cidr cidr;
  CmpOp op = CmpOp::kLt;
  double number = 0;
  std::int32_t ref_slot = -1;
  RefMode ref_mode = RefMode::kEqual;
};

struct Leaf {
  std::int32_t slot = -1;  // -1: keyword search over the event's keyword values
  std::vector<std::vector<std::uint32_t>> groups;  // AND of groups, OR within a group
};
// Leaves packed for evaluation into one array (Engine::Impl::packed, at Node::p), read in
// order instead of a check per value: [slot, size of group 1, items..., size of group 2,
// items...]; an item is a pattern id (its hit decides; kLazyBit when it is in a lazy database)
// or kCheckBit | check index (evaluated).
constexpr std::uint32_t kCheckBit = 0x80000000u;
constexpr std::uint32_t kLazyBit = 0x40000000u;
constexpr std::uint32_t kItemMask = 0x3FFFFFFFu;

struct Node {
  enum class Kind : std::uint8_t { kAnd, kOr, kNot, kLeaf, kConst };
  Kind kind = Kind::kConst;
  bool value = false;   // kConst
  std::uint32_t a = 0;  // first kid index (and/or), the child (not), the leaf (leaf)
  std::uint32_t n = 0;  // number of kids (and/or), length of the packed leaf (leaf)
  std::uint32_t p = 0;  // leaf: where its packed form starts in Engine::Impl::packed
};

// Rule groups. Rules are grouped by logsource and every group has its own per-field pattern
// databases, so an event is only scanned for the literals of the rules its logsource routes it
// to (a Security 4625 logon failure never meets the 1,100 process_creation rules' patterns).
// Group 0 holds the literals of the logsource conditions themselves (scanned first, on the few
// fields they name), group 1 the rules without a logsource, group 2 + l the rules of logsource l.
constexpr std::uint32_t kGroupLogsource = 0;
constexpr std::uint32_t kGroupAny = 1;
constexpr std::uint32_t kGroupFirstLogsource = 2;
constexpr std::uint32_t kNoGroup = UINT32_MAX;

// Whole-value literals of one database: an open-addressing table probed with the value itself
// (no lower-cased copy), ASCII case folded for caseless literals.
class ExactTable {
 public:
  void build(const std::unordered_map<std::string, std::vector<std::uint32_t>>& literals,
             bool caseless) {
    caseless_ = caseless;
    size_t size = 8;
    while (size < literals.size() * 2) size *= 2;
    slots_.assign(size, {});
    mask_ = size - 1;
    for (const auto& [lit, pats] : literals) {
      const std::uint64_t h = hash(lit);
      size_t i = h & mask_;
      while (slots_[i].index >= 0) i = (i + 1) & mask_;
      slots_[i] = {h, static_cast<std::int32_t>(literals_.size())};
      literals_.push_back(lit);
      patterns_.push_back(pats);
    }
  }
  bool empty() const { return literals_.empty(); }
  // The patterns of the literal equal to `text`, or nullptr.
  const std::vector<std::uint32_t>* find(std::string_view text) const {
    if (literals_.empty()) return nullptr;
    const std::uint64_t h = hash(text);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.index < 0) return nullptr;
      if (s.hash != h) continue;
      const std::string& lit = literals_[static_cast<size_t>(s.index)];
      if (lit.size() != text.size()) continue;
      bool eq = true;
      if (caseless_) {
        for (size_t k = 0; k < lit.size() && eq; ++k) {
          char c = text[k];
          if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
          eq = c == lit[k];
        }
      } else {
        eq = std::memcmp(lit.data(), text.data(), lit.size()) == 0;
      }
      if (eq) return &patterns_[static_cast<size_t>(s.index)];
    }
  }

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::int32_t index = -1;
  };
  std::uint64_t hash(std::string_view s) const {
    const std::uint64_t fold = caseless_ ? 0x2020202020202020ull : 0;
    std::uint64_t h = s.size() * 0x9E3779B97F4A7C15ull;
    size_t k = 0;
    auto mixIn = [&](std::uint64_t w) {
      h ^= w | fold;
      h *= 0x9E3779B97F4A7C15ull;
      h ^= h >> 29;
    };
    for (; k + 8 <= s.size(); k += 8) {
      std::uint64_t w;
      std::memcpy(&w, s.data() + k, 8);
      mixIn(w);
    }
    if (k < s.size()) mixIn(loadTail(s.data() + k, s.size() - k));
    return h;
  }
  bool caseless_ = false;
  std::vector<Slot> slots_;
  std::uint64_t mask_ = 0;
  std::vector<std::string> literals_;
  std::vector<std::vector<std::uint32_t>> patterns_;
};

struct Engine::Impl {
  std::vector<Pattern> patterns;
  std::vector<Check> checks;
  std::vector<Leaf> leaves;
  std::vector<std::uint32_t> packed;  // the leaves packed (see kCheckBit)
  std::vector<Node> nodes;
  std::vector<std::uint32_t> kids;
  std::vector<std::uint32_t> logsource_roots;
  struct Db {
    hs_database_t* db = nullptr;
    std::vector<std::uint32_t> ids;       // Hyperscan id -> pattern
    std::vector<std::uint32_t> fallback;  // patterns evaluated with RE2 instead
    // Exact whole-value literals: value (lower-cased for caseless) -> patterns.
    std::unordered_map<std::string, std::vector<std::uint32_t>> exact_ci, exact_cs;
    ExactTable exact_ci_table, exact_cs_table;  // the same, for lookups
    size_t exact_max = 0;                       // longest literal: longer values cannot hit
    std::uint64_t exact_lengths = 0;  // bit n: a literal of n bytes (bit 63: 63 or more)
    size_t min_len = 0;  // shortest text any pattern of `db` can match: shorter ones skip it
    // When `db` holds only a few plain literals (DirectPattern), their patterns: a short value
    // is tested against each directly, cheaper than a Hyperscan call (whose fixed cost
    // dominates on short values).
    std::vector<std::uint32_t> direct;
    // Plain suffixes from a backslash on (`Image|endswith: '\whoami.exe'`) of a database scanned
    // with every event: looked up with the value's tail from each of its last backslashes
    // instead of scanned (most Image, ParentImage, ImageLoaded literals are of this kind).
    ExactTable suffix_ci_table, suffix_cs_table;
    size_t suffix_max = 0;  // longest such suffix: tails from further back cannot hit
    std::uint64_t suffix_lengths = 0;  // as exact_lengths
  };
  std::vector<Db> dbs;  // per (group, slot) that has patterns; slot fields.size() = keywords
  std::vector<std::uint32_t> db_slot;         // db -> the slot whose values it scans
  std::vector<std::int32_t> pattern_lazy_db;  // pattern -> Pattern::lazy_db (compact, hot)
  // group -> slot (0 .. fields.size(), the last being keywords) -> index into dbs, or -1.
  // Flat, group * group_stride + slot.
  std::vector<std::int32_t> group_dbs;
  size_t group_stride = 0;
  // Per rule, what evaluating it reads (root node, logsource index), compact for the hot loop.
  std::vector<std::pair<std::uint32_t, std::int32_t>> rule_eval;
  // Per rule, a cheap necessary condition checked before its condition nodes are touched: one
  // of these whole-value numbers (an EventID: 4624) in the slot's values, or gate_slot -1.
  // A rule triggered by another literal (LogonType 3, TargetUserName Admin*) is so not
  // evaluated on every event of its log that has that literal but another EventID.
  std::vector<std::int32_t> gate_slot;
  std::vector<std::uint32_t> gate_offsets;  // rule -> its range in gate_values
  std::vector<std::uint32_t> gate_values;
  std::vector<std::uint8_t> group_keywords;    // group -> its rules search keywords
  std::vector<std::uint32_t> logsource_slots;  // slots the logsource conditions read
  // Every slot a logsource condition looks at (literals or other checks): the routing of an
  // event depends on their values only, so a matcher caches it by them (route_cacheable is
  // false when a condition searches keywords).
  std::vector<std::uint32_t> route_slots;
  bool route_cacheable = true;
  hs_scratch_t* scratch = nullptr;
  std::vector<std::uint32_t> trigger_offsets;  // pattern -> rules whose evaluation it triggers
  std::vector<std::uint32_t> trigger_rules;
  // group -> rules of the group that no literal guards (evaluated whenever the group is active)
  std::vector<std::vector<std::uint32_t>> always_rules;
  std::vector<std::uint32_t> ls_trigger_offsets;  // pattern -> logsources it may make true
  std::vector<std::uint32_t> ls_trigger_rules;
  std::vector<std::uint32_t> ls_always;  // logsources no literal guards
  std::unordered_map<std::string, std::uint32_t, CaseInsensitiveHash, CaseInsensitiveEq>
      field_index;
  struct LayoutSlots {
    std::int32_t host = -1;
    std::vector<std::int32_t> users;
  };
  std::vector<LayoutSlots> layout_slots;

  ~Impl() {
    for (auto& d : dbs) {
      if (d.db) hs_free_database(d.db);
    }
    if (scratch) hs_free_scratch(scratch);
  }
};

namespace {

// Keyword patterns are registered under this db id until the field count (and so the keyword
// db's real index) is known.
constexpr std::uint32_t kKeywordDbMarker = UINT32_MAX;
// The logsource index of a rule whose logsource has no mapping: never evaluated.
constexpr std::int32_t kUnrouted = -2;

struct CompileError : std::runtime_error {
  CompileError(std::string c, std::string msg, Position p)
      : std::runtime_error(std::move(msg)), code(std::move(c)), pos(p) {}
  std::string code;
  Position pos;
};

// ---- value encodings
// -----------------------------------------------------------------------------

std::string base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const std::uint32_t v =
        (std::uint8_t(in[i]) << 16) | (std::uint8_t(in[i + 1]) << 8) | std::uint8_t(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    const std::uint32_t v = std::uint8_t(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const std::uint32_t v = (std::uint8_t(in[i]) << 16) | (std::uint8_t(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// The three encodings of `in` as it may appear at any offset inside a longer base64 text
// (Sigma's base64offset, as pySigma computes it).
std::vector<std::string> base64Offsets(std::string_view in) {
  static constexpr std::array<size_t, 3> kStart{0, 2, 3};
  static constexpr std::array<int, 3> kEnd{0, -3, -2};
  std::vector<std::string> out;
  for (size_t i = 0; i < 3; ++i) {
    std::string padded(i, ' ');
    padded.append(in);
    const std::string enc = base64(padded);
    const int end_off = kEnd[(in.size() + i) % 3];
    const long end =
        end_off == 0 ? static_cast<long>(enc.size()) : static_cast<long>(enc.size()) + end_off;
    if (end > static_cast<long>(kStart[i])) {
      out.push_back(enc.substr(kStart[i], static_cast<size_t>(end) - kStart[i]));
    }
  }
  return out;
}

std::vector<std::uint32_t> decodeUtf8(std::string_view s) {
  std::vector<std::uint32_t> cps;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<std::uint8_t>(s[i]);
    int len = 1;
    std::uint32_t cp = c;
    if (c >= 0xF0 && c < 0xF8) {
      len = 4;
      cp = c & 0x07;
    } else if (c >= 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xC0) {
      len = 2;
      cp = c & 0x1F;
    }
    if (len > 1 && i + len <= s.size()) {
      for (int k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<std::uint8_t>(s[i + k]) & 0x3F);
    } else {
      len = 1;
      cp = c;
    }
    cps.push_back(cp);
    i += static_cast<size_t>(len);
  }
  return cps;
}

std::string utf16(std::string_view s, bool little_endian) {
  std::string out;
  auto unit = [&](std::uint16_t u) {
    if (little_endian) {
      out += static_cast<char>(u & 0xFF);
      out += static_cast<char>(u >> 8);
    } else {
      out += static_cast<char>(u >> 8);
      out += static_cast<char>(u & 0xFF);
    }
  };
  for (std::uint32_t cp : decodeUtf8(s)) {
    if (cp >= 0x10000) {
      cp -= 0x10000;
      unit(static_cast<std::uint16_t>(0xD800 + (cp >> 10)));
      unit(static_cast<std::uint16_t>(0xDC00 + (cp & 0x3FF)));
    } else {
      unit(static_cast<std::uint16_t>(cp));
    }
  }
  return out;
}

bool parseIp(std::string_view text, int& family, std::array<std::uint8_t, 16>& addr) {
  char buf[64];
  if (text.empty() || text.size() >= sizeof buf) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = 0;
  addr.fill(0);
  if (inet_pton(AF_INET, buf, addr.data()) == 1) {
    family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, buf, addr.data()) == 1) {
    family = AF_INET6;
    return true;
  }
  return false;
}

// An event value read as an IP address (family 0: not one).
struct ParsedIp {
  int family = 0;
  std::array<std::uint8_t, 16> addr{};
};

bool inCidr(const Cidr& net, const ParsedIp& ip) {
  const auto& addr = ip.addr;
  if (ip.family != net.family) return false;
  int bits = net.bits;
  for (size_t i = 0; bits > 0; ++i, bits -= 8) {
    const std::uint8_t mask = bits >= 8 ? 0xFF : static_cast<std::uint8_t>(0xFF << (8 - bits));
    if ((addr[i] & mask) != (net.addr[i] & mask)) return false;
  }
  return true;
}

bool parseNumber(std::string_view s, double& out) {
  s = core::trim(s);
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// Bytes every match of a regular expression must contain, found conservatively: punctuation
// written at the top level of the pattern (not inside a group or class), not made optional by
// the quantifier after it, in a pattern without top-level alternation. "" when unsure. Only
// punctuation, so that case-insensitive flags do not matter.
std::string requiredBytes(std::string_view re) {
  std::string out;
  int depth = 0;
  for (size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    char literal = 0;
    if (c == '\\') {
      if (i + 1 >= re.size()) return "";
      const char e = re[++i];
      if (std::isalnum(static_cast<unsigned char>(e))) {
        // \w \d \s \b ... stand for no literal; escapes that take arguments are not parsed.
        if (std::strchr("xpPQEcuUNkgCXR0123456789", e) != nullptr) return "";
        continue;
      }
      if (depth == 0 && static_cast<unsigned char>(e) < 0x80) literal = e;
    } else if (c == '[') {
      // Skip the class: a ']' right after '[' or '[^' is a member; escapes skip a byte.
      size_t j = i + 1;
      if (j < re.size() && re[j] == '^') ++j;
      if (j < re.size() && re[j] == ']') ++j;
      while (j < re.size() && re[j] != ']') {
        if (re[j] == '\\') ++j;
        if (j < re.size() && re[j] == '[' && j + 1 < re.size() && re[j + 1] == ':') {
          const size_t end = re.find(":]", j + 2);
          if (end == std::string_view::npos) return "";
          j = end + 1;
        }
        ++j;
      }
      if (j >= re.size()) return "";
      i = j;
      continue;
    } else if (c == '{') {
      // A repetition ({2}, {1,64}) or a literal brace: its content is no literal either way.
      const size_t end = re.find('}', i);
      if (end == std::string_view::npos) return "";
      i = end;
      continue;
    } else if (c == '(') {
      ++depth;
      continue;
    } else if (c == ')') {
      if (--depth < 0) return "";
      continue;
    } else if (c == '|') {
      if (depth == 0) return "";
      continue;
    } else if (depth == 0 && std::ispunct(static_cast<unsigned char>(c)) &&
               std::strchr(".^$*+?{}", c) == nullptr) {
      literal = c;
    }
    if (!literal) continue;
    // The quantifier after it, if any: ?, * and {0...} make it optional.
    const char q = i + 1 < re.size() ? re[i + 1] : 0;
    if (q == '?' || q == '*') continue;
    if (q == '{') {
      size_t j = i + 2;
      while (j < re.size() && re[j] == ' ') ++j;
      if (j >= re.size() || !std::isdigit(static_cast<unsigned char>(re[j])) ||
          std::strtol(std::string(re.substr(j, 8)).c_str(), nullptr, 10) == 0) {
        continue;
      }
    }
    if (out.find(literal) == std::string::npos) out += literal;
  }
  return depth == 0 ? out : "";
}

// ---- Sigma strings
// -------------------------------------------------------------------------------

struct Piece {
  enum class Kind : std::uint8_t { kLit, kStar, kOne, kDash };
  Kind kind;
  char c;
};

bool isWordChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

// Sigma's escaping, as pySigma reads it: a backslash escapes '*', '?' and itself; before any
// other character it is a literal backslash (so Windows paths need no doubling).
std::vector<Piece> parseWildcards(std::string_view s) {
  std::vector<Piece> out;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '\\' && i + 1 < s.size() && (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
      out.push_back({Piece::Kind::kLit, s[++i]});
    } else if (c == '*') {
      out.push_back({Piece::Kind::kStar, c});
    } else if (c == '?') {
      out.push_back({Piece::Kind::kOne, c});
    } else {
      out.push_back({Piece::Kind::kLit, c});
    }
  }
  return out;
}

std::vector<Piece> literalPieces(std::string_view s) {
  std::vector<Piece> out;
  out.reserve(s.size());
  for (char c : s) out.push_back({Piece::Kind::kLit, c});
  return out;
}

// What a windash dash matches: '-' first (the needle of a direct test has it), '/', en dash,
// em dash, horizontal bar.
constexpr std::array<std::string_view, 5> kWindashes = {"-", "/", "\xe2\x80\x93", "\xe2\x80\x94",
                                                        "\xe2\x80\x95"};
constexpr size_t kMaxWindashNeedles = 25;

// windash: a '-' or '/' that starts a word-like option ("\B[-/]\b" in pySigma) also matches the
// other option characters Windows accepts.
void markWindash(std::vector<Piece>& pieces) {
  for (size_t i = 0; i < pieces.size(); ++i) {
    Piece& p = pieces[i];
    if (p.kind != Piece::Kind::kLit || (p.c != '-' && p.c != '/')) continue;
    const bool prev_word =
        i > 0 && pieces[i - 1].kind == Piece::Kind::kLit && isWordChar(pieces[i - 1].c);
    const bool next_word = i + 1 < pieces.size() && pieces[i + 1].kind == Piece::Kind::kLit &&
                           isWordChar(pieces[i + 1].c);
    if (!prev_word && next_word) p.kind = Piece::Kind::kDash;
  }
}

void appendEscaped(std::string& out, char c) {
  if (std::isalnum(static_cast<unsigned char>(c))) {
    out += c;
  } else {
    static constexpr char kHex[] = "0123456789abcdef";
    out += "\\x";
    out += kHex[(static_cast<unsigned char>(c) >> 4) & 15];
    out += kHex[static_cast<unsigned char>(c) & 15];
  }
}

// A contains literal with inner wildcards as a glob tested directly (kind kNone when it has
// anything else: windash, NUL).
DirectPattern globPattern(const std::vector<Piece>& pieces, size_t first, size_t last,
                          bool caseless) {
  DirectPattern d;
  std::vector<GlobGroup> groups(1);
  for (size_t i = first; i < last; ++i) {
    const Piece& pc = pieces[i];
    if (pc.kind == Piece::Kind::kStar) {
      if (!groups.back().text.empty()) groups.emplace_back();
      continue;
    }
    if (pc.kind == Piece::Kind::kDash || (pc.kind == Piece::Kind::kLit && pc.c == '\0')) {
      return d;
    }
    groups.back().text += pc.kind == Piece::Kind::kOne ? '\0'
                          : caseless
                              ? static_cast<char>(std::tolower(static_cast<unsigned char>(pc.c)))
                              : pc.c;
  }
  for (auto& g : groups) {
    for (size_t i = 0; i < g.text.size();) {
      size_t j = i;
      while (j < g.text.size() && g.text[j] != '\0') ++j;
      if (j - i > g.run_len) {
        g.run_off = i;
        g.run_len = j - i;
      }
      i = j + 1;
    }
  }
  d.kind = DirectPattern::Kind::kGlob;
  d.caseless = caseless;
  d.glob = std::move(groups);
  return d;
}

// ---- logsource mapping
// ---------------------------------------------------------------------------

struct LogsourceMap {
  // "windows/category/process_creation" -> alternatives (OR) of items (AND)
  std::map<std::string, std::vector<std::vector<FieldItem>>> entries;
};

std::vector<std::vector<FieldItem>> conditionsFrom(const YAML::Node& list) {
  std::vector<std::vector<FieldItem>> alts;
  if (!list.IsSequence()) return alts;
  for (const auto& m : list) {
    if (!m.IsMap()) continue;
    std::vector<FieldItem> items;
    for (const auto& kv : m) {
      FieldItem item;
      // "Field|mod|mod" as in a rule (the mapping uses exists).
      const std::string key = kv.first.as<std::string>();
      const auto parts = core::splitTrimmed(key, '|');
      item.field = parts.empty() ? key : std::string(parts[0]);
      for (size_t i = 1; i < parts.size(); ++i) {
        if (auto m = parseModifier(parts[i])) item.modifiers.push_back(*m);
      }
      auto push = [&](const YAML::Node& v) {
        SigmaValue sv;
        sv.text = v.as<std::string>();
        item.values.push_back(sv);
      };
      if (kv.second.IsSequence()) {
        for (const auto& v : kv.second) push(v);
      } else {
        push(kv.second);
      }
      items.push_back(std::move(item));
    }
    alts.push_back(std::move(items));
  }
  return alts;
}

LogsourceMap parseLogsources(std::string_view text) {
  LogsourceMap out;
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    for (const auto& product : root) {
      const std::string pname = product.first.as<std::string>();
      if (!product.second.IsMap()) continue;
      for (const auto& kind : product.second) {
        const std::string k = kind.first.as<std::string>();
        if (k == "any") {  // the product's events, whatever their category or service
          out.entries[pname + "/any"] = conditionsFrom(kind.second);
          continue;
        }
        if (!kind.second.IsMap()) continue;
        for (const auto& entry : kind.second) {
          out.entries[pname + "/" + k + "/" + entry.first.as<std::string>()] =
              conditionsFrom(entry.second);
        }
      }
    }
  } catch (const YAML::Exception&) {
    // The shipped file is tested; a broken one leaves every logsource unmapped (and reported).
  }
  return out;
}

// ---- the builder
// ---------------------------------------------------------------------------------

class Builder {
 public:
  Builder(Engine::Impl& impl, std::vector<std::string>& fields, LoadReport& report)
      : impl_(impl), fields_(fields), report_(report) {
    logsources_ = parseLogsources(builtinLogsourceYaml());
  }

  std::uint32_t slot(const std::string& field) {
    auto it = impl_.field_index.find(field);
    if (it != impl_.field_index.end()) return it->second;
    const auto s = static_cast<std::uint32_t>(fields_.size());
    fields_.push_back(field);
    impl_.field_index.emplace(field, s);
    return s;
  }

  std::uint32_t compileRule(const SigmaRule& rule) {
    rule_ = &rule;
    selection_nodes_.clear();
    std::vector<std::uint32_t> roots;
    for (const auto& c : rule.conditions) roots.push_back(compileCondition(c));
    return roots.size() == 1 ? roots[0] : combine(Node::Kind::kOr, roots);
  }

  // The group whose databases receive the patterns compiled next.
  void setGroup(std::uint32_t group) { group_ = group; }

  // The logsource root for a rule, -1 when it has no logsource (every event), kUnrouted when its
  // logsource is not mapped (see warnUnmapped).
  std::int32_t logsource(const SigmaRule& rule) {
    const Logsource& ls = rule.logsource;
    std::vector<std::string> keys;
    if (!ls.category.empty()) keys.push_back(ls.product + "/category/" + ls.category);
    if (!ls.service.empty()) keys.push_back(ls.product + "/service/" + ls.service);
    if (ls.empty()) return -1;  // no logsource at all: every event
    keys.push_back(ls.product + "/any");
    for (const auto& key : keys) {
      auto cached = logsource_cache_.find(key);
      if (cached != logsource_cache_.end()) return cached->second;
      auto it = logsources_.entries.find(key);
      if (it == logsources_.entries.end()) continue;
      Selection sel;
      sel.name = key;
      sel.alternatives = it->second;
      const std::uint32_t saved_group = group_;
      group_ = kGroupLogsource;
      const auto root = compileSelection(sel);
      group_ = saved_group;
      const auto idx = static_cast<std::int32_t>(impl_.logsource_roots.size());
      impl_.logsource_roots.push_back(root);
      logsource_cache_[key] = idx;
      return idx;
    }
    return kUnrouted;
  }

  void warnUnmapped(const SigmaRule& rule) {
    const Logsource& ls = rule.logsource;
    // Evaluating it on every event would apply, say, Cisco AAA keywords to Windows events:
    // the rule loads but stays out of evaluation until its logsource is mapped.
    report_.add({DiagnosticLevel::kWarning, code::kUnmappedLogsource,
                 "logsource " + ls.key() +
                     " has no event mapping (src/detect/logsources.yaml); "
                     "the rule is loaded but not evaluated",
                 rule.file, rule.pos.line, rule.pos.column, rule.id, rule.title});
  }

  std::uint32_t addNode(Node n) {
    impl_.nodes.push_back(n);
    return static_cast<std::uint32_t>(impl_.nodes.size() - 1);
  }

  std::uint32_t combine(Node::Kind kind, const std::vector<std::uint32_t>& children) {
    if (children.size() == 1) return children[0];
    Node n;
    n.kind = kind;
    if (children.empty()) {
      n.kind = Node::Kind::kConst;
      n.value = kind == Node::Kind::kAnd;
      return addNode(n);
    }
    n.a = static_cast<std::uint32_t>(impl_.kids.size());
    n.n = static_cast<std::uint32_t>(children.size());
    impl_.kids.insert(impl_.kids.end(), children.begin(), children.end());
    return addNode(n);
  }

 private:
  std::uint32_t compileCondition(const ConditionNode& c) {
    switch (c.kind) {
      case ConditionNode::Kind::kRef: {
        const Selection* sel = rule_->findSelection(c.name);
        if (!sel) throw CompileError(code::kUnknownSelection, "unknown selection " + c.name, {});
        return selectionNode(*sel);
      }
      case ConditionNode::Kind::kOneOf:
      case ConditionNode::Kind::kAllOf: {
        std::vector<std::uint32_t> children;
        for (const auto& sel : rule_->selections) {
          const bool hit =
              c.name == "them" ? sel.name.empty() || sel.name[0] != '_' : glob(c.name, sel.name);
          if (hit) children.push_back(selectionNode(sel));
        }
        return combine(c.kind == ConditionNode::Kind::kAllOf ? Node::Kind::kAnd : Node::Kind::kOr,
                       children);
      }
      case ConditionNode::Kind::kNot: {
        Node n;
        n.kind = Node::Kind::kNot;
        n.a = compileCondition(c.children.at(0));
        return addNode(n);
      }
      case ConditionNode::Kind::kAnd:
      case ConditionNode::Kind::kOr: {
        std::vector<std::uint32_t> children;
        for (const auto& child : c.children) children.push_back(compileCondition(child));
        return combine(c.kind == ConditionNode::Kind::kAnd ? Node::Kind::kAnd : Node::Kind::kOr,
                       children);
      }
    }
    return 0;
  }

  static bool glob(std::string_view pattern, std::string_view s) {
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

  std::uint32_t selectionNode(const Selection& sel) {
    auto it = selection_nodes_.find(sel.name);
    if (it != selection_nodes_.end()) return it->second;
    const auto n = compileSelection(sel);
    selection_nodes_[sel.name] = n;
    return n;
  }

 public:
  std::uint32_t compileSelection(const Selection& sel) {
    std::vector<std::uint32_t> alts;
    for (const auto& items : sel.alternatives) {
      std::vector<std::uint32_t> leaves;
      for (const auto& item : items) leaves.push_back(compileItem(item));
      alts.push_back(combine(Node::Kind::kAnd, leaves));
    }
    return combine(Node::Kind::kOr, alts);
  }

 private:
  std::uint32_t compileItem(const FieldItem& item) {
    Leaf leaf;
    const bool keyword = item.field.empty();
    leaf.slot = keyword ? -1 : static_cast<std::int32_t>(slot(item.field));
    if (keyword && group_ != kNoGroup) {
      if (impl_.group_keywords.size() <= group_) impl_.group_keywords.resize(group_ + 1, 0);
      impl_.group_keywords[group_] = 1;
    }
    const std::uint32_t db = keyword ? kKeywordDbMarker : static_cast<std::uint32_t>(leaf.slot);
    const bool all = item.has(Modifier::kAll);
    for (const auto& value : item.values) {
      std::vector<std::uint32_t> group = compileValue(item, value, db, keyword);
      if (all || leaf.groups.empty()) {
        leaf.groups.push_back(std::move(group));
      } else {
        leaf.groups.front().insert(leaf.groups.front().end(), group.begin(), group.end());
      }
    }
    impl_.leaves.push_back(std::move(leaf));
    Node n;
    n.kind = Node::Kind::kLeaf;
    n.a = static_cast<std::uint32_t>(impl_.leaves.size() - 1);
    return addNode(n);
  }

  std::uint32_t addCheck(Check c) {
    impl_.checks.push_back(std::move(c));
    return static_cast<std::uint32_t>(impl_.checks.size() - 1);
  }

  std::vector<std::uint32_t> compileValue(const FieldItem& item, const SigmaValue& value,
                                          std::uint32_t db, bool keyword) {
    const Position pos = value.pos.line ? value.pos : item.pos;
    if (value.kind == SigmaValue::Kind::kNull) {
      Check c;
      c.kind = CheckKind::kNull;
      return {addCheck(c)};
    }
    if (item.has(Modifier::kExists)) {
      Check c;
      c.kind =
          (value.text == "true" || value.text == "yes") ? CheckKind::kExists : CheckKind::kMissing;
      return {addCheck(c)};
    }
    if (item.has(Modifier::kFieldRef)) {
      Check c;
      c.kind = CheckKind::kFieldRef;
      c.ref_slot = static_cast<std::int32_t>(slot(value.text));
      c.ref_mode = item.has(Modifier::kContains)     ? RefMode::kContains
                   : item.has(Modifier::kStartsWith) ? RefMode::kStartsWith
                   : item.has(Modifier::kEndsWith)   ? RefMode::kEndsWith
                                                     : RefMode::kEqual;
      return {addCheck(c)};
    }
    for (auto [mod, op] :
         {std::pair{Modifier::kLt, CmpOp::kLt}, std::pair{Modifier::kLte, CmpOp::kLte},
          std::pair{Modifier::kGt, CmpOp::kGt}, std::pair{Modifier::kGte, CmpOp::kGte}}) {
      if (item.has(mod)) {
        Check c;
        c.kind = CheckKind::kNumber;
        c.op = op;
        if (!parseNumber(value.text, c.number)) {
          throw CompileError(code::kBadModifierValue, "not a number: " + value.text, pos);
        }
        return {addCheck(c)};
      }
    }
    if (item.has(Modifier::kCidr)) {
      Check c;
      c.kind = CheckKind::kCidr;
      std::string_view text = value.text;
      const size_t slash = text.find('/');
      if (!parseIp(text.substr(0, slash), c.cidr.family, c.cidr.addr)) {
        throw CompileError(code::kBadModifierValue, "not a CIDR network: " + value.text, pos);
      }
      const int max_bits = c.cidr.family == AF_INET ? 32 : 128;
      c.cidr.bits = max_bits;
      if (slash != std::string_view::npos) {
        const auto bits = text.substr(slash + 1);
        auto [p, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), c.cidr.bits);
        if (ec != std::errc() || p != bits.data() + bits.size() || c.cidr.bits < 0 ||
            c.cidr.bits > max_bits) {
          throw CompileError(code::kBadModifierValue, "bad prefix length: " + value.text, pos);
        }
      }
      return {addCheck(c)};
    }
    if (item.has(Modifier::kRe)) {
      std::string flags;
      if (item.has(Modifier::kReI)) flags += 'i';
      if (item.has(Modifier::kReM)) flags += 'm';
      if (item.has(Modifier::kReS)) flags += 's';
      const std::string expr = flags.empty() ? value.text : "(?" + flags + ")" + value.text;
      RE2::Options opts;
      opts.set_log_errors(false);
      opts.set_max_mem(8 << 20);
      auto re = std::make_shared<RE2>(expr, opts);
      Check c;
      c.kind = CheckKind::kRegex;
      if (!re->ok()) {
        // What RE2 lacks (lookaround, backreferences ...): PCRE2 with JIT and a match limit.
        std::string pcre_error;
        c.pcre = PcreRegex::compile(value.text, item.has(Modifier::kReI), item.has(Modifier::kReM),
                                    item.has(Modifier::kReS), pcre_error);
        if (!c.pcre) {
          throw CompileError(code::kBadRegex,
                             "regular expression not accepted by RE2 (" + re->error() +
                                 ") nor PCRE2 (" + pcre_error + "): " + value.text,
                             pos);
        }
        report_.add({DiagnosticLevel::kWarning, code::kRegexPcre2,
                     "regular expression uses what RE2 lacks (" + re->error() +
                         "); it runs on PCRE2" + (c.pcre->jit() ? " (JIT)" : "") +
                         " with a match limit of " + std::to_string(PcreRegex::kMatchLimit) + ": " +
                         value.text,
                     rule_ ? rule_->file : "", pos.line, pos.column, rule_ ? rule_->id : "",
                     rule_ ? rule_->title : ""});
        return {addCheck(c)};
      }
      c.re = std::move(re);
      c.prefilter = regexPrefilter(expr, opts, db);
      c.required = requiredBytes(value.text);
      return {addCheck(c)};
    }
    // A string (or a number or boolean, which Sigma matches by its text).
    std::string text = value.text;
    if (item.has(Modifier::kExpand)) {
      // Placeholders (%DomainControllers%) need site values; without them they match anything,
      // as pySigma's wildcard placeholder transformation does. Reported so users can tell.
      std::string replaced;
      bool any = false;
      for (size_t i = 0; i < text.size(); ++i) {
        const size_t end = text[i] == '%' ? text.find('%', i + 1) : std::string::npos;
        if (end != std::string::npos && end > i + 1) {
          replaced += '*';
          i = end;
          any = true;
        } else {
          replaced += text[i];
        }
      }
      if (any) {
        report_.add({DiagnosticLevel::kWarning, code::kPlaceholder,
                     "placeholder in '" + text + "' matches any text (no values configured)",
                     rule_ ? rule_->file : "", pos.line, pos.column, rule_ ? rule_->id : "",
                     rule_ ? rule_->title : ""});
      }
      text = replaced;
    }
    std::vector<std::vector<Piece>> variants;
    const bool encoded = std::any_of(item.modifiers.begin(), item.modifiers.end(), [](Modifier m) {
      return m == Modifier::kBase64 || m == Modifier::kBase64Offset || m == Modifier::kUtf16le ||
             m == Modifier::kUtf16be || m == Modifier::kWide;
    });
    if (encoded) {
      std::vector<std::string> raw{text};
      for (Modifier m : item.modifiers) {
        std::vector<std::string> next;
        for (const auto& r : raw) {
          switch (m) {
            case Modifier::kUtf16le:
            case Modifier::kWide:
              next.push_back(utf16(r, true));
              break;
            case Modifier::kUtf16be:
              next.push_back(utf16(r, false));
              break;
            case Modifier::kBase64:
              next.push_back(base64(r));
              break;
            case Modifier::kBase64Offset: {
              auto offs = base64Offsets(r);
              next.insert(next.end(), offs.begin(), offs.end());
              break;
            }
            default:
              next.push_back(r);
          }
        }
        raw = std::move(next);
      }
      for (const auto& r : raw) variants.push_back(literalPieces(r));
    } else {
      variants.push_back(parseWildcards(text));
    }
    const bool contains = keyword || item.has(Modifier::kContains);
    const bool starts = item.has(Modifier::kStartsWith);
    const bool ends = item.has(Modifier::kEndsWith);
    std::vector<std::uint32_t> out;
    for (auto& pieces : variants) {
      if (item.has(Modifier::kWindash)) markWindash(pieces);
      if (contains || ends) pieces.insert(pieces.begin(), Piece{Piece::Kind::kStar, '*'});
      if (contains || starts) pieces.push_back(Piece{Piece::Kind::kStar, '*'});
      out.push_back(stringCheck(pieces, !item.has(Modifier::kCased), db));
    }
    return out;
  }

  // The prefilter patterns of a regular expression (see Check::prefilter).
  std::vector<std::uint32_t> regexPrefilter(const std::string& expr, const RE2::Options& opts,
                                            std::uint32_t db) {
    re2::FilteredRE2 filter(3);
    int id = 0;
    if (filter.Add(expr, opts, &id) != RE2::NoError) return {};
    std::vector<std::string> atoms;
    filter.Compile(&atoms);
    std::vector<int> unfiltered;
    filter.AllPotentials({}, &unfiltered);
    if (atoms.empty() || !unfiltered.empty()) return {};
    // Any match contains at least one atom; when one of them is in every match (RE2's atoms are
    // an AND/OR tree, ".exe" AND "werfaultsecure.exe" for example), it alone triggers the regex:
    // the list as a whole would run it on every ".exe".
    std::vector<int> others;
    std::string required;
    for (size_t k = 0; k < atoms.size(); ++k) {
      others.clear();
      for (size_t o = 0; o < atoms.size(); ++o) {
        if (o != k) others.push_back(static_cast<int>(o));
      }
      std::vector<int> possible;
      filter.AllPotentials(others, &possible);
      if (possible.empty() && atoms[k].size() > required.size()) required = atoms[k];
    }
    if (!required.empty()) atoms = {required};
    for (const auto& a : atoms) {
      // Atoms are lower-cased; Hyperscan folds ASCII case only, so an atom with other
      // characters could miss a match (İ, K): such regexes run unfiltered.
      for (unsigned char ch : a) {
        if (ch >= 0x80) return {};
      }
    }
    std::vector<std::uint32_t> out;
    for (const auto& a : atoms) {
      std::vector<Piece> pieces{Piece{Piece::Kind::kStar, '*'}};
      for (char ch : a) pieces.push_back({Piece::Kind::kLit, ch});
      pieces.push_back(Piece{Piece::Kind::kStar, '*'});
      out.push_back(impl_.checks[stringCheck(pieces, true, db)].pattern);
    }
    return out;
  }

  std::uint32_t stringCheck(const std::vector<Piece>& pieces, bool caseless, std::uint32_t db) {
    size_t first = 0, last = pieces.size();
    while (first < last && pieces[first].kind == Piece::Kind::kStar) ++first;
    while (last > first && pieces[last - 1].kind == Piece::Kind::kStar) --last;
    if (first == last) {
      Check c;
      c.kind = pieces.empty() ? CheckKind::kEmpty : CheckKind::kAnyValue;
      return addCheck(c);
    }
    std::string regex;
    bool exact = first == 0 && last == pieces.size();
    std::string literal;
    for (size_t i = first; i < last && exact; ++i) {
      if (pieces[i].kind != Piece::Kind::kLit) exact = false;
      literal += caseless ? static_cast<char>(std::tolower(static_cast<unsigned char>(pieces[i].c)))
                          : pieces[i].c;
    }
    if (first == 0) regex += '^';
    for (size_t i = first; i < last; ++i) {
      switch (pieces[i].kind) {
        case Piece::Kind::kLit:
          appendEscaped(regex, pieces[i].c);
          break;
        // Keyword values are scanned as one buffer joined by NULs: wildcards stop at a NUL so
        // that a match never spans two values.
        case Piece::Kind::kStar:
          if (pieces[i - 1].kind != Piece::Kind::kStar) {
            regex += db == kKeywordDbMarker ? "[^\\x00]*" : ".*";
          }
          break;
        case Piece::Kind::kOne:
          regex += db == kKeywordDbMarker ? "[^\\x00]" : ".";
          break;
        case Piece::Kind::kDash:  // kWindashes
          regex += "(?:\\x2d|\\x2f|\\xe2\\x80[\\x93\\x94\\x95])";
          break;
      }
    }
    if (last == pieces.size()) regex += "\\z";
    unsigned flags = HS_FLAG_SINGLEMATCH | HS_FLAG_DOTALL;
    if (caseless) flags |= HS_FLAG_CASELESS;
    const std::string key = std::to_string(group_) + ':' + std::to_string(db) + ':' +
                            std::to_string(flags) + ':' + regex;
    std::uint32_t pattern;
    auto it = pattern_index_.find(key);
    if (it != pattern_index_.end()) {
      pattern = it->second;
    } else {
      Pattern p;
      p.regex = std::move(regex);
      p.flags = flags;
      p.db = db;
      p.group = group_;
      for (size_t i = first; i < last; ++i) {
        p.literal_chars += pieces[i].kind == Piece::Kind::kLit;
        p.min_len += pieces[i].kind != Piece::Kind::kStar;
      }
      p.exact = exact && db != kKeywordDbMarker;
      // Only literal pieces between the leading and trailing wildcards: testable directly.
      // windash's option characters are spelled out, one needle each (a rule's "-s" is five
      // needles; two dashes, 25): without that, such a literal cost a whole lazy database scan.
      bool plain = !p.exact && db != kKeywordDbMarker;
      std::vector<std::string> needles(1);
      for (size_t i = first; i < last && plain; ++i) {
        if (pieces[i].kind == Piece::Kind::kDash) {
          std::vector<std::string> spelled;
          for (const auto& n : needles) {
            for (const std::string_view dash : kWindashes) spelled.push_back(n + std::string(dash));
          }
          needles = std::move(spelled);
          plain = needles.size() <= kMaxWindashNeedles;
          continue;
        }
        plain = pieces[i].kind == Piece::Kind::kLit && pieces[i].c != '\0';
        const char c =
            caseless ? static_cast<char>(std::tolower(static_cast<unsigned char>(pieces[i].c)))
                     : pieces[i].c;
        for (auto& n : needles) n += c;
      }
      if (!plain && !p.exact && db != kKeywordDbMarker && first > 0 && last < pieces.size()) {
        p.direct = globPattern(pieces, first, last, caseless);
      }
      if (plain) {
        p.direct.kind = first > 0 && last < pieces.size() ? DirectPattern::Kind::kContains
                        : first > 0                       ? DirectPattern::Kind::kSuffix
                                                          : DirectPattern::Kind::kPrefix;
        p.direct.caseless = caseless;
        p.direct.needle = std::move(needles.front());
        p.direct.more.assign(std::make_move_iterator(needles.begin() + 1),
                             std::make_move_iterator(needles.end()));
      }
      if (p.exact) p.literal = std::move(literal);
      impl_.patterns.push_back(std::move(p));
      pattern = static_cast<std::uint32_t>(impl_.patterns.size() - 1);
      pattern_index_.emplace(key, pattern);
    }
    Check c;
    c.kind = CheckKind::kPattern;
    c.pattern = pattern;
    return addCheck(c);
  }

 private:
  Engine::Impl& impl_;
  std::vector<std::string>& fields_;
  LoadReport& report_;
  LogsourceMap logsources_;
  std::map<std::string, std::int32_t> logsource_cache_;
  std::unordered_map<std::string, std::uint32_t> pattern_index_;
  std::map<std::string, std::uint32_t> selection_nodes_;
  const SigmaRule* rule_ = nullptr;
  std::uint32_t group_ = kGroupAny;
};

// How often a pattern is likely to hit, as a guess from its shape: literals on the fields the
// logsource conditions read (EventID, Channel) hit on every event of that kind, short values
// (LogonType 3, '.exe') on many; long literals are rare.
double patternCost(const Engine::Impl& impl, std::uint32_t pattern) {
  const Pattern& p = impl.patterns[pattern];
  if (std::binary_search(impl.logsource_slots.begin(), impl.logsource_slots.end(), p.db)) {
    return 1000;
  }
  if (p.literal_chars <= 2) return 300;
  if (p.literal_chars <= 4) return 50;
  return p.exact ? 2 : 1;
}

struct Requirement {
  std::vector<std::uint32_t> patterns;
  double cost = 0;
};

// A set of patterns of which at least one must hit for `node` to be true, chosen to be the
// least likely to hit (so that rules are evaluated as rarely as possible); nullopt when the node
// can be true without any literal hit (negations, regexes, null checks ...).
std::optional<Requirement> required(const Engine::Impl& impl, std::uint32_t node) {
  const Node& n = impl.nodes[node];
  switch (n.kind) {
    case Node::Kind::kConst:
      if (!n.value) return Requirement{};
      return std::nullopt;
    case Node::Kind::kNot:
      return std::nullopt;
    case Node::Kind::kLeaf: {
      const Leaf& leaf = impl.leaves[n.a];
      std::optional<Requirement> best;
      for (const auto& group : leaf.groups) {
        Requirement req;
        bool pure = true;
        for (auto ci : group) {
          const Check& c = impl.checks[ci];
          if (c.kind == CheckKind::kRegex && !c.prefilter.empty()) {
            for (auto p : c.prefilter) {
              req.patterns.push_back(p);
              req.cost += patternCost(impl, p);
            }
            continue;
          }
          if (c.kind != CheckKind::kPattern) {
            pure = false;
            break;
          }
          req.patterns.push_back(c.pattern);
          req.cost += patternCost(impl, c.pattern);
        }
        if (pure && (!best || req.cost < best->cost)) best = std::move(req);
      }
      return best;
    }
    case Node::Kind::kAnd: {
      std::optional<Requirement> best;
      for (std::uint32_t i = 0; i < n.n; ++i) {
        auto r = required(impl, impl.kids[n.a + i]);
        if (r && (!best || r->cost < best->cost)) best = std::move(r);
      }
      return best;
    }
    case Node::Kind::kOr: {
      Requirement all;
      for (std::uint32_t i = 0; i < n.n; ++i) {
        auto r = required(impl, impl.kids[n.a + i]);
        if (!r) return std::nullopt;
        all.patterns.insert(all.patterns.end(), r->patterns.begin(), r->patterns.end());
        all.cost += r->cost;
      }
      return all;
    }
  }
  return std::nullopt;
}

// The value of a decimal literal without sign or leading zero that fits 9 digits (so that
// equal numbers are equal texts), or -1.
std::int64_t gateNumber(std::string_view t) {
  if (t.empty() || t.size() > 9 || (t.size() > 1 && t[0] == '0')) return -1;
  std::int64_t v = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  return v;
}

// A gate of `node` (see Engine::Impl::gate_slot): a leaf of its top-level AND whose required
// literals are all whole-value numbers on one field.
std::optional<std::pair<std::uint32_t, std::vector<std::uint32_t>>> gateOf(
    const Engine::Impl& impl, std::uint32_t node, std::uint32_t keyword_db, int depth = 0) {
  const Node& n = impl.nodes[node];
  if (n.kind == Node::Kind::kAnd && depth < 8) {
    for (std::uint32_t i = 0; i < n.n; ++i) {
      if (auto g = gateOf(impl, impl.kids[n.a + i], keyword_db, depth + 1)) return g;
    }
    return std::nullopt;
  }
  if (n.kind != Node::Kind::kLeaf) return std::nullopt;
  const auto req = required(impl, node);
  if (!req || req->patterns.empty()) return std::nullopt;
  std::pair<std::uint32_t, std::vector<std::uint32_t>> gate{impl.patterns[req->patterns[0]].db, {}};
  for (auto pi : req->patterns) {
    const Pattern& p = impl.patterns[pi];
    const std::int64_t v = p.exact ? gateNumber(p.literal) : -1;
    if (v < 0 || p.db != gate.first || p.db >= keyword_db) return std::nullopt;
    gate.second.push_back(static_cast<std::uint32_t>(v));
  }
  return gate;
}

}  // namespace

// ---- Engine
// --------------------------------------------------------------------------------------

Engine::Engine() : impl_(std::make_unique<Impl>()) {}
Engine::~Engine() = default;

size_t Engine::patternCount() const { return impl_->patterns.size(); }

std::int32_t Engine::slotOf(std::string_view field) const {
  auto it = impl_->field_index.find(std::string(field));
  return it == impl_->field_index.end() ? -1 : static_cast<std::int32_t>(it->second);
}

core::Result<std::shared_ptr<const Engine>> Engine::build(std::vector<SigmaRule> rules,
                                                          const EngineOptions& options,
                                                          LoadReport& report) {
  std::shared_ptr<Engine> engine(new Engine());
  engine->options_ = options;
  Impl& impl = *engine->impl_;
  Builder builder(impl, engine->fields_, report);

  std::set<RuleStatus> statuses = options.statuses;
  if (statuses.empty()) {
    statuses = {RuleStatus::kStable, RuleStatus::kTest, RuleStatus::kExperimental,
                RuleStatus::kUnknown};
  }
  std::unordered_set<std::string> ids;
  std::vector<const SigmaRule*> correlations;
  std::unordered_map<std::string, std::uint32_t> by_ref;  // id or name -> rule index
  for (const auto& rule : rules) {
    if (!statuses.count(rule.status)) {
      ++report.rules_filtered;
      continue;
    }
    if (!rule.id.empty() && !ids.insert(rule.id).second) {
      report.add({DiagnosticLevel::kError, code::kDuplicateId,
                  "another rule already has the id " + rule.id, rule.file, rule.pos.line,
                  rule.pos.column, rule.id, rule.title});
      ++report.rules_refused;
      continue;
    }
    if (rule.correlation) {
      correlations.push_back(&rule);
      continue;
    }
    try {
      Rule r;
      r.logsource = builder.logsource(rule);
      builder.setGroup(r.logsource == kUnrouted ? kNoGroup
                       : r.logsource < 0
                           ? kGroupAny
                           : kGroupFirstLogsource + static_cast<std::uint32_t>(r.logsource));
      r.root = builder.compileRule(rule);
      if (r.logsource == kUnrouted) builder.warnUnmapped(rule);
      r.info.id = rule.id.empty() ? rule.file + "#" + rule.title : rule.id;
      r.info.title = rule.title;
      r.info.level = rule.level.empty() ? "medium" : rule.level;
      r.info.severity = rule.severity();
      r.info.score = rule.score();
      r.info.techniques = rule.attackTechniques();
      r.info.tags = rule.tags;
      r.info.file = rule.file;
      r.info.logsource = rule.logsource.key();
      const auto index = static_cast<std::uint32_t>(engine->rules_.size());
      by_ref[r.info.id] = index;
      if (!rule.name.empty()) by_ref[rule.name] = index;
      engine->rules_.push_back(std::move(r));
      ++report.rules_loaded;
    } catch (const CompileError& e) {
      report.add({DiagnosticLevel::kError, e.code, e.what(), rule.file, e.pos.line, e.pos.column,
                  rule.id, rule.title});
      ++report.rules_refused;
    }
  }

  for (const SigmaRule* rule : correlations) {
    CorrelationSpec spec;
    spec.def = *rule->correlation;
    bool ok = true;
    for (const auto& ref : spec.def.rules) {
      auto it = by_ref.find(ref);
      if (it == by_ref.end()) {
        report.add({DiagnosticLevel::kError, code::kBadCorrelation,
                    "correlation refers to unknown rule '" + ref + "'", rule->file, rule->pos.line,
                    rule->pos.column, rule->id, rule->title});
        ok = false;
        break;
      }
      spec.base_rules.push_back(it->second);
    }
    if (!ok) {
      ++report.rules_refused;
      continue;
    }
    for (const auto& g : spec.def.group_by) {
      spec.group_slots.push_back(static_cast<std::int32_t>(builder.slot(g)));
    }
    if (!spec.def.value_field.empty()) {
      spec.value_slot = static_cast<std::int32_t>(builder.slot(spec.def.value_field));
    }
    if (!spec.def.generate) {
      for (auto b : spec.base_rules) engine->rules_[b].info.generate = false;
    }
    Rule r;
    r.info.id = rule->id.empty() ? rule->file + "#" + rule->title : rule->id;
    r.info.title = rule->title;
    r.info.level = rule->level.empty() ? "medium" : rule->level;
    r.info.severity = rule->severity();
    r.info.score = rule->score();
    r.info.techniques = rule->attackTechniques();
    r.info.tags = rule->tags;
    r.info.file = rule->file;
    r.info.is_correlation = true;
    Node never;
    never.kind = Node::Kind::kConst;
    never.value = false;
    r.root = builder.addNode(never);
    spec.rule = static_cast<std::uint32_t>(engine->rules_.size());
    engine->rules_.push_back(std::move(r));
    engine->correlations_.push_back(std::move(spec));
    ++report.correlations_loaded;
  }

  // Fields every detection needs besides the rules' own: time, host, user of each map.
  std::vector<FieldMap> maps;
  if (options.field_map) {
    maps.push_back(*options.field_map);
  } else {
    maps = builtinFieldMaps();
  }
  engine->timestamp_slot_ = builder.slot(std::string(kTimestampField));
  for (const auto& m : maps) {
    Impl::LayoutSlots ls;
    if (!m.host_field.empty()) ls.host = static_cast<std::int32_t>(builder.slot(m.host_field));
    for (const auto& u : m.user_fields) {
      ls.users.push_back(static_cast<std::int32_t>(builder.slot(u)));
    }
    impl.layout_slots.push_back(std::move(ls));
  }
  bool want_keywords = false;
  for (const auto& p : impl.patterns) want_keywords |= p.db == kKeywordDbMarker;
  for (const auto& l : impl.leaves) want_keywords |= l.slot < 0;
  for (const auto& m : maps) engine->layouts_.emplace_back(m, engine->fields_, want_keywords);

  // Keyword patterns were registered under a placeholder db id; move them to the last db.
  const auto keyword_db = static_cast<std::uint32_t>(engine->fields_.size());
  for (auto& p : impl.patterns) {
    if (p.db == kKeywordDbMarker) p.db = keyword_db;
  }

  const auto groups =
      kGroupFirstLogsource + static_cast<std::uint32_t>(impl.logsource_roots.size());
  impl.group_keywords.resize(groups, 0);
  for (const Pattern& p : impl.patterns) {
    if (p.group == kGroupLogsource &&
        std::find(impl.logsource_slots.begin(), impl.logsource_slots.end(), p.db) ==
            impl.logsource_slots.end()) {
      impl.logsource_slots.push_back(p.db);
    }
  }
  std::sort(impl.logsource_slots.begin(), impl.logsource_slots.end());
  {
    std::vector<std::uint32_t> stack(impl.logsource_roots.begin(), impl.logsource_roots.end());
    std::set<std::uint32_t> slots(impl.logsource_slots.begin(), impl.logsource_slots.end());
    while (!stack.empty()) {
      const Node& n = impl.nodes[stack.back()];
      stack.pop_back();
      if (n.kind == Node::Kind::kNot) stack.push_back(n.a);
      if (n.kind == Node::Kind::kAnd || n.kind == Node::Kind::kOr) {
        for (std::uint32_t i = 0; i < n.n; ++i) stack.push_back(impl.kids[n.a + i]);
      }
      if (n.kind != Node::Kind::kLeaf) continue;
      const Leaf& leaf = impl.leaves[n.a];
      if (leaf.slot < 0) {
        impl.route_cacheable = false;
      } else {
        slots.insert(static_cast<std::uint32_t>(leaf.slot));
      }
      for (const auto& group : leaf.groups) {
        for (auto ci : group) {
          if (impl.checks[ci].ref_slot >= 0) {
            slots.insert(static_cast<std::uint32_t>(impl.checks[ci].ref_slot));
          }
        }
      }
    }
    impl.route_slots.assign(slots.begin(), slots.end());
  }

  // Which rules each pattern hit makes worth evaluating; rules no literal guards are evaluated
  // whenever their group is active.
  std::vector<std::vector<std::uint32_t>> triggers(impl.patterns.size());
  impl.always_rules.assign(groups, {});
  for (std::uint32_t r = 0; r < engine->rules_.size(); ++r) {
    const Rule& rule = engine->rules_[r];
    if (rule.info.is_correlation || rule.logsource == kUnrouted) continue;
    auto found = required(impl, rule.root);
    auto* req = found ? &found->patterns : nullptr;
    if (!req) {
      impl.always_rules[rule.logsource < 0
                            ? kGroupAny
                            : kGroupFirstLogsource + static_cast<std::uint32_t>(rule.logsource)]
          .push_back(r);
      continue;
    }
    std::sort(req->begin(), req->end());
    req->erase(std::unique(req->begin(), req->end()), req->end());
    for (auto p : *req) triggers[p].push_back(r);
  }
  // The same for the logsource conditions.
  std::vector<std::vector<std::uint32_t>> ls_triggers(impl.patterns.size());
  for (std::uint32_t l = 0; l < impl.logsource_roots.size(); ++l) {
    auto found = required(impl, impl.logsource_roots[l]);
    auto* req = found ? &found->patterns : nullptr;
    if (!req) {
      impl.ls_always.push_back(l);
      continue;
    }
    std::sort(req->begin(), req->end());
    req->erase(std::unique(req->begin(), req->end()), req->end());
    for (auto p : *req) ls_triggers[p].push_back(l);
  }

  // One Hyperscan database per (group, field) with the literals that trigger rules, scanned
  // with every event the group applies to, and one with the others (the filters and second
  // conditions of rules), scanned only when a triggered rule needs one of them and cannot test
  // them directly (see Evaluator::patternHit): most events never pay for the thousands of short
  // command-line literals of rules that did not trigger. Plus one per group for keywords.
  // Whole-value literals are looked up, not scanned.
  impl.group_stride = keyword_db + 1;
  impl.group_dbs.assign(groups * impl.group_stride, -1);
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::int32_t> lazy_index;
  auto newDb = [&](std::uint32_t slot) {
    impl.dbs.emplace_back();
    impl.db_slot.push_back(slot);
    return static_cast<std::int32_t>(impl.dbs.size() - 1);
  };
  auto dbIndex = [&](std::uint32_t group, std::uint32_t slot) {
    std::int32_t& idx = impl.group_dbs[group * impl.group_stride + slot];
    if (idx < 0) idx = newDb(slot);
    return static_cast<size_t>(idx);
  };
  std::map<std::int32_t, std::vector<std::uint32_t>> per_db;
  for (std::uint32_t i = 0; i < impl.patterns.size(); ++i) {
    Pattern& p = impl.patterns[i];
    if (p.group == kNoGroup) continue;  // rules never evaluated
    if (p.exact) {
      auto& d = impl.dbs[dbIndex(p.group, p.db)];
      auto& table = (p.flags & HS_FLAG_CASELESS) ? d.exact_ci : d.exact_cs;
      table[p.literal].push_back(i);
      d.exact_max = std::max(d.exact_max, p.literal.size());
      d.exact_lengths |= std::uint64_t{1} << std::min<size_t>(p.literal.size(), 63);
      continue;
    }
    const bool lazy = triggers[i].empty() && ls_triggers[i].empty() && p.group != kGroupLogsource &&
                      p.db != keyword_db;
    if (lazy) {
      auto [it, added] = lazy_index.emplace(std::make_pair(p.group, p.db), -1);
      if (added) it->second = newDb(p.db);
      p.lazy_db = it->second;
      per_db[it->second].push_back(i);
    } else {
      per_db[static_cast<std::int32_t>(dbIndex(p.group, p.db))].push_back(i);
    }
  }
  for (auto& d : impl.dbs) {
    d.exact_ci_table.build(d.exact_ci, true);
    d.exact_cs_table.build(d.exact_cs, false);
  }
  for (const auto& p : impl.patterns) impl.pattern_lazy_db.push_back(p.lazy_db);
  size_t fallbacks = 0;
  constexpr size_t kSmallDb = 8;
  for (auto& [db_index, pats] : per_db) {
    const auto di = static_cast<size_t>(db_index);
    if (impl.patterns[pats.front()].lazy_db != db_index) {
      std::unordered_map<std::string, std::vector<std::uint32_t>> ci, cs;
      std::vector<std::uint32_t> rest;
      for (auto pi : pats) {
        const DirectPattern& dp = impl.patterns[pi].direct;
        if (dp.kind == DirectPattern::Kind::kSuffix && !dp.needle.empty() && dp.needle[0] == '\\' &&
            dp.more.empty() && impl.patterns[pi].db != keyword_db) {
          (dp.caseless ? ci : cs)[dp.needle].push_back(pi);
          impl.dbs[di].suffix_max = std::max(impl.dbs[di].suffix_max, dp.needle.size());
          impl.dbs[di].suffix_lengths |= std::uint64_t{1} << std::min<size_t>(dp.needle.size(), 63);
        } else {
          rest.push_back(pi);
        }
      }
      impl.dbs[di].suffix_ci_table.build(ci, true);
      impl.dbs[di].suffix_cs_table.build(cs, false);
      pats = std::move(rest);
    }
    while (!pats.empty()) {
      std::vector<const char*> exprs;
      std::vector<unsigned> flags, ids;
      for (std::uint32_t k = 0; k < pats.size(); ++k) {
        exprs.push_back(impl.patterns[pats[k]].regex.c_str());
        flags.push_back(impl.patterns[pats[k]].flags);
        ids.push_back(k);
      }
      hs_database_t* db = nullptr;
      hs_compile_error_t* err = nullptr;
      if (hs_compile_multi(exprs.data(), flags.data(), ids.data(),
                           static_cast<unsigned>(exprs.size()), HS_MODE_BLOCK, nullptr, &db,
                           &err) == HS_SUCCESS) {
        impl.dbs[di].db = db;
        impl.dbs[di].ids = pats;
        size_t min_len = SIZE_MAX;
        for (auto pi : pats) min_len = std::min<size_t>(min_len, impl.patterns[pi].min_len);
        impl.dbs[di].min_len = min_len;
        if (pats.size() <= kSmallDb &&
            std::all_of(pats.begin(), pats.end(), [&](std::uint32_t pi) {
              return impl.patterns[pi].direct.kind != DirectPattern::Kind::kNone;
            })) {
          impl.dbs[di].direct = pats;
        }
        break;
      }
      // Hyperscan refused a pattern: evaluate that one with RE2 and retry without it.
      const int bad = err ? err->expression : -1;
      if (err) hs_free_compile_error(err);
      std::vector<std::uint32_t> moved;
      if (bad >= 0 && static_cast<size_t>(bad) < pats.size()) {
        moved.push_back(pats[static_cast<size_t>(bad)]);
        pats.erase(pats.begin() + bad);
      } else {
        moved = pats;
        pats.clear();
      }
      for (auto pi : moved) {
        Pattern& p = impl.patterns[pi];
        RE2::Options opts;
        opts.set_log_errors(false);
        opts.set_case_sensitive(!(p.flags & HS_FLAG_CASELESS));
        opts.set_dot_nl(true);
        opts.set_encoding(RE2::Options::EncodingLatin1);
        p.fallback = std::make_unique<RE2>(p.regex, opts);
        impl.dbs[di].fallback.push_back(pi);
        ++fallbacks;
      }
    }
    if (impl.dbs[di].db) {
      if (hs_alloc_scratch(impl.dbs[di].db, &impl.scratch) != HS_SUCCESS) {
        return core::fail(core::ErrorCode::kInternal, "Hyperscan scratch allocation failed");
      }
    }
  }
  if (fallbacks) {
    report.add({DiagnosticLevel::kWarning, code::kHyperscanFallback,
                std::to_string(fallbacks) + " patterns run on RE2 instead of Hyperscan", "", 0, 0,
                "", ""});
  }

  for (auto& node : impl.nodes) {
    if (node.kind != Node::Kind::kLeaf) continue;
    const Leaf& leaf = impl.leaves[node.a];
    node.p = static_cast<std::uint32_t>(impl.packed.size());
    impl.packed.push_back(static_cast<std::uint32_t>(leaf.slot));
    for (const auto& group : leaf.groups) {
      impl.packed.push_back(static_cast<std::uint32_t>(group.size()));
      for (auto ci : group) {
        const Check& c = impl.checks[ci];
        if (c.kind != CheckKind::kPattern) {
          impl.packed.push_back(kCheckBit | ci);
        } else {
          impl.packed.push_back(c.pattern | (impl.pattern_lazy_db[c.pattern] >= 0 ? kLazyBit : 0));
        }
      }
    }
    node.n = static_cast<std::uint32_t>(impl.packed.size() - node.p);
  }

  impl.ls_trigger_offsets.push_back(0);
  for (const auto& t : ls_triggers) {
    impl.ls_trigger_rules.insert(impl.ls_trigger_rules.end(), t.begin(), t.end());
    impl.ls_trigger_offsets.push_back(static_cast<std::uint32_t>(impl.ls_trigger_rules.size()));
  }
  for (const auto& r : engine->rules_) impl.rule_eval.emplace_back(r.root, r.logsource);
  impl.gate_offsets.push_back(0);
  for (const auto& r : engine->rules_) {
    auto gate = r.info.is_correlation || r.logsource == kUnrouted
                    ? std::nullopt
                    : gateOf(impl, r.root, keyword_db);
    impl.gate_slot.push_back(gate ? static_cast<std::int32_t>(gate->first) : -1);
    if (gate) impl.gate_values.insert(impl.gate_values.end(), gate->second.begin(), gate->second.end());
    impl.gate_offsets.push_back(static_cast<std::uint32_t>(impl.gate_values.size()));
  }
  impl.trigger_offsets.push_back(0);
  for (const auto& t : triggers) {
    impl.trigger_rules.insert(impl.trigger_rules.end(), t.begin(), t.end());
    impl.trigger_offsets.push_back(static_cast<std::uint32_t>(impl.trigger_rules.size()));
  }
  return std::shared_ptr<const Engine>(std::move(engine));
}

// ---- Matcher
// -------------------------------------------------------------------------------------

namespace {

// Routing decisions a matcher remembers (event kinds: a log has tens to hundreds).
constexpr size_t kRouteCacheSize = 4096;

// Longest value tested directly against the literals of a small database (see Db::direct).
constexpr size_t kDirectScanBytes = 128;

// `text` lower-cased (ASCII) into `buf` (of at least text.size() bytes).
std::string_view lowerInto(char* buf, std::string_view text) {
  core::lowerAsciiInto(buf, text);
  return {buf, text.size()};
}

bool startsWithLower(std::string_view t, std::string_view lower_needle) {
  if (t.size() < lower_needle.size()) return false;
  for (size_t i = 0; i < lower_needle.size(); ++i) {
    char c = t[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
    if (c != lower_needle[i]) return false;
  }
  return true;
}

// Where the leftmost match of `g` in `text` at or after `from` starts (npos: none).
size_t findGlobGroup(const GlobGroup& g, std::string_view text, size_t from) {
  const size_t len = g.text.size();
  if (text.size() < len || from > text.size() - len) return std::string_view::npos;
  if (g.run_len == 0) return from;  // only '?': any bytes
  const size_t last_start = text.size() - len;
  size_t search = from + g.run_off;  // where the run may start
  while (search <= last_start + g.run_off) {
    const char* hit =
        core::findBytes(text.substr(search, last_start + g.run_off + g.run_len - search),
                        std::string_view(g.text).substr(g.run_off, g.run_len));
    if (!hit) break;
    const size_t start = static_cast<size_t>(hit - text.data()) - g.run_off;
    bool ok = true;
    for (size_t i = 0; i < len && ok; ++i) ok = g.text[i] == '\0' || text[start + i] == g.text[i];
    if (ok) return start;
    search = start + g.run_off + 1;
  }
  return std::string_view::npos;
}

// Groups found left to right, each as early as it can be: a match of "*g1*g2*...*" exists
// exactly when this finds one.
bool globHit(const DirectPattern& d, std::string_view text) {
  size_t from = 0;
  for (const auto& g : d.glob) {
    const size_t at = findGlobGroup(g, text, from);
    if (at == std::string_view::npos) return false;
    from = at + g.text.size();
  }
  return true;
}

// Whether a plain literal (the needle `n`) or glob matches `text`; `lowered` is `text` lower-cased,
// needed (only) for a caseless substring.
bool directHitOne(const DirectPattern& d, std::string_view n, std::string_view text,
                  std::string_view lowered) {
  if (text.size() < n.size()) return false;
  switch (d.kind) {
    case DirectPattern::Kind::kPrefix:
    case DirectPattern::Kind::kSuffix: {
      const std::string_view part = d.kind == DirectPattern::Kind::kPrefix
                                        ? text.substr(0, n.size())
                                        : text.substr(text.size() - n.size());
      return d.caseless ? startsWithLower(part, n) : part == n;
    }
    case DirectPattern::Kind::kContains:
      if (!d.caseless) return text.find(n) != std::string_view::npos;
      return core::findBytes(lowered, n) != nullptr;
    case DirectPattern::Kind::kGlob:
      return globHit(d, d.caseless ? lowered : text);
    case DirectPattern::Kind::kNone:
      break;
  }
  return false;
}

bool directHit(const DirectPattern& d, std::string_view text, std::string_view lowered) {
  if (directHitOne(d, d.needle, text, lowered)) return true;
  for (const auto& n : d.more) {
    if (directHitOne(d, n, text, lowered)) return true;
  }
  return false;
}

}  // namespace

// The values of a field lower-cased and joined by NULs, made at most once per event and field,
// for the direct tests of caseless lazy literals.
struct LowerCache {
  std::vector<std::uint32_t> stamp;  // per slot: epoch of `text`
  std::vector<std::string> text;

  std::string_view get(const EventFields& fields, std::uint32_t slot, std::uint32_t epoch) {
    std::string& out = text[slot];
    if (stamp[slot] == epoch) return out;
    stamp[slot] = epoch;
    out.clear();
    for (const auto& v : fields.values(slot)) {
      if (v.kind == ValueKind::kNull || v.kind == ValueKind::kObject) continue;
      const size_t at = out.size();
      out.append(v.text);
      core::lowerAsciiInto(out.data() + at, std::string_view(out).substr(at));
      out += '\0';
    }
    return out;
  }
};

struct Matcher::State {
  explicit State(const Engine& e) : fields(e.fields_.size()) {}
  simdjson::dom::parser parser;
  hs_scratch_t* scratch = nullptr;
  EventFields fields;
  std::vector<std::uint8_t> hit;
  std::vector<std::uint32_t> hit_list;
  std::vector<std::uint32_t> rule_stamp;
  std::vector<std::uint32_t> ls_stamp;
  std::vector<std::uint8_t> ls_value;
  std::uint32_t epoch = 0;
  std::vector<std::uint32_t> candidates;
  std::vector<std::uint32_t> active;           // the groups this event's logsources route it to
  std::vector<std::uint32_t> db_stamp;         // epoch at which a lazy database was last scanned
  std::vector<std::uint64_t> db_tests;         // per lazy database: epoch << 32 | direct tests made
  // Routing decisions by the values of Engine::Impl::route_slots: the logsources found true,
  // found by a hash of those values and checked against the values they were made for.
  struct Route {
    std::vector<std::uint32_t> counts;  // values per route slot
    std::vector<FieldValue> values;     // all of them, slot after slot
    std::string text;                   // their text, which `values` point into
    std::vector<std::uint32_t> logsources;
  };
  std::unordered_map<std::uint64_t, Route> route_cache;
  std::int32_t gate_slot = -1;               // the slot whose numbers gate_numbers holds
  std::vector<std::int64_t> gate_numbers;    // this event's, for Engine::Impl::gate_slot
  std::vector<std::string_view> nul_keywords;  // keyword values with a NUL, scanned alone
  std::int32_t layout = -1;
  bool gather_keywords = false;  // whether the last event needed keyword values
  std::string keywords;  // the keyword values joined by NULs, scanned at once
  const Engine::Impl* impl = nullptr;
  const std::vector<std::uint32_t>* db_ids = nullptr;
  LowerCache lower;
  char lower_buf[kDirectScanBytes];

  void mark(std::uint32_t pattern) {
    if (!hit[pattern]) {
      hit[pattern] = 1;
      hit_list.push_back(pattern);
    }
  }
};

namespace {

int onMatch(unsigned int id, unsigned long long, unsigned long long, unsigned int, void* ctx) {
  auto* st = static_cast<Matcher::State*>(ctx);
  st->mark((*st->db_ids)[id]);
  return 0;
}

bool equalsCi(std::string_view a, std::string_view b) { return core::equalsIgnoreCase(a, b); }

// The routing cache's key: the kind, length and bytes of each value of each routing slot,
// hashed where they lie (building the key as a string and hashing that was ~2% of an ingest).
std::uint64_t routeHash(const std::vector<std::uint32_t>& slots, const EventFields& fields) {
  constexpr std::uint64_t kMul = 0x9E3779B97F4A7C15ull;
  std::uint64_t h = 0;
  auto mix = [&h](std::uint64_t w) {
    h = (h ^ w) * kMul;
    h ^= h >> 32;
  };
  for (const std::uint32_t s : slots) {
    const auto values = fields.values(s);
    mix(values.size());
    for (const auto& v : values) {
      mix(static_cast<std::uint64_t>(v.kind) << 32 | v.text.size());
      const char* p = v.text.data();
      size_t n = v.text.size();
      for (; n >= 8; p += 8, n -= 8) {
        std::uint64_t w;
        std::memcpy(&w, p, 8);
        mix(w);
      }
      if (n) mix(loadTail(p, n));
    }
  }
  return h;
}

bool sameRoute(const Matcher::State::Route& route, const std::vector<std::uint32_t>& slots,
               const EventFields& fields) {
  size_t k = 0;
  for (size_t i = 0; i < slots.size(); ++i) {
    const auto values = fields.values(slots[i]);
    if (values.size() != route.counts[i]) return false;
    for (const auto& v : values) {
      const FieldValue& kept = route.values[k++];
      if (v.kind != kept.kind || v.text != kept.text) return false;
    }
  }
  return true;
}

void keepRoute(Matcher::State::Route& route, const std::vector<std::uint32_t>& slots,
               const EventFields& fields) {
  for (const std::uint32_t s : slots) {
    for (const auto& v : fields.values(s)) route.text.append(v.text);
  }
  size_t at = 0;
  for (const std::uint32_t s : slots) {
    const auto values = fields.values(s);
    route.counts.push_back(static_cast<std::uint32_t>(values.size()));
    for (const auto& v : values) {
      route.values.push_back(v);
      route.values.back().text = std::string_view(route.text).substr(at, v.text.size());
      at += v.text.size();
    }
  }
}

bool refMatch(RefMode mode, std::string_view value, std::string_view ref) {
  switch (mode) {
    case RefMode::kEqual:
      return equalsCi(value, ref);
    case RefMode::kContains:
      return core::containsIgnoreCase(value, ref);
    case RefMode::kStartsWith:
      return value.size() >= ref.size() && equalsCi(value.substr(0, ref.size()), ref);
    case RefMode::kEndsWith:
      return value.size() >= ref.size() && equalsCi(value.substr(value.size() - ref.size()), ref);
  }
  return false;
}

}  // namespace

Matcher::Matcher(std::shared_ptr<const Engine> engine)
    : engine_(std::move(engine)), state_(std::make_unique<State>(*engine_)) {
  const Engine::Impl& impl = *engine_->impl_;
  state_->impl = &impl;
  if (impl.scratch) hs_clone_scratch(impl.scratch, &state_->scratch);
  state_->hit.assign(impl.patterns.size(), 0);
  state_->rule_stamp.assign(engine_->rules_.size(), 0);
  state_->ls_stamp.assign(impl.logsource_roots.size(), 0);
  state_->ls_value.assign(impl.logsource_roots.size(), 0);
  state_->db_stamp.assign(impl.dbs.size(), 0);
  state_->db_tests.assign(impl.dbs.size(), 0);
  state_->lower.stamp.assign(engine_->fields_.size(), 0);
  state_->lower.text.resize(engine_->fields_.size());
}

Matcher::~Matcher() {
  if (state_ && state_->scratch) hs_free_scratch(state_->scratch);
}

namespace {

class Evaluator {
 public:
  // `scan_lazy(ctx, db)` scans the event's values with a lazy database (marking its hits).
  using LazyScan = void (*)(void* ctx, std::int32_t db);
  Evaluator(const Engine::Impl& impl, const EventFields& fields, const std::uint8_t* hit,
            std::uint32_t* db_stamp, std::uint64_t* db_tests, std::uint32_t epoch,
            LazyScan scan_lazy, void* ctx, LowerCache* lower)
      : impl_(impl),
        fields_(fields),
        hit_(hit),
        db_stamp_(db_stamp),
        db_tests_(db_tests),
        epoch_(epoch),
        scan_lazy_(scan_lazy),
        ctx_(ctx),
        lower_(lower) {}

  // Whether a pattern hit this event. A lazy pattern not yet known is tested on its own when
  // it is a plain literal or glob and the values are short (cheaper than a Hyperscan scan),
  // else its lazy database is scanned (once per event). Past kDirectTestsPerScan literals
  // tested on their own in one event, the scan is cheaper: it answers all the rest at once.
  bool patternHit(std::uint32_t p) const { return hit_[p] || lazyHit(p); }

  // patternHit for a pattern not (yet) marked.
  bool lazyHit(std::uint32_t p) const {
    const std::int32_t db = impl_.pattern_lazy_db[p];
    if (db < 0 || db_stamp_[db] == epoch_) return false;
    const DirectPattern& d = impl_.patterns[p].direct;
    std::uint64_t& tests = db_tests_[db];
    if (tests >> 32 != epoch_) tests = std::uint64_t{epoch_} << 32;
    if (d.kind != DirectPattern::Kind::kNone && (tests & 0xFFFFFFFFu) < kDirectTestsPerScan) {
      tests += 1 + d.more.size();
      const int r = direct(d, impl_.db_slot[static_cast<size_t>(db)]);
      if (r >= 0) return r != 0;
    }
    db_stamp_[db] = epoch_;
    scan_lazy_(ctx_, db);
    return hit_[p] != 0;
  }

  bool node(std::uint32_t id) const {
    const Node& n = impl_.nodes[id];
    switch (n.kind) {
      case Node::Kind::kConst:
        return n.value;
      case Node::Kind::kNot:
        return !node(n.a);
      case Node::Kind::kAnd:
        for (std::uint32_t i = 0; i < n.n; ++i) {
          if (!node(impl_.kids[n.a + i])) return false;
        }
        return true;
      case Node::Kind::kOr:
        for (std::uint32_t i = 0; i < n.n; ++i) {
          if (node(impl_.kids[n.a + i])) return true;
        }
        return false;
      case Node::Kind::kLeaf:
        return leaf(n);
    }
    return false;
  }

 private:
  bool leaf(const Node& leaf) const {
    const std::uint32_t* p = impl_.packed.data() + leaf.p;
    const std::uint32_t* const end = p + leaf.n;
    const auto slot = static_cast<std::int32_t>(*p++);
    while (p < end) {
      const std::uint32_t n = *p++;
      bool any = false;
      for (std::uint32_t i = 0; i < n; ++i) {
        const std::uint32_t item = p[i];
        if (item & kCheckBit) {
          any = check(impl_.checks[item & ~kCheckBit], slot);
        } else {
          any = hit_[item & kItemMask] || ((item & kLazyBit) && lazyHit(item & kItemMask));
        }
        if (any) break;
      }
      if (!any) return false;
      p += n;
    }
    return true;
  }

  // Longest total value length a contains-literal is tested on directly; longer values (script
  // blocks) are cheaper to scan once with the literals' database.
  static constexpr size_t kDirectMaxBytes = 1024;
  static constexpr std::uint64_t kDirectTestsPerScan = 32;

  static bool tooLongForDirect(std::span<const FieldValue> values) {
    size_t total = 0;
    for (const auto& v : values) total += v.text.size();
    return total > kDirectMaxBytes;
  }

  // 1 or 0: whether the literal is in one of the slot's values; -1: not tested (values too long).
  int direct(const DirectPattern& d, std::uint32_t slot) const {
    const auto values = fields_.values(slot);
    switch (d.kind) {
      case DirectPattern::Kind::kPrefix:
      case DirectPattern::Kind::kSuffix:
        for (const auto& v : values) {
          if (v.kind == ValueKind::kNull || v.kind == ValueKind::kObject) continue;
          if (directHit(d, v.text, {})) return 1;
        }
        return 0;
      case DirectPattern::Kind::kContains: {
        if (tooLongForDirect(values)) return -1;
        if (!d.caseless) {
          for (const auto& v : values) {
            if (v.kind == ValueKind::kNull || v.kind == ValueKind::kObject) continue;
            if (directHit(d, v.text, {})) return 1;
          }
          return 0;
        }
        const std::string_view text = lower_->get(fields_, slot, epoch_);
        return directHit(d, text, text) ? 1 : 0;
      }
      case DirectPattern::Kind::kGlob: {
        if (tooLongForDirect(values)) return -1;
        // One value at a time: a '*' must not reach from one value into the next.
        const std::string_view lowered = d.caseless ? lower_->get(fields_, slot, epoch_) : "";
        size_t at = 0;
        for (const auto& v : values) {
          if (v.kind == ValueKind::kNull || v.kind == ValueKind::kObject) continue;
          if (globHit(d, d.caseless ? lowered.substr(at, v.text.size()) : v.text)) return 1;
          at += v.text.size() + 1;
        }
        return 0;
      }
      case DirectPattern::Kind::kNone:
        break;
    }
    return -1;
  }

  // A rule's CIDR list tests the same value once per network: parsed once per event and value.
  const ParsedIp& parsedIp(std::string_view t) const {
    if (t.data() != ip_text_.data() || t.size() != ip_text_.size()) {
      ip_text_ = t;
      ip_ = {};
      if (!parseIp(t, ip_.family, ip_.addr)) ip_.family = 0;
    }
    return ip_;
  }

  template <typename F>
  bool anyText(std::int32_t slot, F&& f) const {
    if (slot < 0) {
      for (auto t : fields_.keywordValues()) {
        if (f(t)) return true;
      }
      return false;
    }
    for (const auto& v : fields_.values(static_cast<std::uint32_t>(slot))) {
      if (v.kind != ValueKind::kNull && v.kind != ValueKind::kObject && f(v.text)) return true;
    }
    return false;
  }

  bool check(const Check& c, std::int32_t slot) const {
    switch (c.kind) {
      case CheckKind::kPattern:
        return patternHit(c.pattern);
      case CheckKind::kRegex:
        if (!c.prefilter.empty() && std::none_of(c.prefilter.begin(), c.prefilter.end(),
                                                 [&](std::uint32_t p) { return patternHit(p); })) {
          return false;
        }
        if (c.pcre) {
          return anyText(slot, [&](std::string_view t) { return c.pcre->partialMatch(t); });
        }
        return anyText(slot, [&](std::string_view t) {
          for (const char b : c.required) {
            if (std::memchr(t.data(), b, t.size()) == nullptr) return false;
          }
          return RE2::PartialMatch(t, *c.re);
        });
      case CheckKind::kCidr:
        return anyText(slot, [&](std::string_view t) { return inCidr(c.cidr, parsedIp(t)); });
      case CheckKind::kNumber:
        return anyText(slot, [&](std::string_view t) {
          double d = 0;
          if (!parseNumber(t, d)) return false;
          switch (c.op) {
            case CmpOp::kLt:
              return d < c.number;
            case CmpOp::kLte:
              return d <= c.number;
            case CmpOp::kGt:
              return d > c.number;
            case CmpOp::kGte:
              return d >= c.number;
          }
          return false;
        });
      case CheckKind::kExists:
        return slot >= 0 && fields_.present(static_cast<std::uint32_t>(slot));
      case CheckKind::kMissing:
        return slot >= 0 && !fields_.present(static_cast<std::uint32_t>(slot));
      case CheckKind::kNull: {
        if (slot < 0) return false;
        const auto vals = fields_.values(static_cast<std::uint32_t>(slot));
        if (vals.empty()) return true;
        for (const auto& v : vals) {
          if (v.kind == ValueKind::kNull) return true;
        }
        return false;
      }
      case CheckKind::kAnyValue:
        if (slot < 0) return !fields_.keywordValues().empty();
        for (const auto& v : fields_.values(static_cast<std::uint32_t>(slot))) {
          if (v.kind != ValueKind::kNull) return true;
        }
        return false;
      case CheckKind::kEmpty:
        return anyText(slot, [](std::string_view t) { return t.empty(); });
      case CheckKind::kFieldRef: {
        if (slot < 0 || c.ref_slot < 0) return false;
        const auto refs = fields_.values(static_cast<std::uint32_t>(c.ref_slot));
        return anyText(slot, [&](std::string_view t) {
          for (const auto& r : refs) {
            if (r.kind != ValueKind::kNull && refMatch(c.ref_mode, t, r.text)) return true;
          }
          return false;
        });
      }
    }
    return false;
  }

  const Engine::Impl& impl_;
  const EventFields& fields_;
  const std::uint8_t* hit_;
  std::uint32_t* db_stamp_;
  std::uint64_t* db_tests_;
  std::uint32_t epoch_;
  LazyScan scan_lazy_;
  void* ctx_;
  LowerCache* lower_;
  mutable std::string_view ip_text_;  // the value ip_ was parsed from (a view into this event)
  mutable ParsedIp ip_;
};

}  // namespace

core::Status Matcher::evaluate(std::string_view json, std::vector<std::uint32_t>& matches,
                               bool padded) {
  State& st = *state_;
  const Engine::Impl& impl = *engine_->impl_;
  ++stats_.events;
  for (auto p : st.hit_list) st.hit[p] = 0;
  st.hit_list.clear();
  st.layout = -1;
  st.gate_slot = -1;
  simdjson::dom::element root;
  if (st.parser.parse(json.data(), json.size(), !padded).get(root) != simdjson::SUCCESS ||
      root.type() != simdjson::dom::element_type::OBJECT) {
    ++stats_.bad_events;
    return core::fail(core::ErrorCode::kInvalidArgument, "event is not a JSON object");
  }
  for (size_t i = 0; i < engine_->layouts_.size(); ++i) {
    if (engine_->layouts_.size() == 1 || engine_->layouts_[i].fits(root)) {
      st.layout = static_cast<std::int32_t>(i);
      break;
    }
  }
  if (st.layout < 0) st.layout = static_cast<std::int32_t>(engine_->layouts_.size() - 1);
  // Keyword values are gathered in the field pass when the previous event needed them (events
  // come in runs of one kind), else only when this one turns out to need them.
  st.fields.extract(engine_->layouts_[static_cast<size_t>(st.layout)], root, st.gather_keywords);

  // Every literal of a database over one value: whole-value literals by hash lookup, the rest
  // in one Hyperscan scan, the few Hyperscan refused on RE2.
  auto scan = [&](const Engine::Impl::Db& d, std::string_view text) {
    if (text.size() <= d.exact_max &&
        (d.exact_lengths >> std::min<size_t>(text.size(), 63) & 1) != 0) {
      if (const auto* pats = d.exact_cs_table.find(text)) {
        for (auto pi : *pats) st.mark(pi);
      }
      if (const auto* pats = d.exact_ci_table.find(text)) {
        for (auto pi : *pats) st.mark(pi);
      }
    }
    if (d.suffix_max) {
      const char* const begin = text.data();
      const char* const end = begin + text.size();
      const char* p = text.size() > d.suffix_max ? end - d.suffix_max : begin;
      while ((p = static_cast<const char*>(std::memchr(p, '\\', static_cast<size_t>(end - p))))) {
        const std::string_view tail(p, static_cast<size_t>(end - p));
        if ((d.suffix_lengths >> std::min<size_t>(tail.size(), 63) & 1) != 0) {
          if (const auto* pats = d.suffix_cs_table.find(tail)) {
            for (auto pi : *pats) st.mark(pi);
          }
          if (const auto* pats = d.suffix_ci_table.find(tail)) {
            for (auto pi : *pats) st.mark(pi);
          }
        }
        ++p;
      }
    }
    if (!d.direct.empty() && text.size() <= kDirectScanBytes) {
      std::string_view lowered;
      for (auto pi : d.direct) {
        if (st.hit[pi]) continue;
        const DirectPattern& dp = impl.patterns[pi].direct;
        if ((dp.kind == DirectPattern::Kind::kContains || dp.kind == DirectPattern::Kind::kGlob) &&
            dp.caseless && lowered.empty()) {
          lowered = lowerInto(st.lower_buf, text);
        }
        if (directHit(dp, text, lowered)) st.mark(pi);
      }
    } else if (d.db && st.scratch && text.size() >= d.min_len) {
      st.db_ids = &d.ids;
      hs_scan(d.db, text.data(), static_cast<unsigned>(text.size()), 0, st.scratch, onMatch, &st);
    }
    for (auto pi : d.fallback) {
      if (!st.hit[pi] && RE2::PartialMatch(text, *impl.patterns[pi].fallback)) st.mark(pi);
    }
  };
  auto scanSlot = [&](std::uint32_t group, std::uint32_t s) {
    const std::int32_t di = impl.group_dbs[group * impl.group_stride + s];
    if (di < 0) return;
    const auto& d = impl.dbs[static_cast<size_t>(di)];
    for (const auto& v : st.fields.values(s)) {
      if (v.kind != ValueKind::kNull && v.kind != ValueKind::kObject) scan(d, v.text);
    }
  };
  if (++st.epoch == 0) {
    std::fill(st.rule_stamp.begin(), st.rule_stamp.end(), 0);
    std::fill(st.ls_stamp.begin(), st.ls_stamp.end(), 0);
    std::fill(st.db_stamp.begin(), st.db_stamp.end(), 0);
    std::fill(st.db_tests.begin(), st.db_tests.end(), 0);
    std::fill(st.lower.stamp.begin(), st.lower.stamp.end(), 0);
    st.epoch = 1;
  }
  auto scanLazy = [&](std::int32_t di) {
    const auto& d = impl.dbs[static_cast<size_t>(di)];
    for (const auto& v : st.fields.values(impl.db_slot[static_cast<size_t>(di)])) {
      if (v.kind != ValueKind::kNull && v.kind != ValueKind::kObject) scan(d, v.text);
    }
  };
  Evaluator eval(
      impl, st.fields, st.hit.data(), st.db_stamp.data(), st.db_tests.data(), st.epoch,
      [](void* ctx, std::int32_t db) { (*static_cast<decltype(scanLazy)*>(ctx))(db); }, &scanLazy,
      &st.lower);
  if (!impl.group_keywords.empty() && impl.group_keywords[kGroupLogsource]) {
    st.fields.collectKeywordValues();
  }

  // 1. Route: the literals of the logsource conditions (Channel, EventID ...), then the
  // conditions those hits may make true, and those no literal guards.
  // Events of one kind (same Channel, EventID, provider ...) are routed alike: the decision
  // is cached per thread by the values the logsource conditions read (kind, length and text of
  // each value of each such field).
  st.active.clear();
  st.active.push_back(kGroupAny);
  const std::vector<std::uint32_t>* cached_route = nullptr;
  std::uint64_t route_hash = 0;
  if (impl.route_cacheable) {
    route_hash = routeHash(impl.route_slots, st.fields);
    if (auto it = st.route_cache.find(route_hash);
        it != st.route_cache.end() && sameRoute(it->second, impl.route_slots, st.fields)) {
      cached_route = &it->second.logsources;
    }
  }
  if (cached_route) {
    for (const auto l : *cached_route) {
      st.ls_stamp[l] = st.epoch;
      st.ls_value[l] = 1;
      st.active.push_back(kGroupFirstLogsource + l);
    }
  } else {
    for (const std::uint32_t s : impl.logsource_slots) {
      if (st.fields.present(s)) scanSlot(kGroupLogsource, s);
    }
    auto routeTo = [&](std::uint32_t l) {
      if (st.ls_stamp[l] == st.epoch) return;
      st.ls_stamp[l] = st.epoch;
      st.ls_value[l] = eval.node(impl.logsource_roots[l]) ? 1 : 0;
      if (st.ls_value[l]) st.active.push_back(kGroupFirstLogsource + l);
    };
    for (auto p : st.hit_list) {
      for (auto i = impl.ls_trigger_offsets[p]; i < impl.ls_trigger_offsets[p + 1]; ++i) {
        routeTo(impl.ls_trigger_rules[i]);
      }
    }
    for (auto l : impl.ls_always) routeTo(l);
    if (impl.route_cacheable && st.route_cache.size() < kRouteCacheSize &&
        !st.route_cache.contains(route_hash)) {  // a colliding hash keeps the first route
      auto& route = st.route_cache[route_hash];
      keepRoute(route, impl.route_slots, st.fields);
      for (size_t i = 1; i < st.active.size(); ++i) {
        route.logsources.push_back(st.active[i] - kGroupFirstLogsource);
      }
    }
  }
  const size_t routing_hits = st.hit_list.size();

  // 2. One scan per present field and active group of all the literals the group's rules have
  // on that field: only the fields present in the event, only the rules it is routed to.
  const auto nfields = static_cast<std::uint32_t>(engine_->fields_.size());
  bool keywords = false;
  for (auto g : st.active) keywords |= impl.group_keywords[g] != 0;
  st.gather_keywords = keywords || impl.group_keywords[kGroupLogsource] != 0;
  for (const std::uint32_t s : st.fields.presentSlots()) {
    for (auto g : st.active) scanSlot(g, s);
  }
  if (keywords) {
    st.fields.collectKeywordValues();
    st.keywords.clear();
    st.nul_keywords.clear();
    for (auto t : st.fields.keywordValues()) {
      if (t.find('\0') != std::string_view::npos) {
        st.nul_keywords.push_back(t);  // a NUL inside a value: scanned alone
      } else {
        st.keywords.append(t);
        st.keywords += '\0';
      }
    }
    for (auto g : st.active) {
      const std::int32_t di = impl.group_dbs[g * impl.group_stride + nfields];
      if (di < 0) continue;
      const auto& d = impl.dbs[static_cast<size_t>(di)];
      for (auto t : st.nul_keywords) scan(d, t);
      if (!st.keywords.empty()) scan(d, st.keywords);
    }
  }

  // 3. Candidate rules: those a hit literal may make true, and those no literal guards.
  st.candidates.clear();
  for (size_t h = routing_hits; h < st.hit_list.size(); ++h) {
    const auto p = st.hit_list[h];
    for (auto i = impl.trigger_offsets[p]; i < impl.trigger_offsets[p + 1]; ++i) {
      const auto r = impl.trigger_rules[i];
      if (st.rule_stamp[r] != st.epoch) {
        st.rule_stamp[r] = st.epoch;
        st.candidates.push_back(r);
      }
    }
  }
  for (auto g : st.active) {
    st.candidates.insert(st.candidates.end(), impl.always_rules[g].begin(),
                         impl.always_rules[g].end());
  }
  std::sort(st.candidates.begin(), st.candidates.end());

  for (auto r : st.candidates) {
    const auto [root, logsource] = impl.rule_eval[r];
    if (logsource >= 0) {
      const auto ls = static_cast<size_t>(logsource);
      if (st.ls_stamp[ls] != st.epoch || !st.ls_value[ls]) continue;
    }
    if (const auto gs = impl.gate_slot[r]; gs >= 0) {
      if (gs != st.gate_slot) {
        st.gate_slot = gs;
        st.gate_numbers.clear();
        for (const auto& v : st.fields.values(static_cast<std::uint32_t>(gs))) {
          if (v.kind != ValueKind::kNull && v.kind != ValueKind::kObject) {
            st.gate_numbers.push_back(gateNumber(v.text));
          }
        }
      }
      bool open = false;
      for (auto i = impl.gate_offsets[r]; i < impl.gate_offsets[r + 1] && !open; ++i) {
        for (const auto n : st.gate_numbers) open |= n == impl.gate_values[i];
      }
      if (!open) continue;
    }
    ++stats_.rules_evaluated;
    if (eval.node(root)) matches.push_back(r);
  }
  return {};
}

const FieldMap* Matcher::fieldMap() const {
  return state_->layout < 0 ? nullptr
                            : &engine_->layouts_[static_cast<size_t>(state_->layout)].map();
}

std::string_view Matcher::fieldText(std::int32_t slot) const {
  if (slot < 0) return {};
  return state_->fields.text(static_cast<std::uint32_t>(slot));
}

std::string_view Matcher::fieldText(std::string_view field) const {
  return fieldText(engine_->slotOf(field));
}

std::string_view Matcher::host() const {
  if (state_->layout < 0) return {};
  return fieldText(engine_->impl_->layout_slots[static_cast<size_t>(state_->layout)].host);
}

std::string_view Matcher::user() const {
  if (state_->layout < 0) return {};
  for (auto s : engine_->impl_->layout_slots[static_cast<size_t>(state_->layout)].users) {
    const auto t = fieldText(s);
    if (!t.empty() && t != "-") return t;
  }
  return {};
}

core::TimeMs Matcher::time() const {
  return parseEventTime(state_->fields.text(engine_->timestamp_slot_));
}

core::TimeMs parseEventTime(std::string_view t) {
  t = core::trim(t);
  if (t.empty()) return 0;
  if (std::all_of(t.begin(), t.end(),
                  [](char c) { return std::isdigit(static_cast<unsigned char>(c)); })) {
    std::int64_t v = 0;
    std::from_chars(t.data(), t.data() + t.size(), v);
    return v > 100'000'000'000 ? v : v * 1000;
  }
  auto num = [&](size_t pos, size_t len, int& out) {
    if (pos + len > t.size()) return false;
    auto [p, ec] = std::from_chars(t.data() + pos, t.data() + pos + len, out);
    return ec == std::errc() && p == t.data() + pos + len;
  };
  int y, mo, d, h = 0, mi = 0, s = 0;
  if (!num(0, 4, y) || t.size() < 10 || t[4] != '-' || !num(5, 2, mo) || t[7] != '-' ||
      !num(8, 2, d)) {
    return 0;
  }
  size_t i = 10;
  std::int64_t ms = 0;
  if (i < t.size() && (t[i] == 'T' || t[i] == ' ')) {
    if (!num(i + 1, 2, h) || !num(i + 4, 2, mi) || !num(i + 7, 2, s)) return 0;
    i += 9;
    if (i < t.size() && t[i] == '.') {
      ++i;
      int digits = 0;
      while (i < t.size() && std::isdigit(static_cast<unsigned char>(t[i]))) {
        if (digits < 3) ms = ms * 10 + (t[i] - '0');
        ++digits;
        ++i;
      }
      while (digits < 3) {
        ms *= 10;
        ++digits;
      }
    }
  }
  std::int64_t offset_min = 0;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) {
    int oh = 0, om = 0;
    if (num(i + 1, 2, oh)) {
      if (i + 3 < t.size() && t[i + 3] == ':') num(i + 4, 2, om);
      offset_min = (oh * 60 + om) * (t[i] == '-' ? -1 : 1);
    }
  }
  // Days from civil (Howard Hinnant's algorithm).
  y -= mo <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + static_cast<unsigned>(d) - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const std::int64_t days = era * 146097 + static_cast<std::int64_t>(doe) - 719468;
  return ((days * 24 + h) * 60 + mi - offset_min) * 60'000 + s * 1000 + ms;
}

core::Detection makeDetection(const Matcher& matcher, std::uint32_t rule, std::string_view json) {
  const RuleInfo& info = matcher.engine().rule(rule);
  core::Detection d;
  d.name = info.title.substr(0, core::kMaxNameLength);
  d.source = std::string(core::source::kRule);
  d.rule_id = info.id.substr(0, core::kMaxShortText);
  d.severity = info.severity;
  d.score = info.score;
  d.tags = info.techniques;
  if (d.tags.size() > core::kMaxTags) d.tags.resize(core::kMaxTags);
  const std::string host(matcher.host().substr(0, core::kMaxShortText));
  const std::string user(matcher.user().substr(0, core::kMaxShortText));
  d.host = host;
  if (!host.empty()) {
    d.entity = {"host", host};
  } else if (!user.empty()) {
    d.entity = {"user", user};
  }
  if (json.size() <= core::kMaxEvidenceBytes) {
    d.evidence_json = std::string(json);
  } else {
    d.evidence_json = "{\"truncated\":true,\"bytes\":" + std::to_string(json.size()) + "}";
  }
  d.seen_at = matcher.time();
  return d;
}

}  // namespace td::detect
