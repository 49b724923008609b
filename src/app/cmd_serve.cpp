#include "app/cmd_serve.h"

#include <chrono>
#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include <spdlog/spdlog.h>

#include "app/cli.h"
#include "app/demo.h"
#include "server/routes_ingest.h"
#include "server/server.h"
#ifdef TD_WITH_REPORT_ROUTES
#include "report/scheduler.h"
#include "server/routes_reports.h"
#endif
#include "triage/service.h"
#include "triage/threat_sink.h"
#ifdef TD_WITH_RULES
#include "detect/sigma_processor.h"
#include "server/routes_detect.h"
#endif
#ifdef TD_WITH_RESPOND
#include "respond/dispatcher.h"
#include "server/routes_responses.h"
#endif
#ifdef TD_WITH_VULN
#include "server/routes_vuln.h"
#endif
#ifdef TD_WITH_INTEL_SYNC
#include "intel/sync/feed_service.h"
#include "intel/sync/intel_processor.h"
#include "server/routes_intel.h"
#endif

namespace td::app {
namespace {

struct ServeOptions {
  std::string listen = "127.0.0.1:8080";
  std::string store = kDefaultStore;
  std::string web_dir;
  int threads = 32;  // each idle browser keep-alive connection holds one
  bool demo = false;
  std::string intel_warninglists;  // MISP warninglists applied to every feed import
  int intel_tick_seconds = 30;     // how often due feeds are looked for
  std::string smtp;        // SMTP server of e-mail responses
  std::string public_url;  // base of deep links in responses
  int claim_lease_seconds = 0;  // 0: the dispatcher's defaults (outbox 60 s, deliveries 120 s)
  std::string advisories_dir;    // scheduled OSV import; THREATDESK_ADVISORIES_DIR by default
  int advisories_interval = 60;  // minutes
};

core::Result<std::pair<std::string, int>> parseListen(const std::string& text) {
  const auto colon = text.rfind(':');
  auto bad = [&] {
    return core::fail(core::ErrorCode::kInvalidArgument,
                      "expected HOST:PORT such as 127.0.0.1:8080, got '" + text + "'", "--listen");
  };
  if (colon == std::string::npos || colon == 0) return bad();
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  int port = 0;
  const std::string digits = text.substr(colon + 1);
  if (digits.empty() || digits.size() > 5 ||
      digits.find_first_not_of("0123456789") != std::string::npos)
    return bad();
  port = std::stoi(digits);
  if (port > 65535) return bad();
  return std::make_pair(host, port);
}

// The built web UI: --web, else web/dist beside the working directory, else none.
std::string findWebDir(const std::string& option) {
  if (!option.empty()) return option;
  for (const char* candidate : {"web/dist", "share/threatdesk/web"})
    if (std::filesystem::exists(std::filesystem::path(candidate) / "index.html")) return candidate;
  return {};
}

int waitForSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  int signal = 0;
  sigwait(&set, &signal);
  return signal;
}

void serve(const ServeOptions& o) {
  // Block the signals in every thread the server starts; the main thread waits for them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  auto [host, port] = orFail(parseListen(o.listen));
  if (o.threads < 1 || o.threads > 256) throw CommandFailed("--threads: expected 1-256");
  auto store = openStoreOrFail(o.store);
  if (o.demo) {
    DemoSeeded seeded = orFail(seedDemo(*store, core::nowMs()));
    if (seeded.seeded) {
      std::cout << "Demo data seeded: " << seeded.threats << " threats.\n"
                << "Log in as " << seeded.admin_email << " with password "
                << seeded.admin_password << " (shown once; change it with "
                << "`threatdesk user passwd`).\n"
                << std::flush;
    } else {
      std::cout << "The store holds data already; no demo data seeded.\n";
    }
  }
  triage::TriageService triage(*store);
  server::ServerOptions options;
  options.host = host;
  options.port = port;
  options.threads = o.threads;
  options.static_dir = findWebDir(o.web_dir);
#ifdef TD_WITH_VULN
  // Declared before the server so that it outlives the routes that use it.
  server::VulnService vuln(*store, triage);
  {
    auto loaded = orFail(vuln.loadAdvisories());
    spdlog::info("{} vulnerability advisories loaded from the store", vuln.advisoryCount());
    if (!loaded.errors.empty())
      spdlog::warn("{} stored advisories no longer parse; skipped", loaded.errors.size());
  }
#endif
#ifdef TD_WITH_RESPOND
  // Declared before the server so that it outlives the routes that use it.
  respond::DispatcherOptions respond_options;
  if (!o.smtp.empty()) respond_options.smtp = orFail(respond::parseSmtpUrl(o.smtp));
  respond_options.public_url =
      o.public_url.empty() ? "http://" + o.listen : o.public_url;
  if (o.claim_lease_seconds > 0) {
    respond_options.outbox_lease_ms = o.claim_lease_seconds * core::kSecondMs;
    respond_options.delivery_lease_ms = o.claim_lease_seconds * core::kSecondMs;
  }
  respond::Dispatcher dispatcher(*store, respond_options);
#endif
  // The live event pipeline: events sent to POST /api/v1/ingest go through every registered
  // core::EventProcessor (the Sigma rules here; other engines add theirs with addProcessor) and
  // their detections through the threat sink into the store. Declared before the server so that
  // they outlive its routes.
  triage::ThreatSink threat_sink(*store);
  server::IngestPipeline pipeline(threat_sink);
#ifdef TD_WITH_RULES
  detect::SigmaProcessor sigma;
  server::RuleService rules(*store, sigma);
  {
    auto loaded = orFail(rules.reload());
    std::cout << "Rules: " << loaded.rules << " Sigma rules, " << loaded.entity_rules
              << " entity rules in effect" << (loaded.refused ? ", " : "")
              << (loaded.refused ? std::to_string(loaded.refused) + " refused" : "") << "\n";
  }
  pipeline.addProcessor(&sigma);
#endif
#ifdef TD_WITH_INTEL_SYNC
  // Intel: feeds in the store, refreshed on their schedule; the matcher reads each
  // organisation's live index, swapped by every import while events flow.
  intel::sync::FeedServiceOptions intel_options;
  intel_options.warninglists_dir = o.intel_warninglists;
  intel_options.allow_local_sources = false;  // API callers must not read the server's files
  intel_options.tick_ms = std::max(1, o.intel_tick_seconds) * core::TimeMs{1000};
  intel::sync::FeedService intel_feeds(*store, intel_options);
  intel::sync::IntelProcessor intel_processor(*store, intel_feeds);
  pipeline.addProcessor(&intel_processor);
#endif
  server::Server server(*store, triage, options);
#ifdef TD_WITH_REPORT_ROUTES
  server::addReportRoutes(server);
  // Scheduled reports: due slots run once (missed ones once on start). Each run's e-mail (PDF
  // attached) is queued as deliveries that the responses dispatcher sends through --smtp.
  report::SchedulerOptions report_options;
#ifdef TD_WITH_RESPOND
  report_options.mail = true;
  report_options.public_url = respond_options.public_url;
#endif
  report::ReportScheduler report_scheduler(*store, nullptr, report_options);
#endif
  server::addIngestRoutes(server, pipeline);
#ifdef TD_WITH_RULES
  server::addRuleRoutes(server, rules);
#endif
#ifdef TD_WITH_RESPOND
  server::addResponseRoutes(server, dispatcher);
#endif
#ifdef TD_WITH_VULN
  server::addVulnRoutes(server, vuln);
#endif
#ifdef TD_WITH_INTEL_SYNC
  server::addIntelRoutes(server, intel_feeds);
#endif
  int bound = orFail(server.start());
#ifdef TD_WITH_REPORT_ROUTES
  report_scheduler.start();
#endif
#ifdef TD_WITH_RULES
  rules.start();  // flushes hit counts; reloads when the store's rules change (CLI installs)
#endif
#ifdef TD_WITH_VULN
  std::string advisories_dir = o.advisories_dir;
  if (advisories_dir.empty())
    if (const char* env = std::getenv("THREATDESK_ADVISORIES_DIR")) advisories_dir = env;
  if (!advisories_dir.empty()) {
    if (o.advisories_interval < 1) throw CommandFailed("--advisories-interval: at least 1 minute");
    spdlog::info("importing OSV advisories from {} every {} minutes", advisories_dir,
                 o.advisories_interval);
    vuln.startScheduledImport(advisories_dir, std::chrono::minutes(o.advisories_interval));
  }
#endif
#ifdef TD_WITH_RESPOND
  dispatcher.start();  // delivers what the outbox owes, including what a crash left behind
#endif
#ifdef TD_WITH_INTEL_SYNC
  intel_feeds.start();  // scheduled feed refresh; notices imports made by the CLI or other nodes
#endif
  std::cout << "ThreatDesk serving http://" << host << ":" << bound << "/\n" << std::flush;
  const int signal = waitForSignal();
  spdlog::info("received {}; finishing requests in flight", signal == SIGTERM ? "SIGTERM" : "SIGINT");
  // Requests in flight finish; every change they acknowledged is committed by then.
  server.stop();
#ifdef TD_WITH_REPORT_ROUTES
  report_scheduler.stop();  // a run in progress finishes and is recorded
#endif
#ifdef TD_WITH_RULES
  rules.stop();
#endif
#ifdef TD_WITH_INTEL_SYNC
  intel_feeds.stop();  // an import in progress finishes first
#endif
  threat_sink.stop();  // writes every detection accepted before the stop
#ifdef TD_WITH_RESPOND
  dispatcher.stop();  // sends in flight finish; the rest is owed durably and goes out next start
#endif
#ifdef TD_WITH_VULN
  vuln.stop();  // a scheduled import in progress stops after its current file
#endif
  spdlog::info("stopped cleanly");
}

}  // namespace

