// A response rule as users write it (JSON through the API and CLI) and as the dispatcher reads
// it: when it fires (events, scope, minimum severity, overrides, throttle) and what it does
// (email or webhook). parseResponseSpec validates everything, compiles every template against the
// variables it may use, and reports the first problem with its JSON path (and, for templates,
// line and column).
//
// Thread safety: a ResponseSpec is a value; its compiled templates are immutable.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/threat.h"
#include "respond/template.h"

namespace td::respond {

using Json = nlohmann::json;

enum class FireScope { kAll, kSignal, kThreat };

struct Override {
  std::string rule_group;  // matches the threat's rule group (empty: any)
  std::string source;      // matches the threat's source label (empty: any)
  bool disabled = false;
  std::optional<core::Severity> min_severity;
};

struct Throttle {
  Template key;  // rendered per threat, e.g. "{{entity.value}}"
  core::TimeMs window_ms = 0;
};

struct DigestSchedule {
  enum class Every { kHourly, kDaily, kWeekly } every = Every::kDaily;
  int at_minute = 9 * 60;  // local time of day (daily, weekly); minute of the hour (hourly)
  int day = 1;             // weekly: 0 = Sunday ... 6 = Saturday
};

struct QuietHours {
  int start_minute = 0;
  int end_minute = 0;
};

struct Escalation {
  core::TimeMs after_ms = 0;
  std::vector<std::string> to;
};

struct EmailAction {
  std::string to_user;  // email of a user of the organisation
  std::vector<std::string> to_addresses;
  bool to_org = false;            // every enabled user of the organisation
  std::string time_zone = "UTC";  // for plain addresses (users have their own)
  bool digest = false;
  DigestSchedule schedule;
  std::optional<QuietHours> quiet_hours;
  std::optional<Escalation> escalation;
  Template subject, text, html;
};

struct WebhookAction {
  std::string preset;  // slack, teams, generic, firewall_block, disable_user, ticket ("" none)
  std::string method = "POST";
  Template url;
  std::vector<std::pair<std::string, Template>> headers;
  Template payload;
  bool json_payload = true;  // escape values as JSON string contents
  std::string secret;        // HMAC-SHA256 key of X-ThreatDesk-Signature; empty: not signed
  core::TimeMs timeout_ms = 5000;
  int max_attempts = 5;
  core::TimeMs backoff_ms = 1000;  // first retry delay; doubles per try, with jitter
  std::optional<std::int64_t> fallback_response;
};

struct ResponseSpec {
  std::string name;
  std::string type;  // email | webhook
  bool enabled = true;
  std::vector<std::string> events{"threat.created"};
  std::vector<core::ProjectId> projects;  // empty: every project of the organisation
  FireScope scope = FireScope::kAll;
  core::Severity min_severity = core::Severity::kInfo;
  std::vector<Override> overrides;
  std::optional<Throttle> throttle;
  std::optional<EmailAction> email;
  std::optional<WebhookAction> webhook;
};

// The events a response may fire on.
const std::vector<std::string>& knownEvents();

// Parses and validates a response body. `previous` (an update) keeps the stored webhook secret
// when the body leaves "secret" out.
core::Result<ResponseSpec> parseResponseSpec(const Json& body,
                                             const ResponseSpec* previous = nullptr);
// The spec as stored and shown; the secret only when `with_secret` (storage), otherwise
// "secret_set": true|false.
Json encodeResponseSpec(const ResponseSpec& spec, bool with_secret);

// Whether a threat passes the rule's scope, severity and overrides.
bool matches(const ResponseSpec& spec, const core::Threat& threat);

// The shipped webhook presets (src/respond/presets.json): name -> {method, headers, payload}.
const Json& webhookPresets();

}  // namespace td::respond
