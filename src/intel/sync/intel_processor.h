// The intel matcher as a stage of the live event pipeline (core::EventProcessor): each project's
// events are matched against the live index of the project's organisation (FeedService), so a
// feed import swaps the index under running ingest. One Matcher per project, made on the
// project's first batch, keeps that project's allow-list and suppression period.
//
// Thread safety: process() from any number of ingest threads at once.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>

#include "core/event_processor.h"
#include "intel/matcher.h"
#include "intel/sync/feed_service.h"
#include "store/store.h"

namespace td::intel::sync {

class IntelProcessor final : public core::EventProcessor {
 public:
  // `options` is the template of every project's MatcherOptions (project_id is set per project).
  IntelProcessor(store::Store& store, FeedService& feeds,
                 MatchConfig config = MatchConfig::defaults(), MatcherOptions options = {});
  ~IntelProcessor() override;

  std::string_view name() const override { return "intel"; }
  void process(const std::vector<std::string_view>& events, core::ProjectId project,
               core::DetectionSink& sink) noexcept override;

  // Summed over every project's matcher.
  MatcherStats stats() const;
  // Batches dropped because the project could not be resolved (unknown project, store down).
  std::uint64_t unresolved() const { return unresolved_.load(); }

 private:
  Matcher* matcherFor(core::ProjectId project);

  store::Store& store_;
  FeedService& feeds_;
  MatchConfig config_;
  MatcherOptions options_;
  mutable std::shared_mutex mu_;
  std::map<core::ProjectId, std::unique_ptr<Matcher>> matchers_;  // guarded by mu_
  std::atomic<std::uint64_t> unresolved_{0};
};

}  // namespace td::intel::sync
