// Software bills of materials: CycloneDX JSON (spec 1.2 to 1.7) and SPDX JSON (2.2, 2.3 and
// 3.0 JSON-LD) parsed into one inventory model — the components with their package URLs — plus
// the CycloneDX VEX statements a document carries. Parsing validates the document the way the
// formats' JSON schemas do for the parts we rely on and for the common structural mistakes, and
// reports every problem found (up to a limit) with its JSON path, not just the first.
// Value types and pure functions; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "vuln/purl.h"

namespace td::vuln {

enum class SbomFormat { kCycloneDx, kSpdx2, kSpdx3 };
std::string_view sbomFormatName(SbomFormat f);  // "CycloneDX", "SPDX 2", "SPDX 3"

struct Component {
  std::string ref;    // CycloneDX bom-ref / SPDX id; may be empty
  std::string type;   // CycloneDX component type ("library" ...), SPDX "package"
  std::string group;
  std::string name;
  std::string version;
  std::string purl;         // canonical form when it parses, else as written
  std::optional<Purl> parsed_purl;
  std::string purl_error;   // why the written purl did not parse
  std::string path;         // JSON path in the document, for messages
};

// A CycloneDX VEX statement: the analysis of one vulnerability for the components it affects.
struct VexStatement {
  std::string vulnerability;           // id ("CVE-2021-44228", "GHSA-...")
  std::vector<std::string> aliases;    // ids of its references
  std::vector<std::string> affects;    // bom-refs or purls ("urn:cdx:..." links kept as is)
  std::string state;                   // not_affected, false_positive, resolved, exploitable, in_triage ...
  std::string justification;           // code_not_reachable ...
  std::string detail;
  std::vector<std::string> response;
};

struct Sbom {
  SbomFormat format = SbomFormat::kCycloneDx;
  std::string spec_version;  // "1.4", "SPDX-2.3", "3.0.1"
  std::string serial;        // CycloneDX serialNumber / SPDX documentNamespace
  std::string subject;       // metadata.component name / SPDX document name
  std::vector<Component> components;
  std::vector<VexStatement> vex;
  std::vector<std::string> warnings;
};

struct SbomOptions {
  // Check CycloneDX license ids against the SPDX license list as the schema's enum does;
  // otherwise an unknown id is a warning (real SBOMs carry ids newer than our list).
  bool strict_license_ids = false;
  size_t max_bytes = 256u << 20;
};

// Detects the format from the document itself (bomFormat / spdxVersion / @context).
core::Result<Sbom> parseSbom(std::string_view json, SbomOptions options = {});

}  // namespace td::vuln
