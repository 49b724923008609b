// The load report of the rule loader: every error and warning found while reading a rule set,
// each with a stable code and a source position (Falco style), not just the first failure.
// Value types; a report is built by one thread and may then be read from any.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace td::detect {

enum class DiagnosticLevel { kError, kWarning };

// Stable codes (they appear in `rules check` output and in scripts that read it).
namespace code {
inline constexpr const char* kYamlParse = "LOAD_ERR_YAML_PARSE";
inline constexpr const char* kNotARule = "LOAD_ERR_NOT_A_RULE";
inline constexpr const char* kMissingField = "LOAD_ERR_MISSING_FIELD";
inline constexpr const char* kBadDetection = "LOAD_ERR_DETECTION";
inline constexpr const char* kBadCondition = "LOAD_ERR_CONDITION";
inline constexpr const char* kUnknownSelection = "LOAD_ERR_UNKNOWN_SELECTION";
inline constexpr const char* kUnknownModifier = "LOAD_ERR_UNKNOWN_MODIFIER";
inline constexpr const char* kBadModifierValue = "LOAD_ERR_MODIFIER_VALUE";
inline constexpr const char* kBadRegex = "LOAD_ERR_REGEX";
inline constexpr const char* kAggregation = "LOAD_ERR_UNSUPPORTED_AGGREGATION";
inline constexpr const char* kBadCorrelation = "LOAD_ERR_CORRELATION";
inline constexpr const char* kDuplicateId = "LOAD_ERR_DUPLICATE_ID";
inline constexpr const char* kIo = "LOAD_ERR_IO";
inline constexpr const char* kTooLarge = "LOAD_ERR_TOO_LARGE";
inline constexpr const char* kUnmappedLogsource = "LOAD_WARN_UNMAPPED_LOGSOURCE";
inline constexpr const char* kPlaceholder = "LOAD_WARN_PLACEHOLDER";
inline constexpr const char* kStatusFiltered = "LOAD_WARN_STATUS_FILTERED";
inline constexpr const char* kUnusedSelection = "LOAD_WARN_UNUSED_SELECTION";
inline constexpr const char* kUnknownLevel = "LOAD_WARN_UNKNOWN_LEVEL";
inline constexpr const char* kHyperscanFallback = "LOAD_WARN_PATTERN_FALLBACK";
// A regular expression RE2 cannot run, loaded on PCRE2 (JIT, match limit) instead.
inline constexpr const char* kRegexPcre2 = "LOAD_WARN_REGEX_PCRE2";
}  // namespace code

struct Diagnostic {
  DiagnosticLevel level = DiagnosticLevel::kError;
  std::string code;
  std::string message;
  std::string file;
  int line = 0;  // 1-based; 0 when unknown
  int column = 0;
  std::string rule_id;
  std::string rule_title;

  // "file:line:col: error LOAD_ERR_X: message [rule id]"
  std::string format() const;
};

struct LoadReport {
  std::vector<Diagnostic> diagnostics;
  size_t files = 0;
  size_t rules_loaded = 0;       // detection rules compiled into the engine
  size_t correlations_loaded = 0;
  size_t rules_refused = 0;      // rules with at least one error
  size_t rules_filtered = 0;     // valid rules left out by the status filter

  void add(Diagnostic d) { diagnostics.push_back(std::move(d)); }
  size_t errorCount() const;
  size_t warningCount() const;
  // Count of diagnostics per code.
  std::map<std::string, size_t> countsByCode() const;
  // The printable report: totals, counts grouped by code, then every diagnostic.
  std::string format(bool with_warnings = true) const;
};

}  // namespace td::detect
