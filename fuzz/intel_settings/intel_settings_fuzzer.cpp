// A project's intel settings: every line of the input is an allow-list entry (IP, CIDR, domain,
// URL, hash, e-mail or anything else a user types into PUT /api/v1/intel/settings), checked by
// the same AllowList::parse the API's matcherOptionsOf runs; a list that parses is then used by a
// matcher on an event holding the first entry, which must never match a feed-less index.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "intel/matcher.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> entries;
  size_t start = 0;
  while (start <= text.size() && entries.size() < 256) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    entries.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  auto allow = td::intel::AllowList::parse(entries);
  if (!allow) {
    if (allow.error().field.rfind("allow[", 0) != 0) __builtin_trap();  // names the entry
    return 0;
  }
  td::intel::MatcherOptions o;
  o.allow = std::move(*allow);
  o.suppression_period = 0;
  auto live = std::make_shared<td::intel::LiveIndex>();
  td::intel::Matcher m(live, td::intel::MatchConfig::defaults(), std::move(o));
  std::string value;
  for (char c : entries.front())
    if (c != '"' && c != '\\' && static_cast<unsigned char>(c) >= 0x20) value += c;
  const std::string event = "{\"destination\":{\"ip\":\"" + value + "\"},\"dns\":{\"question\":{\"name\":\"" +
                            value + "\"}},\"url\":{\"full\":\"" + value + "\"}}";
  std::vector<td::intel::Match> out;
  m.match(event, out);
  if (!out.empty()) __builtin_trap();  // nothing is loaded: nothing can match
  return 0;
}
