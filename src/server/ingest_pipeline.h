// The live event pipeline behind POST /api/v1/ingest: the body is split into events (see
// ingest_body.h), and every accepted batch goes to each registered core::EventProcessor (the
// Sigma processor, the intel matcher, ...) in registration order, which send what they find to
// one core::DetectionSink (the triage::ThreatSink in `threatdesk serve`).
//
// Registering a processor (e.g. in cmd_serve.cpp, before the server starts):
//
//   server::IngestPipeline pipeline(threat_sink);
//   pipeline.addProcessor(&sigma_processor);   // detect
//   pipeline.addProcessor(&intel_processor);   // intel
//
// The pipeline does not own its processors or the sink; they must outlive it.
//
// Thread safety: addProcessor() before events flow (before Server::start()); ingest() and
// stats() from any number of threads at once.
#pragma once

#include <atomic>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/detection_sink.h"
#include "core/error.h"
#include "core/event_processor.h"
#include "server/ingest_body.h"

namespace td::server {

struct IngestResult {
  std::uint64_t accepted = 0;
  std::uint64_t rejected = 0;
  std::vector<RejectedLine> rejects;  // the first kMaxIngestRejectsListed, by line number
};

class IngestPipeline {
 public:
  explicit IngestPipeline(core::DetectionSink& sink) : sink_(sink) {}
  IngestPipeline(const IngestPipeline&) = delete;
  IngestPipeline& operator=(const IngestPipeline&) = delete;

  // Adds a stage; every accepted event goes through every stage. Not thread-safe: call before
  // ingest() is first called.
  void addProcessor(core::EventProcessor* processor);
  const std::vector<core::EventProcessor*>& processors() const { return processors_; }

  // Parses a request body and runs its events through every processor for `project`. Fails only
  // when the body as a whole is unreadable (see parseIngestBody).
  core::Result<IngestResult> ingest(std::string_view body, core::ProjectId project);
  // Runs already separated events (each a JSON object) through every processor.
  void process(const std::vector<std::string_view>& events, core::ProjectId project);

  struct Stats {
    std::uint64_t requests = 0;
    std::uint64_t accepted = 0;
    std::uint64_t rejected = 0;
  };
  Stats stats() const { return {requests_.load(), accepted_.load(), rejected_.load()}; }

 private:
  core::DetectionSink& sink_;
  std::vector<core::EventProcessor*> processors_;
  std::atomic<std::uint64_t> requests_{0}, accepted_{0}, rejected_{0};
};

}  // namespace td::server
