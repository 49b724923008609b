// CSV / plain-list import with the guessing mapping, then an index build; every stored value
// must come back out of the index under its own type.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "intel/feeds.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto batch = td::intel::parseCsv(text, td::intel::CsvMapping{}, td::intel::FeedInfo{"fuzz", 50});
  if (!batch) return 0;
  td::intel::IndexBuilder b;
  b.add(std::move(*batch));
  auto ix = b.build();
  for (td::intel::IndicatorId i = 0; i < ix->size(); ++i) {
    auto type = ix->type(i);
    if (type == td::intel::IndicatorType::kCompound) continue;
    if (!ix->findExact(type, ix->value(i))) __builtin_trap();
  }
  return 0;
}
