// Builds small ZIP archives for tests (deflated or stored members), so that the importer's zip
// path is tested on archives made here rather than on files checked into the repository.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace td::vuln::testing {

inline void put16(std::string& s, std::uint16_t v) {
  s += static_cast<char>(v & 0xff);
  s += static_cast<char>(v >> 8);
}
inline void put32(std::string& s, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
}

inline std::string deflateRaw(const std::string& in) {
  z_stream zs{};
  deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&zs, in.size()), '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

inline std::string makeZip(const std::vector<std::pair<std::string, std::string>>& members,
                           bool compress = true) {
  std::string zip, central;
  for (const auto& [name, data] : members) {
    std::string body = compress ? deflateRaw(data) : data;
    std::uint32_t crc = crc32(0, reinterpret_cast<const Bytef*>(data.data()), data.size());
    std::uint32_t offset = static_cast<std::uint32_t>(zip.size());
    put32(zip, 0x04034b50);
    put16(zip, 20);
    put16(zip, 0);
    put16(zip, compress ? 8 : 0);
    put32(zip, 0);
    put32(zip, crc);
    put32(zip, static_cast<std::uint32_t>(body.size()));
    put32(zip, static_cast<std::uint32_t>(data.size()));
    put16(zip, static_cast<std::uint16_t>(name.size()));
    put16(zip, 0);
    zip += name;
    zip += body;
    put32(central, 0x02014b50);
    put16(central, 20);
    put16(central, 20);
    put16(central, 0);
    put16(central, compress ? 8 : 0);
    put32(central, 0);
    put32(central, crc);
    put32(central, static_cast<std::uint32_t>(body.size()));
    put32(central, static_cast<std::uint32_t>(data.size()));
    put16(central, static_cast<std::uint16_t>(name.size()));
    put16(central, 0);
    put16(central, 0);
    put16(central, 0);
    put16(central, 0);
    put32(central, 0);
    put32(central, offset);
    central += name;
  }
  std::uint32_t cd_offset = static_cast<std::uint32_t>(zip.size());
  zip += central;
  put32(zip, 0x06054b50);
  put16(zip, 0);
  put16(zip, 0);
  put16(zip, static_cast<std::uint16_t>(members.size()));
  put16(zip, static_cast<std::uint16_t>(members.size()));
  put32(zip, static_cast<std::uint32_t>(central.size()));
  put32(zip, cd_offset);
  put16(zip, 0);
  return zip;
}

}  // namespace td::vuln::testing
