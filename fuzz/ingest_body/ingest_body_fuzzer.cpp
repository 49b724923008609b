// The body of POST /api/v1/ingest (NDJSON or a JSON array) through the parser: it must never
// crash, never recurse without bound, and every event it accepts must be a JSON object on its own
// line; accepted plus rejected never exceeds the non-blank lines.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <nlohmann/json.hpp>

#include "server/ingest_body.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto parsed = td::server::parseIngestBody(body);
  if (!parsed) return 0;
  for (auto ev : parsed->events) {
    if (ev.empty() || ev.front() != '{') std::abort();
    if (!nlohmann::json::accept(ev)) std::abort();
  }
  if (!parsed->array) {
    std::size_t lines = 1;
    for (char c : body) lines += c == '\n';
    if (parsed->events.size() + parsed->rejected > lines) std::abort();
  }
  if (parsed->rejects.size() > td::server::kMaxIngestRejectsListed) std::abort();
  return 0;
}
