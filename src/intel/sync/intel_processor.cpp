#include "intel/sync/intel_processor.h"

#include <spdlog/spdlog.h>

namespace td::intel::sync {

IntelProcessor::IntelProcessor(store::Store& store, FeedService& feeds, MatchConfig config,
                               MatcherOptions options)
    : store_(store), feeds_(feeds), config_(std::move(config)), options_(std::move(options)) {}

IntelProcessor::~IntelProcessor() = default;

Matcher* IntelProcessor::matcherFor(core::ProjectId project) {
  {
    std::shared_lock l(mu_);
    auto it = matchers_.find(project);
    if (it != matchers_.end()) return it->second.get();
  }
  auto p = store_.getProject(project);
  if (!p) return nullptr;
  auto live = feeds_.liveIndex(p->org_id);  // loads the organisation's index on first use
  MatcherOptions o = options_;
  o.project_id = project;
  std::unique_lock l(mu_);
  auto& slot = matchers_[project];
  if (!slot) slot = std::make_unique<Matcher>(std::move(live), config_, std::move(o));
  return slot.get();
}

void IntelProcessor::process(const std::vector<std::string_view>& events, core::ProjectId project,
                             core::DetectionSink& sink) noexcept {
  try {
    Matcher* m = matcherFor(project);
    if (m == nullptr) {
      unresolved_.fetch_add(1);
      return;
    }
    m->process(events, sink);
  } catch (const std::exception& e) {
    // Only the project lookup can throw (allocation); one batch is lost, the pipeline goes on.
    unresolved_.fetch_add(1);
    spdlog::error("intel: batch of project {} not matched: {}", project, e.what());
  }
}

MatcherStats IntelProcessor::stats() const {
  MatcherStats sum;
  std::shared_lock l(mu_);
  for (const auto& [project, m] : matchers_) {
    auto s = m->stats();
    sum.events += s.events;
    sum.bytes += s.bytes;
    sum.invalid += s.invalid;
    sum.matches += s.matches;
    sum.allowed += s.allowed;
    sum.suppressed += s.suppressed;
    sum.filtered += s.filtered;
  }
  return sum;
}

}  // namespace td::intel::sync
