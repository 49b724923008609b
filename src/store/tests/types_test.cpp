// The store's value helpers: names of roles, scopes, tag kinds, sorts and bucket sizes.
#include "store/types.h"

#include <gtest/gtest.h>

#include "store/query.h"

namespace td::store {
namespace {

using core::ErrorCode;

TEST(StoreTypesTest, RolesRoundTripAndRejectUnknown) {
  for (auto r : {Role::kReadonly, Role::kOperator, Role::kManager, Role::kAdmin})
    EXPECT_EQ(*parseRole(roleName(r)), r);
  EXPECT_EQ(*parseRole("ADMIN"), Role::kAdmin);
  EXPECT_EQ(parseRole("root").error().code, ErrorCode::kUnprocessable);
  EXPECT_EQ(parseRole("").error().field, "role");
}

TEST(StoreTypesTest, ScopesParseListsAndFormatCanonically) {
  auto s = parseScopes("write, READ,ingest");
  ASSERT_TRUE(s);
  EXPECT_TRUE(has(*s, Scope::kRead));
  EXPECT_TRUE(has(*s, Scope::kWrite));
  EXPECT_TRUE(has(*s, Scope::kIngest));
  EXPECT_EQ(scopeNames(*s), "ingest,read,write");
  EXPECT_EQ(scopeNames(Scope::kRead), "read");
  EXPECT_FALSE(parseScopes("read,admin"));
  EXPECT_FALSE(parseScopes(""));
  EXPECT_FALSE(parseScopes(" , "));
}

TEST(StoreTypesTest, TagKindsAcceptFullAndShortNames) {
  for (auto k : {TagKind::kGroup, TagKind::kState, TagKind::kOutcome})
    EXPECT_EQ(*parseTagKind(tagKindName(k)), k);
  EXPECT_EQ(tagKindName(TagKind::kOutcome), "threat_outcome");
  EXPECT_EQ(*parseTagKind("state"), TagKind::kState);
  EXPECT_EQ(*parseTagKind("Group"), TagKind::kGroup);
  EXPECT_FALSE(parseTagKind("threat_"));
  EXPECT_FALSE(parseTagKind("colour"));
}

TEST(StoreTypesTest, SortsRoundTrip) {
  for (auto s :
       {ThreatSort::kScore, ThreatSort::kSeverity, ThreatSort::kLastSeen, ThreatSort::kCreated})
    EXPECT_EQ(*parseThreatSort(threatSortName(s)), s);
  EXPECT_EQ(*parseThreatSort("created_at"), ThreatSort::kCreated);
  auto bad = parseThreatSort("name; DROP TABLE threats");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().field, "sort");
}

TEST(StoreTypesTest, BucketSizeFollowsTheRange) {
  using core::kDayMs;
  EXPECT_EQ(bucketSizeFor(0, 2 * kDayMs), BucketSize::kHour);
  EXPECT_EQ(bucketSizeFor(0, 2 * kDayMs + 1), BucketSize::kDay);
  EXPECT_EQ(bucketSizeFor(0, 90 * kDayMs), BucketSize::kDay);
  EXPECT_EQ(bucketSizeFor(0, 91 * kDayMs), BucketSize::kWeek);
  EXPECT_EQ(bucketSizeFor(10, 0), BucketSize::kHour);
  EXPECT_EQ(bucketSizeName(BucketSize::kWeek), "week");
}

}  // namespace
}  // namespace td::store
