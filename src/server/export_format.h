// How threats look in a bulk export: CSV (one header line, one row per threat, RFC 4180 quoting,
// formula-looking cells neutralised) and NDJSON (the API's threat object, one per line). Shared
// by the export route and `threatdesk export` so both write the same bytes. Pure functions.
#pragma once

#include <string>
#include <string_view>

#include "core/threat.h"

namespace td::server {

inline constexpr std::string_view kThreatCsvHeader =
    "id,project_id,name,score,severity,kind,source,state,outcome,group,owner,entity_type,"
    "entity_value,entity_group,host,rule_id,rule_group,tags,count,created_at,last_seen,"
    "closed_at\r\n";

void appendThreatCsv(std::string& out, const core::Threat& threat);
void appendThreatNdjson(std::string& out, const core::Threat& threat);

}  // namespace td::server
