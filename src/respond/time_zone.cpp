#include "respond/time_zone.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>

namespace td::respond {
namespace {

using core::ErrorCode;
using core::fail;

std::int64_t be(std::string_view d, size_t at, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(d[at + i]);
  if (bytes == 4) return static_cast<std::int32_t>(static_cast<std::uint32_t>(v));
  return static_cast<std::int64_t>(v);
}

std::int64_t floorDiv(std::int64_t a, std::int64_t b) {
  std::int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

}  // namespace

int TimeZone::offsetSeconds(TimeMs utc) const {
  const std::int64_t s = floorDiv(utc, 1000);
  auto it = std::upper_bound(transitions_.begin(), transitions_.end(), s);
  if (it == transitions_.begin()) return initial_offset_;
  return offsets_[static_cast<size_t>(it - transitions_.begin()) - 1];
}

TimeMs TimeZone::toUtc(TimeMs local) const {
  // Two rounds settle every real zone: guess with the offset at the local time read as UTC.
  TimeMs guess = local - offsetSeconds(local) * 1000LL;
  TimeMs second = local - offsetSeconds(guess) * 1000LL;
  return std::min(guess, second);
}

std::shared_ptr<const TimeZone> TimeZone::utc() {
  static const auto kUtc = [] {
    auto z = std::make_shared<TimeZone>();
    z->name_ = "UTC";
    return std::shared_ptr<const TimeZone>(z);
  }();
  return kUtc;
}

core::Result<std::shared_ptr<const TimeZone>> TimeZone::fromTzif(std::string_view d,
                                                                 std::string name) {
  auto bad = [&](const std::string& why) {
    return fail(ErrorCode::kUnprocessable, "time zone " + name + ": " + why, "time_zone");
  };
  auto header = [&](size_t at, std::int64_t counts[6]) -> bool {
    if (d.size() < at + 44 || d.substr(at, 4) != "TZif") return false;
    for (int i = 0; i < 6; ++i) counts[i] = be(d, at + 20 + 4 * i, 4);
    for (int i = 0; i < 6; ++i)
      if (counts[i] < 0 || counts[i] > 100000) return false;
    return true;
  };
  std::int64_t c[6];  // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
  if (!header(0, c)) return bad("not a TZif file");
  size_t at = 44;
  int time_bytes = 4;
  const char version = d[4];
  if (version >= '2') {
    // Skip the 32-bit block and read the 64-bit one.
    const size_t skip = c[3] * 4 + c[3] + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
    if (d.size() < at + skip) return bad("truncated");
    at += skip;
    if (!header(at, c)) return bad("missing the 64-bit block");
    at += 44;
    time_bytes = 8;
  }
  const size_t timecnt = c[3], typecnt = c[4];
  if (typecnt == 0) return bad("no local time types");
  const size_t need = timecnt * time_bytes + timecnt + typecnt * 6;
  if (d.size() < at + need) return bad("truncated");
  auto z = std::make_shared<TimeZone>();
  z->name_ = std::move(name);
  std::vector<int> type_offsets(typecnt);
  const size_t types_at = at + timecnt * time_bytes + timecnt;
  for (size_t i = 0; i < typecnt; ++i) {
    const auto off = be(d, types_at + i * 6, 4);
    if (off < -26 * 3600 || off > 26 * 3600) return bad("offset out of range");
    type_offsets[i] = static_cast<int>(off);
  }
  z->initial_offset_ = type_offsets[0];
  std::int64_t last = INT64_MIN;
  for (size_t i = 0; i < timecnt; ++i) {
    const auto t = be(d, at + i * time_bytes, time_bytes);
    const auto idx = static_cast<unsigned char>(d[at + timecnt * time_bytes + i]);
    if (idx >= typecnt) return bad("bad type index");
    if (t <= last) continue;  // keep strictly ascending
    last = t;
    z->transitions_.push_back(t);
    z->offsets_.push_back(type_offsets[idx]);
  }
  return std::shared_ptr<const TimeZone>(z);
}

core::Result<std::shared_ptr<const TimeZone>> timeZone(std::string_view name) {
  if (name.empty() || name == "UTC" || name == "Etc/UTC" || name == "Z") return TimeZone::utc();
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
  std::stringstream ss;
  ss << in.rdbuf();
  auto z = TimeZone::fromTzif(ss.str(), std::string(name));
  if (!z) return fail(z.error());
  cache.emplace(std::string(name), *z);
  return *z;
}

int minuteOfDay(TimeMs local) {
  const auto ms = local - floorDiv(local, core::kDayMs) * core::kDayMs;
  return static_cast<int>(ms / core::kMinuteMs);
}

int weekday(TimeMs local) {
  const auto days = floorDiv(local, core::kDayMs);  // 1970-01-01 was a Thursday
  return static_cast<int>(((days % 7) + 7 + 4) % 7);
}

TimeMs startOfDay(TimeMs local) { return floorDiv(local, core::kDayMs) * core::kDayMs; }

core::Result<int> parseClock(std::string_view t, const std::string& field) {
  auto bad = [&] {
    return fail(
        ErrorCode::kUnprocessable,
        "expected a time of day HH:MM (00:00-23:59), got '" + std::string(t.substr(0, 16)) + "'",
        field);
  };
  if (t.size() != 5 || t[2] != ':') return bad();
  for (size_t i : {0, 1, 3, 4})
    if (t[i] < '0' || t[i] > '9') return bad();
  const int h = (t[0] - '0') * 10 + (t[1] - '0');
  const int m = (t[3] - '0') * 10 + (t[4] - '0');
  if (h > 23 || m > 59) return bad();
  return h * 60 + m;
}

}  // namespace td::respond
