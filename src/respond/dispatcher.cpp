#include "respond/dispatcher.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "respond/threat_vars.h"

namespace td::respond {
namespace {

using core::ErrorCode;
using core::fail;
using core::Result;
using core::Status;
using Json = nlohmann::json;
using store::Delivery;
using store::DeliveryStatus;

constexpr core::TimeMs kMaxBackoff = core::kHourMs;
constexpr size_t kMaxRecorded = 4096;

std::string clip(std::string s) {
  if (s.size() > kMaxRecorded) {
    s.resize(kMaxRecorded);
    s += "...";
  }
  return s;
}

const Template& digestTemplate(int which) {
  static const Template kSubject = *Template::parse(
      "[ThreatDesk] {{count}} threat(s) in your {{period}} digest", &digestSchema());
  static const Template kText = *Template::parse(
      "{{count}} threat(s) since your last {{period}} digest:\n\n"
      "{{#threats}}- [{{severity}}] {{name}} ({{entity.type}} {{entity.value}}, {{state}})\n"
      "  {{link}}\n{{/threats}}",
      &digestSchema());
  static const Template kHtml = *Template::parse(
      "<h2>{{count}} threat(s) since your last {{period}} digest</h2><ul>"
      "{{#threats}}<li><b>[{{severity}}]</b> <a href=\"{{link}}\">{{name}}</a> &mdash; "
      "{{entity.type}} {{entity.value}}, {{state}}</li>{{/threats}}</ul>",
      &digestSchema());
  return which == 0 ? kSubject : which == 1 ? kText : kHtml;
}

Json eventJson(const store::OutboxEvent& e) {
  auto p = Json::parse(e.payload_json, nullptr, false);
  if (!p.is_object()) p = Json::object();
  p["kind"] = e.kind;
  p["outbox_id"] = e.id;
  return p;
}

EventInfo eventInfo(const Json& ev, core::OrgId org, const std::string& project) {
  EventInfo info;
  info.kind = ev.value("kind", "");
  info.actor = ev.value("actor", "");
  info.previous_state = ev.value("previous_state", "");
  info.organisation_id = org;
  info.project = project;
  return info;
}

std::string requestSummary(const HttpRequest& r) {
  std::string s = r.method + " " + r.url + "\n";
  for (const auto& [k, v] : r.headers) s += k + ": " + v + "\n";
  s += "\n" + r.body;
  return clip(s);
}

}  // namespace

core::TimeMs digestSlot(core::TimeMs now, const TimeZone& zone, const DigestSchedule& s) {
  const core::TimeMs local = zone.toLocal(now);
  core::TimeMs slot_local = 0;
  switch (s.every) {
    case DigestSchedule::Every::kHourly: {
      const core::TimeMs hour = local - (local % core::kHourMs + core::kHourMs) % core::kHourMs;
      slot_local = hour + (s.at_minute % 60) * core::kMinuteMs;
      if (slot_local > local) slot_local -= core::kHourMs;
      break;
    }
    case DigestSchedule::Every::kDaily:
      slot_local = startOfDay(local) + s.at_minute * core::kMinuteMs;
      if (slot_local > local) slot_local -= core::kDayMs;
      break;
    case DigestSchedule::Every::kWeekly: {
      const int back = (weekday(local) - s.day + 7) % 7;
      slot_local = startOfDay(local) - back * core::kDayMs + s.at_minute * core::kMinuteMs;
      if (slot_local > local) slot_local -= 7 * core::kDayMs;
      break;
    }
  }
  return zone.toUtc(slot_local);
}

core::TimeMs quietUntil(core::TimeMs now, const TimeZone& zone, const QuietHours& q) {
  const core::TimeMs local = zone.toLocal(now);
  const int m = minuteOfDay(local);
  const bool wraps = q.start_minute > q.end_minute;  // 22:00-07:00
  const bool quiet =
      wraps ? (m >= q.start_minute || m < q.end_minute) : (m >= q.start_minute && m < q.end_minute);
  if (!quiet) return now;
  core::TimeMs end_local = startOfDay(local) + q.end_minute * core::kMinuteMs;
  if (end_local <= local) end_local += core::kDayMs;
  return zone.toUtc(end_local);
}

Dispatcher::Dispatcher(store::Store& store, DispatcherOptions options)
    : store_(store), options_(std::move(options)) {
  rng_.seed(options_.seed ? options_.seed : std::random_device{}());
}

Dispatcher::~Dispatcher() {
  stop();
  releaseHandedOver();  // those a test's fanOutOnce() left behind
}

void Dispatcher::start() {
  if (running_.exchange(true)) return;
  // A commit that wrote outbox rows wakes the fan-out at once (the poll stays as a fallback,
  // e.g. for rows another process wrote).
  store_.setOutboxListener([this] {
    {
      std::lock_guard lock(fan_mu_);
      ++fan_seq_;
    }
    fan_wake_.notify_one();
  });
  fanout_thread_ = std::thread([this] { fanOutLoop(); });
  for (int i = 0; i < std::max(1, options_.workers); ++i)
    workers_.emplace_back([this] { workerLoop(); });
}

void Dispatcher::stop() {
  if (!running_.exchange(false)) return;
  store_.setOutboxListener(nullptr);
  wakeWorkers();
  fan_wake_.notify_all();
  if (fanout_thread_.joinable()) fanout_thread_.join();
  for (auto& w : workers_)
    if (w.joinable()) w.join();
  workers_.clear();
  releaseHandedOver();
}

void Dispatcher::releaseHandedOver() {
  // Handed over but not sent: free at once for the next start instead of after their lease.
  std::vector<std::int64_t> ids;
  {
    std::lock_guard lock(queue_mu_);
    for (const auto& h : queue_) ids.push_back(h.delivery.id);
    queue_.clear();
  }
  if (auto s = store_.responses().releaseDeliveries(ids); !s)
    spdlog::warn("respond: giving back {} deliveries failed: {}", ids.size(), s.error().message);
}

void Dispatcher::wakeWorkers() {
  {
    std::lock_guard lock(wake_mu_);
    ++wake_seq_;
  }
  wake_.notify_all();
}

void Dispatcher::fanOutLoop() {
  core::TimeMs last_digest = 0, last_prune = 0;
  while (running_) {
    std::uint64_t seen;
    {
      std::lock_guard lock(fan_mu_);
      seen = fan_seq_;  // a commit after this wakes the wait below
    }
    int did = 0;
    auto n = fanOutOnce();
    if (!n)
      spdlog::warn("respond: fan-out failed: {}", n.error().message);
    else
      did += *n;
    if (did > 0) wakeWorkers();
    const auto t = now();
    if (t - last_digest >= options_.digest_every_ms) {
      last_digest = t;
      if (auto d = digestOnce(); !d)
        spdlog::warn("respond: digests failed: {}", d.error().message);
      else if (*d > 0)
        wakeWorkers();
    }
    if (t - last_prune >= options_.prune_every_ms) {
      last_prune = t;
      auto pruned = store_.responses().prune(t - options_.outbox_retention_ms,
                                             t - options_.delivery_retention_ms);
      if (!pruned)
        spdlog::warn("respond: pruning failed: {}", pruned.error().message);
      else if (*pruned > 0)
        spdlog::info("respond: pruned {} delivered rows", *pruned);
    }
    if (did == 0) {
      std::unique_lock lock(fan_mu_);
      fan_wake_.wait_for(lock, std::chrono::milliseconds(options_.poll_ms),
                         [&] { return !running_ || fan_seq_ != seen; });
    }
  }
}

void Dispatcher::workerLoop() {
  while (running_) {
    std::uint64_t seq;
    {
      std::lock_guard lock(wake_mu_);
      seq = wake_seq_;
    }
    auto n = deliverOnce(options_.delivery_batch);
    if (!n) spdlog::warn("respond: delivery failed: {}", n.error().message);
    if (n && *n > 0) continue;
    std::unique_lock lock(wake_mu_);
    wake_.wait_for(lock, std::chrono::milliseconds(options_.poll_ms),
                   [&] { return !running_ || wake_seq_ != seq; });
  }
}

void Dispatcher::invalidateResponses() {
  std::lock_guard lock(cache_mu_);
  stale_ = true;
}

Status Dispatcher::refreshResponses(bool force) {
  const auto t = core::nowMs();
  {
    std::lock_guard lock(cache_mu_);
    if (!force && !stale_ && t - loaded_at_ < options_.responses_refresh_ms) return {};
  }
  auto all = store_.responses().listResponses(std::nullopt);
  if (!all) return fail(all.error());
  std::map<core::OrgId, std::vector<std::shared_ptr<const Loaded>>> by_org;
  std::map<std::int64_t, std::shared_ptr<const Loaded>> by_id;
  for (const auto& r : *all) {
    auto spec = parseResponseSpec(Json::parse(r.spec_json, nullptr, false));
    if (!spec) {
      spdlog::warn("respond: response {} ({}) cannot be read: {}", r.id, r.name,
                   spec.error().message);
      continue;
    }
    spec->enabled = r.enabled;
    auto loaded = std::make_shared<const Loaded>(Loaded{r, std::move(*spec)});
    by_org[r.org_id].push_back(loaded);
    by_id[r.id] = loaded;
  }
  std::lock_guard lock(cache_mu_);
  by_org_ = std::move(by_org);
  by_id_ = std::move(by_id);
  loaded_at_ = t;
  stale_ = false;
  return {};
}

std::vector<std::shared_ptr<const Dispatcher::Loaded>> Dispatcher::responsesOf(core::OrgId org) {
  std::lock_guard lock(cache_mu_);
  auto it = by_org_.find(org);
  return it == by_org_.end() ? std::vector<std::shared_ptr<const Loaded>>{} : it->second;
}

std::shared_ptr<const Dispatcher::Loaded> Dispatcher::responseById(std::int64_t id) {
  (void)refreshResponses(false);
  std::lock_guard lock(cache_mu_);
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : it->second;
}

Result<core::OrgId> Dispatcher::orgOf(core::ProjectId project, std::string* name) {
  {
    std::lock_guard lock(cache_mu_);
    if (auto it = projects_.find(project); it != projects_.end()) {
      if (name) *name = it->second.second;
      return it->second.first;
    }
  }
  auto p = store_.getProject(project);
  if (!p) return fail(p.error());
  std::lock_guard lock(cache_mu_);
  projects_[project] = {p->org_id, p->name};
  if (name) *name = p->name;
  return p->org_id;
}

std::string Dispatcher::timeZoneOf(const std::string& address, const std::string& fallback) {
  auto u = store_.findUserByEmail(address);
  if (u && !u->time_zone.empty()) return u->time_zone;
  return fallback;
}

Result<std::vector<Dispatcher::Recipient>> Dispatcher::recipients(const EmailAction& e,
                                                                  core::OrgId org) {
  std::vector<Recipient> out;
  auto add = [&](const std::string& address, const std::string& tz) {
    for (const auto& r : out)
      if (r.address == address) return;
    out.push_back({address, tz});
  };
  if (!e.to_user.empty()) add(e.to_user, timeZoneOf(e.to_user, e.time_zone));
  for (const auto& a : e.to_addresses) add(a, e.time_zone);
  if (e.to_org) {
    auto users = store_.listUsers();
    if (!users) return fail(users.error());
    for (const auto& u : *users)
      if (u.org_id == org && !u.disabled) add(u.email, u.time_zone.empty() ? "UTC" : u.time_zone);
  }
  return out;
}

Status Dispatcher::responseDeliveries(const Loaded& r, const core::Threat& threat, const Json& ev,
                                      std::optional<std::int64_t> outbox,
                                      const std::string& key_suffix,
                                      store::ResponseStore::Fanout& out, Vars* threat_vars,
                                      Rendered* rendered) {
  const core::TimeMs t = now();
  std::string project_name;
  auto org = orgOf(threat.project_id, &project_name);
  if (!org) return fail(org.error());
  // The event's variables are shared by its responses (not copied for each): each sets its own
  // name, and its recipients, over the last one's.
  std::optional<Vars> own;
  if (!threat_vars)
    own = threatVars(threat, eventInfo(ev, *org, project_name), options_.public_url);
  Vars& vars = threat_vars ? *threat_vars : *own;
  vars.set("response", r.spec.name);
  vars.set("recipient", "");
  // Stable for this event and response across tries and restarts; the response's creation time
  // keeps keys of a re-created database (ids start again at 1) apart at a receiver's dedupe.
  const std::string key =
      "td-" + (outbox ? "o" + std::to_string(*outbox) : "t" + std::to_string(t)) + "-r" +
      std::to_string(r.record.id) + "." + std::to_string(r.record.created_at % 1000000000) + "-t" +
      std::to_string(threat.id) + key_suffix;
  if (r.spec.webhook) {
    const auto& w = *r.spec.webhook;
    const std::string event = ev.value("kind", "");
    std::string url = w.url.render(vars, Escape::kUrl);
    std::string body = w.payload.render(vars, w.json_payload ? Escape::kJson : Escape::kText);
    // The payload's text is written here, keys in the order dump() writes them: nlohmann's
    // writer goes character by character through a virtual call (4% of a burst's CPU).
    std::string text = "{\"body\":";
    appendJsonString(text, body);
    text += ",\"event\":";
    appendJsonString(text, event);
    text += ",\"headers\":[";
    std::vector<std::pair<std::string, std::string>> headers;
    headers.reserve(w.headers.size());
    for (const auto& [k, v] : w.headers) {
      std::string value = v.render(vars, Escape::kHeader);
      if (!headers.empty()) text += ',';
      text += '[';
      appendJsonString(text, k);
      text += ',';
      appendJsonString(text, value);
      text += ']';
      headers.emplace_back(k, std::move(value));
    }
    text += "],\"method\":";
    appendJsonString(text, w.method);
    text += ",\"threat_id\":" + std::to_string(threat.id) +
            ",\"timeout_ms\":" + std::to_string(w.timeout_ms) + ",\"url\":";
    appendJsonString(text, url);
    text += '}';
    Delivery d;
    d.org_id = r.record.org_id;
    d.response_id = r.record.id;
    d.outbox_id = outbox;
    d.threat_id = threat.id;
    d.kind = "webhook";
    d.recipient = r.spec.name;
    d.idempotency_key = key;
    d.payload_json = std::move(text);
    if (rendered) {
      auto call = std::make_unique<WebhookCall>();
      call->event = event;
      call->method = w.method;
      call->url = std::move(url);
      call->body = std::move(body);
      call->headers = std::move(headers);
      call->timeout_ms = w.timeout_ms;
      rendered->emplace(key, std::move(call));
    }
    d.max_attempts = w.max_attempts;
    d.next_at = t;
    d.created_at = t;
    out.deliveries.push_back(std::move(d));
    return {};
  }
  if (!r.spec.email) return {};
  const Json base = {{"event", ev.value("kind", "")}, {"threat_id", threat.id}};
  const auto& e = *r.spec.email;
  auto rcpts = recipients(e, r.record.org_id);
  if (!rcpts) return fail(rcpts.error());
  for (const auto& rc : *rcpts) {
    if (e.digest) {
      out.digest_items.push_back({0, r.record.id, rc.address, threat.id, t});
      continue;
    }
    vars.set("recipient", rc.address);
    Json p = base;
    p["to"] = Json::array({rc.address});
    p["subject"] = e.subject.render(vars, Escape::kHeader);
    p["text"] = e.text.render(vars, Escape::kText);
    p["html"] = e.html.render(vars, Escape::kHtml);
    Delivery d;
    d.org_id = r.record.org_id;
    d.response_id = r.record.id;
    d.outbox_id = outbox;
    d.threat_id = threat.id;
    d.kind = "email";
    d.recipient = rc.address;
    d.idempotency_key = key + "-" + rc.address;
    d.payload_json = p.dump();
    d.max_attempts = 5;
    d.next_at = t;
    if (e.quiet_hours) {
      auto zone = timeZone(rc.time_zone);
      if (zone) d.next_at = quietUntil(t, **zone, *e.quiet_hours);
    }
    d.created_at = t;
    out.deliveries.push_back(std::move(d));
  }
  if (e.escalation && ev.value("kind", "") == "threat.created") {
    Json p = base;
    p["to"] = e.escalation->to;
    p["after_minutes"] = e.escalation->after_ms / core::kMinuteMs;
    Delivery d;
    d.org_id = r.record.org_id;
    d.response_id = r.record.id;
    d.outbox_id = outbox;
    d.threat_id = threat.id;
    d.kind = "escalation";
    d.recipient = e.escalation->to.empty() ? "" : e.escalation->to.front();
    d.idempotency_key = key + "-escalation";
    d.payload_json = p.dump();
    d.max_attempts = 5;
    d.next_at = t + e.escalation->after_ms;
    d.created_at = t;
    out.deliveries.push_back(std::move(d));
  }
  return {};
}

Status Dispatcher::fanOut(const store::OutboxEvent& event, store::ResponseStore::Fanout& f,
                          Rendered* rendered) {
  auto& rs = store_.responses();
  // Claimed for the first time: nobody can have fanned it out before (a fan-out that crashed
  // before its ack leaves the event to be claimed again, with attempts > 1).
  if (event.attempts > 1) {
    auto done = rs.fannedOut(event.id);
    if (!done) return fail(done.error());
    if (*done) return {};
  }
  auto threat = store_.getThreat(event.threat_id);
  if (!threat) {
    if (threat.error().code == ErrorCode::kNotFound) return {};
    return fail(threat.error());
  }
  std::string project_name;
  auto org = orgOf(threat->project_id, &project_name);
  if (!org) return fail(org.error());
  const Json ev = eventJson(event);
  const std::string kind = event.kind;
  const core::TimeMs t = now();
  f.outbox_id = event.id;

  // The threat's variables, once for all the responses of this event.
  std::optional<Vars> vars;
  auto threatVarsOnce = [&]() -> Vars& {
    if (!vars) vars = threatVars(*threat, eventInfo(ev, *org, project_name), options_.public_url);
    return *vars;
  };
  for (const auto& r : responsesOf(*org)) {
    const auto& spec = r->spec;
    if (std::find(spec.events.begin(), spec.events.end(), kind) == spec.events.end()) continue;
    if (!matches(spec, *threat)) continue;
    if (spec.throttle) {
      // Rendered with the threat's names only, as before any response set its own.
      Vars& v = threatVarsOnce();
      v.set("response", "");
      v.set("recipient", "");
      const std::string key = spec.throttle->key.render(v, Escape::kText);
      auto admitted = rs.throttleAdmit(r->record.id, key, t, spec.throttle->window_ms, event.id);
      if (!admitted) return fail(admitted.error());
      if (!*admitted) {
        f.throttled.emplace_back(r->record.id, key);
        continue;
      }
    }
    if (auto s = responseDeliveries(*r, *threat, ev, event.id, "", f, &threatVarsOnce(), rendered);
        !s)
      return s;
  }

  // Subscribers of the threat's group: on assignment (a threat lands in the group) and on change.
  // A note the dispatcher itself wrote (a state's automatic note) is part of the change that
  // caused it, which subscribers hear of already.
  const bool own_note = kind == "threat.noted" && ev.value("actor", "") == "system";
  if (threat->group_id && !own_note) {
    const bool group_changed =
        kind == "threat.created" ||
        (kind == "threat.assigned" && ev.value("previous_group", "") != threat->group);
    auto subs = rs.subscribersOfGroup(*threat->group_id);
    if (!subs) return fail(subs.error());
    for (const auto& s : *subs) {
      if (group_changed ? !s.on_assign : !s.on_change) continue;
      std::string text;
      if (group_changed) {
        text = "Threat " + std::to_string(threat->id) + " (" + threat->name + ") landed in " +
               threat->group;
      } else if (kind == "threat.assigned") {
        text = "Threat " + std::to_string(threat->id) + " (" + threat->name + ") is now owned by " +
               (threat->owner.empty() ? std::string("nobody") : threat->owner);
      } else if (kind == "threat.closed") {
        text = "Threat " + std::to_string(threat->id) + " (" + threat->name + ") was closed as " +
               threat->outcome;
      } else if (kind == "threat.noted") {
        text = ev.value("actor", std::string("someone")) + " added a note to threat " +
               std::to_string(threat->id) + " (" + threat->name + "): " + ev.value("text", "");
      } else {
        text = "Threat " + std::to_string(threat->id) + " (" + threat->name + ") moved from " +
               ev.value("previous_state", "") + " to " + threat->state;
      }
      Delivery d;
      d.org_id = *org;
      d.outbox_id = event.id;
      d.threat_id = threat->id;
      d.kind = "notification";
      d.recipient = std::to_string(s.user_id);
      d.idempotency_key = "td-o" + std::to_string(event.id) + "-u" + std::to_string(s.user_id);
      d.payload_json = Json{{"user_id", s.user_id},
                            {"kind", group_changed ? "assigned" : "changed"},
                            {"text", text},
                            {"threat_id", threat->id},
                            {"link", threatLink(options_.public_url, threat->id)}}
                           .dump();
      d.max_attempts = 5;
      d.next_at = t;
      d.created_at = t;
      f.deliveries.push_back(std::move(d));
    }
  }

  // The organisation's automation for the state the threat entered.
  if (kind == "threat.state_changed" || kind == "threat.closed" || kind == "threat.reopened") {
    auto automation = rs.stateAutomation(threat->state_id);
    if (!automation) return fail(automation.error());
    if (*automation && (*automation)->org_id == *org) {
      const auto& a = **automation;
      Vars vars = threatVars(*threat, eventInfo(ev, *org, project_name), options_.public_url);
      if (!a.note_template.empty()) {
        auto tmpl = Template::parse(a.note_template, &threatSchema(), "note");
        if (tmpl) {
          Delivery d;
          d.org_id = *org;
          d.outbox_id = event.id;
          d.threat_id = threat->id;
          d.kind = "note";
          d.recipient = "timeline";
          d.idempotency_key = "td-o" + std::to_string(event.id) + "-note";
          d.payload_json = Json{{"text", tmpl->render(vars, Escape::kText)}}.dump();
          d.max_attempts = 5;
          d.next_at = t;
          d.created_at = t;
          f.deliveries.push_back(std::move(d));
        }
      }
      if (a.notify) {
        std::vector<core::UserId> users;
        if (threat->owner_id) users.push_back(*threat->owner_id);
        if (threat->group_id) {
          auto subs = rs.subscribersOfGroup(*threat->group_id);
          if (!subs) return fail(subs.error());
          for (const auto& s : *subs)
            if (std::find(users.begin(), users.end(), s.user_id) == users.end())
              users.push_back(s.user_id);
        }
        for (auto u : users) {
          Delivery d;
          d.org_id = *org;
          d.outbox_id = event.id;
          d.threat_id = threat->id;
          d.kind = "notification";
          d.recipient = std::to_string(u);
          // Same key as a subscriber's change notification: one notice per user and event.
          d.idempotency_key = "td-o" + std::to_string(event.id) + "-u" + std::to_string(u);
          d.payload_json = Json{{"user_id", u},
                                {"kind", "state"},
                                {"text", "Threat " + std::to_string(threat->id) + " (" +
                                             threat->name + ") entered " + threat->state},
                                {"threat_id", threat->id},
                                {"link", threatLink(options_.public_url, threat->id)}}
                               .dump();
          d.max_attempts = 5;
          d.next_at = t;
          d.created_at = t;
          f.deliveries.push_back(std::move(d));
        }
      }
    }
  }
  return {};
}

Result<int> Dispatcher::fanOutOnce() {
  if (auto s = refreshResponses(false); !s) return fail(s.error());
  auto events = store_.claimOutbox(options_.outbox_batch, options_.outbox_lease_ms);
  if (!events) return fail(events.error());
  if (events->empty()) return 0;
  std::vector<store::ResponseStore::Fanout> fanouts;
  fanouts.reserve(events->size());
  Rendered rendered;
  for (const auto& e : *events) {
    store::ResponseStore::Fanout f;
    if (auto s = fanOut(e, f, &rendered); !s) {
      // Left unacknowledged: claimed again when its lease runs out.
      spdlog::warn("respond: outbox event {} not fanned out: {}", e.id, s.error().message);
      continue;
    }
    f.outbox_id = e.id;  // acknowledged with its deliveries, even when it owed none
    fanouts.push_back(std::move(f));
  }
  // One transaction inserts the batch's deliveries and acknowledges its events: a crash before
  // it re-claims the events later; their deliveries' keys make a second insert a no-op. The new
  // deliveries due now come back claimed and go straight to the workers (no second claim).
  int room = 0;
  {
    std::lock_guard lock(queue_mu_);
    room = std::max(0, options_.hand_over - static_cast<int>(queue_.size()));
  }
  auto r = store_.responses().insertFanoutsAndAck(fanouts, now(), options_.delivery_lease_ms, room);
  if (!r) return fail(r.error());
  if (!r->claimed.empty()) {
    const auto at = std::chrono::steady_clock::now();
    std::lock_guard lock(queue_mu_);
    for (auto& d : r->claimed) {
      auto it = rendered.find(d.idempotency_key);
      auto call = it == rendered.end() ? nullptr : std::move(it->second);
      queue_.push_back({std::move(d), at, std::move(call)});
    }
  }
  return static_cast<int>(events->size());
}

Result<int> Dispatcher::digestOnce() {
  auto& rs = store_.responses();
  auto pending = rs.pendingDigests();
  if (!pending) return fail(pending.error());
  int closed = 0;
  const core::TimeMs t = now();
  for (const auto& [response_id, recipient] : *pending) {
    auto r = responseById(response_id);
    if (!r || !r->spec.email || !r->spec.email->digest) continue;
    const auto& e = *r->spec.email;
    auto zone = timeZone(timeZoneOf(recipient, e.time_zone));
    if (!zone) zone = TimeZone::utc();
    const core::TimeMs slot = digestSlot(t, **zone, e.schedule);
    auto last = rs.digestLastSlot(response_id, recipient);
    if (!last) return fail(last.error());
    if (slot <= *last) continue;
    Delivery d;
    d.org_id = r->record.org_id;
    d.response_id = response_id;
    d.kind = "digest";
    d.recipient = recipient;
    d.idempotency_key =
        "td-digest-r" + std::to_string(response_id) + "-" + recipient + "-" + std::to_string(slot);
    const char* period = e.schedule.every == DigestSchedule::Every::kHourly  ? "hourly"
                         : e.schedule.every == DigestSchedule::Every::kDaily ? "daily"
                                                                             : "weekly";
    d.payload_json =
        Json{{"slot", slot}, {"period", period}, {"time_zone", (*zone)->name()}}.dump();
    d.max_attempts = 5;
    d.next_at = t;
    d.created_at = t;
    auto moved = rs.closeDigest(d, slot);
    if (!moved) return fail(moved.error());
    if (*moved > 0) ++closed;
  }
  return closed;
}

Result<int> Dispatcher::deliverOnce(int limit) {
  // First what the fan-out handed over (claimed when inserted), else a claim of due deliveries.
  std::optional<std::vector<Delivery>> claimed(std::in_place);
  std::vector<std::unique_ptr<WebhookCall>> calls;  // built by the fan-out, or none
  auto claimed_at = std::chrono::steady_clock::now();
  const auto half_lease = std::chrono::milliseconds(options_.delivery_lease_ms / 2);
  std::vector<std::int64_t> stale;
  {
    std::lock_guard lock(queue_mu_);
    while (!queue_.empty() && static_cast<int>(claimed->size()) < limit) {
      auto h = std::move(queue_.front());
      queue_.pop_front();
      // Waited half its lease already: given back below, for the next claim.
      if (claimed_at - h.at > half_lease) {
        stale.push_back(h.delivery.id);
        continue;
      }
      if (claimed->empty()) claimed_at = h.at;
      claimed->push_back(std::move(h.delivery));
      calls.push_back(std::move(h.call));
    }
  }
  if (!stale.empty())
    if (auto s = store_.responses().releaseDeliveries(stale); !s)
      spdlog::warn("respond: giving back {} deliveries failed: {}", stale.size(),
                   s.error().message);
  // The table too: when nothing was handed over, and at least every poll interval while the
  // hand-over keeps the workers busy, so that retries, escalations and reports due are not held
  // up behind a long burst.
  const auto steady_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now().time_since_epoch())
                             .count();
  const bool table_due = steady_ms - last_table_claim_.load() >= options_.poll_ms;
  if (claimed->empty() || table_due) {
    last_table_claim_ = steady_ms;
    const int want = claimed->empty() ? limit : std::max(1, limit / 4);
    auto c = store_.responses().claimDeliveries(want, now(), options_.delivery_lease_ms);
    if (!c) {
      if (claimed->empty()) return fail(c.error());
      spdlog::warn("respond: claiming deliveries failed: {}", c.error().message);
    } else if (claimed->empty()) {
      if (c->empty()) return 0;
      claimed = std::move(*c);
      claimed_at = std::chrono::steady_clock::now();
    } else {
      for (auto& d : *c) claimed->push_back(std::move(d));
    }
  }
  calls.resize(claimed->size());  // those claimed from the table are parsed below
  // A batch that has used half its lease gives the rest back rather than risk sending after the
  // lease ran out, when another worker may have claimed and sent them too.
  const auto give_back_at = claimed_at + half_lease;
  std::vector<std::int64_t> unsent;
  bool follow_ups = false;

