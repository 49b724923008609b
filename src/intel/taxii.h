// TAXII 2.1 (OASIS, 2021) without the network: the envelope a collection's `objects/` endpoint
// answers with, the URL of the next page, and the STIX bundle a poll's objects make. The client
// that speaks HTTP is in intel/sync (taxii_client.h); this part is pure so that it can be fuzzed.
//
// Envelope (TAXII 2.1 §3.7): {"more": bool, "next": string, "objects": [STIX object, ...]}, every
// member optional. Errors name the member that is wrong.
//
// Pure functions; safe from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace td::intel {

constexpr std::string_view kTaxiiMediaType = "application/taxii+json;version=2.1";

struct TaxiiEnvelope {
  std::vector<std::string> objects;  // each object's JSON text, as served
  bool more = false;
  std::string next;  // opaque; passed back as ?next= for the following page
};

core::Result<TaxiiEnvelope> parseTaxiiEnvelope(std::string_view json);

// The objects URL of a collection (`collection_url` ends with the collection id, with or without
// a slash): .../objects/?added_after=…&next=…&limit=…; empty parts are left out, values are
// percent-encoded.
std::string taxiiObjectsUrl(std::string_view collection_url, std::string_view added_after,
                            std::string_view next, int limit);

// {"type":"bundle","id":"bundle--taxii-poll","objects":[...]}: what parseStixBundle reads.
std::string stixBundleOf(const std::vector<std::string>& objects);

// A TAXII error message body ({"title", "description", "http_status"}) as one line, or the body's
// first 200 bytes when it is not one.
std::string taxiiErrorText(std::string_view body);

}  // namespace td::intel
