#include "intel/sync/intel_processor.h"

#include <spdlog/spdlog.h>

#include "core/text.h"
#include "core/time.h"

namespace td::intel::sync {

IntelProcessor::IntelProcessor(store::Store& store, FeedService& feeds, MatchConfig config,
                               MatcherOptions options)
    : store_(store), feeds_(feeds), config_(std::move(config)), options_(std::move(options)) {}

IntelProcessor::~IntelProcessor() = default;

namespace {

core::Status portList(const std::vector<int>& ports, const char* name, PortClass cls,
                      std::unordered_map<std::uint16_t, PortClass>& out) {
  for (size_t i = 0; i < ports.size(); ++i) {
    const std::string field = std::string(name) + "[" + std::to_string(i) + "]";
    if (ports[i] < 1 || ports[i] > 65535)
      return core::fail(core::ErrorCode::kUnprocessable,
                        "port " + std::to_string(ports[i]) + " is not in 1-65535", field);
    auto [it, inserted] = out.emplace(static_cast<std::uint16_t>(ports[i]), cls);
    if (!inserted && it->second != cls)
      return core::fail(core::ErrorCode::kUnprocessable,
                        "port " + std::to_string(ports[i]) + " is in two classes", field);
  }
  return {};
}

}  // namespace

core::Result<MatcherOptions> matcherOptionsOf(const store::IntelSettings& s, MatcherOptions base) {
  using core::ErrorCode;
  if (s.allow.size() > kMaxAllowEntries)
    return core::fail(ErrorCode::kUnprocessable,
                      "the allow-list has more than " + std::to_string(kMaxAllowEntries) +
                          " entries",
                      "allow");
  for (size_t i = 0; i < s.allow.size(); ++i) {
    if (s.allow[i].size() > kMaxAllowEntryBytes)
      return core::fail(ErrorCode::kUnprocessable,
                        "allow-list entry is longer than " + std::to_string(kMaxAllowEntryBytes) +
                            " bytes",
                        "allow[" + std::to_string(i) + "]");
    if (core::trim(s.allow[i]).empty() || s.allow[i].find('\n') != std::string::npos)
      return core::fail(ErrorCode::kUnprocessable, "allow-list entry is empty or holds a newline",
                        "allow[" + std::to_string(i) + "]");
  }
  auto allow = AllowList::parse(s.allow);
  if (!allow) {
    core::Error e = allow.error();
    e.code = ErrorCode::kUnprocessable;
    return core::fail(e);
  }
  base.allow = std::move(*allow);
  if (s.min_bytes < 0)
    return core::fail(ErrorCode::kUnprocessable, "min_bytes must be 0 or more", "min_bytes");
  base.min_bytes = static_cast<std::uint64_t>(s.min_bytes);
  if (s.suppression_minutes < 0 || s.suppression_minutes > kMaxSuppressionMinutes)
    return core::fail(ErrorCode::kUnprocessable,
                      "suppression_minutes must be 0-" + std::to_string(kMaxSuppressionMinutes),
                      "suppression_minutes");
  base.suppression_period = s.suppression_minutes * core::TimeMs{60'000};
  base.port_classes.clear();
  if (auto st = portList(s.ignore_ports, "ignore_ports", PortClass::kIgnore, base.port_classes); !st)
    return core::fail(st.error());
  if (auto st = portList(s.service_ports, "service_ports", PortClass::kService, base.port_classes);
      !st)
    return core::fail(st.error());
  if (auto st = portList(s.unsafe_ports, "unsafe_ports", PortClass::kUnsafe, base.port_classes); !st)
    return core::fail(st.error());
  base.project_id = s.project_id;
  return base;
}

std::shared_ptr<Matcher> IntelProcessor::matcherFor(core::ProjectId project) {
  const core::TimeMs now = core::nowMs();
  const core::TimeMs recheck = recheck_ms_.load();
  core::TimeMs known_settings = -1;
  {
    std::shared_lock l(mu_);
    auto it = matchers_.find(project);
    if (it != matchers_.end()) {
      if (recheck > 0 && now - it->second.checked_at < recheck) return it->second.matcher;
      known_settings = it->second.settings_updated_at;
    }
  }
  auto settings = store_.intel().getSettings(project);
  if (!settings) {
    // The store is down: keep matching with what we have, if anything.
    std::shared_lock l(mu_);
    auto it = matchers_.find(project);
    return it != matchers_.end() ? it->second.matcher : nullptr;
  }
  if (known_settings == settings->updated_at) {
    std::unique_lock l(mu_);
    auto& e = matchers_[project];
    e.checked_at = now;
    return e.matcher;
  }
  auto p = store_.getProject(project);
  if (!p) return nullptr;
  auto live = feeds_.liveIndex(p->org_id);  // loads the organisation's index on first use
  MatcherOptions o = options_;
  o.project_id = project;
  if (auto made = matcherOptionsOf(*settings, options_); made) {
    o = std::move(*made);
    o.project_id = project;
  } else {
    // Stored settings the API would have refused (edited by hand): matched with the defaults.
    spdlog::error("intel: project {}: settings not used: {} ({})", project,
                  made.error().message, made.error().field);
  }
  auto matcher = std::make_shared<Matcher>(std::move(live), config_, std::move(o));
  std::unique_lock l(mu_);
  auto& e = matchers_[project];
  if (!e.matcher || e.settings_updated_at != settings->updated_at) {
    e.matcher = std::move(matcher);
    e.settings_updated_at = settings->updated_at;
  }
  e.checked_at = now;
  return e.matcher;
}

void IntelProcessor::process(const std::vector<std::string_view>& events, core::ProjectId project,
                             core::DetectionSink& sink) noexcept {
  try {
    std::shared_ptr<Matcher> m = matcherFor(project);
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
  for (const auto& [project, e] : matchers_) {
    if (!e.matcher) continue;
    auto s = e.matcher->stats();
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
