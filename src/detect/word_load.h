// Loading short byte strings as 64-bit words, for the hashing and comparing of field names and
// values on the matcher's hot path.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace td::detect {

// The `n` (1..7) bytes at `p` as the low bytes of a word (the others zero), without reading
// past them and without a variable-length copy through memory.
inline std::uint64_t loadTail(const char* p, size_t n) {
  if (n >= 4) {
    std::uint32_t lo, hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + n - 4, 4);
    return lo | (static_cast<std::uint64_t>(hi) << (8 * (n - 4)));
  }
  const auto b = [&](size_t i) {
    return static_cast<std::uint64_t>(static_cast<unsigned char>(p[i]));
  };
  return b(0) | (b(n / 2) << (8 * (n / 2))) | (b(n - 1) << (8 * (n - 1)));
}

}  // namespace td::detect
