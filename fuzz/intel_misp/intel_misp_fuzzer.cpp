// MISP event import, then an index build and a read-back of every indicator.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "intel/feeds.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto batch = td::intel::parseMispEvent(text, td::intel::FeedInfo{"fuzz", 50});
  if (!batch) return 0;
  td::intel::IndexBuilder b;
  b.add(std::move(*batch));
  auto ix = b.build();
  for (td::intel::IndicatorId i = 0; i < ix->size(); ++i) (void)ix->view(i);
  return 0;
}