  // Webhooks go out together, over several keep-alive connections at once; the other kinds
  // (e-mail, notes, notifications ...) one after another below.
  std::vector<const Delivery*> hooks, others;
  std::vector<WebhookCall*> hook_calls;
  for (size_t i = 0; i < claimed->size(); ++i) {
    const Delivery& d = (*claimed)[i];
    if (d.kind != "webhook") {
      others.push_back(&d);
      continue;
    }
    hooks.push_back(&d);
    hook_calls.push_back(calls[i].get());
  }
  std::vector<store::ResponseStore::AttemptRecord> records;
  records.reserve(claimed->size());
  if (!hooks.empty()) {
    std::vector<HttpRequest> requests;
    std::vector<std::optional<Outcome>> outcomes(hooks.size());
    requests.reserve(hooks.size());
    std::vector<size_t> sent;  // index into hooks of each request
    for (size_t i = 0; i < hooks.size(); ++i) {
      std::optional<WebhookCall> call;
      if (hook_calls[i])
        call = std::move(*hook_calls[i]);
      else
        call = webhookCall(Json::parse(hooks[i]->payload_json, nullptr, false));
      if (!call) {
        Outcome o;
        o.attempt.at = now();
        o.verdict = Verdict::kFailed;
        o.attempt.error = "the delivery's payload is not readable";
        outcomes[i] = std::move(o);
        continue;
      }
      requests.push_back(webhookRequest(*hooks[i], std::move(*call)));
      sent.push_back(i);
    }
    const core::TimeMs at = now();
    HttpBatchOptions batch;
    // Each worker its share, so that receivers see at most `connections` at once.
    batch.max_connections = std::max(1, options_.connections / std::max(1, options_.workers));
    batch.start_by = give_back_at;
    batch.lean = options_.lean_http;
    const auto results = sendHttpMany(requests, batch);
    for (size_t k = 0; k < results.size(); ++k) {
      if (!results[k].started) {
        unsent.push_back(hooks[sent[k]]->id);
        continue;
      }
      outcomes[sent[k]] = webhookOutcome(requests[k], results[k], at);
    }
    for (size_t i = 0; i < hooks.size(); ++i) {
      if (!outcomes[i]) continue;
      records.push_back(finish(*hooks[i], std::move(*outcomes[i])));
      follow_ups = follow_ups || !records.back().follow_ups.empty();
    }
    // Recorded before the slower kinds are sent: the sooner a receiver's answer is durable, the
    // less a crash sends again.
    if (!others.empty()) {
      if (auto s = store_.responses().recordAttempts(records); !s) return fail(s.error());
      records.clear();
    }
  }
  for (const Delivery* d : others) {
    if (std::chrono::steady_clock::now() > give_back_at) {
      unsent.push_back(d->id);
      continue;
    }
    records.push_back(finish(*d, send(*d)));
    follow_ups = follow_ups || !records.back().follow_ups.empty();
  }
  if (auto s = store_.responses().releaseDeliveries(unsent); !s)
    spdlog::warn("respond: giving back {} deliveries failed: {}", unsent.size(), s.error().message);
  // One transaction for the batch. Should it fail, the leases run out and the batch is sent
  // again with the same keys: at least once, never lost.
  if (auto s = store_.responses().recordAttempts(records); !s) return fail(s.error());
  if (follow_ups) wakeWorkers();
  return static_cast<int>(claimed->size());
}

