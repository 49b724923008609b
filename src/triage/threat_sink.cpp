#include "triage/threat_sink.h"

#include <chrono>
#include <map>

#include <spdlog/spdlog.h>

namespace td::triage {

ThreatSink::ThreatSink(store::Store& store, ThreatSinkOptions options)
    : store_(store), options_(options), writer_([this] { run(); }) {}

ThreatSink::~ThreatSink() { stop(); }

void ThreatSink::submit(std::vector<core::Detection> batch) {
  const core::TimeMs now = core::nowMs();
  std::vector<core::Detection> valid;
  valid.reserve(batch.size());
  std::int64_t rejected = 0;
  for (auto& d : batch) {
    if (auto ok = core::validateDetection(d); !ok) {
      ++rejected;
      spdlog::warn("sink: rejected detection '{}' ({}): {}", d.name.substr(0, 80),
                   ok.error().field, ok.error().message);
      continue;
    }
    if (d.seen_at == 0) d.seen_at = now;
    valid.push_back(std::move(d));
  }
  std::unique_lock lock(mutex_);
  stats_.submitted += static_cast<std::int64_t>(batch.size());
  stats_.rejected += rejected;
  for (auto& d : valid) {
    space_or_done_.wait(lock, [&] { return pending_.size() < options_.max_pending || stopping_; });
    if (stopping_) {
      // Refused rather than lost silently: the caller submitted after shutdown began.
      ++stats_.failed;
      continue;
    }
    pending_.push_back(std::move(d));
    ++enqueued_seq_;
    if (pending_.size() >= options_.batch_size) wake_writer_.notify_one();
  }
  wake_writer_.notify_one();
}

void ThreatSink::flush() {
  std::unique_lock lock(mutex_);
  const std::int64_t target = enqueued_seq_;
  wake_writer_.notify_one();
  space_or_done_.wait(lock, [&] { return written_seq_ >= target; });
}

void ThreatSink::stop() {
  std::lock_guard stop_lock(stop_mutex_);
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_writer_.notify_all();
  space_or_done_.notify_all();
  if (writer_.joinable()) writer_.join();
}

ThreatSinkStats ThreatSink::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void ThreatSink::run() {
  std::vector<core::Detection> batch;
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_writer_.wait(lock, [&] { return !pending_.empty() || stopping_; });
      if (pending_.empty() && stopping_) return;
      // Linger briefly for a fuller batch: one transaction for many detections is the point.
      if (pending_.size() < options_.batch_size && !stopping_) {
        wake_writer_.wait_for(lock, std::chrono::milliseconds(options_.linger_ms), [&] {
          return pending_.size() >= options_.batch_size || stopping_;
        });
      }
      const size_t n = std::min(pending_.size(), options_.batch_size);
      batch.clear();
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
    }
    space_or_done_.notify_all();
    writeBatch(batch);
    {
      std::lock_guard lock(mutex_);
      written_seq_ += static_cast<std::int64_t>(batch.size());
    }
    space_or_done_.notify_all();
  }
}

void ThreatSink::writeBatch(std::vector<core::Detection>& batch) {
  if (batch.empty()) return;
  // Resolve initial group names per organisation once per batch.
  std::map<core::ProjectId, std::vector<store::TagValue>> groups_by_project;
  std::vector<std::optional<core::TagId>> group_ids(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    const auto& d = batch[i];
    if (d.group.empty()) continue;
    auto it = groups_by_project.find(d.project_id);
    if (it == groups_by_project.end()) {
      std::vector<store::TagValue> groups;
      if (auto project = store_.getProject(d.project_id)) {
        if (auto listed = store_.listTags(project->org_id, store::TagKind::kGroup))
          groups = std::move(*listed);
      }
      it = groups_by_project.emplace(d.project_id, std::move(groups)).first;
    }
    for (const auto& g : it->second)
      if (g.name == d.group) group_ids[i] = g.id;
    if (!group_ids[i]) spdlog::warn("sink: unknown threat group '{}' ignored", d.group);
  }
  const store::Actor system{std::nullopt, "system"};
  // A store that is briefly unavailable (a busy database) gets a few more tries; a batch it still
  // refuses is written one detection at a time so that one bad detection cannot sink the rest.
  auto result = store_.applyDetections(batch, group_ids, system);
  for (int attempt = 1; !result && attempt <= kRetries; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50 << attempt));
    result = store_.applyDetections(batch, group_ids, system);
  }
  store::SinkResult total;
  std::int64_t failed = 0;
  if (result) {
    total = std::move(*result);
  } else {
    spdlog::warn("sink: a batch of {} detections was refused ({}); writing them one by one",
                 batch.size(), result.error().message);
    for (size_t i = 0; i < batch.size(); ++i) {
      auto one = store_.applyDetections({batch[i]}, {group_ids[i]}, system);
      if (!one) {
        ++failed;
        spdlog::error("sink: detection '{}' was not stored: {}", batch[i].name.substr(0, 80),
                      one.error().message);
        continue;
      }
      total.created += one->created;
      total.updated += one->updated;
    }
  }
  std::lock_guard lock(mutex_);
  ++stats_.batches;
  stats_.created += total.created;
  stats_.updated += total.updated;
  stats_.failed += failed;
}

}  // namespace td::triage
