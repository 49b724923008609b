#include "intel/index.h"

#include <gtest/gtest.h>

#include "intel/warninglist.h"

namespace td::intel {
namespace {

IndicatorDraft draft(IndicatorType type, std::string_view raw, std::string ext = {}) {
  auto n = normalizeValue(type, raw);
  EXPECT_TRUE(n) << raw;
  IndicatorDraft d;
  d.type = n->type;
  d.value = n->value;
  d.external_id = std::move(ext);
  return d;
}

FeedBatch batchOf(std::string feed, std::vector<IndicatorDraft> drafts) {
  FeedBatch b;
  b.feed.name = std::move(feed);
  b.indicators = std::move(drafts);
  return b;
}

std::vector<IndicatorId> ipv4Hits(const Index& ix, std::string_view ip) {
  std::vector<IndicatorId> out;
  ix.findIpv4(*parseIpv4(ip), [&](std::uint32_t t) { out.push_back(t); });
  return out;
}

std::vector<IndicatorId> domainHits(const Index& ix, std::string_view d) {
  std::vector<IndicatorId> out;
  ix.findDomain(normalizeDomain(d), [&](std::uint32_t t) { out.push_back(t); });
  return out;
}

TEST(IndicatorTest, NormalisesEachType) {
  EXPECT_EQ(normalizeValue(IndicatorType::kIpv4, " 10.0.0.1 ")->value, "10.0.0.1");
  EXPECT_FALSE(normalizeValue(IndicatorType::kIpv4, "10.0.0.256"));
  EXPECT_FALSE(normalizeValue(IndicatorType::kIpv4, "010.0.0.1"));  // octal ambiguity
  EXPECT_FALSE(normalizeValue(IndicatorType::kIpv4, "10.0.0"));
  auto cidr = normalizeValue(IndicatorType::kIpv4, "10.1.2.3/8");
  EXPECT_EQ(cidr->type, IndicatorType::kCidr4);
  EXPECT_EQ(cidr->value, "10.0.0.0/8");  // host bits cleared
  EXPECT_EQ(normalizeValue(IndicatorType::kCidr4, "1.2.3.4/32")->type, IndicatorType::kIpv4);
  EXPECT_FALSE(normalizeValue(IndicatorType::kCidr4, "1.2.3.4/33"));
  auto v6 = normalizeValue(IndicatorType::kIpv6, "2001:DB8:0:0::1");
  EXPECT_EQ(v6->type, IndicatorType::kIpv6);
  EXPECT_EQ(v6->value, "2001:db8::1");
  EXPECT_EQ(normalizeValue(IndicatorType::kIpv6, "::ffff:1.2.3.4")->value, "1.2.3.4");
  EXPECT_EQ(normalizeValue(IndicatorType::kIpv6, "2001:db8::/32")->type, IndicatorType::kCidr6);
  EXPECT_EQ(normalizeValue(IndicatorType::kDomain, "*.Evil.Example.")->value, "evil.example");
  EXPECT_FALSE(normalizeValue(IndicatorType::kDomain, "evil..example"));
  EXPECT_FALSE(normalizeValue(IndicatorType::kDomain, "domain autuo.xicp.net"));
  EXPECT_EQ(normalizeValue(IndicatorType::kSha256, std::string(64, 'A'))->value, std::string(64, 'a'));
  EXPECT_FALSE(normalizeValue(IndicatorType::kMd5, std::string(31, 'a')));
  EXPECT_FALSE(normalizeValue(IndicatorType::kMd5, std::string(32, 'g')));
  EXPECT_EQ(normalizeValue(IndicatorType::kEmail, "Bad.Guy@Evil.COM")->value, "bad.guy@evil.com");
  EXPECT_FALSE(normalizeValue(IndicatorType::kEmail, "a@b@c"));
  EXPECT_EQ(normalizeValue(IndicatorType::kFileName, "C:\\Temp\\MimiKatz.EXE")->value, "mimikatz.exe");
}

TEST(IndicatorTest, GuessesTypes) {
  EXPECT_EQ(normalizeGuess("1.2.3.4")->type, IndicatorType::kIpv4);
  EXPECT_EQ(normalizeGuess("1.2.3.0/24")->type, IndicatorType::kCidr4);
  EXPECT_EQ(normalizeGuess("fe80::1")->type, IndicatorType::kIpv6);
  EXPECT_EQ(normalizeGuess("http://x.example/a")->type, IndicatorType::kUrl);
  EXPECT_EQ(normalizeGuess(std::string(40, 'b'))->type, IndicatorType::kSha1);
  EXPECT_EQ(normalizeGuess(std::string(128, 'c'))->type, IndicatorType::kSha512);
  EXPECT_EQ(normalizeGuess("a@b.example")->type, IndicatorType::kEmail);
  EXPECT_EQ(normalizeGuess("evil.example")->type, IndicatorType::kDomain);
  EXPECT_FALSE(normalizeGuess("IOC FOUND"));
  EXPECT_FALSE(normalizeGuess("localhost"));  // a bare label is not a useful indicator
}

TEST(IndexTest, Ipv4ExactDoesNotMatchOtherAddresses) {
  IndexBuilder b;
  b.add(batchOf("f", {draft(IndicatorType::kIpv4, "198.51.100.1")}));
  auto ix = b.build();
  EXPECT_EQ(ipv4Hits(*ix, "198.51.100.1").size(), 1u);
  EXPECT_TRUE(ipv4Hits(*ix, "198.51.100.10").empty());
  EXPECT_TRUE(ipv4Hits(*ix, "198.51.100.0").empty());
  EXPECT_EQ(ix->value(0), "198.51.100.1");
}

TEST(IndexTest, Cidr4CoversItsRangeOnly) {
  IndexBuilder b;
  b.add(batchOf("f", {draft(IndicatorType::kCidr4, "112.64.0.0/15"),
                      draft(IndicatorType::kCidr4, "0.0.0.0/0"),
                      draft(IndicatorType::kCidr4, "192.0.2.128/25")}));
  auto ix = b.build();
  EXPECT_EQ(ipv4Hits(*ix, "112.65.255.255").size(), 2u);  // /15 and /0
  EXPECT_EQ(ipv4Hits(*ix, "112.66.0.0").size(), 1u);      // /0 only
  EXPECT_EQ(ipv4Hits(*ix, "192.0.2.128").size(), 2u);
  EXPECT_EQ(ipv4Hits(*ix, "192.0.2.127").size(), 1u);
}

TEST(IndexTest, Ipv6AndCidr6) {
  IndexBuilder b;
  b.add(batchOf("f", {draft(IndicatorType::kIpv6, "2001:db8::1"),
                      draft(IndicatorType::kCidr6, "2001:db8:abcd::/48"),
                      draft(IndicatorType::kCidr6, "2001:db8:ab00::/40")}));
  auto ix = b.build();
  auto hits = [&](std::string_view s) {
    size_t n = 0;
    ix->findIpv6(*parseIpv6(s), [&](std::uint32_t) { ++n; });
    return n;
  };
  EXPECT_EQ(hits("2001:db8::1"), 1u);
  EXPECT_EQ(hits("2001:db8::2"), 0u);
  EXPECT_EQ(hits("2001:db8:abcd:1::5"), 2u);  // /48 and /40
  EXPECT_EQ(hits("2001:db8:ab7f::1"), 1u);    // /40 only
  EXPECT_EQ(hits("2001:db8:ac00::1"), 0u);
}

TEST(IndexTest, DomainMatchesSubdomainsNotLookalikes) {
  IndexBuilder b;
  b.add(batchOf("f", {draft(IndicatorType::kDomain, "evil.example")}));
  auto ix = b.build();
  EXPECT_EQ(domainHits(*ix, "evil.example").size(), 1u);
  EXPECT_EQ(domainHits(*ix, "A.B.EVIL.example.").size(), 1u);
  EXPECT_TRUE(domainHits(*ix, "notevil.example").empty());
  EXPECT_TRUE(domainHits(*ix, "evil.example.com").empty());
  EXPECT_TRUE(domainHits(*ix, "example").empty());
}

TEST(IndexTest, HashesUrlsEmailsFileNames) {
  std::string md5 = "42893ADBC36605EC79B5BD610759947E";
  std::string sha512(128, 'e');
  IndexBuilder b;
  b.add(batchOf("f", {draft(IndicatorType::kMd5, md5), draft(IndicatorType::kSha512, sha512),
                      draft(IndicatorType::kUrl, "HTTP://Evil.Example:80/a/../b%7e?q=1#frag"),
                      draft(IndicatorType::kEmail, "bad@evil.example"),
                      draft(IndicatorType::kFileName, "mimikatz.exe")}));
  auto ix = b.build();
  size_t n = 0;
  auto count = [&](std::uint32_t) { ++n; };
  ix->findHash("42893adbc36605ec79b5bd610759947e", count);
  EXPECT_EQ(n, 1u);
  ix->findHash(sha512, count);
  EXPECT_EQ(n, 2u);
  ix->findHash(std::string(64, 'e'), count);  // same digits, other length: another type
  EXPECT_EQ(n, 2u);
  ix->findString(IndicatorType::kUrl, "http://evil.example/b~?q=1", count);
  EXPECT_EQ(n, 3u);
  ix->findString(IndicatorType::kEmail, "bad@evil.example", count);
  ix->findString(IndicatorType::kFileName, "mimikatz.exe", count);
  EXPECT_EQ(n, 5u);
  EXPECT_EQ(ix->value(0), "42893adbc36605ec79b5bd610759947e");
  EXPECT_EQ(ix->value(1), sha512);
}

TEST(IndexTest, SameValueFromTwoFeedsIsOneIndicatorWithTwoSources) {
  IndexBuilder b;
  auto r1 = b.add(batchOf("feed-a", {draft(IndicatorType::kIpv4, "203.0.113.7", "a-1")}));
  auto r2 = b.add(batchOf("feed-b", {draft(IndicatorType::kIpv4, "203.0.113.7", "b-1")}));
  EXPECT_EQ(r1.added, 1u);
  EXPECT_EQ(r2.added, 0u);
  EXPECT_EQ(r2.updated, 1u);
  auto ix = b.build();
  ASSERT_EQ(ix->size(), 1u);
  auto v = ix->view(0);
  ASSERT_EQ(v.sources.size(), 2u);
  EXPECT_EQ(v.sources[0].feed, "feed-a");
  EXPECT_EQ(v.sources[1].external_id, "b-1");
}

TEST(IndexTest, RefreshReplacesAFeedsIndicators) {
  IndexBuilder b;
  b.add(batchOf("f", {draft(IndicatorType::kIpv4, "203.0.113.1"),
                      draft(IndicatorType::kIpv4, "203.0.113.2")}));
  auto base = b.build();
  IndexBuilder again(*base);
  auto r = again.add(batchOf("f", {draft(IndicatorType::kIpv4, "203.0.113.2"),
                                   draft(IndicatorType::kIpv4, "203.0.113.3")}));
  EXPECT_EQ(r.added, 1u);
  EXPECT_EQ(r.updated, 1u);
  auto ix = again.build();
  EXPECT_EQ(ix->size(), 2u);
  EXPECT_TRUE(ipv4Hits(*ix, "203.0.113.1").empty());
  EXPECT_EQ(ipv4Hits(*ix, "203.0.113.3").size(), 1u);
}

TEST(IndexTest, ExpiredIndicatorsAreDroppedAndCounted) {
  IndexBuilder b;
  auto old = draft(IndicatorType::kDomain, "old.example");
  old.valid_until = 1000 * core::kSecondMs;
  auto live = draft(IndicatorType::kDomain, "live.example");
  live.valid_until = 5000 * core::kSecondMs;
  BuildOptions o;
  o.now = 2000 * core::kSecondMs;
  auto r = b.add(batchOf("f", {old, live}), o);
  EXPECT_EQ(r.expired, 1u);
  EXPECT_EQ(r.added, 1u);
  auto ix = b.build();
  ASSERT_EQ(ix->size(), 1u);
  EXPECT_TRUE(ix->activeAt(0, 4000 * core::kSecondMs));
  EXPECT_FALSE(ix->activeAt(0, 6000 * core::kSecondMs));  // the matcher checks at match time
}

TEST(IndexTest, ContextsAreSharedAndConfidenceDefaultsToTheFeed) {
  IndexBuilder b;
  std::vector<IndicatorDraft> ds;
  for (int i = 0; i < 100; ++i) {
    auto d = draft(IndicatorType::kIpv4, "10.0.0." + std::to_string(i));
    d.context.malware = "Pikabot";
    ds.push_back(d);
  }
  FeedBatch batch = batchOf("f", ds);
  batch.feed.default_confidence = 70;
  b.add(std::move(batch));
  auto ix = b.build();
  EXPECT_EQ(ix->contexts().size(), 1u);
  EXPECT_EQ(ix->confidence(5), 70);
  EXPECT_EQ(ix->view(5).sources[0].context->malware, "Pikabot");
}

TEST(IndexTest, WarninglistSuppressesKnownBenign) {
  Warninglists wl;
  ASSERT_TRUE(wl.addList(R"({"name":"rfc1918","type":"cidr","list":["10.0.0.0/8"],
                             "matching_attributes":["ip-dst"]})",
                         "rfc1918"));
  ASSERT_TRUE(wl.addList(R"({"type":"hostname","list":["amazonaws.com"],
                             "matching_attributes":["hostname","domain"]})",
                         "amazon"));
  ASSERT_TRUE(wl.addList(R"({"type":"string","list":["d41d8cd98f00b204e9800998ecf8427e"],
                             "matching_attributes":["md5"]})",
                         "empty-hashes"));
  IndexBuilder b;
  BuildOptions o;
  o.warninglists = &wl;
  auto r = b.add(batchOf("f", {draft(IndicatorType::kIpv4, "10.1.2.3"),
                               draft(IndicatorType::kIpv4, "8.8.4.4"),
                               draft(IndicatorType::kDomain, "ec2-1-2-3-4.compute-1.amazonaws.com"),
                               draft(IndicatorType::kMd5, "D41D8CD98F00B204E9800998ECF8427E")}),
                 o);
  EXPECT_EQ(r.suppressed, 3u);
  EXPECT_EQ(r.added, 1u);
  ASSERT_EQ(r.suppressions.size(), 3u);
  EXPECT_NE(r.suppressions[0].reason.find("rfc1918"), std::string::npos);
  EXPECT_NE(r.suppressions[1].reason.find("amazon"), std::string::npos);
}

