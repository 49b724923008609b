// The dispatcher: delivers what the outbox owes, at least once, and never again once a receiver
// has acknowledged it.
//
// Two stages, each on durable rows:
//  1. Fan-out. Woken by the store after each outbox commit (and polling as a fallback), claims
//     outbox events with a lease (Store::claimOutbox), decides which responses, subscriptions and
//     state automations apply, and inserts their deliveries (plus digest items and throttle
//     counts) keyed by idempotency keys and acknowledges the events, in one transaction. A crash
//     before it commits means the events are claimed again after their lease. The new deliveries
//     due now are inserted already claimed and handed to the workers in memory.
//  2. Delivery. Worker threads take handed-over deliveries, or claim due ones with a lease, send
//     them (a batch's webhooks concurrently over keep-alive connections; e-mail, digest,
//     escalation, in-app notification, automatic note one by one), and record the batch's tries
//     and new states in one transaction. Retries back off exponentially with jitter (honouring
//     Retry-After); a delivery out of tries is kept as failed, can be replayed, and may hand over
//     to a fallback response. A crash mid-send means the lease runs out and the delivery is sent
//     again with the same Idempotency-Key; a delivery recorded as delivered is never sent again.
//
// Thread safety: start()/stop() from one controlling thread. The *Once() methods and testSend()
// may be called from any thread (tests drive the stages by hand with an injected clock).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "respond/response_spec.h"
#include "respond/time_zone.h"
#include "respond/transport.h"
#include "store/store.h"

namespace td::respond {

// The latest digest time at or before `now` in a time zone (ms since the epoch, UTC).
core::TimeMs digestSlot(core::TimeMs now, const TimeZone& zone, const DigestSchedule& schedule);
// When quiet hours in a time zone end, if `now` falls in them; `now` otherwise.
core::TimeMs quietUntil(core::TimeMs now, const TimeZone& zone, const QuietHours& quiet);

struct DispatcherOptions {
  std::optional<SmtpConfig> smtp;  // none: e-mail deliveries fail with a message saying so
  std::string public_url;          // base of {{link}}
  int workers = 2;  // each sends a batch's webhooks concurrently (connections / workers at once)
  core::TimeMs poll_ms = 20;
  core::TimeMs outbox_lease_ms = 60 * core::kSecondMs;
  core::TimeMs delivery_lease_ms = 2 * core::kMinuteMs;  // longer than any send may take
  int outbox_batch = 256;
  int delivery_batch = 256;  // claimed, sent and recorded together (one claim, one transaction)
  int connections = 16;  // webhook requests in flight at once, shared by the workers (keep-alive)
  // Plain http:// webhooks to an IP address or localhost through the lean HTTP client
  // (respond/http_client.h); false: all through libcurl (the benchmark compares the two).
  bool lean_http = true;
  // New deliveries the fan-out claims as it inserts them and hands to the workers in memory (no
  // second claim); beyond this many waiting, the workers claim them from the table.
  int hand_over = 4096;
  core::TimeMs digest_every_ms = core::kSecondMs;
  core::TimeMs outbox_retention_ms = 7 * core::kDayMs;
  core::TimeMs delivery_retention_ms = 30 * core::kDayMs;
  core::TimeMs prune_every_ms = 10 * core::kMinuteMs;
  core::TimeMs responses_refresh_ms = 2 * core::kSecondMs;
  std::function<core::TimeMs()> clock;  // default: the wall clock
  std::uint64_t seed = 0;               // jitter; 0: random
};

class Dispatcher {
 public:
  Dispatcher(store::Store& store, DispatcherOptions options);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Starts the fan-out thread and the delivery workers; stop() lets sends in flight finish.
  void start();
  void stop();

  // One batch of each stage on the calling thread; each returns how much it did.
  core::Result<int> fanOutOnce();
  core::Result<int> digestOnce();
  core::Result<int> deliverOnce(int limit);
  // Fan-out, digests and deliveries until nothing is due now (tests).
  core::Status drain(int max_rounds = 1000);
  // Re-reads the responses on the next fan-out (the API calls this after a change).
  void invalidateResponses();

  // Renders a response for a threat (or a sample) without sending: what would go out.
  core::Result<nlohmann::json> preview(const ResponseSpec& spec,
                                       std::optional<core::ThreatId> threat, core::OrgId org);
  // Renders and sends once, now, without retries; returns what was sent and what came back.
  core::Result<nlohmann::json> testSend(const store::ResponseRecord& response,
                                        std::optional<core::ThreatId> threat);

  const DispatcherOptions& options() const { return options_; }

