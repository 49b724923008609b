// URL normalisation: never crashes, and is idempotent (a normalised URL normalises to itself),
// which is what makes indicator and event URLs compare equal.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "intel/url.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)td::intel::urlHost(text);
  auto once = td::intel::normalizeUrl(text);
  if (!once) return 0;
  auto twice = td::intel::normalizeUrl(*once);
  if (!twice || *twice != *once) __builtin_trap();
  return 0;
}
