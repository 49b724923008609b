// Creating, changing and showing responses as the API and the CLI do: the spec's own validation
// (response_spec.h) plus what needs the store (the user named as recipient belongs to the
// organisation, the fallback response exists and is a different one of the same organisation),
// and the JSON the API shows for responses, deliveries, tries, subscriptions and notifications.
//
// Thread safety: stateless functions over a thread-safe Store.
#pragma once

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "respond/response_spec.h"
#include "store/store.h"

namespace td::respond {

core::Result<store::ResponseRecord> createResponse(store::Store& store, core::OrgId org,
                                                   const nlohmann::json& body);
// A JSON merge patch (RFC 7396) over the stored response; "secret" left out keeps the secret.
core::Result<store::ResponseRecord> updateResponse(store::Store& store,
                                                   const store::ResponseRecord& current,
                                                   const nlohmann::json& patch);
core::Result<ResponseSpec> specOf(const store::ResponseRecord& record);

nlohmann::json encodeResponse(const store::ResponseRecord& record, store::ResponseStore& rs);
nlohmann::json encodeDelivery(const store::Delivery& d);
nlohmann::json encodeAttempt(const store::DeliveryAttempt& a);
nlohmann::json encodeSubscription(const store::Subscription& s);
nlohmann::json encodeNotification(const store::Notification& n);

}  // namespace td::respond
