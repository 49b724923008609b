// Sigma YAML -> parsed rule -> compiled engine -> one evaluation. Any input must end in a load
// report or an engine, never a crash, a hang or a leak.
#include <cstddef>
#include <cstdint>
#include <string>

#include "detect/engine.h"
#include "detect/sigma_rule.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;
  const std::string text(reinterpret_cast<const char*>(data), size);
  td::detect::LoadReport report;
  auto rules = td::detect::parseSigmaYaml(text, "fuzz.yml", report);
  for (const auto& d : report.diagnostics) (void)d.format();
  auto engine = td::detect::Engine::build(std::move(rules), {}, report);
  if (!engine) return 0;
  td::detect::Matcher m(*engine);
  std::vector<std::uint32_t> hits;
  (void)m.evaluate(R"({"Event":{"System":{"EventID":1,"Channel":"Microsoft-Windows-Sysmon/Operational","Computer":"h"},"EventData":{"Image":"C:\\a\\cmd.exe","CommandLine":"cmd /c whoami -all","User":"u"}}})",
                   hits);
  (void)m.evaluate(R"({"a":"b","c":[1,2,{"d":null}],"EventID":4688})", hits);
  return 0;
}
