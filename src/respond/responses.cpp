#include "respond/responses.h"

namespace td::respond {
namespace {

using core::ErrorCode;
using core::fail;
using core::Result;
using Json = nlohmann::json;

core::Status checkAgainstStore(store::Store& store, core::OrgId org, const ResponseSpec& spec,
                               std::optional<std::int64_t> self) {
  if (spec.email && !spec.email->to_user.empty()) {
    auto u = store.findUserByEmail(spec.email->to_user);
    if (!u || u->org_id != org)
      return fail(ErrorCode::kUnprocessable,
                  "email.to_user: no user " + spec.email->to_user + " in this organisation",
                  "email.to_user");
  }
  for (auto p : spec.projects) {
    auto project = store.getProject(p);
    if (!project || project->org_id != org)
      return fail(ErrorCode::kUnprocessable,
                  "projects: no project " + std::to_string(p) + " in this organisation",
                  "projects");
  }
  if (spec.webhook && spec.webhook->fallback_response) {
    const auto fb = *spec.webhook->fallback_response;
    if (self && *self == fb)
      return fail(ErrorCode::kUnprocessable,
                  "webhook.fallback_response: a response cannot be its "
                  "own fallback",
                  "webhook.fallback_response");
    auto r = store.responses().getResponse(fb);
    if (!r || r->org_id != org)
      return fail(
          ErrorCode::kUnprocessable,
          "webhook.fallback_response: no response " + std::to_string(fb) + " in this organisation",
          "webhook.fallback_response");
  }
  return {};
}

}  // namespace

Result<ResponseSpec> specOf(const store::ResponseRecord& record) {
  auto spec = parseResponseSpec(Json::parse(record.spec_json, nullptr, false));
  if (!spec) return fail(spec.error());
  spec->enabled = record.enabled;
  return spec;
}

Result<store::ResponseRecord> createResponse(store::Store& store, core::OrgId org,
                                             const Json& body) {
  auto spec = parseResponseSpec(body);
  if (!spec) return fail(spec.error());
  if (auto ok = checkAgainstStore(store, org, *spec, std::nullopt); !ok) return fail(ok.error());
  store::ResponseRecord r;
  r.org_id = org;
  r.name = spec->name;
  r.type = spec->type;
  r.enabled = spec->enabled;
  r.spec_json = encodeResponseSpec(*spec, true).dump();
  r.created_at = r.updated_at = core::nowMs();
  return store.responses().createResponse(r);
}

Result<store::ResponseRecord> updateResponse(store::Store& store,
                                             const store::ResponseRecord& current,
                                             const Json& patch) {
  if (!patch.is_object())
    return fail(ErrorCode::kInvalidArgument, "body: expected a JSON object", "body");
  auto previous = specOf(current);
  if (!previous) return fail(previous.error());
  Json merged = encodeResponseSpec(*previous, true);
  merged["enabled"] = current.enabled;
  // Templates left out of a patch keep their stored text; a new preset brings its own payload
  // unless the patch gives one.
  if (patch.contains("webhook") && patch["webhook"].is_object() &&
      patch["webhook"].contains("preset") && !patch["webhook"].contains("payload") &&
      merged.contains("webhook")) {
    merged["webhook"].erase("payload");
    merged["webhook"].erase("headers");
  }
  merged.merge_patch(patch);
  if (patch.contains("type") && merged["type"] != previous->type) {
    if (merged["type"] == "email") merged.erase("webhook");
    if (merged["type"] == "webhook") merged.erase("email");
  }
  auto spec = parseResponseSpec(merged, &*previous);
  if (!spec) return fail(spec.error());
  if (auto ok = checkAgainstStore(store, current.org_id, *spec, current.id); !ok)
    return fail(ok.error());
  store::ResponseRecord r = current;
  r.name = spec->name;
  r.type = spec->type;
  r.enabled = spec->enabled;
  r.spec_json = encodeResponseSpec(*spec, true).dump();
  r.updated_at = core::nowMs();
  return store.responses().updateResponse(r);
}

Json encodeResponse(const store::ResponseRecord& r, store::ResponseStore& rs) {
  Json j;
  auto spec = specOf(r);
  if (spec) {
    j = encodeResponseSpec(*spec, false);
  } else {
    j["name"] = r.name;
    j["type"] = r.type;
    j["invalid"] = spec.error().message;
  }
  j["id"] = r.id;
  j["organisation_id"] = r.org_id;
  j["enabled"] = r.enabled;
  j["held_back"] = r.held_back;
  Json keys = Json::array();
  if (auto counts = rs.throttleCounts(r.id))
    for (const auto& [k, n] : *counts) keys.push_back({{"key", k}, {"held_back", n}});
  j["held_back_by_key"] = keys;
  j["created_at"] = core::formatRfc3339(r.created_at);
  j["updated_at"] = core::formatRfc3339(r.updated_at);
  return j;
}

Json encodeDelivery(const store::Delivery& d) {
  Json j = {{"id", d.id},
            {"kind", d.kind},
            {"recipient", d.recipient},
            {"idempotency_key", d.idempotency_key},
            {"status", store::deliveryStatusName(d.status)},
            {"attempts", d.attempts},
            {"max_attempts", d.max_attempts},
            {"next_at", core::formatRfc3339(d.next_at)},
            {"created_at", core::formatRfc3339(d.created_at)},
            {"last_error", d.last_error}};
  j["response_id"] = d.response_id ? Json(*d.response_id) : Json(nullptr);
  j["threat_id"] = d.threat_id ? Json(*d.threat_id) : Json(nullptr);
  j["outbox_id"] = d.outbox_id ? Json(*d.outbox_id) : Json(nullptr);
  j["finished_at"] = d.finished_at ? Json(core::formatRfc3339(*d.finished_at)) : Json(nullptr);
  j["last_status"] = d.last_status ? Json(*d.last_status) : Json(nullptr);
  return j;
}

Json encodeAttempt(const store::DeliveryAttempt& a) {
  Json j = {{"id", a.id},
            {"at", core::formatRfc3339(a.at)},
            {"duration_ms", a.duration_ms},
            {"error", a.error},
            {"request", a.request},
            {"response", a.response}};
  j["status"] = a.status ? Json(*a.status) : Json(nullptr);
  return j;
}

Json encodeSubscription(const store::Subscription& s) {
  return {{"user_id", s.user_id},
          {"group_id", s.group_id},
          {"on_assign", s.on_assign},
          {"on_change", s.on_change}};
}

Json encodeNotification(const store::Notification& n) {
  Json j = {{"id", n.id},
            {"kind", n.kind},
            {"text", n.text},
            {"created_at", core::formatRfc3339(n.created_at)}};
  j["threat_id"] = n.threat_id ? Json(*n.threat_id) : Json(nullptr);
  j["read_at"] = n.read_at ? Json(core::formatRfc3339(*n.read_at)) : Json(nullptr);
  return j;
}

}  // namespace td::respond
