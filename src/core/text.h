// Small text helpers used across modules. Pure functions, safe from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace td::core {

bool equalsIgnoreCase(std::string_view a, std::string_view b);
std::string toLower(std::string_view s);
// `in` with ASCII letters lower-cased, written to `out` (in.size() bytes; may be in.data()),
// 16 bytes at a time: rule matching lowers every value a caseless literal is tested on.
void lowerAsciiInto(char* out, std::string_view in);
std::string_view trim(std::string_view s);
// Splits on `sep` and trims each part; empty input gives no parts.
std::vector<std::string_view> splitTrimmed(std::string_view s, char sep);
// Where `needle` first occurs in `haystack` (nullptr: nowhere), like memmem: faster on the short
// texts and needles of rule matching (glibc's two-way memmem spends more on setting up than on
// searching a command line); first and last bytes compared 16 positions at a time.
const char* findBytes(std::string_view haystack, std::string_view needle);
// True when `needle` occurs in `haystack` ignoring ASCII case.
bool containsIgnoreCase(std::string_view haystack, std::string_view needle);
// Percent-encodes every byte but RFC 3986's unreserved characters (letters, digits, -._~) and
// those in `also_keep`, with upper-case hex: URL parts, RFC 2231 parameter values.
std::string percentEncode(std::string_view s, std::string_view also_keep = {});

}  // namespace td::core
