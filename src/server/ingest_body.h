// The body of POST /api/v1/ingest: NDJSON (one JSON object per line) or one JSON array of
// objects. Each event is checked to be a JSON object on its own, so one bad line is rejected
// with its number and reason while the good lines beside it are accepted. A JSON array must be
// well-formed as a whole (its element boundaries cannot be trusted otherwise); its elements are
// numbered 1.. like lines.
//
// Pure function; safe from any thread. Never throws.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace td::server {

constexpr size_t kMaxIngestEvents = 100'000;   // per request
constexpr size_t kMaxIngestRejectsListed = 100;  // reasons listed in the answer; all are counted
constexpr int kMaxEventDepth = 64;

struct RejectedLine {
  std::uint64_t line = 0;  // 1-based line (NDJSON) or element (array) number
  std::string reason;
};

struct IngestBody {
  // Views into the request body (NDJSON) or into `owned` (array elements re-serialised).
  std::vector<std::string_view> events;
  std::vector<std::string> owned;
  std::uint64_t rejected = 0;
  std::vector<RejectedLine> rejects;  // the first kMaxIngestRejectsListed
  bool array = false;
};

// Fails only when the body as a whole cannot be read: a JSON array that is not well-formed, or
// more than kMaxIngestEvents events.
core::Result<IngestBody> parseIngestBody(std::string_view body);

}  // namespace td::server
