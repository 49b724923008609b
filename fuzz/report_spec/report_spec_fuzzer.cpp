// The report document validator: any input either parses into a spec whose widgets sit on the
// grid without overlapping, or is refused with errors that each carry a code and a message.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "report/spec.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = td::report::parseSpecAll(text);
  if (parsed.spec) {
    if (!parsed.errors.empty()) std::abort();
    const auto& s = *parsed.spec;
    for (size_t i = 0; i < s.widgets.size(); ++i) {
      const auto& a = s.widgets[i].position;
      if (a.x < 0 || a.w < 1 || a.x + a.w > s.columns || a.y < 0 || a.h < 1) std::abort();
      for (size_t k = 0; k < i; ++k) {
        const auto& b = s.widgets[k].position;
        if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h)
          std::abort();
      }
      (void)td::report::widgetTitle(s.widgets[i]);
      (void)td::report::effectiveFilter(s, s.widgets[i]);
    }
  } else {
    if (parsed.errors.empty()) std::abort();
    for (const auto& e : parsed.errors)
      if (e.message.empty()) std::abort();
  }
  return 0;
}
