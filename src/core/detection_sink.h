// Where the engines (detect, intel, vuln) send what they find. The engines know nothing of the
// store: the threat sink in `triage` implements this and de-duplicates into threats.
// Implementations are safe to call from several worker threads at once.
#pragma once

#include <vector>

#include "core/threat.h"

namespace td::core {

class DetectionSink {
 public:
  DetectionSink() = default;
  DetectionSink(const DetectionSink&) = delete;
  DetectionSink& operator=(const DetectionSink&) = delete;
  virtual ~DetectionSink() = default;

  // Hands over a batch. Returns once the batch is queued (not necessarily stored); a detection
  // that fails validation is counted and logged by the sink, never thrown back at the engine.
  virtual void submit(std::vector<Detection> batch) = 0;
};

}  // namespace td::core
