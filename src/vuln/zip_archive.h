// A minimal reader for ZIP archives (the per-ecosystem all.zip files osv.dev publishes): lists
// members and inflates them with zlib. Supports stored and deflated members, refuses ZIP64,
// encryption and members over a size limit (a zip bomb must not exhaust memory).
// Not thread-safe per instance; separate instances are independent.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace td::vuln {

struct ZipLimits {
  std::uint64_t max_member_bytes = 64ull << 20;
  std::uint64_t max_total_bytes = 4ull << 30;
};

// Calls `visit(name, contents)` for each file member in central-directory order; stops at the
// first error, or when visit returns false. The error names the member and what is wrong.
core::Status forEachZipMember(std::string_view archive,
                              const std::function<bool(std::string_view name,
                                                       std::string_view contents)>& visit,
                              ZipLimits limits = {});

// Whether the bytes start like a ZIP archive ("PK\3\4" or an empty archive's "PK\5\6").
bool looksLikeZip(std::string_view bytes);

}  // namespace td::vuln
