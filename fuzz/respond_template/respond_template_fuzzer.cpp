// The response template parser: never crashes or hangs on any input, refuses with a position,
// and what it accepts renders in every escaping context without crashing. With the threat schema
// (as the API parses) and without one.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "respond/template.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  td::respond::Vars vars;
  vars.set("name", "<a \"b\" & 'c'>\n\x01");
  vars.set("threat_id", "42");
  vars.set("group", "L1");
  vars.setFields(
      std::make_shared<const nlohmann::json>(nlohmann::json{{"a", {{"b", 1}}}, {"c.d", "x"}}));
  td::respond::Vars item;
  item.set("name", "item");
  vars.setList("threats", {item, item});
  for (const auto* schema : {&td::respond::threatSchema(), &td::respond::digestSchema(),
                             static_cast<const td::respond::VarSchema*>(nullptr)}) {
    auto t = td::respond::Template::parse(text, schema);
    if (!t) {
      if (t.error().field.empty()) __builtin_trap();  // every refusal says where
      continue;
    }
    for (auto e :
         {td::respond::Escape::kText, td::respond::Escape::kHtml, td::respond::Escape::kJson,
          td::respond::Escape::kUrl, td::respond::Escape::kHeader})
      (void)t->render(vars, e);
  }
  return 0;
}
