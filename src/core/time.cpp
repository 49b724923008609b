#include "core/time.h"

#include <chrono>
#include <cstdio>

namespace td::core {
namespace {

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
std::int64_t daysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool readDigits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

}  // namespace

TimeMs nowMs() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string formatRfc3339(TimeMs t) {
  using namespace std::chrono;
  const sys_days day{days{t >= 0 ? t / kDayMs : (t - kDayMs + 1) / kDayMs}};
  const year_month_day ymd{day};
  TimeMs rest = t - static_cast<TimeMs>(day.time_since_epoch().count()) * kDayMs;
  const int hh = static_cast<int>(rest / kHourMs);
  rest %= kHourMs;
  const int mm = static_cast<int>(rest / kMinuteMs);
  rest %= kMinuteMs;
  const int ss = static_cast<int>(rest / kSecondMs);
  const int ms = static_cast<int>(rest % kSecondMs);
  const int year = int(ymd.year());
  if (year < 0 || year > 9999) {  // outside what the fixed-width form below writes
    char buf[48];
    if (ms != 0) {
      std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ", year,
                    unsigned(ymd.month()), unsigned(ymd.day()), hh, mm, ss, ms);
    } else {
      std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", year, unsigned(ymd.month()),
                    unsigned(ymd.day()), hh, mm, ss);
    }
    return buf;
  }
  // Written by hand: snprintf was a measurable part of writing detections (one time each).
  char buf[24] = "0000-00-00T00:00:00.000";
  auto put = [&buf](int at, int value, int width) {
    for (int i = at + width - 1; i >= at; --i, value /= 10)
      buf[i] = static_cast<char>('0' + value % 10);
  };
  put(0, year, 4);
  put(5, static_cast<int>(unsigned(ymd.month())), 2);
  put(8, static_cast<int>(unsigned(ymd.day())), 2);
  put(11, hh, 2);
  put(14, mm, 2);
  put(17, ss, 2);
  if (ms == 0) {
    buf[19] = 'Z';
    return std::string(buf, 20);
  }
  put(20, ms, 3);
  buf[23] = 'Z';
  return std::string(buf, 24);
}

Result<TimeMs> parseRfc3339(std::string_view s) {
  auto bad = [&] {
    return fail(ErrorCode::kInvalidArgument,
                "not an RFC 3339 time (expected e.g. 2026-11-23T10:00:00Z): '" +
                    std::string(s.substr(0, 64)) + "'");
  };
  int year, month, day;
  if (!readDigits(s, 0, 4, year) || s.size() < 10 || s[4] != '-' || !readDigits(s, 5, 2, month) ||
      s[7] != '-' || !readDigits(s, 8, 2, day))
    return bad();
  if (month < 1 || month > 12 || day < 1 || day > 31) return bad();
  TimeMs t = daysFromCivil(year, month, day) * kDayMs;
  if (s.size() == 10) return t;
  if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return bad();
  int hh, mm, ss = 0;
  if (!readDigits(s, 11, 2, hh) || s.size() < 16 || s[13] != ':' || !readDigits(s, 14, 2, mm))
    return bad();
  size_t pos = 16;
  if (pos < s.size() && s[pos] == ':') {
    if (!readDigits(s, 17, 2, ss)) return bad();
    pos = 19;
  }
  if (hh > 23 || mm > 59 || ss > 60) return bad();
  t += hh * kHourMs + mm * kMinuteMs + ss * kSecondMs;
  if (pos < s.size() && (s[pos] == '.' || s[pos] == ',')) {
    ++pos;
    int scale = 100, ms = 0;
    size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      ms += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return bad();
    t += ms;
  }
  if (pos == s.size()) return bad();  // a date-time without a zone is ambiguous
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    const int sign = s[pos] == '+' ? 1 : -1;
    int oh, om;
    if (!readDigits(s, pos + 1, 2, oh) || pos + 6 > s.size() || s[pos + 3] != ':' ||
        !readDigits(s, pos + 4, 2, om))
      return bad();
    t -= sign * (oh * kHourMs + om * kMinuteMs);
    pos += 6;
  } else {
    return bad();
  }
  if (pos != s.size()) return bad();
  return t;
}

}  // namespace td::core
