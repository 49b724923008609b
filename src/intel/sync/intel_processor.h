// The intel matcher as a stage of the live event pipeline (core::EventProcessor): each project's
// events are matched against the live index of the project's organisation (FeedService), so a
// feed import swaps the index under running ingest. One Matcher per project, made on the
// project's first batch from the project's stored settings (store::IntelSettings: allow-list,
// port classes, minimum bytes, suppression period), and made again when they change.
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

// Limits of a project's settings (checked by matcherOptionsOf).
constexpr size_t kMaxAllowEntries = 100'000;
constexpr size_t kMaxAllowEntryBytes = 2048;
constexpr std::int64_t kMaxSuppressionMinutes = 366 * 24 * 60;

// The MatcherOptions a project's stored settings give, on top of `base` (suppression period,
// allow-list, port classes, minimum bytes). Fails with the offending member as the error's field
// ("allow[3]", "unsafe_ports[0]", "min_bytes", ...) when a setting is not valid: an entry that is
// no IP, CIDR, domain, URL, hash or e-mail address; a port outside 1-65535 or in two classes.
core::Result<MatcherOptions> matcherOptionsOf(const store::IntelSettings& settings,
                                              MatcherOptions base = {});

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

  // How often a project's stored settings are looked at again (default 10 s; 0: every batch).
  // Changed settings replace the project's matcher (and so its suppression table).
  void setSettingsRecheck(core::TimeMs every) { recheck_ms_ = every; }

 private:
  struct Entry {
    std::shared_ptr<Matcher> matcher;
    core::TimeMs settings_updated_at = 0;
    core::TimeMs checked_at = 0;
  };
  std::shared_ptr<Matcher> matcherFor(core::ProjectId project);

  store::Store& store_;
  FeedService& feeds_;
  MatchConfig config_;
  MatcherOptions options_;
  mutable std::shared_mutex mu_;
  std::map<core::ProjectId, Entry> matchers_;  // guarded by mu_
  std::atomic<std::uint64_t> unresolved_{0};
  std::atomic<core::TimeMs> recheck_ms_{10'000};
};

}  // namespace td::intel::sync
