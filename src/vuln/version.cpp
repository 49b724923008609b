// Each ecosystem's order is written from its reference implementation's documented behaviour;
// where the references disagree with their own specifications (Maven's treatment of "sp", apk's
// suffix padding, Composer's special words) the reference tool wins, because advisories are
// written against what the package manager actually installs.
#include "vuln/version.h"

#include <re2/re2.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/text.h"

namespace td::vuln {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool allDigits(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), isDigit);
}

int sign(int v) { return v < 0 ? -1 : (v > 0 ? 1 : 0); }

// Compares two digit strings as unbounded integers (versions carry numbers far beyond 64 bits,
// e.g. timestamps glued together).
int compareNumeric(std::string_view a, std::string_view b) {
  while (a.size() > 1 && a.front() == '0') a.remove_prefix(1);
  while (b.size() > 1 && b.front() == '0') b.remove_prefix(1);
  if (a.empty()) a = "0";
  if (b.empty()) b = "0";
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return sign(a.compare(b));
}

std::string stripZeros(std::string_view s) {
  while (s.size() > 1 && s.front() == '0') s.remove_prefix(1);
  return std::string(s);
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      out.push_back(s.substr(start));
      return out;
    }
    out.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

// ---------------------------------------------------------------------------------------------
// SemVer-like: numeric components (any count is parsed; the ecosystem keeps the first N), then a
// "build" tail holding everything from the first character that is neither digit nor dot.
struct SemverLike {
  std::vector<std::string> components;
  std::string build;
};

SemverLike parseSemverLike(std::string_view s, size_t max_components) {
  SemverLike v;
  if (!s.empty() && s.front() == 'v') s.remove_prefix(1);
  std::string current;
  bool found_build = false;
  for (char c : s) {
    if (found_build || isDigit(c)) {
      current += c;
      continue;
    }
    if (!current.empty()) {
      v.components.push_back(stripZeros(current));
      current.clear();
    }
    if (c == '.') continue;
    found_build = true;
    current = c;
  }
  if (found_build) {
    v.build = std::move(current);
  } else if (!current.empty()) {
    v.components.push_back(stripZeros(current));
  }
  if (v.components.size() > max_components) {
    // Components past the ecosystem's count belong to the build tail, as node-semver treats
    // "1.2.3.4" (the fourth number is not a version component).
    for (size_t i = max_components; i < v.components.size(); ++i) v.build += "." + v.components[i];
    v.components.resize(max_components);
  }
  return v;
}

int compareComponentLists(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  size_t n = std::max(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    std::string_view x = i < a.size() ? std::string_view(a[i]) : "0";
    std::string_view y = i < b.size() ? std::string_view(b[i]) : "0";
    if (int c = compareNumeric(x, y)) return c;
  }
  return 0;
}

// SemVer 2.0 precedence of the pre-release identifiers (spec item 11).
int comparePrereleaseIdentifiers(const std::vector<std::string_view>& a,
                                 const std::vector<std::string_view>& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    bool an = allDigits(a[i]);
    bool bn = allDigits(b[i]);
    int c;
    if (an && bn) {
      c = compareNumeric(a[i], b[i]);
    } else if (!an && !bn) {
      c = sign(a[i].compare(b[i]));
    } else {
      c = an ? -1 : 1;
    }
    if (c) return c;
  }
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  return 0;
}

int compareSemverTails(std::string_view a, std::string_view b) {
  a = a.substr(0, a.find('+'));
  b = b.substr(0, b.find('+'));
  if (!a.empty() && a.front() == '-') a.remove_prefix(1);
  if (!b.empty() && b.front() == '-') b.remove_prefix(1);
  if (a.empty() && !b.empty()) return 1;  // a release is newer than its pre-releases
  if (!a.empty() && b.empty()) return -1;
  return comparePrereleaseIdentifiers(split(a, '.'), split(b, '.'));
}

int compareSemver(std::string_view a, std::string_view b) {
  SemverLike x = parseSemverLike(a, 3);
  SemverLike y = parseSemverLike(b, 3);
  if (int c = compareComponentLists(x.components, y.components)) return c;
  return compareSemverTails(x.build, y.build);
}

// Pub orders build metadata too (pub_semver: 1.0.0+1 < 1.0.0+2).
int comparePub(std::string_view a, std::string_view b) {
  SemverLike x = parseSemverLike(a, 3);
  SemverLike y = parseSemverLike(b, 3);
  if (int c = compareComponentLists(x.components, y.components)) return c;
  if (int c = compareSemverTails(x.build, y.build)) return c;
  auto buildOf = [](std::string_view s) {
    size_t p = s.find('+');
    return p == std::string_view::npos ? std::string_view() : s.substr(p + 1);
  };
  return sign(buildOf(x.build).compare(buildOf(y.build)));
}

