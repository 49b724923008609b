// Version order of every ecosystem: total (no crash) and antisymmetric on any two strings.
// Input: first byte picks the ecosystem, the rest is "A\nB".
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "vuln/version.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  auto e = static_cast<td::vuln::Ecosystem>(data[0] % 17);
  std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  size_t nl = rest.find('\n');
  std::string_view a = rest.substr(0, nl);
  std::string_view b = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  int x = td::vuln::compareVersions(e, a, b);
  int y = td::vuln::compareVersions(e, b, a);
  if ((x < 0 && y <= 0) || (x > 0 && y >= 0) || (x == 0 && y != 0)) std::abort();
  if (td::vuln::compareVersions(e, a, a) != 0) std::abort();
  (void)td::vuln::validateVersion(e, a);
  return 0;
}
