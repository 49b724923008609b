// The TAXII 2.1 envelope parser and URL building (the network side is in feed_service_test).
#include <gtest/gtest.h>

#include "intel/feeds.h"
#include "intel/taxii.h"

namespace td::intel {
namespace {

TEST(TaxiiEnvelopeTest, ReadsObjectsMoreAndNext) {
  auto e = parseTaxiiEnvelope(
      R"({"more":true,"next":"p2","objects":[{"type":"indicator","id":"indicator--1"},{"type":"malware"}]})");
  ASSERT_TRUE(e) << e.error().message;
  EXPECT_TRUE(e->more);
  EXPECT_EQ(e->next, "p2");
  ASSERT_EQ(e->objects.size(), 2u);
  EXPECT_EQ(e->objects[0], R"({"id":"indicator--1","type":"indicator"})");
  auto empty = parseTaxiiEnvelope("{}");
  ASSERT_TRUE(empty);
  EXPECT_FALSE(empty->more);
  EXPECT_TRUE(empty->objects.empty());
}

TEST(TaxiiEnvelopeTest, RejectsWhatIsNotAnEnvelopeNamingTheMember) {
  EXPECT_EQ(parseTaxiiEnvelope("[]").error().field, "envelope");
  EXPECT_EQ(parseTaxiiEnvelope("{\"objects\":").error().field, "envelope");
  EXPECT_EQ(parseTaxiiEnvelope(R"({"more":"yes"})").error().field, "envelope.more");
  EXPECT_EQ(parseTaxiiEnvelope(R"({"next":3})").error().field, "envelope.next");
  EXPECT_EQ(parseTaxiiEnvelope(R"({"objects":{}})").error().field, "envelope.objects");
  EXPECT_EQ(parseTaxiiEnvelope(R"({"objects":[1]})").error().field, "envelope.objects[0]");
  std::string deep(100000, '[');
  auto d = parseTaxiiEnvelope(R"({"objects":[{"a":)" + deep);
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().message.find("deeper"), std::string::npos) << d.error().message;
}

TEST(TaxiiEnvelopeTest, BuildsObjectUrlsAndABundleTheStixImporterReads) {
  EXPECT_EQ(taxiiObjectsUrl("https://t.example/api1/collections/abc", "2026-01-01T00:00:00Z", "",
                            100),
            "https://t.example/api1/collections/abc/objects/"
            "?added_after=2026-01-01T00:00:00Z&limit=100");
  EXPECT_EQ(taxiiObjectsUrl("https://t.example/c/", "", "a b&c", 0),
            "https://t.example/c/objects/?next=a%20b%26c");
  std::string bundle = stixBundleOf(
      {R"({"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000001","created":"2026-01-01T00:00:00Z","modified":"2026-01-01T00:00:00Z","pattern":"[domain-name:value = 'evil.example']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"})"});
  auto batch = parseStixBundle(bundle, FeedInfo{"taxii", 50});
  ASSERT_TRUE(batch) << batch.error().message;
  ASSERT_EQ(batch->indicators.size(), 1u);
  EXPECT_EQ(batch->indicators[0].value, "evil.example");
  EXPECT_EQ(taxiiErrorText(R"({"title":"Unauthorized","description":"bad password"})"),
            "Unauthorized: bad password");
}

}  // namespace
}  // namespace td::intel
