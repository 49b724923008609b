#include "server/export_format.h"

#include "server/json_codec.h"

namespace td::server {
namespace {

// A spreadsheet runs a cell that starts with = + - @ (or tab/CR) as a formula; exported threat
// names come from detections, i.e. from attackers, so such cells get a leading quote.
std::string csvCell(std::string_view value) {
  std::string v(value);
  if (!v.empty() &&
      (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' || v[0] == '\r'))
    v.insert(v.begin(), '\'');
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string out = "\"";
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

}  // namespace

void appendThreatCsv(std::string& out, const core::Threat& t) {
  std::string tags;
  for (const auto& tag : t.tags) {
    if (!tags.empty()) tags += ';';
    tags += tag;
  }
  const std::string cells[] = {std::to_string(t.id),
                               std::to_string(t.project_id),
                               csvCell(t.name),
                               std::to_string(t.score),
                               std::string(core::severityName(t.severity)),
                               std::string(core::threatKindName(t.kind)),
                               csvCell(t.source),
                               csvCell(t.state),
                               csvCell(t.outcome),
                               csvCell(t.group),
                               csvCell(t.owner),
                               csvCell(t.entity.type),
                               csvCell(t.entity.value),
                               csvCell(t.entity_group),
                               csvCell(t.host),
                               csvCell(t.rule_id),
                               csvCell(t.rule_group),
                               csvCell(tags),
                               std::to_string(t.count),
                               core::formatRfc3339(t.created_at),
                               core::formatRfc3339(t.last_seen),
                               t.closed_at ? core::formatRfc3339(*t.closed_at) : std::string()};
  bool first = true;
  for (const auto& c : cells) {
    if (!first) out += ',';
    out += c;
    first = false;
  }
  out += "\r\n";
}

void appendThreatNdjson(std::string& out, const core::Threat& threat) {
  out += dumpJson(encodeThreat(threat, true));
  out += '\n';
}

}  // namespace td::server
