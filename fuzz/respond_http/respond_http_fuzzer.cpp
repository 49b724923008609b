// The lean HTTP client's response parser: never crashes, hangs or reads past its answer on any
// bytes, in any split; the same input fed whole and byte by byte ends the same way; what it keeps
// of a body is at most 4 KiB; an error always says why and never lets the connection be kept.
// The first byte picks how the rest is split (and whether the request was a HEAD).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "respond/http_client.h"

using td::respond::http::ResponseParser;

namespace {
struct Ended {
  ResponseParser::Step step;
  size_t consumed;
};

Ended run(ResponseParser& p, std::string_view text, size_t piece) {
  size_t at = 0;
  while (at < text.size() && p.step() == ResponseParser::Step::kMore) {
    size_t used = 0;
    const std::string_view part = text.substr(at, std::min(piece, text.size() - at));
    const auto step = p.feed(part, used);
    if (used > part.size()) __builtin_trap();
    if (step == ResponseParser::Step::kMore && used != part.size()) __builtin_trap();
    at += used;
  }
  if (p.step() == ResponseParser::Step::kMore) p.closed();
  return {p.step(), at};
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool head = data[0] & 0x80;
  const size_t piece = 1 + (data[0] & 0x7f);
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  ResponseParser whole(head), split(head);
  const Ended a = run(whole, text, text.size() + 1);
  const Ended b = run(split, text, piece);
  if (a.step != b.step) __builtin_trap();
  if (a.step == ResponseParser::Step::kDone &&
      (a.consumed != b.consumed || whole.body() != split.body() ||
       whole.status() != split.status() || whole.keepAlive() != split.keepAlive() ||
       whole.retryAfterMs().has_value() != split.retryAfterMs().has_value()))
    __builtin_trap();
  // An HTTP date in Retry-After is counted from the clock, which moved between the two runs.
  if (whole.retryAfterMs() && split.retryAfterMs() &&
      (*whole.retryAfterMs() - *split.retryAfterMs() > 1000 ||
       *split.retryAfterMs() - *whole.retryAfterMs() > 1000))
    __builtin_trap();
  if (whole.body().size() > ResponseParser::kMaxBodyKept) __builtin_trap();
  if (a.step == ResponseParser::Step::kError && (whole.error().empty() || whole.keepAlive()))
    __builtin_trap();
  if (a.step == ResponseParser::Step::kDone && (whole.status() < 200 || whole.status() > 999))
    __builtin_trap();
  return 0;
}