Status Dispatcher::drain(int max_rounds) {
  for (int i = 0; i < max_rounds; ++i) {
    auto a = fanOutOnce();
    if (!a) return fail(a.error());
    auto b = digestOnce();
    if (!b) return fail(b.error());
    auto c = deliverOnce(64);
    if (!c) return fail(c.error());
    if (*a == 0 && *b == 0 && *c == 0) return {};
  }
  return {};
}

core::TimeMs Dispatcher::backoff(const Delivery& d, std::optional<core::TimeMs> retry_after) {
  if (retry_after) return std::clamp<core::TimeMs>(*retry_after, 0, kMaxBackoff);
  core::TimeMs base = 1000;
  if (d.response_id)
    if (auto r = responseById(*d.response_id); r && r->spec.webhook)
      base = r->spec.webhook->backoff_ms;
  const int n = std::clamp(d.attempts - 1, 0, 30);
  const core::TimeMs full = std::min<core::TimeMs>(kMaxBackoff, base << std::min(n, 20));
  std::lock_guard lock(rng_mu_);
  // "Equal jitter": half fixed, half random, so retries of a burst spread out but never come
  // sooner than half the nominal delay.
  std::uniform_int_distribution<core::TimeMs> dist(full / 2, full);
  return dist(rng_);
}

