// CycloneDX parser: any bytes in, a Result out; never a crash, leak or hang.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "vuln/sbom.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto r = td::vuln::parseSbom(text);
  if (r) {
    for (const auto& c : r->components) {
      if (c.parsed_purl) (void)td::vuln::toString(*c.parsed_purl);
    }
  }
  return 0;
}
