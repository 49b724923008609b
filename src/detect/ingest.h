// Offline ingest: NDJSON events (plain or gzip) from files or stdin through an Engine, each
// detection written as one JSON line, optionally also handed to a DetectionSink. The hunt over a
// log dump (Zircolite, Chainsaw, Hayabusa) and the benchmarked path of `threatdesk ingest
// --offline`. A bad line is counted and reported by number; it never stops the lines around it.
//
// Thread safety: runOfflineIngest may be called from any thread; with threads > 1 it runs one
// reader and N matcher workers of its own, sharing the immutable Engine. The progress callback
// is called from the calling thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/detection_sink.h"
#include "core/error.h"
#include "detect/engine.h"

namespace td::detect {

struct IngestProgress {
  std::uint64_t events = 0;
  std::uint64_t bytes = 0;        // uncompressed bytes read
  std::uint64_t detections = 0;
  double seconds = 0;
};

// Another stage of the offline ingest beside the Sigma engine (the intel matcher is one); detect
// knows nothing of what it does. Each worker thread makes its own IngestStage from the factory and
// hands it every event line after the Sigma engine saw it (the same line, same padding).
class IngestStage {
 public:
  virtual ~IngestStage() = default;
  // One event. `padded`: simdjson::SIMDJSON_PADDING readable bytes follow `line`. Appends NDJSON
  // lines to `out` and detections to `detections` (null without a sink). Returns the number of
  // matches, or -1 when the line is not a JSON object (counted as bad only when no Sigma rule
  // ran, since otherwise the Sigma engine already judged the line). Must not throw.
  virtual long event(std::string_view line, bool padded, std::uint64_t line_no, std::string& out,
                     std::vector<core::Detection>* detections) noexcept = 0;
};
using IngestStageFactory = std::function<std::unique_ptr<IngestStage>()>;

struct IngestOptions {
  std::vector<std::string> inputs;  // NDJSON files (.gz read transparently) or "-" for stdin
  std::string out = "-";            // where detections go ("-" = stdout, "" = nowhere)
  int threads = 1;
  core::DetectionSink* sink = nullptr;  // when set, detections are also submitted here
  std::function<void(const IngestProgress&)> progress;  // called about every 250 ms
  // Extra stages; with an engine of no rules only these run (the Sigma engine is skipped).
  std::vector<IngestStageFactory> stages;
};

struct BadLine {
  std::uint64_t line = 0;  // 1-based, over all inputs
  std::string reason;
};

struct IngestSummary {
  std::uint64_t events = 0;
  std::uint64_t bad_events = 0;
  std::uint64_t bytes = 0;
  std::uint64_t detections = 0;
  double seconds = 0;
  std::vector<std::uint64_t> per_rule;  // detections per rule index of the engine
  std::vector<BadLine> bad_lines;       // the first 100
  std::uint64_t correlation_evictions = 0;
  std::vector<std::uint64_t> per_stage;  // matches per IngestOptions::stages entry
};

core::Result<IngestSummary> runOfflineIngest(std::shared_ptr<const Engine> engine,
                                             const IngestOptions& options);

}  // namespace td::detect