store::ResponseStore::AttemptRecord Dispatcher::finish(const Delivery& d, Outcome o) {
  DeliveryStatus status = DeliveryStatus::kDelivered;
  core::TimeMs next_at = o.attempt.at;
  std::vector<Delivery> follow_ups;
  switch (o.verdict) {
    case Verdict::kDelivered:
      status = DeliveryStatus::kDelivered;
      break;
    case Verdict::kSkipped:
      status = DeliveryStatus::kSkipped;
      break;
    case Verdict::kRetry:
      if (d.attempts < d.max_attempts) {
        status = DeliveryStatus::kPending;
        next_at = now() + backoff(d, o.retry_after_ms);
        break;
      }
      [[fallthrough]];
    case Verdict::kFailed: {
      status = DeliveryStatus::kFailed;
      // Hand over to the fallback response, once (a fallback's own failure stops there).
      if (d.response_id && d.idempotency_key.find("-fallback") == std::string::npos &&
          d.threat_id) {
        auto r = responseById(*d.response_id);
        if (r && r->spec.webhook && r->spec.webhook->fallback_response) {
          auto fb = responseById(*r->spec.webhook->fallback_response);
          auto threat = store_.getThreat(*d.threat_id);
          if (fb && threat) {
            store::ResponseStore::Fanout f;
            const Json ev = {
                {"kind", Json::parse(d.payload_json, nullptr, false).value("event", "")}};
            if (responseDeliveries(*fb, *threat, ev, d.outbox_id,
                                   "-fallback-d" + std::to_string(d.id), f))
              follow_ups = std::move(f.deliveries);
          }
        }
      }
      break;
    }
  }
  return store::ResponseStore::AttemptRecord{d.id, std::move(o.attempt), status, next_at,
                                             std::move(follow_ups)};
}

