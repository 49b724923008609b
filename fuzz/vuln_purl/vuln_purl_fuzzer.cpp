// purl parser: parse, then the canonical form must parse again to the same purl (round trip).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "vuln/ecosystem.h"
#include "vuln/purl.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  for (auto mode : {td::vuln::PurlStrictness::kStrict, td::vuln::PurlStrictness::kLenient}) {
    auto p = td::vuln::parsePurl(text, mode);
    if (!p) continue;
    (void)td::vuln::purlPackage(*p);
    std::string canonical = td::vuln::toString(*p);
    auto again = td::vuln::parsePurl(canonical, td::vuln::PurlStrictness::kLenient);
    if (!again || td::vuln::toString(*again) != canonical) std::abort();
  }
  return 0;
}
