#include "intel/sync/taxii_client.h"

#include <algorithm>

#include "intel/feeds.h"
#include "intel/sync/http_fetch.h"
#include "intel/taxii.h"

namespace td::intel::sync {
namespace {

using core::ErrorCode;
using core::fail;

}  // namespace

core::Result<TaxiiResult> pollTaxii(const TaxiiPoll& poll) {
  TaxiiResult result;
  std::string added_after = poll.added_after;
  std::string next;
  size_t total_bytes = 0;
  while (true) {
    if (result.pages >= poll.max_pages)
      return fail(ErrorCode::kUnavailable,
                  "TAXII server still had more after " + std::to_string(poll.max_pages) + " pages",
                  "source");
    HttpGet get;
    // With `next`, the filter is repeated: TAXII 2.1 servers expect the same query.
    get.url = taxiiObjectsUrl(poll.collection_url, added_after, next, poll.page_limit);
    get.headers = {"Accept: " + std::string(kTaxiiMediaType)};
    get.username = poll.username;
    get.password = poll.password;
    get.timeout_seconds = poll.timeout_seconds;
    get.max_bytes = kMaxFeedBytes - std::min(total_bytes, kMaxFeedBytes - 1);
    auto answer = httpGet(get);
    if (!answer) return fail(answer.error());
    const long status = answer->status;
    if (status == 401 || status == 403)
      return fail(ErrorCode::kUnauthenticated,
                  "TAXII server refused the credentials (HTTP " + std::to_string(status) +
                      "): " + taxiiErrorText(answer->body),
                  "credentials");
    if (status == 404)
      return fail(ErrorCode::kNotFound,
                  "TAXII server has no such collection (HTTP 404) at " + poll.collection_url,
                  "source");
    if (status == 406 || status == 415)
      return fail(ErrorCode::kUnavailable,
                  "TAXII server does not speak TAXII 2.1 (HTTP " + std::to_string(status) +
                      "): " + taxiiErrorText(answer->body),
                  "source");
    if (status < 200 || status >= 300)
      return fail(ErrorCode::kUnavailable,
                  "TAXII server answered HTTP " + std::to_string(status) + ": " +
                      taxiiErrorText(answer->body),
                  "source");
    total_bytes += answer->body.size();
    auto envelope = parseTaxiiEnvelope(answer->body);
    if (!envelope) {
      core::Error e = envelope.error();
      e.message += " (page " + std::to_string(result.pages + 1) + " of " + poll.collection_url + ")";
      return fail(e);
    }
    ++result.pages;
    for (auto& o : envelope->objects) result.objects.push_back(std::move(o));
    std::string last;
    if (auto it = answer->headers.find("x-taxii-date-added-last"); it != answer->headers.end())
      last = it->second;
    if (!last.empty()) result.date_added_last = last;
    if (!envelope->more) break;
    if (!envelope->next.empty()) {
      if (envelope->next == next)
        return fail(ErrorCode::kUnavailable, "TAXII server sent the same `next` twice", "source");
      next = envelope->next;
    } else if (!last.empty() && last != added_after) {
      next.clear();
      added_after = last;  // paging by time
    } else {
      return fail(ErrorCode::kUnavailable,
                  "TAXII server says there is more but gives neither `next` nor "
                  "X-TAXII-Date-Added-Last to ask for it",
                  "source");
    }
  }
  return result;
}

}  // namespace td::intel::sync