Dispatcher::Outcome Dispatcher::send(const Delivery& d) {
  const Json p = Json::parse(d.payload_json, nullptr, false);
  Outcome o;
  o.attempt.at = now();
  if (!p.is_object()) {
    o.verdict = Verdict::kFailed;
    o.attempt.error = "the delivery's payload is not readable";
    return o;
  }
  if (d.kind == "webhook") return sendWebhook(d, p);
  if (d.kind == "email") {
    EmailMessage m;
    for (const auto& t : p.value("to", Json::array())) m.to.push_back(t.get<std::string>());
    m.subject = p.value("subject", "");
    m.text = p.value("text", "");
    m.html = p.value("html", "");
    return sendMail(d, std::move(m));
  }
  if (d.kind == "digest") return sendDigest(d, p);
  if (d.kind == "escalation") return sendEscalation(d, p);
  if (d.kind == "notification") return sendNotification(d, p);
  if (d.kind == "note") return sendNote(d, p);
  if (d.kind == "report") return sendReport(d, p);
  o.verdict = Verdict::kFailed;
  o.attempt.error = "unknown delivery kind '" + d.kind + "'";
  return o;
}

std::optional<Dispatcher::WebhookCall> Dispatcher::webhookCall(const Json& p) {
  if (!p.is_object()) return std::nullopt;
  WebhookCall c;
  c.event = p.value("event", "");
  c.method = p.value("method", "POST");
  c.url = p.value("url", "");
  c.body = p.value("body", "");
  c.timeout_ms = p.value("timeout_ms", 5000);
  for (const auto& h : p.value("headers", Json::array()))
    if (h.is_array() && h.size() == 2) c.headers.emplace_back(h[0], h[1]);
  return c;
}

