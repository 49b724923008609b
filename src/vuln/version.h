// Version order per ecosystem, following each ecosystem's reference implementation: SemVer 2.0
// (npm, crates.io, Go with its "v" prefix and pseudo-versions, Hex), Pub (SemVer with ordered
// build metadata), PEP 440 (PyPI, including legacy versions, which sort first), Maven's
// ComparableVersion, NuGet, RubyGems, Composer (Packagist), dpkg (Debian, Ubuntu), apk (Alpine),
// rpmvercmp (RPM distributions), CRAN and Hackage.
//
// compareVersions() is total: any two strings compare without error or crash (malformed input is
// ordered the way the reference tools order it, or lexically as a last resort), because an SBOM
// may carry anything in its version field. Pure functions; safe from any thread.
#pragma once

#include <string_view>

#include "core/error.h"
#include "vuln/ecosystem.h"

namespace td::vuln {

// <0, 0 or >0 as a is older than, the same as, or newer than b. kUnknown compares bytes.
int compareVersions(Ecosystem e, std::string_view a, std::string_view b);

// Whether `v` is a well-formed version for the ecosystem, with what is wrong and where when not.
// Matching still works for versions that fail this check (see compareVersions); importers use
// it to warn about suspicious advisories and SBOMs.
core::Status validateVersion(Ecosystem e, std::string_view v);

// Whether the ecosystem's version order is implemented (false only for kUnknown).
bool versionOrderSupported(Ecosystem e);

}  // namespace td::vuln