void registerServeCommand(CLI::App& app) {
  auto o = std::make_shared<ServeOptions>();
  auto* cmd = app.add_subcommand("serve", "Serve the API and web UI until SIGTERM");
  cmd->add_option("--listen", o->listen, "HOST:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  addStoreOption(cmd, o->store);
  cmd->add_flag("--demo", o->demo, "Seed demo data into an empty store and print the admin login");
  cmd->add_option("--web", o->web_dir, "Directory of the built web UI (default: web/dist)");
  cmd->add_option("--threads", o->threads, "HTTP worker threads")->capture_default_str();
#ifdef TD_WITH_VULN
  cmd->add_option("--advisories-dir", o->advisories_dir,
                  "Import OSV advisories (.json, osv.dev .zip) from this directory at start and "
                  "on a schedule (default: $THREATDESK_ADVISORIES_DIR)");
  cmd->add_option("--advisories-interval", o->advisories_interval,
                  "Minutes between scheduled advisory imports")
      ->capture_default_str();
#endif
#ifdef TD_WITH_RESPOND
  cmd->add_option("--smtp", o->smtp,
                  "SMTP server of e-mail responses and scheduled reports: "
                  "smtp://[user[:password]@]host[:port]"
                  "[?from=ADDR&tls=none|try|required], or smtps://... (password also from "
                  "$THREATDESK_SMTP_PASSWORD)");
  cmd->add_option("--public-url", o->public_url,
                  "Base URL of this server for deep links in e-mails and webhooks "
                  "(default: http://<--listen>)");
  cmd->add_option("--claim-lease", o->claim_lease_seconds,
                  "Seconds a claimed outbox event or delivery stays with this node; when a node "
                  "dies, another takes its claims after this long (default: 60 for events, 120 "
                  "for deliveries; keep it longer than any webhook or SMTP send may take)")
      ->check(CLI::Range(0, 86400));
#endif
#ifdef TD_WITH_INTEL_SYNC
  cmd->add_option("--intel-warninglists", o->intel_warninglists,
                  "MISP warninglists directory: suppress known-benign indicators in feed imports");
  cmd->add_option("--intel-tick", o->intel_tick_seconds,
                  "Seconds between looks for intel feeds due for refresh")
      ->capture_default_str();
#endif
  cmd->callback([o] { serve(*o); });
}

}  // namespace td::app