HttpRequest Dispatcher::webhookRequest(const Delivery& d, WebhookCall call) {
  HttpRequest req;
  req.method = std::move(call.method);
  req.url = std::move(call.url);
  req.body = std::move(call.body);
  req.timeout_ms = call.timeout_ms;
  req.headers = std::move(call.headers);
  req.headers.reserve(req.headers.size() + 5);
  req.headers.emplace_back("Idempotency-Key", d.idempotency_key);
  req.headers.emplace_back("X-ThreatDesk-Delivery", std::to_string(d.id));
  req.headers.emplace_back("X-ThreatDesk-Attempt", std::to_string(d.attempts));
  req.headers.emplace_back("X-ThreatDesk-Event", std::move(call.event));
  std::string secret;
  if (d.response_id)
    if (auto r = responseById(*d.response_id); r && r->spec.webhook)
      secret = r->spec.webhook->secret;
  if (!secret.empty())
    req.headers.emplace_back("X-ThreatDesk-Signature", "sha256=" + hmacSha256Hex(secret, req.body));
  return req;
}

Dispatcher::Outcome Dispatcher::webhookOutcome(const HttpRequest& req, const HttpResult& res,
                                               core::TimeMs at) {
  Outcome o;
  o.attempt.at = at;
  o.attempt.duration_ms = res.duration_ms;
  o.attempt.status = res.status;
  o.attempt.error = res.error;
  o.attempt.request = requestSummary(req);
  o.attempt.response = clip(res.body);
  o.retry_after_ms = res.retry_after_ms;
  if (res.status && *res.status >= 200 && *res.status < 300) {
    o.verdict = Verdict::kDelivered;
  } else if (!res.status || *res.status >= 500 || *res.status == 429 || *res.status == 408) {
    o.verdict = Verdict::kRetry;
  } else {
    o.verdict = Verdict::kFailed;  // 4xx: the request itself is wrong; trying again will not help
  }
  return o;
}

