#include "core/text.h"

#include <emmintrin.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace td::core {
namespace {
char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }
}  // namespace

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

std::string toLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = lower(c);
  return out;
}

void lowerAsciiInto(char* out, std::string_view in) {
  const char* p = in.data();
  const size_t n = in.size();
  size_t i = 0;
  // 'A'..'Z' are the bytes b with b - 'A' < 26 (unsigned): with 0x80 added, the signed bytes
  // below -128 + 26 (SSE2 compares signed bytes only).
  const __m128i bias = _mm_set1_epi8(static_cast<char>(0x80 - 'A'));
  const __m128i below = _mm_set1_epi8(static_cast<char>(-128 + 26));
  const __m128i to_lower = _mm_set1_epi8(0x20);
  for (; i + 16 <= n; i += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i upper = _mm_cmpgt_epi8(below, _mm_add_epi8(v, bias));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i),
                     _mm_add_epi8(v, _mm_and_si128(upper, to_lower)));
  }
  for (; i < n; ++i) {
    const char c = p[i];
    out[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  }
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> splitTrimmed(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  if (s.empty()) return parts;
  size_t start = 0;
  while (true) {
    size_t end = s.find(sep, start);
    parts.push_back(trim(s.substr(start, end == std::string_view::npos ? end : end - start)));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return parts;
}

const char* findBytes(std::string_view haystack, std::string_view needle) {
  const size_t n = needle.size();
  if (n == 0) return haystack.data();
  if (haystack.size() < n) return nullptr;
  const char* const p = haystack.data();
  if (n == 1) return static_cast<const char*>(std::memchr(p, needle[0], haystack.size()));
  const size_t starts = haystack.size() - n + 1;  // candidate positions: [0, starts)
  size_t i = 0;
  const __m128i first = _mm_set1_epi8(needle[0]);
  const __m128i last = _mm_set1_epi8(needle[n - 1]);
  for (; i + 16 <= starts; i += 16) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i + n - 1));
    auto mask = static_cast<unsigned>(
        _mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, last))));
    while (mask != 0) {
      const size_t at = i + static_cast<size_t>(__builtin_ctz(mask));
      if (std::memcmp(p + at + 1, needle.data() + 1, n - 2) == 0) return p + at;
      mask &= mask - 1;
    }
  }
  for (; i < starts; ++i) {
    if (p[i] == needle[0] && std::memcmp(p + i + 1, needle.data() + 1, n - 1) == 0) return p + i;
  }
  return nullptr;
}

bool containsIgnoreCase(std::string_view haystack, std::string_view needle) {
  if (needle.empty()) return true;
  auto it = std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                        [](char x, char y) { return lower(x) == lower(y); });
  return it != haystack.end();
}

std::string percentEncode(std::string_view s, std::string_view also_keep) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved || (c != '\0' && also_keep.find(c) != std::string_view::npos)) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

}  // namespace td::core
