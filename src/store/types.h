// The records the store keeps besides threats: organisations, projects, users, tokens, sessions,
// custom tags, timeline entries, notes and outbox events. Value types; safe to copy.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/threat.h"

namespace td::store {

using core::OrgId;
using core::ProjectId;
using core::TagId;
using core::ThreatId;
using core::TimeMs;
using core::UserId;

struct Org {
  OrgId id = 0;
  std::string name;
  std::optional<OrgId> parent_id;  // a service provider's customers nest below it
};

struct Project {
  ProjectId id = 0;
  OrgId org_id = 0;
  std::string name;
};

// admin: everything; manager: also rules and responses; operator: works threats, deletes
// nothing; readonly: reads.
enum class Role : std::uint8_t { kReadonly = 0, kOperator = 1, kManager = 2, kAdmin = 3 };
std::string_view roleName(Role r);
core::Result<Role> parseRole(std::string_view text);

struct User {
  UserId id = 0;
  OrgId org_id = 0;
  std::string email;
  std::string display_name;
  Role role = Role::kReadonly;
  std::string time_zone = "UTC";  // IANA name
  std::string password_hash;      // argon2id encoded string
  bool disabled = false;
  TimeMs created_at = 0;
};

enum class Scope : std::uint8_t { kNone = 0, kIngest = 1, kRead = 2, kWrite = 4 };
constexpr Scope operator|(Scope a, Scope b) {
  return static_cast<Scope>(static_cast<std::uint8_t>(a) | static_cast<std::uint8_t>(b));
}
constexpr bool has(Scope set, Scope bit) {
  return (static_cast<std::uint8_t>(set) & static_cast<std::uint8_t>(bit)) != 0;
}
core::Result<Scope> parseScopes(std::string_view text);  // "read,write,ingest"
std::string scopeNames(Scope set);

struct ApiToken {
  std::int64_t id = 0;
  ProjectId project_id = 0;
  std::string name;
  std::string token_hash;  // SHA-256 hex of the secret; the secret itself is never stored
  std::string prefix;      // the first characters of the token, to tell tokens apart in lists
  Scope scopes = Scope::kNone;
  std::optional<UserId> created_by;
  TimeMs created_at = 0;
  std::optional<TimeMs> revoked_at;
  std::optional<TimeMs> last_used_at;
};

struct Session {
  std::string id_hash;  // SHA-256 hex of the cookie value
  UserId user_id = 0;
  std::string csrf_token;
  TimeMs created_at = 0;
  TimeMs expires_at = 0;
};

enum class TagKind : std::uint8_t { kGroup = 0, kState = 1, kOutcome = 2 };
std::string_view tagKindName(TagKind k);  // "threat_group", "threat_state", "threat_outcome"
core::Result<TagKind> parseTagKind(std::string_view text);

// One custom tag value of an organisation. States are ordered by position; the last is closed.
struct TagValue {
  TagId id = 0;
  OrgId org_id = 0;
  TagKind kind = TagKind::kGroup;
  std::string name;
  int position = 0;
};

// The automatic history of a threat: who changed what from what to what, and when.
struct TimelineEntry {
  std::int64_t id = 0;
  ThreatId threat_id = 0;
  TimeMs at = 0;
  std::string actor;   // user email, "token:NAME", or "system"
  std::string action;  // created, assigned_group, assigned_owner, state, closed, reopened, note,
                       // severity, score, duplicate
  std::string from;
  std::string to;
};

struct Note {
  std::int64_t id = 0;
  ThreatId threat_id = 0;
  TimeMs at = 0;
  std::string author;
  std::string text;
};

// A change someone may need to hear about, written in the same transaction as the change. The
// dispatcher of the responses module claims, delivers and acknowledges these.
struct OutboxEvent {
  std::int64_t id = 0;
  ProjectId project_id = 0;
  ThreatId threat_id = 0;
  std::string kind;  // threat.created, threat.assigned, threat.state_changed, threat.closed,
                     // threat.reopened, threat.noted
  std::string payload_json;
  TimeMs created_at = 0;
  int attempts = 0;
  std::optional<TimeMs> delivered_at;
};

}  // namespace td::store