// countImport (the store import with no index in memory) against IndexBuilder::add on an index
// holding the same keys: the same counts, suppressions and accepted drafts, for a batch with
// values already known, values repeated within it, expired and suppressed ones, two types with
// one text, and a compound.
TEST(IndexTest, CountImportReportsWhatAddingToTheIndexWould) {
  Warninglists wl;
  ASSERT_TRUE(wl.addList(R"({"name":"rfc1918","type":"cidr","list":["10.0.0.0/8"],
                             "matching_attributes":["ip-dst"]})",
                         "rfc1918"));
  BuildOptions o;
  o.now = 2000 * core::kSecondMs;
  o.warninglists = &wl;
  std::vector<IndicatorDraft> stored = {draft(IndicatorType::kIpv4, "192.0.2.1"),
                                        draft(IndicatorType::kDomain, "known.example")};
  std::vector<IndicatorDraft> drafts;
  for (int i = 0; i < 300; ++i) {
    drafts.push_back(draft(IndicatorType::kIpv4, "192.0.2." + std::to_string(i % 250), "x" +
                                                     std::to_string(i)));
    if (i % 7 == 0) drafts.back().valid_until = 1000 * core::kSecondMs;  // expired
  }
  drafts.push_back(draft(IndicatorType::kIpv4, "10.1.2.3"));  // suppressed
  drafts.push_back(draft(IndicatorType::kDomain, "known.example"));
  drafts.push_back(draft(IndicatorType::kFileName, "known.example"));  // another type
  IndicatorDraft compound;
  compound.type = IndicatorType::kCompound;
  compound.value = "domain=a.example AND ipv4=192.0.2.1";
  compound.atoms = {{IndicatorType::kDomain, "a.example"}, {IndicatorType::kIpv4, "192.0.2.1"}};
  drafts.push_back(compound);
  drafts.push_back(compound);

  IndexBuilder warm;
  warm.add(batchOf("old", stored), o);
  IndexBuilder from_index(*warm.build());
  std::vector<std::string> built_accepted, counted_accepted;
  FeedBatch one = batchOf("new", drafts);
  one.where.assign(drafts.size(), "somewhere");
  FeedBatch two = one;
  auto built = from_index.add(std::move(one), o, true, [&](const IndicatorDraft& d) {
    built_accepted.push_back(d.value + "/" + d.external_id);
  });
  KeySet known;
  for (const auto& d : stored) EXPECT_TRUE(known.insert(d.type, d.value));
  EXPECT_FALSE(known.insert(IndicatorType::kIpv4, "192.0.2.1"));
  auto counted = countImport(std::move(two), o, known, [&](IndicatorDraft& d) {
    counted_accepted.push_back(d.value + "/" + d.external_id);
  });
  EXPECT_EQ(counted.added, built.added);
  EXPECT_EQ(counted.updated, built.updated);
  EXPECT_EQ(counted.expired, built.expired);
  EXPECT_EQ(counted.suppressed, built.suppressed);
  EXPECT_EQ(counted.suppressions.size(), built.suppressions.size());
  EXPECT_EQ(counted.feed, "new");
  EXPECT_EQ(counted_accepted, built_accepted);
  // 192.0.2.0-249 less .1 (known) and the 28 seen only expired; the file name; the compound.
  EXPECT_EQ(built.added, 221u + 2u);
  EXPECT_EQ(built.updated, 36u + 1u + 1u);  // repeats, known.example, the second compound
  EXPECT_EQ(built.suppressed, 1u);
  EXPECT_EQ(built.expired, 43u);
  EXPECT_EQ(known.size(), 2u + built.added);
}

