// The JSON shapes of the REST API: decoders that validate what clients send and encoders for what
// the server answers. Decoders check every member (type, range, length, known names) and reject
// members they do not know, naming the offending JSON path (or query parameter) in Error::field;
// they never throw. Encoders write times as RFC 3339 text and never include secrets (password
// hashes, token hashes).
//
// Thread safety: pure functions; safe from any thread.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/threat.h"
#include "store/query.h"
#include "store/store.h"
#include "store/types.h"
#include "triage/service.h"

namespace td::server {

using Json = nlohmann::json;
// Query parameters as cpp-httplib hands them over (a name may repeat).
using QueryParams = std::multimap<std::string, std::string>;

// JSON nested deeper than this is refused before it is parsed: nlohmann's serialiser recurses,
// so unbounded nesting could exhaust the stack.
constexpr int kMaxJsonDepth = 64;
constexpr size_t kMaxIdsPerBulk = 10000;
constexpr size_t kMaxNoteLength = 64 * 1024;
constexpr size_t kMaxEmailLength = 254;
constexpr size_t kMaxQueryValueLength = 1024;

// Parses a request body: a JSON document of at most kMaxJsonDepth nesting. Errors are
// kInvalidArgument with a message that says where the parser stopped.
core::Result<Json> parseJson(std::string_view text);
// Serialises an answer; invalid UTF-8 (from old data) is replaced rather than thrown about.
std::string dumpJson(const Json& value);

// --- errors -----------------------------------------------------------------------------------
// {"error":{"code":"not_found","message":"...","field":null|"path"}}
Json encodeError(const core::Error& error);
// The HTTP status of an error code (400, 401, 403, 404, 409, 413, 422, 500, 503).
int httpStatus(core::ErrorCode code);

// --- threats ----------------------------------------------------------------------------------
// POST /api/v1/threats. The project and source are not part of the body: the caller sets them
// from the credentials.
core::Result<core::Detection> decodeDetection(const Json& body);
// PATCH /api/v1/threats/{id} and the "change" member of a bulk request. `path` prefixes fields.
core::Result<triage::ChangeRequest> decodeChangeRequest(const Json& body,
                                                        const std::string& path = "");

struct BulkRequest {
  std::vector<core::ThreatId> ids;            // either ids ...
  std::optional<store::ThreatFilter> filter;  // ... or a filter (project set by the caller)
  triage::ChangeRequest change;
};
// POST /api/v1/threats/bulk: {"ids":[...]} or {"filter":{...}}, plus {"change":{...}}.
core::Result<BulkRequest> decodeBulkRequest(const Json& body);

// The list/overview/export query: filter members, sort, order, limit, cursor and split.
struct ThreatQuery {
  store::ThreatFilter filter;
  store::PageRequest page;
  store::TimelineSplit split = store::TimelineSplit::kSeverity;
};
// Query parameters of GET /api/v1/threats (and overview, export). Names in `extra` (such as
// "project" or "format") are left to the caller; any other unknown name is refused.
core::Result<ThreatQuery> decodeThreatQuery(const QueryParams& params,
                                            const std::set<std::string>& extra = {});
// The same filter as a JSON object (bulk requests). `path` prefixes fields.
core::Result<store::ThreatFilter> decodeFilterJson(const Json& body, const std::string& path);

// Full threat (with description and evidence) or the list's summary.
Json encodeThreat(const core::Threat& threat, bool full = true);
Json encodeThreatPage(const store::ThreatPage& page);
Json encodeOverview(const store::Overview& overview);
Json encodeTimelineEntry(const store::TimelineEntry& entry);
Json encodeNote(const store::Note& note);
Json encodeBulkResult(const triage::BulkResult& result);

// --- notes, tags ------------------------------------------------------------------------------
// {"text": "..."}
core::Result<std::string> decodeNote(const Json& body);
Json encodeTag(const store::TagValue& tag);
struct TagRequest {
  std::string name;
  std::optional<int> position;
};
// POST {"name","position"?}; PATCH {"name"}.
core::Result<TagRequest> decodeTagRequest(const Json& body, bool allow_position);

// --- organisations, users, tokens, sessions ----------------------------------------------------
Json encodeOrg(const store::Org& org);
Json encodeProject(const store::Project& project);
Json encodeUser(const store::User& user);        // never the password hash
Json encodeToken(const store::ApiToken& token);  // never the token hash

struct LoginRequest {
  std::string email;
  std::string password;
};
core::Result<LoginRequest> decodeLogin(const Json& body);

struct NewUserRequest {
  std::string email;
  std::string display_name;
  store::Role role = store::Role::kReadonly;
  std::string time_zone = "UTC";
  std::optional<std::string> org;       // name; default: the creating admin's organisation
  std::optional<std::string> password;  // default: generated and returned once
};
core::Result<NewUserRequest> decodeNewUser(const Json& body);

struct NewTokenRequest {
  std::optional<std::string> project;  // name or id; default: the request's project
  std::string name;
  store::Scope scopes = store::Scope::kNone;
};
core::Result<NewTokenRequest> decodeNewToken(const Json& body);

// Plausible email: one '@', something on both sides, no spaces or control characters.
core::Status validateEmail(std::string_view email, const std::string& field);
// A known IANA time zone name ("UTC", "Europe/Berlin").
core::Status validateTimeZone(std::string_view zone, const std::string& field);

}  // namespace td::server
