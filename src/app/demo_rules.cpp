#include "app/demo_rules.h"

#include "server/rule_service.h"

namespace td::app {
namespace {

struct DemoRule {
  const char* yaml;
  const char* action;  // "" = the level's defaults
};

// Made up for the demo.
constexpr DemoRule kRules[] = {
    {R"(title: Demo - Shadow Copies Deleted with vssadmin
id: d3m0a001-0000-4000-8000-000000000001
status: test
level: critical
description: Made-up demo rule. Ransomware deletes volume shadow copies before encrypting.
tags: [attack.impact, attack.t1490]
logsource: {product: windows, category: process_creation}
detection:
  selection:
    Image|endswith: '\vssadmin.exe'
    CommandLine|contains|all: [delete, shadows]
  condition: selection
)",
     R"({"name":"{{rule.title}} on {{host}}","check_by":["rule","entity"]})"},
    {R"(title: Demo - Encoded PowerShell Command Line
id: d3m0a001-0000-4000-8000-000000000002
status: test
level: high
description: Made-up demo rule. PowerShell started with a base64 encoded command.
tags: [attack.execution, attack.t1059.001]
logsource: {product: windows, category: process_creation}
detection:
  selection:
    Image|endswith: '\powershell.exe'
    CommandLine|contains: [' -enc ', ' -EncodedCommand ']
  condition: selection
)",
     ""},
    {R"(title: Demo - New Service Installed
id: d3m0a001-0000-4000-8000-000000000003
status: test
level: low
description: Made-up demo rule. A new service is noteworthy, rarely a threat on its own.
tags: [attack.persistence, attack.t1543.003]
logsource: {product: windows, service: system}
detection:
  selection:
    EventID: 7045
  condition: selection
)",
     R"({"type":"create_signal","score":40})"},
    {R"(title: Demo - Interactive Logon by Service Account
id: d3m0a001-0000-4000-8000-000000000004
status: test
level: low
description: Made-up demo rule. Service accounts should not log on interactively.
tags: [attack.initial_access, attack.t1078]
logsource: {product: windows, service: security}
detection:
  selection:
    EventID: 4624
    LogonType: [2, 10]
    TargetUserName|startswith: svc_
  condition: selection
)",
     R"({"type":"create_signal","score":30,"entity":[{"type":"host","field":"host"}]})"},
    {R"(title: Demo - Host Collects Many Signals
id: d3m0a001-0000-4000-8000-000000000005
level: high
description: Made-up demo entity rule. Signals on one host add up to a threat.
entity_rule:
  entity: [host]
  window: 24h
  score_sum: 100
  suppress: 24h
)",
     ""},
};

}  // namespace

core::Status seedDemoRules(store::Store& store) {
  for (const auto& r : kRules) {
    auto created = server::addCustomRule(store.rules(), r.yaml, "Demo Rules");
    if (!created) return core::fail(created.error());
    if (*r.action) {
      store::RuleChange change;
      change.action_json = r.action;
      if (auto c = store.rules().changeRule(created->id, change); !c) return core::fail(c.error());
    }
  }
  return {};
}

}  // namespace td::app
