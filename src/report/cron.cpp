#include "report/cron.h"

#include <array>
#include <charconv>
#include <vector>

#include "core/text.h"

namespace td::report {
namespace {

using core::ErrorCode;
using core::fail;

struct Field {
  const char* name;
  int min, max;
  const char* const* names;  // optional symbolic names for min..
  int names_from;
};

constexpr const char* kMonthNames[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                       "jul", "aug", "sep", "oct", "nov", "dec", nullptr};
constexpr const char* kDayNames[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", nullptr};

const std::array<Field, 5> kFields = {{{"minute", 0, 59, nullptr, 0},
                                       {"hour", 0, 23, nullptr, 0},
                                       {"day of month", 1, 31, nullptr, 0},
                                       {"month", 1, 12, kMonthNames, 1},
                                       {"day of week", 0, 7, kDayNames, 0}}};

std::optional<int> value(std::string_view s, const Field& f) {
  if (f.names) {
    const std::string lower = core::toLower(s);
    for (int i = 0; f.names[i]; ++i)
      if (lower == f.names[i]) return f.names_from + i;
  }
  int v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty()) return std::nullopt;
  if (v < f.min || v > f.max) return std::nullopt;
  return v;
}

// Sets the bits of one field; false on a bad item.
bool parseField(std::string_view text, const Field& f, std::vector<bool>& bits, bool& star,
                std::string& why) {
  bits.assign(static_cast<size_t>(f.max) + 1, false);
  star = text == "*";
  if (text.empty()) {
    why = "is empty";
    return false;
  }
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    std::string_view item =
        text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    start = comma == std::string_view::npos ? text.size() + 1 : comma + 1;
    int step = 1;
    if (auto slash = item.find('/'); slash != std::string_view::npos) {
      std::string_view s = item.substr(slash + 1);
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), step);
      if (ec != std::errc() || p != s.data() + s.size() || step < 1 || step > f.max + 1) {
        why = "has a bad step '" + std::string(s) + "'";
        return false;
      }
      item = item.substr(0, slash);
    }
    int lo = f.min, hi = f.max;
    if (item == "*") {
      if (f.max == 7) hi = 6;  // day of week: "*" is 0..6
    } else if (auto dash = item.find('-'); dash != std::string_view::npos) {
      auto a = value(item.substr(0, dash), f), b = value(item.substr(dash + 1), f);
      if (!a || !b || *a > *b) {
        why = "has a bad range '" + std::string(item) + "'";
        return false;
      }
      lo = *a;
      hi = *b;
    } else {
      auto v = value(item, f);
      if (!v) {
        why = "has a bad value '" + std::string(item) + "' (" + std::to_string(f.min) + "-" +
              std::to_string(f.max) + ")";
        return false;
      }
      lo = *v;
      hi = item.size() && step > 1 ? f.max : *v;  // "5/15" means 5-max/15
      if (f.max == 7 && step > 1) hi = 6;
    }
    for (int v = lo; v <= hi; v += step) bits[static_cast<size_t>(v)] = true;
  }
  return true;
}

}  // namespace

core::Result<CronExpr> parseCron(std::string_view input) {
  std::string_view text = core::trim(input);
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::kUnprocessable,
                "cron expression '" + std::string(text.substr(0, 100)) + "': " + why, "cron");
  };
  if (text.size() > 200) return bad("is longer than 200 characters");
  static const std::array<std::pair<std::string_view, std::string_view>, 7> kMacros = {{
      {"@hourly", "0 * * * *"},
      {"@daily", "0 0 * * *"},
      {"@midnight", "0 0 * * *"},
      {"@weekly", "0 0 * * 0"},
      {"@monthly", "0 0 1 * *"},
      {"@yearly", "0 0 1 1 *"},
      {"@annually", "0 0 1 1 *"},
  }};
  std::string_view body = text;
  if (!text.empty() && text[0] == '@') {
    bool found = false;
    for (const auto& [name, expansion] : kMacros)
      if (core::equalsIgnoreCase(text, name)) {
        body = expansion;
        found = true;
      }
    if (!found) return bad("unknown macro (expected @hourly, @daily, @weekly, @monthly, @yearly)");
  }
  std::vector<std::string_view> parts;
  size_t i = 0;
  while (i < body.size()) {
    while (i < body.size() && (body[i] == ' ' || body[i] == '\t')) ++i;
    size_t j = i;
    while (j < body.size() && body[j] != ' ' && body[j] != '\t') ++j;
    if (j > i) parts.push_back(body.substr(i, j - i));
    i = j;
  }
  if (parts.size() != 5)
    return bad("needs five fields (minute hour day-of-month month day-of-week), found " +
               std::to_string(parts.size()));
  CronExpr out;
  out.text = std::string(text);
  for (size_t f = 0; f < 5; ++f) {
    std::vector<bool> bits;
    bool star = false;
    std::string why;
    if (!parseField(parts[f], kFields[f], bits, star, why))
      return bad(std::string("the ") + kFields[f].name + " field " + why);
    for (size_t v = 0; v < bits.size(); ++v) {
      if (!bits[v]) continue;
      switch (f) {
        case 0: out.minutes.set(v); break;
        case 1: out.hours.set(v); break;
        case 2: out.days.set(v); break;
        case 3: out.months.set(v); break;
        case 4: out.weekdays.set(v % 7); break;
      }
    }
    if (f == 2) out.any_day = star;
    if (f == 4) out.any_weekday = star;
  }
  return out;
}

std::optional<TimeMs> nextRun(const CronExpr& cron, const TimeZone& zone, TimeMs after) {
  // Walk local days from the day of `after` (one earlier, in case a fall-back change makes a
  // time of the previous local day come after `after`), and in each matching day the matching
  // hours and minutes, until one maps to an instant after `after`.
  const TimeMs local_after = zone.toLocal(after);
  const std::int64_t first_day = floorDiv(local_after, core::kDayMs) - 1;
  constexpr std::int64_t kHorizonDays = 5 * 366 + 2;
  for (std::int64_t day = first_day; day < first_day + kHorizonDays; ++day) {
    const CivilDate date = civilFromDays(day);
    if (!cron.months.test(static_cast<size_t>(date.month))) {
      // Skip to the first day of the next month.
      day += daysInMonth(date.year, date.month) - date.day;
      continue;
    }
    const bool dom = cron.days.test(static_cast<size_t>(date.day));
    const bool dow = cron.weekdays.test(static_cast<size_t>(weekdayOfDays(day)));
    bool match;
    if (cron.any_day && cron.any_weekday)
      match = true;
    else if (cron.any_day)
      match = dow;
    else if (cron.any_weekday)
      match = dom;
    else
      match = dom || dow;
    if (!match) continue;
    for (int h = 0; h < 24; ++h) {
      if (!cron.hours.test(static_cast<size_t>(h))) continue;
      for (int m = 0; m < 60; ++m) {
        if (!cron.minutes.test(static_cast<size_t>(m))) continue;
        const TimeMs local = day * core::kDayMs + h * core::kHourMs + m * core::kMinuteMs;
        const TimeMs at = zone.toUtc(local);
        if (at > after) return at;
      }
    }
  }
  return std::nullopt;
}

}  // namespace td::report
