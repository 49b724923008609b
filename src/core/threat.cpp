#include "core/threat.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "core/text.h"

namespace td::core {
namespace {

constexpr std::array<std::string_view, kSeverityCount> kSeverityNames = {"INFO", "LOW", "MEDIUM",
                                                                         "HIGH", "CRITICAL"};

Status checkLength(std::string_view value, size_t max, const char* field) {
  if (value.size() > max)
    return fail(ErrorCode::kUnprocessable,
                std::string(field) + " is " + std::to_string(value.size()) +
                    " bytes long; the limit is " + std::to_string(max),
                field);
  return {};
}

}  // namespace

std::string_view severityName(Severity s) { return kSeverityNames[static_cast<size_t>(s)]; }

Result<Severity> parseSeverity(std::string_view text) {
  for (size_t i = 0; i < kSeverityNames.size(); ++i)
    if (equalsIgnoreCase(text, kSeverityNames[i])) return static_cast<Severity>(i);
  if (equalsIgnoreCase(text, "informational")) return Severity::kInfo;
  return fail(ErrorCode::kUnprocessable,
              "unknown severity '" + std::string(text.substr(0, 64)) +
                  "' (expected INFO, LOW, MEDIUM, HIGH or CRITICAL)");
}

Severity severityForScore(int score) {
  if (score >= 80) return Severity::kCritical;
  if (score >= 60) return Severity::kHigh;
  if (score >= 40) return Severity::kMedium;
  if (score >= 20) return Severity::kLow;
  return Severity::kInfo;
}

int scoreForSeverity(Severity s) {
  static constexpr std::array<int, kSeverityCount> kScores = {10, 30, 50, 70, 90};
  return kScores[static_cast<size_t>(s)];
}

std::string_view threatKindName(ThreatKind k) {
  return k == ThreatKind::kSignal ? "SIGNAL" : "THREAT";
}

Result<ThreatKind> parseThreatKind(std::string_view text) {
  if (equalsIgnoreCase(text, "SIGNAL")) return ThreatKind::kSignal;
  if (equalsIgnoreCase(text, "THREAT")) return ThreatKind::kThreat;
  return fail(ErrorCode::kUnprocessable, "unknown kind '" + std::string(text.substr(0, 64)) +
                                             "' (expected SIGNAL or THREAT)");
}

Result<CheckBy> parseCheckBy(std::string_view text) {
  CheckBy set = CheckBy::kNone;
  for (std::string_view part : splitTrimmed(text, ',')) {
    if (part.empty()) continue;
    if (equalsIgnoreCase(part, "rule")) set = set | CheckBy::kRule;
    else if (equalsIgnoreCase(part, "entity")) set = set | CheckBy::kEntity;
    else if (equalsIgnoreCase(part, "source")) set = set | CheckBy::kSource;
    else
      return fail(ErrorCode::kUnprocessable, "unknown check_by key '" + std::string(part) +
                                                 "' (expected rule, entity or source)");
  }
  return set;
}

std::string checkByNames(CheckBy set) {
  std::string out;
  auto add = [&](CheckBy bit, const char* name) {
    if (!has(set, bit)) return;
    if (!out.empty()) out += ',';
    out += name;
  };
  add(CheckBy::kRule, "rule");
  add(CheckBy::kEntity, "entity");
  add(CheckBy::kSource, "source");
  return out;
}

std::string dedupKey(const Detection& d) {
  if (d.check_by == CheckBy::kNone) return {};
  // Unit separators cannot occur in validated text fields' meaning, so parts cannot run together.
  std::string key;
  key += has(d.check_by, CheckBy::kRule) ? (d.rule_id.empty() ? d.name : d.rule_id) : "";
  key += '\x1f';
  if (has(d.check_by, CheckBy::kEntity)) key += d.entity.type + '\x1e' + d.entity.value;
  key += '\x1f';
  if (has(d.check_by, CheckBy::kSource)) key += d.source;
  return key;
}

Status validateDetection(const Detection& d) {
  if (trim(d.name).empty()) return fail(ErrorCode::kUnprocessable, "name must not be empty", "name");
  if (auto s = checkLength(d.name, kMaxNameLength, "name"); !s) return s;
  if (auto s = checkLength(d.description, kMaxDescriptionLength, "description"); !s) return s;
  if (d.score < kMinScore || d.score > kMaxScore)
    return fail(ErrorCode::kUnprocessable,
                "score " + std::to_string(d.score) + " is out of range 0-100", "score");
  if (trim(d.source).empty())
    return fail(ErrorCode::kUnprocessable, "source must not be empty", "source");
  if (auto s = checkLength(d.source, kMaxShortText, "source"); !s) return s;
  if (auto s = checkLength(d.rule_id, kMaxShortText, "rule_id"); !s) return s;
  if (auto s = checkLength(d.rule_group, kMaxShortText, "rule_group"); !s) return s;
  if (auto s = checkLength(d.entity.type, kMaxShortText, "entity.type"); !s) return s;
  if (auto s = checkLength(d.entity.value, kMaxShortText, "entity.value"); !s) return s;
  if (d.entity.type.empty() != d.entity.value.empty())
    return fail(ErrorCode::kUnprocessable, "entity needs both a type and a value", "entity");
  if (auto s = checkLength(d.entity_group, kMaxShortText, "entity_group"); !s) return s;
  if (auto s = checkLength(d.host, kMaxShortText, "host"); !s) return s;
  if (auto s = checkLength(d.group, kMaxShortText, "group"); !s) return s;
  if (d.tags.size() > kMaxTags)
    return fail(ErrorCode::kUnprocessable,
                "too many tags (" + std::to_string(d.tags.size()) + "; the limit is 64)", "tags");
  for (size_t i = 0; i < d.tags.size(); ++i) {
    const std::string field = "tags[" + std::to_string(i) + "]";
    if (d.tags[i].empty()) return fail(ErrorCode::kUnprocessable, "a tag must not be empty", field);
    if (auto s = checkLength(d.tags[i], kMaxShortText, field.c_str()); !s) return s;
  }
  if (auto s = checkLength(d.evidence_json, kMaxEvidenceBytes, "evidence"); !s) return s;
  return {};
}

}  // namespace td::core
