// Fuzzes the REST API's decoders: the threat create body, the change and bulk bodies, the list's
// query parameters and the account bodies. The first byte picks the decoder; the rest is the
// input. Decoders must never throw, crash or hang; whatever they accept must encode back.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "server/json_codec.h"

namespace {

using td::server::Json;

// "a=1&b=2" into a multimap, as cpp-httplib hands query parameters over (already decoded).
td::server::QueryParams splitQuery(std::string_view text) {
  td::server::QueryParams params;
  while (!text.empty()) {
    const size_t amp = text.find('&');
    std::string_view pair = text.substr(0, amp);
    const size_t eq = pair.find('=');
    params.emplace(std::string(pair.substr(0, eq)),
                   eq == std::string_view::npos ? std::string() : std::string(pair.substr(eq + 1)));
    if (amp == std::string_view::npos) break;
    text.remove_prefix(amp + 1);
  }
  return params;
}

void decodeBody(uint8_t which, std::string_view text) {
  auto json = td::server::parseJson(text);
  if (!json) return;
  switch (which % 8) {
    case 0: {
      auto d = td::server::decodeDetection(*json);
      if (d) {
        td::core::Threat t;
        t.name = d->name;
        t.description = d->description;
        t.tags = d->tags;
        t.evidence_json = d->evidence_json;
        t.entity = d->entity;
        (void)td::server::dumpJson(td::server::encodeThreat(t));
      }
      break;
    }
    case 1:
      (void)td::server::decodeChangeRequest(*json, "change");
      break;
    case 2:
      (void)td::server::decodeBulkRequest(*json);
      break;
    case 3:
      (void)td::server::decodeFilterJson(*json, "filter");
      break;
    case 4:
      (void)td::server::decodeLogin(*json);
      break;
    case 5:
      (void)td::server::decodeNewUser(*json);
      break;
    case 6:
      (void)td::server::decodeNewToken(*json);
      break;
    case 7:
      (void)td::server::decodeTagRequest(*json, true);
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t which = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  if (which >= 0xF0) {
    auto q = td::server::decodeThreatQuery(splitQuery(text), {"project", "format"});
    if (!q) (void)td::server::dumpJson(td::server::encodeError(q.error()));
    return 0;
  }
  decodeBody(which, text);
  return 0;
}
