#include "report/time_zone.h"

#include <algorithm>
#include <climits>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

namespace td::report {
namespace {

using core::ErrorCode;
using core::fail;

std::int64_t bigEndian(std::string_view d, size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(d[at + i]);
  if (bytes == 4) return static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
  return static_cast<std::int64_t>(v);
}

}  // namespace

std::int64_t floorDiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

int TimeZone::offsetSeconds(TimeMs utc) const {
  const std::int64_t s = floorDiv(utc, 1000);
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), s);
  if (it == transitions_.begin()) return first_offset_;
  return offsets_[static_cast<size_t>(it - transitions_.begin()) - 1];
}

TimeMs TimeZone::toUtc(TimeMs local) const {
  // Candidates: the local time read with the offset before and after any nearby transition.
  const TimeMs a = local - offsetSeconds(local - 26 * core::kHourMs) * 1000LL;
  const TimeMs b = local - offsetSeconds(local + 26 * core::kHourMs) * 1000LL;
  const TimeMs first = std::min(a, b), second = std::max(a, b);
  if (toLocal(first) == local) return first;
  if (toLocal(second) == local) return second;
  // Skipped by a spring-forward change: the instant of the jump, which lies between them.
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), floorDiv(first, 1000));
  if (it != transitions_.end()) return *it * 1000;
  return first;
}

std::shared_ptr<const TimeZone> TimeZone::utc() {
  static const std::shared_ptr<const TimeZone> kUtc = [] {
    auto z = std::make_shared<TimeZone>();
    z->name_ = "UTC";
    return z;
  }();
  return kUtc;
}

core::Result<std::shared_ptr<const TimeZone>> TimeZone::fromTzif(std::string_view d,
                                                                 std::string name) {
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::kUnprocessable, "time zone " + name + ": " + why, "time_zone");
  };
  // Header counts: isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt.
  std::int64_t c[6];
  auto header = [&](size_t at) {
    if (d.size() < at + 44 || d.substr(at, 4) != "TZif") return false;
    for (int i = 0; i < 6; ++i) {
      c[i] = bigEndian(d, at + 20 + 4 * static_cast<size_t>(i), 4);
      if (c[i] < 0 || c[i] > 100000) return false;
    }
    return true;
  };
  if (!header(0)) return bad("not a TZif file");
  size_t at = 44;
  int width = 4;
  if (d[4] >= '2') {  // version 2+: skip the 32-bit block, read the 64-bit one
    const auto skip = static_cast<size_t>(c[3] * 5 + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0]);
    if (d.size() < at + skip || !header(at + skip)) return bad("truncated");
    at += skip + 44;
    width = 8;
  }
  const auto count = static_cast<size_t>(c[3]), types = static_cast<size_t>(c[4]);
  if (types == 0) return bad("no local time types");
  if (d.size() < at + count * static_cast<size_t>(width) + count + types * 6)
    return bad("truncated");
  std::vector<int> offsets(types);
  const size_t types_at = at + count * static_cast<size_t>(width) + count;
  for (size_t i = 0; i < types; ++i) {
    const auto off = bigEndian(d, types_at + i * 6, 4);
    if (off < -26 * 3600 || off > 26 * 3600) return bad("offset out of range");
    offsets[i] = static_cast<int>(off);
  }
  auto z = std::make_shared<TimeZone>();
  z->name_ = std::move(name);
  z->first_offset_ = offsets[0];
  std::int64_t last = LLONG_MIN;
  for (size_t i = 0; i < count; ++i) {
    const auto t = bigEndian(d, at + i * static_cast<size_t>(width), width);
    const auto type = static_cast<unsigned char>(d[at + count * static_cast<size_t>(width) + i]);
    if (type >= types) return bad("bad local time type");
    if (t <= last || t < -(1LL << 40) || t > (1LL << 40)) continue;
    last = t;
    z->transitions_.push_back(t);
    z->offsets_.push_back(offsets[type]);
  }
  return std::shared_ptr<const TimeZone>(std::move(z));
}

core::Result<std::shared_ptr<const TimeZone>> loadTimeZone(std::string_view name) {
  if (name.empty() || name == "UTC" || name == "Etc/UTC") return TimeZone::utc();
  auto unknown = [&] {
    return fail(ErrorCode::kUnprocessable,
                "unknown time zone '" + std::string(name.substr(0, 64)) +
                    "' (expected an IANA name such as Europe/Berlin)",
                "time_zone");
  };
  if (name.size() > 64 || name.front() == '/' || name.find("..") != std::string_view::npos)
    return unknown();
  for (char ch : name)
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '/' || ch == '_' || ch == '-' ||
          ch == '+'))
      return unknown();
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const TimeZone>, std::less<>> cache;
  std::lock_guard lock(mu);
  if (auto it = cache.find(name); it != cache.end()) return it->second;
  const char* dir = std::getenv("TZDIR");
  const auto path =
      std::filesystem::path(dir && *dir ? dir : "/usr/share/zoneinfo") / std::string(name);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return unknown();
  std::ifstream in(path, std::ios::binary);
  std::stringstream data;
  data << in.rdbuf();
  auto zone = TimeZone::fromTzif(data.str(), std::string(name));
  if (!zone) return fail(zone.error());
  cache.emplace(std::string(name), *zone);
  return *zone;
}

// Howard Hinnant's days_from_civil / civil_from_days.
std::int64_t daysFromCivil(CivilDate d) {
  const std::int64_t y = d.year - (d.month <= 2 ? 1 : 0);
  const std::int64_t era = floorDiv(y, 400);
  const std::int64_t yoe = y - era * 400;
  const std::int64_t mp = (d.month + 9) % 12;
  const std::int64_t doy = (153 * mp + 2) / 5 + d.day - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

CivilDate civilFromDays(std::int64_t z) {
  z += 719468;
  const std::int64_t era = floorDiv(z, 146097);
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {static_cast<int>(yoe + era * 400 + (month <= 2 ? 1 : 0)), month, day};
}

int daysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))) return 29;
  return kDays[(month - 1) % 12];
}

int weekdayOfDays(std::int64_t days) {
  return static_cast<int>(floorDiv(days + 4, 7) * -7 + days + 4);  // 1970-01-01 was a Thursday
}

}  // namespace td::report
