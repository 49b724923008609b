// The threat sink: where every engine's detections become threats. Engines on many worker
// threads call submit(); one writer thread collects detections into batches and hands each batch
// to the store in one transaction (Store::applyDetections), which de-duplicates by check_by key.
//
// Thread safety: submit(), flush() and stats() may be called from any thread. submit() blocks
// while `max_pending` detections wait, so a burst slows ingest instead of growing memory.
// stop() (also run by the destructor) writes everything submitted before it and then returns.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "core/detection_sink.h"
#include "store/store.h"

namespace td::triage {

struct ThreatSinkOptions {
  size_t batch_size = 2000;        // detections per transaction at most
  int linger_ms = 20;              // how long a partial batch waits for company
  size_t max_pending = 100000;     // detections queued before submit() blocks
};

struct ThreatSinkStats {
  std::int64_t submitted = 0;
  std::int64_t rejected = 0;   // failed validation; logged with the reason
  std::int64_t created = 0;    // new threats
  std::int64_t updated = 0;    // duplicates folded into open threats
  std::int64_t failed = 0;     // detections of batches the store refused; logged
  std::int64_t batches = 0;
};

class ThreatSink final : public core::DetectionSink {
 public:
  ThreatSink(store::Store& store, ThreatSinkOptions options = {});
  ~ThreatSink() override;

  void submit(std::vector<core::Detection> batch) override;
  // Returns once every detection submitted before the call is written (or failed).
  void flush();
  void stop();
  ThreatSinkStats stats() const;

 private:
  void run();
  void writeBatch(std::vector<core::Detection>& batch);

  static constexpr int kRetries = 3;

  store::Store& store_;
  const ThreatSinkOptions options_;
  std::mutex stop_mutex_;  // serialises stop() so the writer is joined once
  mutable std::mutex mutex_;
  std::condition_variable wake_writer_;
  std::condition_variable space_or_done_;
  std::deque<core::Detection> pending_;  // guarded by mutex_
  std::int64_t enqueued_seq_ = 0;        // guarded by mutex_: detections ever queued
  std::int64_t written_seq_ = 0;         // guarded by mutex_: detections ever taken and finished
  bool stopping_ = false;                // guarded by mutex_
  ThreatSinkStats stats_;                // guarded by mutex_
  std::thread writer_;
};

}  // namespace td::triage
