// STIX: the pattern parser on every input, the bundle importer (and an index build) on JSON.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "intel/feeds.h"
#include "intel/stix_pattern.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto pattern = td::intel::parseStixPattern(text);
  if (pattern) {
    for (const auto& term : pattern->terms)
      if (term.empty() || term.size() > td::intel::kMaxAtoms) __builtin_trap();
  }
  if (!text.empty() && (text.front() == '{' || text.front() == '[')) {
    auto batch = td::intel::parseStixBundle(text, td::intel::FeedInfo{"fuzz", 50});
    if (batch) {
      td::intel::IndexBuilder b;
      b.add(std::move(*batch));
      auto ix = b.build();
      for (td::intel::IndicatorId i = 0; i < ix->size(); ++i) (void)ix->view(i);
    }
  }
  return 0;
}
