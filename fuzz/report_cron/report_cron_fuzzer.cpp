// Cron expressions and TZif time zones: the first input byte picks the target. For cron, a parsed
// expression's next run must be later than the start and be found again from just before it; for
// TZif, toUtc(toLocal(t)) must never move a time that no change makes ambiguous by more than a
// day.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "report/cron.h"
#include "report/time_zone.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    auto cron = td::report::parseCron(text);
    if (!cron) {
      if (cron.error().field != "cron") std::abort();
      return 0;
    }
    const auto& zone = *td::report::TimeZone::utc();
    const td::report::TimeMs start = 1'790'000'000'000;  // 2026-09
    auto next = td::report::nextRun(*cron, zone, start);
    if (next) {
      if (*next <= start) std::abort();
      auto again = td::report::nextRun(*cron, zone, *next - 1);
      if (!again || *again != *next) std::abort();
    }
    return 0;
  }
  auto zone = td::report::TimeZone::fromTzif(text, "fuzz");
  if (!zone) return 0;
  for (td::report::TimeMs t = 0; t < 4 * 365 * td::core::kDayMs; t += 37 * td::core::kHourMs) {
    const auto local = (*zone)->toLocal(t);
    const auto back = (*zone)->toUtc(local);
    if (back > t + td::core::kDayMs * 2 || back < t - td::core::kDayMs * 2) std::abort();
  }
  return 0;
}
