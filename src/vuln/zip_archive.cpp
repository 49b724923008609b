#include "vuln/zip_archive.h"

#include <zlib.h>

#include <cstring>
#include <string>

namespace td::vuln {
namespace {

using core::ErrorCode;
using core::fail;

std::uint32_t le32(std::string_view s, size_t at) {
  auto b = [&](size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + i])); };
  return b(0) | (b(1) << 8) | (b(2) << 16) | (b(3) << 24);
}
std::uint16_t le16(std::string_view s, size_t at) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(s[at]) |
                                    (static_cast<unsigned char>(s[at + 1]) << 8));
}

core::Result<std::string> inflateRaw(std::string_view in, std::uint64_t expected,
                                     std::uint64_t limit, const std::string& name) {
  if (expected > limit) {
    return fail(ErrorCode::kTooLarge,
                "zip member " + name + " inflates to " + std::to_string(expected) +
                    " bytes, over the limit of " + std::to_string(limit),
                name);
  }
  std::string out;
  out.resize(static_cast<size_t>(expected));
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) {
    return fail(ErrorCode::kInternal, "zlib inflateInit failed", name);
  }
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&zs, Z_FINISH);
  std::uint64_t produced = zs.total_out;
  inflateEnd(&zs);
  if (rc != Z_STREAM_END || produced != expected) {
    return fail(ErrorCode::kInvalidArgument,
                "zip member " + name + " does not inflate to its recorded size (zlib " +
                    std::to_string(rc) + ")",
                name);
  }
  return out;
}

}  // namespace

bool looksLikeZip(std::string_view bytes) {
  return bytes.size() >= 4 && bytes[0] == 'P' && bytes[1] == 'K' &&
         ((bytes[2] == 3 && bytes[3] == 4) || (bytes[2] == 5 && bytes[3] == 6));
}

core::Status forEachZipMember(
    std::string_view zip,
    const std::function<bool(std::string_view, std::string_view)>& visit, ZipLimits limits) {
  // Find the end-of-central-directory record within the last 64 KiB + 22 bytes.
  if (zip.size() < 22) return fail(ErrorCode::kInvalidArgument, "zip archive truncated", "zip");
  size_t eocd = std::string_view::npos;
  size_t lowest = zip.size() > 65557 ? zip.size() - 65557 : 0;
  for (size_t i = zip.size() - 22 + 1; i-- > lowest;) {
    if (le32(zip, i) == 0x06054b50) {
      eocd = i;
      break;
    }
  }
  if (eocd == std::string_view::npos) {
    return fail(ErrorCode::kInvalidArgument, "no end-of-central-directory record: not a zip archive",
                "zip");
  }
  std::uint16_t entries = le16(zip, eocd + 10);
  std::uint32_t cd_size = le32(zip, eocd + 12);
  std::uint32_t cd_offset = le32(zip, eocd + 16);
  if (cd_offset == 0xffffffffu || entries == 0xffff) {
    return fail(ErrorCode::kUnprocessable, "ZIP64 archives are not supported", "zip");
  }
  if (static_cast<std::uint64_t>(cd_offset) + cd_size > zip.size()) {
    return fail(ErrorCode::kInvalidArgument, "central directory lies outside the archive", "zip");
  }
  std::uint64_t total = 0;
  size_t pos = cd_offset;
  for (std::uint16_t n = 0; n < entries; ++n) {
    std::string where = "zip central directory entry " + std::to_string(n);
    if (pos + 46 > zip.size() || le32(zip, pos) != 0x02014b50) {
      return fail(ErrorCode::kInvalidArgument, "bad central directory header", where);
    }
    std::uint16_t flags = le16(zip, pos + 8);
    std::uint16_t method = le16(zip, pos + 10);
    std::uint32_t crc = le32(zip, pos + 16);
    std::uint32_t csize = le32(zip, pos + 20);
    std::uint32_t usize = le32(zip, pos + 24);
    std::uint16_t name_len = le16(zip, pos + 28);
    std::uint16_t extra_len = le16(zip, pos + 30);
    std::uint16_t comment_len = le16(zip, pos + 32);
    std::uint32_t local = le32(zip, pos + 42);
    if (pos + 46 + name_len > zip.size()) {
      return fail(ErrorCode::kInvalidArgument, "member name runs past the archive", where);
    }
    std::string name(zip.substr(pos + 46, name_len));
    pos += 46 + static_cast<size_t>(name_len) + extra_len + comment_len;
    if (!name.empty() && name.back() == '/') continue;  // directory
    if (flags & 1) return fail(ErrorCode::kUnprocessable, "encrypted zip member " + name, name);
    if (csize == 0xffffffffu || usize == 0xffffffffu || local == 0xffffffffu) {
      return fail(ErrorCode::kUnprocessable, "ZIP64 member " + name + " is not supported", name);
    }
    if (static_cast<std::uint64_t>(local) + 30 > zip.size() || le32(zip, local) != 0x04034b50) {
      return fail(ErrorCode::kInvalidArgument, "bad local header for " + name, name);
    }
    size_t data = local + 30 + static_cast<size_t>(le16(zip, local + 26)) + le16(zip, local + 28);
    if (static_cast<std::uint64_t>(data) + csize > zip.size()) {
      return fail(ErrorCode::kInvalidArgument, "member " + name + " runs past the archive", name);
    }
    total += usize;
    if (total > limits.max_total_bytes) {
      return fail(ErrorCode::kTooLarge, "zip archive inflates past the total limit", name);
    }
    std::string_view raw = zip.substr(data, csize);
    auto checked = [&](std::string_view contents) -> core::Status {
      auto actual = static_cast<std::uint32_t>(
          crc32(0, reinterpret_cast<const Bytef*>(contents.data()), static_cast<uInt>(contents.size())));
      if (actual != crc) {
        return fail(ErrorCode::kInvalidArgument, "zip member " + name + " fails its CRC-32 check", name);
      }
      return {};
    };
    bool keep_going;
    if (method == 0) {
      if (csize != usize) return fail(ErrorCode::kInvalidArgument, "stored member size mismatch", name);
      if (auto s = checked(raw); !s) return s;
      keep_going = visit(name, raw);
    } else if (method == 8) {
      if (usize > limits.max_member_bytes) {
        return fail(ErrorCode::kTooLarge,
                    "zip member " + name + " inflates to " + std::to_string(usize) +
                        " bytes, over the limit of " + std::to_string(limits.max_member_bytes),
                    name);
      }
      auto inflated = inflateRaw(raw, usize, limits.max_member_bytes, name);
      if (!inflated) return tl::unexpected(inflated.error());
      if (auto s = checked(*inflated); !s) return s;
      keep_going = visit(name, *inflated);
    } else {
      return fail(ErrorCode::kUnprocessable,
                  "zip member " + name + " uses compression method " + std::to_string(method) +
                      " (only stored and deflate are supported)",
                  name);
    }
    if (!keep_going) break;
  }
  return {};
}

}  // namespace td::vuln
