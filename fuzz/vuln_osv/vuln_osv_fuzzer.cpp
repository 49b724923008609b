// OSV advisory parser and range matching: any bytes; a parsed advisory is matched against a
// few versions without crashing.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "vuln/advisory.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto a = td::vuln::parseOsvAdvisory(text);
  if (!a) return 0;
  for (const auto& p : a->affected) {
    for (const char* v : {"0", "1.0.0", "v2.3.4-rc1", "1:2.0-1.el9", ""}) (void)td::vuln::matchVersion(p, v);
  }
  (void)a->cvssScore();
  return 0;
}