 private:
  // A webhook's request as the fan-out built it (the delivery's payload_json is its text), or as
  // read back from that text; the per-try headers (key, attempt, signature) are added at sending.
  struct WebhookCall {
    std::string event, method = "POST", url, body;
    std::vector<std::pair<std::string, std::string>> headers;
    core::TimeMs timeout_ms = 5000;
  };
  // The webhook calls the fan-out built, by idempotency key, for the deliveries it hands over.
  using Rendered = std::map<std::string, std::unique_ptr<WebhookCall>, std::less<>>;
  struct Loaded {
    store::ResponseRecord record;
    ResponseSpec spec;
  };
  struct Recipient {
    std::string address;
    std::string time_zone;
  };
  enum class Verdict { kDelivered, kRetry, kFailed, kSkipped };
  struct Outcome {
    Verdict verdict = Verdict::kFailed;
    store::DeliveryAttempt attempt;
    std::optional<core::TimeMs> retry_after_ms;
  };

  core::TimeMs now() const { return options_.clock ? options_.clock() : core::nowMs(); }
  core::Status refreshResponses(bool force);
  std::vector<std::shared_ptr<const Loaded>> responsesOf(core::OrgId org);
  std::shared_ptr<const Loaded> responseById(std::int64_t id);
  core::Result<core::OrgId> orgOf(core::ProjectId project, std::string* project_name);
  core::Result<std::vector<Recipient>> recipients(const EmailAction& email, core::OrgId org);
  std::string timeZoneOf(const std::string& address, const std::string& fallback);
  // The deliveries one event owes, added to `out` (inserted by the caller with its batch).
  core::Status fanOut(const store::OutboxEvent& event, store::ResponseStore::Fanout& out,
                      Rendered* rendered = nullptr);
  // The deliveries (or digest items) one response owes for one threat and event.
  core::Status responseDeliveries(const Loaded& response, const core::Threat& threat,
                                  const nlohmann::json& event, std::optional<std::int64_t> outbox,
                                  const std::string& key_suffix, store::ResponseStore::Fanout& out,
                                  Vars* threat_vars = nullptr, Rendered* rendered = nullptr);
  Outcome send(const store::Delivery& d);
  Outcome sendWebhook(const store::Delivery& d, const nlohmann::json& p);
  // None when the payload is not an object.
  static std::optional<WebhookCall> webhookCall(const nlohmann::json& p);
  HttpRequest webhookRequest(const store::Delivery& d, WebhookCall call);
  Outcome webhookOutcome(const HttpRequest& req, const HttpResult& res, core::TimeMs at);
  Outcome sendMail(const store::Delivery& d, EmailMessage message);
  Outcome sendDigest(const store::Delivery& d, const nlohmann::json& p);
  Outcome sendEscalation(const store::Delivery& d, const nlohmann::json& p);
  Outcome sendNotification(const store::Delivery& d, const nlohmann::json& p);
  Outcome sendNote(const store::Delivery& d, const nlohmann::json& p);
  // A scheduled report's e-mail with the run's file attached (report_mail.cpp).
  Outcome sendReport(const store::Delivery& d, const nlohmann::json& p);
  store::ResponseStore::AttemptRecord finish(const store::Delivery& d, Outcome outcome);
  core::TimeMs backoff(const store::Delivery& d, std::optional<core::TimeMs> retry_after);
  void fanOutLoop();
  void workerLoop();
  void wakeWorkers();
  void releaseHandedOver();

  store::Store& store_;
  DispatcherOptions options_;

  std::mutex cache_mu_;
  std::map<core::OrgId, std::vector<std::shared_ptr<const Loaded>>> by_org_;  // cache_mu_
  std::map<std::int64_t, std::shared_ptr<const Loaded>> by_id_;               // cache_mu_
  std::map<core::ProjectId, std::pair<core::OrgId, std::string>> projects_;   // cache_mu_
  core::TimeMs loaded_at_ = 0;                                                // cache_mu_
  bool stale_ = true;                                                         // cache_mu_

  std::mutex rng_mu_;
  std::mt19937_64 rng_;  // rng_mu_

  // Deliveries the fan-out inserted claimed, for the workers; `at` starts their lease.
  struct HandedOver {
    store::Delivery delivery;
    std::chrono::steady_clock::time_point at;
    // The webhook as the fan-out built it (delivery.payload_json is its text): the worker need
    // not parse it back.
    std::unique_ptr<WebhookCall> call;
  };

  std::mutex queue_mu_;
  std::deque<HandedOver> queue_;                   // queue_mu_
  std::atomic<std::int64_t> last_table_claim_{0};  // steady clock, ms

  std::mutex fan_mu_;  // the fan-out's wake-up: outbox commits (Store::setOutboxListener)
  std::condition_variable fan_wake_;
  std::uint64_t fan_seq_ = 0;  // fan_mu_

  std::mutex wake_mu_;
  std::condition_variable wake_;
  std::uint64_t wake_seq_ = 0;  // wake_mu_
  std::atomic<bool> running_{false};
  std::thread fanout_thread_;
  std::vector<std::thread> workers_;
};

}  // namespace td::respond
