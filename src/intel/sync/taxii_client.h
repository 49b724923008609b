// TAXII 2.1 client: polls one collection's objects/ endpoint (GET with
// Accept: application/taxii+json;version=2.1, HTTP basic auth), from `added_after` on, following
// the envelope's `next` while `more` is true (or, for servers that page by time only, the
// X-TAXII-Date-Added-Last header as the next added_after). The objects of all pages come back as
// one list, so relationships and the indicators they point to may sit on different pages.
//
// Thread safety: stateless; safe from any thread.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"

namespace td::intel::sync {

struct TaxiiPoll {
  std::string collection_url;  // https://host/api-root/collections/<id>/
  std::string username, password;
  std::string added_after;  // RFC 3339; empty: from the start
  int page_limit = 1000;    // ?limit= per page (the server may serve fewer)
  int max_pages = 10000;    // a stop for servers whose `more` never ends
  long timeout_seconds = 120;
};

struct TaxiiResult {
  std::vector<std::string> objects;  // STIX objects' JSON text, in the server's order
  int pages = 0;
  // The newest date_added the server reported (X-TAXII-Date-Added-Last of the last page that had
  // one): the added_after of the next poll. Empty when no page said.
  std::string date_added_last;
};

// Errors: kUnauthenticated for 401/403 (field "credentials": the server refused the user name or
// password), kNotFound for 404 (field "source": no such collection), kUnavailable for other
// answers and transport failures, kInvalidArgument for an envelope that is not TAXII 2.1.
core::Result<TaxiiResult> pollTaxii(const TaxiiPoll& poll);

}  // namespace td::intel::sync
