// CVSS vector parser and scorer: any bytes; a score, when computed, lies in 0..10.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "vuln/cvss.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (auto assume : {std::optional<td::vuln::CvssVersion>{}, std::optional{td::vuln::CvssVersion::kV31}}) {
    auto v = td::vuln::parseCvss(text, assume);
    if (!v) continue;
    auto s = td::vuln::scoreCvss(*v);
    if (!s) continue;
    if (s->base < 0 || s->base > 10) std::abort();
    if (s->environmental && (*s->environmental < 0 || *s->environmental > 10)) std::abort();
  }
  return 0;
}