// NuGet: four numeric components, case-insensitive pre-release labels.
int compareNuGet(std::string_view a, std::string_view b) {
  SemverLike x = parseSemverLike(a, 4);
  SemverLike y = parseSemverLike(b, 4);
  if (int c = compareComponentLists(x.components, y.components)) return c;
  return compareSemverTails(core::toLower(x.build), core::toLower(y.build));
}

// ---------------------------------------------------------------------------------------------
// PEP 440, with the pre-PEP 440 ("legacy") scheme of setuptools for strings it does not accept;
// legacy versions sort before every PEP 440 version, as pip's packaging did.
struct LetterNumber {
  char letter = 0;  // 'a', 'b', 'r' (rc) for pre-releases; 'p' for post; 'd' for dev
  bool present = false;
  std::string number;
};

struct PypiVersion {
  bool legacy = false;
  std::string legacy_key;
  std::string epoch = "0";
  std::vector<std::string> release;
  LetterNumber pre, post, dev;
  std::vector<std::string> local;
};

const RE2& pep440Regex() {
  static const RE2 re(
      R"(^\s*v?(?:(?:([0-9]+)!)?([0-9]+(?:\.[0-9]+)*)([-_\.]?(a|b|c|rc|alpha|beta|pre|preview)[-_\.]?([0-9]+)?)?((?:-([0-9]+))|(?:[-_\.]?(post|rev|r)[-_\.]?([0-9]+)?))?([-_\.]?(dev)[-_\.]?([0-9]+)?)?)(?:\+([a-z0-9]+(?:[-_\.][a-z0-9]+)*))?\s*$)");
  return re;
}

LetterNumber letterNumber(std::string_view letter, std::string_view number) {
  LetterNumber out;
  if (!letter.empty()) {
    out.present = true;
    out.number = number.empty() ? "0" : std::string(number);
    if (letter == "alpha" || letter == "a") {
      out.letter = 'a';
    } else if (letter == "beta" || letter == "b") {
      out.letter = 'b';
    } else if (letter == "c" || letter == "pre" || letter == "preview" || letter == "rc") {
      out.letter = 'r';
    } else if (letter == "rev" || letter == "r" || letter == "post") {
      out.letter = 'p';
    } else {
      out.letter = letter.front();
    }
  } else if (!number.empty()) {
    out.present = true;  // "1.0-1" is the implicit post-release syntax
    out.letter = 'p';
    out.number = std::string(number);
  }
  return out;
}

std::string pypiLegacyKey(const std::string& lower) {
  std::vector<std::string> parts;
  size_t i = 0;
  auto push = [&](std::string part) {
    if (part == "pre" || part == "preview" || part == "rc") {
      part = "c";
    } else if (part == "-") {
      part = "final-";
    } else if (part == "dev") {
      part = "@";
    }
    if (isDigit(part.front())) {
      if (part.size() < 8) part = std::string(8 - part.size(), '0') + part;
    } else {
      part = "*" + part;
    }
    if (part.front() == '*') {
      if (part < "*final") {
        while (!parts.empty() && parts.back() == "*final-") parts.pop_back();
      }
      while (!parts.empty() && parts.back() == "00000000") parts.pop_back();
    }
    parts.push_back(std::move(part));
  };
  while (i < lower.size()) {
    char c = lower[i];
    if (isDigit(c)) {
      size_t j = i;
      while (j < lower.size() && isDigit(lower[j])) ++j;
      push(lower.substr(i, j - i));
      i = j;
    } else if (c >= 'a' && c <= 'z') {
      size_t j = i;
      while (j < lower.size() && lower[j] >= 'a' && lower[j] <= 'z') ++j;
      push(lower.substr(i, j - i));
      i = j;
    } else if (c == '-') {
      push("-");
      ++i;
    } else {
      ++i;  // "." and anything else only separate
    }
  }
  push("final");
  std::string key;
  for (const auto& p : parts) key += p;
  return key;
}

