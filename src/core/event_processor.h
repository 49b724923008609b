// A stage of the live event pipeline. The Sigma engine and the intel matcher each implement it;
// the ingest route (and `threatdesk ingest` against a server) hands every accepted batch of
// events to each registered processor, which sends what it finds to the sink. Processors know
// nothing of HTTP or the store.
//
// Thread safety: process() is called from several ingest threads at once.
#pragma once

#include <string_view>
#include <vector>

#include "core/detection_sink.h"
#include "core/threat.h"

namespace td::core {

class EventProcessor {
 public:
  EventProcessor() = default;
  EventProcessor(const EventProcessor&) = delete;
  EventProcessor& operator=(const EventProcessor&) = delete;
  virtual ~EventProcessor() = default;

  // Short name for logs and metrics ("sigma", "intel").
  virtual std::string_view name() const = 0;

  // `events` are JSON objects that already parsed; `project` is the project they were sent to
  // (the ingest token's). Must not throw: a processor's failure on one event is its own to count.
  virtual void process(const std::vector<std::string_view>& events, ProjectId project,
                       DetectionSink& sink) noexcept = 0;
};

}  // namespace td::core
