// The stored-finding reader (findingFromJson): any bytes; what it accepts writes back and reads
// again to the same finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "vuln/scanner.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto f = td::vuln::findingFromJson(text);
  if (!f) return 0;
  auto again = td::vuln::findingFromJson(td::vuln::findingToJson(*f));
  if (!again) std::abort();
  if (again->key() != f->key() || again->fixed_versions != f->fixed_versions ||
      again->cvss != f->cvss || again->vex_state != f->vex_state)
    std::abort();
  return 0;
}
