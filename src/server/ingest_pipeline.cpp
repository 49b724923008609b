#include "server/ingest_pipeline.h"

namespace td::server {

namespace {
// Events handed to a processor at once: large enough to amortise per-batch work (matcher from the
// pool, one sink submit), small enough to keep a batch's detections modest.
constexpr size_t kBatch = 4096;
}  // namespace

void IngestPipeline::addProcessor(core::EventProcessor* processor) {
  if (processor) processors_.push_back(processor);
}

void IngestPipeline::process(const std::vector<std::string_view>& events,
                             core::ProjectId project) {
  if (events.empty()) return;
  if (events.size() <= kBatch) {
    for (auto* p : processors_) p->process(events, project, sink_);
    return;
  }
  std::vector<std::string_view> batch;
  for (size_t i = 0; i < events.size(); i += kBatch) {
    batch.assign(events.begin() + static_cast<std::ptrdiff_t>(i),
                 events.begin() + static_cast<std::ptrdiff_t>(std::min(events.size(), i + kBatch)));
    for (auto* p : processors_) p->process(batch, project, sink_);
  }
}

core::Result<IngestResult> IngestPipeline::ingest(std::string_view body, core::ProjectId project) {
  ++requests_;
  auto parsed = parseIngestBody(body);
  if (!parsed) return core::fail(parsed.error());
  process(parsed->events, project);
  IngestResult r;
  r.accepted = parsed->events.size();
  r.rejected = parsed->rejected;
  r.rejects = std::move(parsed->rejects);
  accepted_ += r.accepted;
  rejected_ += r.rejected;
  return r;
}

}  // namespace td::server