TEST(IndexTest, CompoundAtomsAreIndexed) {
  IndexBuilder b;
  IndicatorDraft d;
  d.type = IndicatorType::kCompound;
  d.value = "domain=a.example AND ipv4=192.0.2.1";
  d.atoms = {{IndicatorType::kDomain, "a.example"}, {IndicatorType::kIpv4, "192.0.2.1"}};
  b.add(batchOf("f", {d}));
  auto ix = b.build();
  ASSERT_EQ(ix->size(), 1u);
  EXPECT_EQ(ix->atomCount(0), 2u);
  auto hits = ipv4Hits(*ix, "192.0.2.1");
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_TRUE(hits[0] & Index::kAtomBit);
  EXPECT_EQ(ix->atom(hits[0]).compound, 0u);
  // Rebuilding from the index keeps the atoms.
  IndexBuilder again(*ix);
  auto ix2 = again.build();
  EXPECT_EQ(domainHits(*ix2, "x.a.example").size(), 1u);
}

TEST(IndexTest, MemoryPerIndicatorIsSmall) {
  IndexBuilder b;
  std::vector<IndicatorDraft> ds;
  for (std::uint32_t i = 0; i < 20000; ++i) {
    IndicatorDraft d;
    if (i % 2 == 0) {
      d.type = IndicatorType::kIpv4;
      d.value = formatIpv4(0x0a000000 + i);
    } else {
      d.type = IndicatorType::kDomain;
      d.value = "host" + std::to_string(i) + ".example.net";
    }
    ds.push_back(std::move(d));
  }
  b.add(batchOf("f", std::move(ds)));
  auto ix = b.build();
  EXPECT_LT(ix->memoryBytes() / ix->size(), 100u);
}

}  // namespace
}  // namespace td::intel