PypiVersion parsePypi(std::string_view text) {
  PypiVersion v;
  std::string lower = core::toLower(text);
  std::string epoch, release, pre_l, pre_n, post_n1, post_l, post_n2, dev_l, dev_n, local;
  re2::StringPiece skip;
  if (!RE2::FullMatch(lower, pep440Regex(), &epoch, &release, &skip, &pre_l, &pre_n, &skip,
                      &post_n1, &post_l, &post_n2, &skip, &dev_l, &dev_n, &local)) {
    v.legacy = true;
    v.legacy_key = pypiLegacyKey(lower);
    return v;
  }
  if (!epoch.empty()) v.epoch = stripZeros(epoch);
  for (auto part : split(release, '.')) v.release.push_back(stripZeros(part));
  v.pre = letterNumber(pre_l, pre_n);
  v.post = letterNumber(post_l, post_n1.empty() ? post_n2 : post_n1);
  v.dev = letterNumber(dev_l, dev_n);
  if (!local.empty()) {
    std::string_view rest = local;
    size_t start = 0;
    for (size_t i = 0; i <= rest.size(); ++i) {
      if (i == rest.size() || rest[i] == '.' || rest[i] == '-' || rest[i] == '_') {
        v.local.emplace_back(rest.substr(start, i - start));
        start = i + 1;
      }
    }
  }
  return v;
}

int comparePypiParsed(const PypiVersion& x, const PypiVersion& y) {
  if (x.legacy || y.legacy) {
    if (!x.legacy) return 1;
    if (!y.legacy) return -1;
    return sign(x.legacy_key.compare(y.legacy_key));
  }
  if (int c = compareNumeric(x.epoch, y.epoch)) return c;
  if (int c = compareComponentLists(x.release, y.release)) return c;
  // A bare dev release (1.0.dev0) sorts before the pre-releases of its release.
  auto devOnly = [](const PypiVersion& v) {
    return !v.pre.present && !v.post.present && v.dev.present;
  };
  bool xd = devOnly(x), yd = devOnly(y);
  if (xd || yd) {
    if (!(xd && yd)) return xd ? -1 : 1;
  } else if (x.pre.present != y.pre.present) {
    return x.pre.present ? -1 : 1;
  } else if (x.pre.present) {
    if (x.pre.letter != y.pre.letter) return x.pre.letter < y.pre.letter ? -1 : 1;
    if (int c = compareNumeric(x.pre.number, y.pre.number)) return c;
  }
  if (x.post.present != y.post.present) return x.post.present ? 1 : -1;
  if (x.post.present) {
    if (int c = compareNumeric(x.post.number, y.post.number)) return c;
  }
  if (x.dev.present != y.dev.present) return x.dev.present ? -1 : 1;
  if (x.dev.present) {
    if (int c = compareNumeric(x.dev.number, y.dev.number)) return c;
  }
  size_t n = std::min(x.local.size(), y.local.size());
  for (size_t i = 0; i < n; ++i) {
    bool an = allDigits(x.local[i]), bn = allDigits(y.local[i]);
    int c;
    if (an && bn) {
      c = compareNumeric(x.local[i], y.local[i]);
    } else if (!an && !bn) {
      c = sign(x.local[i].compare(y.local[i]));
    } else {
      c = an ? 1 : -1;  // a numeric local segment is newer than a lexical one
    }
    if (c) return c;
  }
  if (x.local.size() != y.local.size()) return x.local.size() < y.local.size() ? -1 : 1;
  return 0;
}

int comparePypi(std::string_view a, std::string_view b) {
  return comparePypiParsed(parsePypi(a), parsePypi(b));
}

// ---------------------------------------------------------------------------------------------
// Maven ComparableVersion: tokens split at "." and "-" and at digit/letter transitions, each
// remembering the separator before it, since ".1" and "-1" and ".alpha" order differently.
struct MavenToken {
  char prefix = 0;  // 0 (first token), '.' or '-'
  std::string value;
  bool is_null = false;
};

bool mavenIsNumber(const std::string& v) { return allDigits(v); }

