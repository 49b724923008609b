// Event JSON through the matcher: a fixed rule set that exercises every check kind (literals,
// wildcards, keywords, regex, cidr, numbers, exists, null, fieldref, windash, base64offset) and a
// correlation, fed with arbitrary bytes as an event.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "detect/correlation.h"
#include "detect/engine.h"
#include "detect/sigma_rule.h"

namespace {

const char* kRules = R"(title: literals
id: r1
logsource: {product: windows, category: process_creation}
detection:
  sel:
    Image|endswith: ['\cmd.exe', '\powershell.exe']
    CommandLine|contains|windash: [' -enc ', 'whoami']
  filter:
    ParentImage|startswith: 'C:\Program Files\'
  condition: sel and not filter
---
title: everything
id: r2
logsource: {}
detection:
  a: {CommandLine|re|i: '^c.d\s+/c', Count|gt: 3}
  b: {DestinationIp|cidr: ['10.0.0.0/8', 'fe80::/10']}
  c: {Field|exists: true, Other: null}
  d: {TargetFilename|fieldref: Image}
  e: {CommandLine|base64offset|contains: 'IEX'}
  f: {Value: 'a*b?c\*'}
  keywords: ['mimikatz', 'sekurlsa']
  condition: 1 of them or (a and not b)
---
title: brute
id: r3
correlation:
  type: event_count
  rules: [r2]
  group-by: [User]
  timespan: 5m
  condition: {gte: 3}
)";

struct Fixture {
  std::shared_ptr<const td::detect::Engine> engine;
  Fixture() {
    td::detect::LoadReport report;
    td::detect::EngineOptions opts;
    opts.correlation_max_groups = 16;
    auto rules = td::detect::parseSigmaYaml(kRules, "fuzz.yml", report);
    engine = *td::detect::Engine::build(std::move(rules), opts, report);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  static Fixture fixture;
  static td::detect::Matcher matcher(fixture.engine);
  static td::detect::CorrelationEngine correlations(fixture.engine);
  const std::string_view json(reinterpret_cast<const char*>(data), size);
  std::vector<std::uint32_t> hits;
  if (!matcher.evaluate(json, hits)) return 0;
  std::vector<td::detect::CorrelationHit> fired;
  correlations.observe(matcher, hits, fired);
  for (auto h : hits) (void)td::detect::makeDetection(matcher, h, json);
  for (const auto& f : fired) (void)td::detect::makeCorrelationDetection(*fixture.engine, f, "");
  (void)matcher.time();
  (void)matcher.user();
  return 0;
}
