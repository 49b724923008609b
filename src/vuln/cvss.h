// CVSS vectors: v3.0/v3.1 parsed and scored (base, temporal and environmental, per the FIRST
// specification's formulas and Roundup), v4.0 parsed, validated and scored (the specification's
// MacroVector method, cvss4.cpp). Pure functions; any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/threat.h"

namespace td::vuln {

enum class CvssVersion { kV30, kV31, kV40 };

struct CvssVector {
  CvssVersion version = CvssVersion::kV31;
  // Metric -> value in the order written, e.g. {"AV","N"}; abbreviations as the spec spells them.
  std::vector<std::pair<std::string, std::string>> metrics;
  std::string_view value(std::string_view metric) const;  // "" when absent
};

// Parses "CVSS:3.1/AV:N/AC:L/..." (the prefix is required unless `assume` is given, which
// CycloneDX ratings need: they carry "AV:N/..." and name the method separately). Errors say
// which metric and at which byte offset.
core::Result<CvssVector> parseCvss(std::string_view text,
                                   std::optional<CvssVersion> assume = std::nullopt);

struct CvssScores {
  double base = 0;
  std::optional<double> temporal;       // v3 only, when any temporal metric is given
  std::optional<double> environmental;  // v3 only, when any environmental metric is given
};

// v3.x scores; for v4.0 vectors `base` is the CVSS 4.0 score of the vector as written (CVSS-B
// for a base vector, CVSS-BT/BE/BTE when threat or environmental metrics are given).
core::Result<CvssScores> scoreCvss(const CvssVector& v);

// The CVSS 4.0 score of a v4.0 vector (FIRST CVSS v4.0 specification, section 8).
core::Result<double> scoreCvss4(const CvssVector& v);

// Convenience: parse and return the base score.
core::Result<double> cvssBaseScore(std::string_view text);

// The qualitative rating of a score: "NONE", "LOW", "MEDIUM", "HIGH", "CRITICAL".
std::string_view cvssRating(double score);
// ThreatDesk's severity for a CVSS score (None maps to INFO).
core::Severity severityForCvss(double score);

}  // namespace td::vuln