std::vector<MavenToken> parseMaven(std::string_view text) {
  std::vector<MavenToken> tokens;
  size_t start = 0;
  char prefix = 0;
  while (start <= text.size()) {
    size_t end = text.find_first_of(".-", start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view raw = text.substr(start, end - start);
    // Split the raw token at digit/non-digit transitions; later pieces take the "-" separator.
    std::vector<size_t> cuts;
    for (size_t i = 1; i < raw.size(); ++i) {
      if (isDigit(raw[i]) != isDigit(raw[i - 1])) cuts.push_back(i);
    }
    cuts.push_back(raw.size());
    size_t prev = 0;
    for (size_t j = 0; j < cuts.size(); ++j) {
      char p = j > 0 ? '-' : prefix;
      std::string current = core::toLower(raw.substr(prev, cuts[j] - prev));
      if (current.empty()) current = "0";
      if (current == "cr") current = "rc";
      if (current == "ga" || current == "final" || current == "release") current.clear();
      if (cuts[j] != raw.size()) {  // "a1", "b2", "m3" abbreviate alpha, beta, milestone
        if (current == "a") current = "alpha";
        if (current == "b") current = "beta";
        if (current == "m") current = "milestone";
      }
      if (mavenIsNumber(current)) current = stripZeros(current);
      tokens.push_back(MavenToken{p, std::move(current), false});
      prev = cuts[j];
    }
    if (end == text.size()) break;
    prefix = text[end];
    start = end + 1;
  }
  // Trim trailing "null" values (0, "", final, ga), then repeat before each remaining hyphen.
  auto trimmable = [](const MavenToken& t) {
    return t.value == "0" || t.value.empty() || t.value == "final" || t.value == "ga";
  };
  long i = static_cast<long>(tokens.size()) - 1;
  while (i > 0) {
    if (trimmable(tokens[i])) {
      tokens.erase(tokens.begin() + i);
      --i;
      continue;
    }
    while (i >= 0 && tokens[i].prefix != '-') --i;
    --i;
  }
  return tokens;
}

int mavenKeywordOrder(const std::string& v) {
  static const char* kOrder[] = {"alpha", "beta", "milestone", "rc", "snapshot", "", "sp"};
  for (int i = 0; i < 7; ++i) {
    if (v == kOrder[i]) return i;
  }
  return 7;
}

int mavenPrefixOrder(const MavenToken& t) {
  char p = t.prefix == '-' ? '-' : '.';
  if (mavenIsNumber(t.value)) return p == '-' ? 2 : 3;
  return p == '-' ? 1 : 0;
}

bool mavenLess(const MavenToken& v, const MavenToken& w) {
  if (v.prefix == w.prefix) {
    bool vn = mavenIsNumber(v.value), wn = mavenIsNumber(w.value);
    if (vn && wn) return compareNumeric(v.value, w.value) < 0;
    // Numbers sort after qualifiers, unless the number is padding.
    if (vn && !v.is_null) return false;
    if (wn && !w.is_null) return true;
    int l = mavenKeywordOrder(v.value), r = mavenKeywordOrder(w.value);
    if (l == 7 && r == 7) return v.value < w.value;
    return l < r;
  }
  // ".qualifier" < "-qualifier" < "-number" < ".number"
  return mavenPrefixOrder(v) < mavenPrefixOrder(w);
}

MavenToken mavenPadding(const MavenToken& other) {
  if (other.prefix == '-') return MavenToken{'-', "", true};
  // "sp" is the one qualifier newer than a release, so padding against it must be "".
  return MavenToken{'.', other.value == "sp" ? "" : "0", true};
}

int compareMaven(std::string_view a, std::string_view b) {
  std::vector<MavenToken> x = parseMaven(a), y = parseMaven(b);
  size_t n = std::max(x.size(), y.size());
  for (size_t i = 0; i < n; ++i) {
    MavenToken l = i < x.size() ? x[i] : mavenPadding(y[i]);
    MavenToken r = i < y.size() ? y[i] : mavenPadding(x[i]);
    if (l.prefix == r.prefix && l.value == r.value) continue;
    return mavenLess(l, r) ? -1 : 1;
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// RubyGems: segments split at dots and digit/letter transitions; a letter segment starts the
// pre-release part; trailing zeros of both parts are ignored; numbers beat letters.
std::vector<std::string> rubySegments(std::string_view text) {
  std::string canon;
  bool check_previous = false, previous_was_digit = true;
  for (char c : text) {
    if (c == '.') {
      check_previous = false;
      canon += '.';
      continue;
    }
    bool d = isDigit(c);
    if (check_previous && previous_was_digit != d) canon += '.';
    canon += c;
    previous_was_digit = d;
    check_previous = true;
  }
  std::vector<std::string> numbers, build;
  for (auto seg : split(canon, '.')) {
    if (!build.empty() || !allDigits(seg)) {
      build.emplace_back(seg);
    } else {
      numbers.emplace_back(seg);
    }
  }
  auto dropZeros = [](std::vector<std::string>& v) {
    while (!v.empty() && v.back() == "0") v.pop_back();
  };
  dropZeros(numbers);
  dropZeros(build);
  numbers.insert(numbers.end(), build.begin(), build.end());
  return numbers;
}

int compareRubyGems(std::string_view a, std::string_view b) {
  std::vector<std::string> x = rubySegments(a), y = rubySegments(b);
  size_t n = std::max(x.size(), y.size());
  for (size_t i = 0; i < n; ++i) {
    std::string_view l = i < x.size() ? std::string_view(x[i]) : "0";
    std::string_view r = i < y.size() ? std::string_view(y[i]) : "0";
    bool ln = allDigits(l), rn = allDigits(r);
    if (ln && rn) {
      if (int c = compareNumeric(l, r)) return c;
    } else if (!ln && !rn) {
      if (int c = sign(l.compare(r))) return c;
    } else {
      return ln ? 1 : -1;
    }
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Composer (PHP version_compare after Composer's normalisation).
std::vector<std::string> packagistComponents(std::string_view text) {
  if (!text.empty() && text.front() == 'v') text.remove_prefix(1);
  if (!text.empty() && text.front() == 'V') text.remove_prefix(1);
  std::string canon;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '-' || c == '_' || c == '+') c = '.';
    if (!canon.empty()) {
      char p = canon.back();
      bool pd = isDigit(p), cd = isDigit(c);
      if ((pd && !cd && c != '.') || (!pd && p != '.' && cd)) canon += '.';
    }
    canon += c;
  }
  std::vector<std::string> out;
  for (auto s : split(canon, '.')) out.emplace_back(s);
  return out;
}

int packagistWeight(std::string_view s) {
  if (s.substr(0, 2) == "RC") return 3;
  static const char* kSpecials[] = {"dev", "a", "b", "rc", "#", "p"};
  for (int i = 0; i < 6; ++i) {
    if (s.substr(0, std::char_traits<char>::length(kSpecials[i])) == kSpecials[i]) return i;
  }
  return 0;
}

// Composer parses components with PHP's integer parsing; only integers that fit count.
bool packagistIsInt(std::string_view s) { return allDigits(s) && s.size() <= 18; }

int comparePackagistComponents(const std::vector<std::string>& a,
                               const std::vector<std::string>& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    bool an = allDigits(a[i]), bn = allDigits(b[i]);
    int c;
    if (an && bn) {
      c = compareNumeric(a[i], b[i]);
    } else if (!an && !bn) {
      c = sign(packagistWeight(a[i]) - packagistWeight(b[i]));
    } else if (an) {
      c = sign(packagistWeight("#") - packagistWeight(b[i]));
    } else {
      c = sign(packagistWeight(a[i]) - packagistWeight("#"));
    }
    if (c) return c;
  }
  if (a.size() > b.size()) {
    if (packagistIsInt(a[b.size()])) return 1;
    return comparePackagistComponents(std::vector<std::string>(a.begin() + b.size(), a.end()),
                                      {"#"});
  }
  if (a.size() < b.size()) {
    if (packagistIsInt(b[a.size()])) return -1;
    return comparePackagistComponents({"#"},
                                      std::vector<std::string>(b.begin() + a.size(), b.end()));
  }
  return 0;
}

int comparePackagist(std::string_view a, std::string_view b) {
  return comparePackagistComponents(packagistComponents(a), packagistComponents(b));
}

// ---------------------------------------------------------------------------------------------
// dpkg: epoch, then upstream and revision each compared by alternating non-digit and digit runs;
// "~" sorts before everything, even the end of the string; letters before other characters.
int debianCharWeight(int c) {
  if (c == '~') return 1;
  if (c == 0) return 2;
  if (!isLetter(static_cast<char>(c))) c += 122;
  return c;
}

int compareDebianPart(std::string_view a, std::string_view b) {
  while (!a.empty() || !b.empty()) {
    size_t an = 0, bn = 0;
    while (an < a.size() && !isDigit(a[an])) ++an;
    while (bn < b.size() && !isDigit(b[bn])) ++bn;
    std::string_view ap = a.substr(0, an), bp = b.substr(0, bn);
    a.remove_prefix(an);
    b.remove_prefix(bn);
    if (ap != bp) {
      size_t n = std::max(ap.size(), bp.size());
      for (size_t i = 0; i < n; ++i) {
        int aw = debianCharWeight(i < ap.size() ? static_cast<unsigned char>(ap[i]) : 0);
        int bw = debianCharWeight(i < bp.size() ? static_cast<unsigned char>(bp[i]) : 0);
        if (aw != bw) return aw < bw ? -1 : 1;
      }
    }
    size_t ad = 0, bd = 0;
    while (ad < a.size() && isDigit(a[ad])) ++ad;
    while (bd < b.size() && isDigit(b[bd])) ++bd;
    int c = compareNumeric(a.substr(0, ad), b.substr(0, bd));
    a.remove_prefix(ad);
    b.remove_prefix(bd);
    if (c) return c;
  }
  return 0;
}

struct DebianVersion {
  bool valid = true;
  std::string_view epoch = "0", upstream, revision = "0";
};

DebianVersion parseDebian(std::string_view s) {
  DebianVersion v;
  s = core::trim(s);
  size_t colon = s.find(':');
  if (colon != std::string_view::npos) {
    v.epoch = s.substr(0, colon);
    if (!allDigits(v.epoch)) v.valid = false;
    s = s.substr(colon + 1);
  }
  size_t dash = s.rfind('-');
  if (dash != std::string_view::npos) {
    v.upstream = s.substr(0, dash);
    v.revision = s.substr(dash + 1);
  } else {
    v.upstream = s;
  }
  return v;
}

int compareDebian(std::string_view a, std::string_view b) {
  DebianVersion x = parseDebian(a), y = parseDebian(b);
  if (!x.valid || !y.valid) {
    // A non-numeric epoch is not a dpkg version; order it before valid ones, bytes otherwise.
    if (x.valid != y.valid) return x.valid ? 1 : -1;
    return sign(a.compare(b));
  }
  if (int c = compareNumeric(x.epoch, y.epoch)) return c;
  if (int c = compareDebianPart(x.upstream, y.upstream)) return c;
  return compareDebianPart(x.revision, y.revision);
}

// ---------------------------------------------------------------------------------------------
// apk: number{.number}...{letter}{_suffix{number}}...{~hash}{-r#}
struct AlpineSuffix {
  int weight = 5;
  std::string number = "0";
};

struct AlpineVersion {
  std::string_view original;
  bool invalid = false;
  std::vector<std::string_view> components;
  char letter = 0;
  std::vector<AlpineSuffix> suffixes;
  std::string build = "0";
  std::string_view remainder;
};

int alpineSuffixWeight(std::string_view s) {
  static const char* kSupported[] = {"alpha", "beta", "pre", "rc", "", "cvs", "svn", "git", "hg"};
  for (int i = 0; i < 9; ++i) {
    if (s == kSupported[i]) return i;
  }
  return 9;  // "p", the newest
}

AlpineVersion parseAlpine(std::string_view s) {
  AlpineVersion v;
  v.original = s;
  // Number components: ((\d+)\.?)*
  size_t i = 0;
  while (i < s.size() && isDigit(s[i])) {
    size_t j = i;
    while (j < s.size() && isDigit(s[j])) ++j;
    v.components.push_back(s.substr(i, j - i));
    i = j;
    if (i < s.size() && s[i] == '.') {
      ++i;
      if (i >= s.size() || !isDigit(s[i])) {
        v.components.push_back("");  // a trailing dot leaves an empty component
        break;
      }
    }
  }
  s.remove_prefix(i);
  if (!s.empty() && s.front() >= 'a' && s.front() <= 'z') {
    v.letter = s.front();
    s.remove_prefix(1);
  }
  // Suffixes: every "_name{digits}" anywhere in the rest counts; only those at the front are
  // consumed, as apk-tools' reference parser in osv-scalibr does.
  static const char* kNames[] = {"alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"};
  std::string_view scan = s;
  size_t pos = 0;
  while ((pos = scan.find('_', pos)) != std::string_view::npos) {
    std::string_view after = scan.substr(pos + 1);
    const char* matched = nullptr;
    for (const char* name : kNames) {
      std::string_view n(name);
      if (after.substr(0, n.size()) == n) {
        matched = name;
        break;
      }
    }
    if (!matched) {
      ++pos;
      continue;
    }
    std::string_view n(matched);
    size_t j = pos + 1 + n.size();
    size_t k = j;
    while (k < scan.size() && isDigit(scan[k])) ++k;
    AlpineSuffix suffix;
    suffix.weight = alpineSuffixWeight(n);
    suffix.number = k > j ? std::string(scan.substr(j, k - j)) : "0";
    v.suffixes.push_back(suffix);
    std::string_view whole = scan.substr(pos, k - pos);
    if (s.substr(0, whole.size()) == whole) s.remove_prefix(whole.size());
    pos = k;
  }
  if (!s.empty() && s.front() == '~') {
    size_t j = 1;
    while (j < s.size() && ((s[j] >= '0' && s[j] <= '9') || (s[j] >= 'a' && s[j] <= 'f'))) ++j;
    if (j > 1) s.remove_prefix(j);
  }
  if (!s.empty()) {
    if (s.substr(0, 2) == "-r") {
      size_t j = 2;
      while (j < s.size() && isDigit(s[j])) ++j;
      v.build = j > 2 ? std::string(s.substr(2, j - 2)) : "0";
      s.remove_prefix(j);
    } else {
      v.invalid = true;
    }
  }
  v.remainder = s;
  return v;
}

int compareAlpine(std::string_view a, std::string_view b) {
  AlpineVersion x = parseAlpine(a), y = parseAlpine(b);
  if (x.invalid && y.invalid) return sign(a.compare(b));
  size_t n = std::max(x.components.size(), y.components.size());
  for (size_t i = 0; i < n; ++i) {
    std::string_view l = i < x.components.size() ? x.components[i] : "0";
    std::string_view r = i < y.components.size() ? y.components[i] : "0";
    bool padded = i >= x.components.size() || i >= y.components.size();
    int c;
    // After the first component a leading zero makes apk compare as a fraction (lexically);
    // padding for a missing component always compares as a number.
    bool zero_led = (!l.empty() && l.front() == '0') || (!r.empty() && r.front() == '0');
    if (i != 0 && !padded && zero_led) {
      c = sign(l.compare(r));
    } else {
      c = compareNumeric(l, r);
    }
    if (c) return c;
  }
  if (x.letter != y.letter) {
    if (!x.letter) return -1;
    if (!y.letter) return 1;
    return x.letter < y.letter ? -1 : 1;
  }
  size_t m = std::max(x.suffixes.size(), y.suffixes.size());
  for (size_t i = 0; i < m; ++i) {
    AlpineSuffix l = i < x.suffixes.size() ? x.suffixes[i] : AlpineSuffix{};
    AlpineSuffix r = i < y.suffixes.size() ? y.suffixes[i] : AlpineSuffix{};
    if (l.weight != r.weight) return l.weight < r.weight ? -1 : 1;
    if (int c = compareNumeric(l.number, r.number)) return c;
  }
  if (int c = compareNumeric(x.build, y.build)) return c;
  if (x.remainder.empty() != y.remainder.empty()) return x.remainder.empty() ? 1 : -1;
  return 0;
}

// ---------------------------------------------------------------------------------------------
// rpmvercmp over epoch, version and release.
bool rpmTrimmed(char c) { return !isLetter(c) && !isDigit(c) && c != '~' && c != '^'; }

int rpmvercmp(std::string_view a, std::string_view b) {
  if (a.empty() && !b.empty()) return -1;
  if (!a.empty() && b.empty()) return 1;
  size_t ai = 0, bi = 0;
  while (true) {
    while (ai < a.size() && rpmTrimmed(a[ai])) ++ai;
    while (bi < b.size() && rpmTrimmed(b[bi])) ++bi;
    bool at = ai < a.size() && a[ai] == '~', bt = bi < b.size() && b[bi] == '~';
    if (at && bt) {
      ++ai;
      ++bi;
      continue;
    }
    if (at) return -1;
    if (bt) return 1;
    bool ac = ai < a.size() && a[ai] == '^', bc = bi < b.size() && b[bi] == '^';
    if (ac && bc) {
      ++ai;
      ++bi;
      continue;
    }
    if (ac) return bi == b.size() ? 1 : -1;
    if (bc) return ai == a.size() ? -1 : 1;
    if (ai == a.size() || bi == b.size()) break;
    bool digit = isDigit(a[ai]);
    auto runOf = [digit](std::string_view s, size_t& i) {
      size_t start = i;
      while (i < s.size() && (digit ? isDigit(s[i]) : isLetter(s[i]))) ++i;
      return s.substr(start, i - start);
    };
    std::string_view as = runOf(a, ai), bs = runOf(b, bi);
    if (bs.empty()) return digit ? 1 : -1;
    if (digit) {
      if (int c = compareNumeric(as, bs)) return c;
    } else if (int c = sign(as.compare(bs))) {
      return c;
    }
  }
  size_t al = a.size() - ai, bl = b.size() - bi;
  if (al != bl) return al < bl ? -1 : 1;
  return 0;
}

struct RpmVersion {
  std::string epoch, version, release;
};

RpmVersion parseRpm(std::string_view s) {
  RpmVersion v;
  size_t colon = s.find(':');
  std::string_view vr = s;
  std::string_view epoch;
  if (colon != std::string_view::npos) {
    std::string_view e = s.substr(0, colon);
    if (std::all_of(e.begin(), e.end(), isDigit)) {
      epoch = e;
      vr = s.substr(colon + 1);
    }
  }
  size_t dash = vr.find('-');
  if (dash != std::string_view::npos) {
    v.version = std::string(vr.substr(0, dash));
    v.release = "-" + std::string(vr.substr(dash + 1));
  } else {
    v.version = std::string(vr);
  }
  v.epoch = epoch.empty() ? "0" : std::string(epoch);
  return v;
}

int compareRpm(std::string_view a, std::string_view b) {
  RpmVersion x = parseRpm(a), y = parseRpm(b);
  if (int c = rpmvercmp(x.epoch, y.epoch)) return c;
  if (int c = rpmvercmp(x.version, y.version)) return c;
  return rpmvercmp(x.release, y.release);
}

// ---------------------------------------------------------------------------------------------
// CRAN (numbers separated by "." or "-") and Hackage (numbers separated by "."): number lists
// compared element-wise, the longer list newer when one is a prefix of the other.
int compareNumberLists(std::string_view a, std::string_view b, std::string_view seps) {
  auto parts = [&](std::string_view s) {
    std::vector<std::string_view> out;
    size_t start = 0;
    for (size_t i = 0; i <= s.size(); ++i) {
      if (i == s.size() || seps.find(s[i]) != std::string_view::npos) {
        out.push_back(s.substr(start, i - start));
        start = i + 1;
      }
    }
    return out;
  };
  auto x = parts(a), y = parts(b);
  size_t n = std::min(x.size(), y.size());
  for (size_t i = 0; i < n; ++i) {
    bool xn = allDigits(x[i]), yn = allDigits(y[i]);
    int c = (xn && yn) ? compareNumeric(x[i], y[i]) : sign(x[i].compare(y[i]));
    if (c) return c;
  }
  if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
  return 0;
}

bool printable(std::string_view v) {
  return std::all_of(v.begin(), v.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u > 0x20 && u != 0x7f;
  });
}

}  // namespace

int compareVersions(Ecosystem e, std::string_view a, std::string_view b) {
  switch (e) {
    case Ecosystem::kNpm:
    case Ecosystem::kCratesIo:
    case Ecosystem::kGo:
    case Ecosystem::kHex:
      return compareSemver(a, b);
    case Ecosystem::kPub:
      return comparePub(a, b);
    case Ecosystem::kNuGet:
      return compareNuGet(a, b);
    case Ecosystem::kPyPI:
      return comparePypi(a, b);
    case Ecosystem::kMaven:
      return compareMaven(a, b);
    case Ecosystem::kRubyGems:
      return compareRubyGems(a, b);
    case Ecosystem::kPackagist:
      return comparePackagist(a, b);
    case Ecosystem::kDebian:
    case Ecosystem::kUbuntu:
      return compareDebian(a, b);
    case Ecosystem::kAlpine:
      return compareAlpine(a, b);
    case Ecosystem::kRpm:
      return compareRpm(a, b);
    case Ecosystem::kCran:
      return compareNumberLists(a, b, ".-");
    case Ecosystem::kHackage:
      return compareNumberLists(a, b, ".");
    case Ecosystem::kUnknown:
      break;
  }
  return sign(a.compare(b));
}

bool versionOrderSupported(Ecosystem e) { return e != Ecosystem::kUnknown; }

core::Status validateVersion(Ecosystem e, std::string_view v) {
  using core::ErrorCode;
  using core::fail;
  if (v.empty()) return fail(ErrorCode::kInvalidArgument, "empty version");
  if (v.size() > 256) return fail(ErrorCode::kInvalidArgument, "version longer than 256 bytes");
  if (!printable(v)) {
    return fail(ErrorCode::kInvalidArgument,
                "version \"" + std::string(v) + "\" contains whitespace or control characters");
  }
  auto firstDigit = [&](std::string_view s, std::string_view what) -> core::Status {
    if (!s.empty() && (s.front() == 'v' || s.front() == 'V')) s.remove_prefix(1);
    if (s.empty() || !isDigit(s.front())) {
      return fail(ErrorCode::kInvalidArgument,
                  std::string(what) + " version \"" + std::string(v) + "\" does not start with a number");
    }
    return {};
  };
  switch (e) {
    case Ecosystem::kNpm:
    case Ecosystem::kCratesIo:
    case Ecosystem::kGo:
    case Ecosystem::kHex:
    case Ecosystem::kPub:
    case Ecosystem::kNuGet:
      return firstDigit(v, "SemVer");
    case Ecosystem::kPyPI: {
      std::string lower = core::toLower(v);
      if (!RE2::FullMatch(lower, pep440Regex())) {
        return fail(ErrorCode::kInvalidArgument,
                    "\"" + std::string(v) + "\" is not a PEP 440 version (ordered as legacy)");
      }
      return {};
    }
    case Ecosystem::kDebian:
    case Ecosystem::kUbuntu: {
      DebianVersion d = parseDebian(v);
      if (!d.valid) {
        return fail(ErrorCode::kInvalidArgument,
                    "dpkg version \"" + std::string(v) + "\" has a non-numeric epoch");
      }
      return firstDigit(d.upstream, "dpkg");
    }
    case Ecosystem::kAlpine: {
      AlpineVersion a = parseAlpine(v);
      if (a.invalid || a.components.empty()) {
        return fail(ErrorCode::kInvalidArgument,
                    "apk version \"" + std::string(v) + "\" is not number{.number}{letter}{_suffix}{-r#}");
      }
      return {};
    }
    default:
      return {};
  }
}

}  // namespace td::vuln
