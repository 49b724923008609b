#include "app/cmd_respond.h"

#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "app/cli.h"
#include "respond/dispatcher.h"
#include "respond/responses.h"

namespace td::app {
namespace {

using Json = nlohmann::json;

struct Args {
  std::string store = kDefaultStore;
  std::string org;
  std::string file;
  std::string json;
  std::int64_t id = 0;
  std::int64_t threat = 0;
  std::int64_t response = 0;
  std::string status;
  int limit = 50;
  std::string smtp;
  std::string public_url;
};

core::OrgId orgOf(store::Store& store, const std::string& name) {
  if (!name.empty()) return orFail(store.findOrg(name)).id;
  auto orgs = orFail(store.listOrgs());
  if (orgs.size() == 1) return orgs.front().id;
  throw CommandFailed("--org: name the organisation (the store has " + std::to_string(orgs.size()) +
                      ")");
}

Json readBody(const Args& a) {
  std::string text = a.json;
  if (!a.file.empty()) {
    std::stringstream ss;
    if (a.file == "-") {
      ss << std::cin.rdbuf();
    } else {
      std::ifstream in(a.file);
      if (!in) throw CommandFailed("--file: cannot read " + a.file);
      ss << in.rdbuf();
    }
    text = ss.str();
  }
  if (text.empty()) throw CommandFailed("give the response as --file FILE (- for stdin) or --json");
  auto j = Json::parse(text, nullptr, false);
  if (j.is_discarded()) throw CommandFailed("the response is not valid JSON");
  return j;
}

void print(const Json& j) { std::cout << j.dump(2) << "\n"; }

respond::DispatcherOptions dispatcherOptions(const Args& a) {
  respond::DispatcherOptions o;
  if (!a.smtp.empty()) o.smtp = orFail(respond::parseSmtpUrl(a.smtp));
  o.public_url = a.public_url;
  return o;
}

store::ResponseRecord responseIn(store::Store& store, std::int64_t id) {
  return orFail(store.responses().getResponse(id));
}

}  // namespace

void registerRespondCommands(CLI::App& app) {
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("response", "Responses: e-mail and webhook rules, deliveries");
  cmd->require_subcommand(1);

  auto* list = cmd->add_subcommand("list", "List an organisation's responses");
  addStoreOption(list, a->store);
  list->add_option("--org", a->org, "Organisation name (default: the only one)");
  list->callback([a] {
    auto store = openStoreOrFail(a->store);
    Json items = Json::array();
    for (const auto& r : orFail(store->responses().listResponses(orgOf(*store, a->org))))
      items.push_back(respond::encodeResponse(r, store->responses()));
    print(items);
  });

  auto* add = cmd->add_subcommand("add", "Create a response from JSON (as POST /api/v1/responses)");
  addStoreOption(add, a->store);
  add->add_option("--org", a->org, "Organisation name (default: the only one)");
  add->add_option("--file", a->file, "The response as a JSON file (- for stdin)");
  add->add_option("--json", a->json, "The response as JSON text");
  add->callback([a] {
    auto store = openStoreOrFail(a->store);
    auto r = orFail(respond::createResponse(*store, orgOf(*store, a->org), readBody(*a)));
    print(respond::encodeResponse(r, store->responses()));
  });

  auto* show = cmd->add_subcommand("show", "Show one response");
  addStoreOption(show, a->store);
  show->add_option("id", a->id, "Response id")->required();
  show->callback([a] {
    auto store = openStoreOrFail(a->store);
    print(respond::encodeResponse(responseIn(*store, a->id), store->responses()));
  });

  auto* update = cmd->add_subcommand("update", "Change a response (JSON merge patch)");
  addStoreOption(update, a->store);
  update->add_option("id", a->id, "Response id")->required();
  update->add_option("--file", a->file, "The patch as a JSON file (- for stdin)");
  update->add_option("--json", a->json, "The patch as JSON text");
  update->callback([a] {
    auto store = openStoreOrFail(a->store);
    auto r = orFail(respond::updateResponse(*store, responseIn(*store, a->id), readBody(*a)));
    print(respond::encodeResponse(r, store->responses()));
  });

  auto* del =
      cmd->add_subcommand("delete", "Delete a response (its pending deliveries are cancelled)");
  addStoreOption(del, a->store);
  del->add_option("id", a->id, "Response id")->required();
  del->callback([a] {
    auto store = openStoreOrFail(a->store);
    orFail(store->responses().deleteResponse(a->id));
    std::cout << "deleted response " << a->id << "\n";
  });

  auto* deliveries = cmd->add_subcommand("deliveries", "List deliveries, newest first");
  addStoreOption(deliveries, a->store);
  deliveries->add_option("--response", a->response, "Only this response's");
  deliveries->add_option("--threat", a->threat, "Only this threat's");
  deliveries->add_option("--status", a->status, "pending, delivered, failed, skipped, cancelled");
  deliveries->add_option("--limit", a->limit, "At most this many")->capture_default_str();
  deliveries->callback([a] {
    auto store = openStoreOrFail(a->store);
    store::DeliveryFilter f;
    if (a->response) f.response_id = a->response;
    if (a->threat) f.threat_id = a->threat;
    if (!a->status.empty()) f.status = orFail(store::parseDeliveryStatus(a->status));
    f.limit = a->limit;
    Json items = Json::array();
    for (const auto& d : orFail(store->responses().listDeliveries(f))) {
      Json j = respond::encodeDelivery(d);
      Json tries = Json::array();
      for (const auto& t : orFail(store->responses().listAttempts(d.id)))
        tries.push_back(respond::encodeAttempt(t));
      j["attempts_made"] = tries;
      items.push_back(j);
    }
    print(items);
  });

  auto* replay =
      cmd->add_subcommand("replay", "Send a failed delivery again (by the running server)");
  addStoreOption(replay, a->store);
  replay->add_option("delivery", a->id, "Delivery id")->required();
  replay->callback([a] {
    auto store = openStoreOrFail(a->store);
    print(respond::encodeDelivery(orFail(store->responses().replayDelivery(a->id, core::nowMs()))));
  });

  auto* test = cmd->add_subcommand("test", "Render and send a response once, now; show the answer");
  addStoreOption(test, a->store);
  test->add_option("id", a->id, "Response id")->required();
  test->add_option("--threat", a->threat, "A real threat (default: a sample)");
  test->add_option("--smtp", a->smtp, "SMTP server URL, e.g. smtp://127.0.0.1:2525");
  test->add_option("--public-url", a->public_url, "Base URL of deep links");
  test->callback([a] {
    auto store = openStoreOrFail(a->store);
    respond::Dispatcher d(*store, dispatcherOptions(*a));
    std::optional<core::ThreatId> threat;
    if (a->threat) threat = a->threat;
    print(orFail(d.testSend(responseIn(*store, a->id), threat)));
  });

  auto* preview = cmd->add_subcommand("preview", "Render a response from JSON without sending it");
  addStoreOption(preview, a->store);
  preview->add_option("--org", a->org, "Organisation name (default: the only one)");
  preview->add_option("--file", a->file, "The response as a JSON file (- for stdin)");
  preview->add_option("--json", a->json, "The response as JSON text");
  preview->add_option("--threat", a->threat, "A real threat (default: a sample)");
  preview->add_option("--public-url", a->public_url, "Base URL of deep links");
  preview->callback([a] {
    auto store = openStoreOrFail(a->store);
    auto spec = orFail(respond::parseResponseSpec(readBody(*a)));
    respond::Dispatcher d(*store, dispatcherOptions(*a));
    std::optional<core::ThreatId> threat;
    if (a->threat) threat = a->threat;
    print(orFail(d.preview(spec, threat, orgOf(*store, a->org))));
  });

  auto* presets = cmd->add_subcommand("presets", "List the shipped webhook presets");
  presets->callback([] {
    for (const auto& [name, p] : respond::webhookPresets().items())
      std::cout << name << "\t" << p.value("description", "") << "\n";
  });
}

}  // namespace td::app