Dispatcher::Outcome Dispatcher::sendWebhook(const Delivery& d, const Json& p) {
  const core::TimeMs at = now();
  auto call = webhookCall(p);
  if (!call) {
    Outcome o;
    o.attempt.at = at;
    o.verdict = Verdict::kFailed;
    o.attempt.error = "the delivery's payload is not readable";
    return o;
  }
  const HttpRequest req = webhookRequest(d, std::move(*call));
  return webhookOutcome(req, sendHttp(req), at);
}

Dispatcher::Outcome Dispatcher::sendMail(const Delivery& d, EmailMessage m) {
  Outcome o;
  o.attempt.at = now();
  if (!options_.smtp) {
    o.verdict = Verdict::kFailed;
    o.attempt.error = "no SMTP server configured (threatdesk serve --smtp smtp://HOST:PORT)";
    return o;
  }
  m.from = options_.smtp->from;
  m.message_id = "<" + d.idempotency_key + "@threatdesk>";
  m.headers.emplace_back("X-ThreatDesk-Delivery", std::to_string(d.id));
  if (d.threat_id) m.headers.emplace_back("X-ThreatDesk-Threat", std::to_string(*d.threat_id));
  std::string to;
  for (const auto& t : m.to) to += (to.empty() ? "" : ", ") + t;
  o.attempt.request = clip("SMTP " + options_.smtp->url + "\nTo: " + to +
                           "\nSubject: " + m.subject + "\n\n" + m.text);
  const SmtpResult r = sendEmail(*options_.smtp, m);
  o.attempt.duration_ms = r.duration_ms;
  o.attempt.status = r.code;
  o.attempt.error = r.error;
  o.attempt.response = r.ok ? "accepted" : r.error;
  o.verdict = r.ok ? Verdict::kDelivered : r.permanent ? Verdict::kFailed : Verdict::kRetry;
  return o;
}

Dispatcher::Outcome Dispatcher::sendDigest(const Delivery& d, const Json& p) {
  Outcome o;
  o.attempt.at = now();
  auto items = store_.responses().digestItems(d.id);
  if (!items) {
    o.verdict = Verdict::kRetry;
    o.attempt.error = items.error().message;
    return o;
  }
  std::vector<Vars> threats;
  std::vector<core::ThreatId> seen;
  for (const auto& i : *items) {
    if (std::find(seen.begin(), seen.end(), i.threat_id) != seen.end()) continue;
    seen.push_back(i.threat_id);
    auto t = store_.getThreat(i.threat_id);
    if (!t) continue;
    std::string project;
    auto org = orgOf(t->project_id, &project);
    threats.push_back(
        threatVars(*t, EventInfo{"digest", "", "", org ? *org : 0, project}, options_.public_url));
  }
  if (threats.empty()) {
    o.verdict = Verdict::kSkipped;
    o.attempt.error = "the digest's threats are gone";
    return o;
  }
  Vars vars;
  vars.set("count", std::to_string(threats.size()));
  vars.set("period", p.value("period", "daily"));
  vars.set("recipient", d.recipient);
  vars.set("base_url", options_.public_url);
  if (d.response_id)
    if (auto r = responseById(*d.response_id)) vars.set("response", r->spec.name);
  vars.setList("threats", std::move(threats));
  EmailMessage m;
  m.to = {d.recipient};
  m.subject = digestTemplate(0).render(vars, Escape::kHeader);
  m.text = digestTemplate(1).render(vars, Escape::kText);
  m.html = digestTemplate(2).render(vars, Escape::kHtml);
  return sendMail(d, std::move(m));
}

Dispatcher::Outcome Dispatcher::sendEscalation(const Delivery& d, const Json& p) {
  Outcome o;
  o.attempt.at = now();
  auto t = d.threat_id ? store_.getThreat(*d.threat_id)
                       : Result<core::Threat>(fail(ErrorCode::kNotFound, "no threat"));
  if (!t) {
    o.verdict = Verdict::kSkipped;
    o.attempt.error = "the threat is gone";
    return o;
  }
  // Acknowledged: someone owns it, or it left its organisation's first state.
  std::string project;
  auto org = orgOf(t->project_id, &project);
  bool acknowledged = t->closed || t->owner_id.has_value();
  if (!acknowledged && org) {
    auto states = store_.listTags(*org, store::TagKind::kState);
    if (states && !states->empty() && states->front().id != t->state_id) acknowledged = true;
  }
  if (acknowledged) {
    o.verdict = Verdict::kSkipped;
    o.attempt.response = "acknowledged in time; no escalation";
    return o;
  }
  Vars vars =
      threatVars(*t, EventInfo{"escalation", "", "", org ? *org : 0, project}, options_.public_url);
  const auto minutes = p.value("after_minutes", 0);
  EmailMessage m;
  for (const auto& a : p.value("to", Json::array())) m.to.push_back(a.get<std::string>());
  static const Template kSubject = *Template::parse(
      "[ThreatDesk] ESCALATION: {{severity}} {{name}} is unacknowledged", &threatSchema());
  static const Template kText = *Template::parse(
      "Threat {{threat_id}} ({{name}}, {{severity}}) is still {{state}} without an owner.\n\n"
      "Entity: {{entity.type}} {{entity.value}}\nOpen: {{link}}\n",
      &threatSchema());
  static const Template kHtml = *Template::parse(
      "<p>Threat <a href=\"{{link}}\">{{threat_id}} ({{name}})</a>, {{severity}}, is still "
      "{{state}} without an owner.</p>",
      &threatSchema());
  m.subject = kSubject.render(vars, Escape::kHeader);
  m.text = "Unacknowledged for " + std::to_string(minutes) + " minutes.\n" +
           kText.render(vars, Escape::kText);
  m.html = kHtml.render(vars, Escape::kHtml);
  return sendMail(d, std::move(m));
}

