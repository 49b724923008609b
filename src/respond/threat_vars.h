// The template variables of a threat and of the event that fired a response.
//
// Thread safety: pure functions.
#pragma once

#include <string>

#include "core/threat.h"
#include "respond/template.h"

namespace td::respond {

struct EventInfo {
  std::string kind;  // threat.created, ...
  std::string actor;
  std::string previous_state;
  std::int64_t organisation_id = 0;
  std::string project;
};

// `base_url` is the configured public URL; {{link}} is <base_url>/threats/<id>.
Vars threatVars(const core::Threat& threat, const EventInfo& event, const std::string& base_url);
std::string threatLink(const std::string& base_url, core::ThreatId id);
// A made-up threat for previews and test sends when no threat is named.
core::Threat sampleThreat();

}  // namespace td::respond
