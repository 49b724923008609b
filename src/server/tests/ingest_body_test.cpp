// The ingest body parser: NDJSON with bad lines rejected one by one, JSON arrays, limits.
#include "server/ingest_body.h"

#include <gtest/gtest.h>

namespace td::server {
namespace {

TEST(IngestBodyTest, NdjsonRejectsBadLinesByNumberAndKeepsTheGoodOnes) {
  auto b = parseIngestBody("{\"a\":1}\n\n{\"a\":\n[1]\n  {\"b\":2}  \r\n\"text\"\n{\"c\":3}");
  ASSERT_TRUE(b) << b.error().message;
  EXPECT_FALSE(b->array);
  ASSERT_EQ(b->events.size(), 3u);
  EXPECT_EQ(b->events[1], "{\"b\":2}");
  EXPECT_EQ(b->rejected, 3u);
  ASSERT_EQ(b->rejects.size(), 3u);
  EXPECT_EQ(b->rejects[0].line, 3u);
  EXPECT_NE(b->rejects[0].reason.find("not valid JSON"), std::string::npos);
  EXPECT_EQ(b->rejects[1].line, 4u);
  EXPECT_EQ(b->rejects[2].line, 6u);
}

TEST(IngestBodyTest, JsonArrayElementsAreNumberedAndNonObjectsRejected) {
  auto b = parseIngestBody(" [ {\"a\":1}, 2, {\"b\":{\"c\":[1,2]}} ]");
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->array);
  ASSERT_EQ(b->events.size(), 2u);
  EXPECT_EQ(b->events[1], "{\"b\":{\"c\":[1,2]}}");
  ASSERT_EQ(b->rejects.size(), 1u);
  EXPECT_EQ(b->rejects[0].line, 2u);
}

TEST(IngestBodyTest, MalformedArrayFailsAsAWhole) {
  auto b = parseIngestBody("[{\"a\":1}, {");
  ASSERT_FALSE(b);
  EXPECT_EQ(b.error().code, core::ErrorCode::kInvalidArgument);
  EXPECT_EQ(b.error().field, "body");
}

TEST(IngestBodyTest, DeepNestingIsRejectedNotRecursedInto) {
  std::string deep = "{\"a\":" + std::string(10000, '[') + std::string(10000, ']') + "}";
  auto b = parseIngestBody(deep + "\n{\"ok\":1}\n");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->events.size(), 1u);
  EXPECT_EQ(b->rejected, 1u);
  EXPECT_FALSE(parseIngestBody("[" + deep + "]"));
}

TEST(IngestBodyTest, EmptyBodyHasNoEvents) {
  auto b = parseIngestBody("\n\n");
  ASSERT_TRUE(b);
  EXPECT_TRUE(b->events.empty());
  EXPECT_EQ(b->rejected, 0u);
}

TEST(IngestBodyTest, ListsAtMostAHundredReasonsButCountsAll) {
  std::string body;
  for (int i = 0; i < 150; ++i) body += "nope\n";
  auto b = parseIngestBody(body);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->rejected, 150u);
  EXPECT_EQ(b->rejects.size(), kMaxIngestRejectsListed);
}

}  // namespace
}  // namespace td::server
