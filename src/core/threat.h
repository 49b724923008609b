// The threat: the one object a security team works. Value types only; safe to copy between
// threads. Names of severities, kinds and check_by keys parse case-insensitively and format in
// their canonical upper-case API spelling.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/time.h"

namespace td::core {

using ThreatId = std::int64_t;
using ProjectId = std::int64_t;
using OrgId = std::int64_t;
using UserId = std::int64_t;
using TagId = std::int64_t;

enum class Severity : std::uint8_t { kInfo = 0, kLow = 1, kMedium = 2, kHigh = 3, kCritical = 4 };
constexpr int kSeverityCount = 5;
std::string_view severityName(Severity s);  // "INFO" ... "CRITICAL"
Result<Severity> parseSeverity(std::string_view text);
// The severity a bare score implies when none is given: 0-19 INFO, 20-39 LOW, 40-59 MEDIUM,
// 60-79 HIGH, 80-100 CRITICAL.
Severity severityForScore(int score);
// The score a severity implies when none is given (the middle of its band).
int scoreForSeverity(Severity s);

enum class ThreatKind : std::uint8_t { kSignal = 0, kThreat = 1 };
std::string_view threatKindName(ThreatKind k);  // "SIGNAL" | "THREAT"
Result<ThreatKind> parseThreatKind(std::string_view text);

constexpr int kMinScore = 0;
constexpr int kMaxScore = 100;

// The source labels the engines use; a threat may carry any non-empty label.
namespace source {
inline constexpr std::string_view kRule = "Rule";
inline constexpr std::string_view kIntel = "Threat Intelligence";
inline constexpr std::string_view kVulnerability = "Vulnerability";
inline constexpr std::string_view kManual = "Manual";
inline constexpr std::string_view kApi = "API";
}  // namespace source

// What a threat is about: host WS-042, user alice, ip 10.1.2.3, asset payments-api.
struct Entity {
  std::string type;
  std::string value;
  bool operator==(const Entity&) const = default;
};

// Which parts of a detection make it "the same threat" as an open one (de-duplication key).
enum class CheckBy : std::uint8_t { kNone = 0, kRule = 1, kEntity = 2, kSource = 4 };
constexpr CheckBy operator|(CheckBy a, CheckBy b) {
  return static_cast<CheckBy>(static_cast<std::uint8_t>(a) | static_cast<std::uint8_t>(b));
}
constexpr bool has(CheckBy set, CheckBy bit) {
  return (static_cast<std::uint8_t>(set) & static_cast<std::uint8_t>(bit)) != 0;
}
constexpr CheckBy kDefaultCheckBy = CheckBy::kRule | CheckBy::kEntity | CheckBy::kSource;
// Parses a comma separated list such as "rule,entity".
Result<CheckBy> parseCheckBy(std::string_view text);
std::string checkByNames(CheckBy set);

// What an engine (Sigma rules, intel matcher, vulnerability scanner) or a person raises. The
// threat sink turns it into a new threat or bumps an open duplicate.
struct Detection {
  ProjectId project_id = 0;
  std::string name;
  std::string description;
  int score = 50;
  Severity severity = Severity::kMedium;
  ThreatKind kind = ThreatKind::kThreat;
  std::string source{source::kRule};
  std::string rule_id;
  std::string rule_group;
  Entity entity;
  std::string entity_group;
  std::string host;
  std::vector<std::string> tags;  // e.g. ATT&CK technique ids "T1059.001"
  std::string evidence_json = "{}";  // one JSON value: the event or finding that raised it
  CheckBy check_by = kDefaultCheckBy;
  std::string group;  // optional initial threat group (a threat_group tag name)
  TimeMs seen_at = 0;  // when the evidence happened; 0 means "now"
};

// The de-duplication key of a detection: equal keys within one project are the same threat.
// Empty when check_by is kNone (every detection is a new threat).
std::string dedupKey(const Detection& d);

// A stored threat as the API shows it. Tag values are carried both as ids and as names.
struct Threat {
  ThreatId id = 0;
  ProjectId project_id = 0;
  std::string name;
  std::string description;
  int score = 0;
  Severity severity = Severity::kMedium;
  ThreatKind kind = ThreatKind::kThreat;
  std::string source;
  std::string rule_id;
  std::string rule_group;
  Entity entity;
  std::string entity_group;
  std::string host;
  std::vector<std::string> tags;
  std::string evidence_json = "{}";  // the first evidence
  std::optional<TagId> group_id;
  TagId state_id = 0;
  std::optional<TagId> outcome_id;
  std::optional<UserId> owner_id;
  std::string group;    // names resolved from the ids ("" when unset)
  std::string state;
  std::string outcome;
  std::string owner;    // the owner's email
  bool closed = false;
  std::int64_t count = 1;
  TimeMs created_at = 0;
  TimeMs last_seen = 0;
  TimeMs updated_at = 0;
  std::optional<TimeMs> closed_at;
  std::string dedup_key;
};

// Validates the fields a person or client supplies (lengths, score range, non-empty name and
// source). The field of the error names the offending member.
Status validateDetection(const Detection& d);

// Limits on user-supplied text, shared by the API, the CLI and the engines.
constexpr size_t kMaxNameLength = 512;
constexpr size_t kMaxDescriptionLength = 32 * 1024;
constexpr size_t kMaxShortText = 256;  // source, rule id, entity, host, tag names, group names
constexpr size_t kMaxTags = 64;
constexpr size_t kMaxEvidenceBytes = 256 * 1024;

}  // namespace td::core
