// TAXII 2.1: the envelope parser, and the STIX importer over the bundle a poll's objects make
// (what the TAXII client hands on), plus the objects URL built from fuzzed cursor text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "intel/feeds.h"
#include "intel/taxii.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto env = td::intel::parseTaxiiEnvelope(text);
  if (env) {
    auto url = td::intel::taxiiObjectsUrl("https://t.example/api1/collections/c/", env->next,
                                          env->next, 10);
    if (url.find_first_of(" \r\n") != std::string::npos) __builtin_trap();  // always encoded
    auto batch = td::intel::parseStixBundle(td::intel::stixBundleOf(env->objects),
                                            td::intel::FeedInfo{"fuzz", 50});
    if (batch) {
      td::intel::IndexBuilder b;
      b.add(std::move(*batch));
      (void)b.build();
    }
  }
  (void)td::intel::taxiiErrorText(text);
  return 0;
}