Dispatcher::Outcome Dispatcher::sendNotification(const Delivery& d, const Json& p) {
  Outcome o;
  o.attempt.at = now();
  store::Notification n;
  n.user_id = p.value("user_id", std::int64_t{0});
  n.threat_id = d.threat_id;
  n.kind = p.value("kind", "changed");
  n.text = p.value("text", "");
  n.created_at = o.attempt.at;
  if (auto s = store_.responses().addNotification(n, d.id); !s) {
    o.verdict = Verdict::kRetry;
    o.attempt.error = s.error().message;
    return o;
  }
  // With an SMTP server the user also gets it by e-mail.
  auto user = store_.getUser(n.user_id);
  if (!options_.smtp || !user || user->disabled) {
    o.verdict = Verdict::kDelivered;
    o.attempt.response = "in-app notification";
    return o;
  }
  EmailMessage m;
  m.to = {user->email};
  m.subject = "[ThreatDesk] " + n.text;
  m.text = n.text + "\n\nOpen: " + p.value("link", "") + "\n";
  m.html = "<p>" + escapeValue(n.text, Escape::kHtml) + "</p><p><a href=\"" +
           escapeValue(p.value("link", ""), Escape::kHtml) + "\">Open the threat</a></p>";
  return sendMail(d, std::move(m));
}

Dispatcher::Outcome Dispatcher::sendNote(const Delivery& d, const Json& p) {
  Outcome o;
  o.attempt.at = now();
  if (!d.threat_id) {
    o.verdict = Verdict::kSkipped;
    return o;
  }
  const std::string text = p.value("text", "");
  // A retry after a crash between the note and its record must not add the note twice.
  auto notes = store_.listNotes(*d.threat_id);
  if (notes)
    for (const auto& n : *notes)
      if (n.author == "system" && n.text == text && n.at >= d.created_at) {
        o.verdict = Verdict::kDelivered;
        o.attempt.response = "note " + std::to_string(n.id) + " (added before)";
        return o;
      }
  auto note = store_.addNote(*d.threat_id, text, store::Actor{std::nullopt, "system"});
  if (!note) {
    o.verdict = note.error().code == ErrorCode::kNotFound ? Verdict::kSkipped : Verdict::kRetry;
    o.attempt.error = note.error().message;
    return o;
  }
  o.verdict = Verdict::kDelivered;
  o.attempt.response = "note " + std::to_string(note->id);
  return o;
}

Result<Json> Dispatcher::preview(const ResponseSpec& spec, std::optional<core::ThreatId> threat_id,
                                 core::OrgId org) {
  core::Threat threat = sampleThreat();
  if (threat_id) {
    auto t = store_.getThreat(*threat_id);
    if (!t) return fail(t.error());
    threat = *t;
  }
  std::string project;
  auto o = orgOf(threat.project_id, &project);
  Vars vars = threatVars(threat, EventInfo{"threat.created", "preview", "", o ? *o : org, project},
                         options_.public_url);
  vars.set("response", spec.name);
  Json out;
  out["threat_id"] = threat.id;
  out["sample"] = !threat_id.has_value();
  if (spec.webhook) {
    const auto& w = *spec.webhook;
    Json headers = Json::object();
    for (const auto& [k, v] : w.headers) headers[k] = v.render(vars, Escape::kHeader);
    const std::string body = w.payload.render(vars, w.json_payload ? Escape::kJson : Escape::kText);
    out["webhook"] = {{"method", w.method},
                      {"url", w.url.render(vars, Escape::kUrl)},
                      {"headers", headers},
                      {"body", body}};
    if (!w.secret.empty())
      out["webhook"]["headers"]["X-ThreatDesk-Signature"] =
          "sha256=" + hmacSha256Hex(w.secret, body);
  }
  if (spec.email) {
    const auto& e = *spec.email;
    auto rc = recipients(e, org);
    Json to = Json::array();
    if (rc)
      for (const auto& r : *rc) to.push_back(r.address);
    out["email"] = {{"to", to},
                    {"subject", e.subject.render(vars, Escape::kHeader)},
                    {"text", e.text.render(vars, Escape::kText)},
                    {"html", e.html.render(vars, Escape::kHtml)}};
  }
  return out;
}

Result<Json> Dispatcher::testSend(const store::ResponseRecord& record,
                                  std::optional<core::ThreatId> threat_id) {
  auto spec = parseResponseSpec(Json::parse(record.spec_json, nullptr, false));
  if (!spec) return fail(spec.error());
  auto rendered = preview(*spec, threat_id, record.org_id);
  if (!rendered) return fail(rendered.error());
  Json out = *rendered;
  Delivery d;
  d.id = 0;
  d.response_id = record.id;
  d.threat_id = (*rendered)["threat_id"].get<core::ThreatId>();
  d.idempotency_key = "td-test-r" + std::to_string(record.id) + "-" + std::to_string(core::nowMs());
  d.attempts = 1;
  Json results = Json::array();
  auto report = [&](const Outcome& o) {
    Json r = {{"ok", o.verdict == Verdict::kDelivered},
              {"duration_ms", o.attempt.duration_ms},
              {"error", o.attempt.error},
              {"response", o.attempt.response}};
    if (o.attempt.status) r["status"] = *o.attempt.status;
    results.push_back(r);
  };
  if (spec->webhook) {
    const auto& w = (*rendered)["webhook"];
    Json p = {{"method", w["method"]},
              {"url", w["url"]},
              {"body", w["body"]},
              {"timeout_ms", spec->webhook->timeout_ms},
              {"event", "test"}};
    Json headers = Json::array();
    for (const auto& [k, v] : w["headers"].items())
      if (k != "X-ThreatDesk-Signature") headers.push_back({k, v});
    p["headers"] = headers;
    // The secret of the stored response signs, as in a real delivery.
    {
      std::lock_guard lock(cache_mu_);
      stale_ = true;
    }
    report(sendWebhook(d, p));
  }
  if (spec->email) {
    const auto& e = (*rendered)["email"];
    for (const auto& to : e["to"]) {
      EmailMessage m;
      m.to = {to.get<std::string>()};
      m.subject = e["subject"];
      m.text = e["text"];
      m.html = e["html"];
      report(sendMail(d, std::move(m)));
    }
  }
  out["results"] = results;
  return out;
}

}  // namespace td::respond
