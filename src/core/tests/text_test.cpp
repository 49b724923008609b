#include "core/text.h"

#include <gtest/gtest.h>

namespace td::core {
namespace {

TEST(TextTest, ComparesIgnoringCase) {
  EXPECT_TRUE(equalsIgnoreCase("In Progress", "in progress"));
  EXPECT_FALSE(equalsIgnoreCase("New", "News"));
  EXPECT_TRUE(containsIgnoreCase("Mimikatz on WS-042", "ws-04"));
  EXPECT_FALSE(containsIgnoreCase("abc", "abd"));
}

TEST(TextTest, SplitsAndTrims) {
  auto parts = splitTrimmed(" a, b ,,c ", ',');
  ASSERT_EQ(parts.size(), 4u);
  EXPECT_EQ(parts[0], "a");
  EXPECT_EQ(parts[1], "b");
  EXPECT_EQ(parts[2], "");
  EXPECT_EQ(parts[3], "c");
  EXPECT_TRUE(splitTrimmed("", ',').empty());
}

TEST(TextTest, PercentEncodesAllButUnreservedAndWhatIsKept) {
  EXPECT_EQ(percentEncode("SOC team/é 1&2"), "SOC%20team%2F%C3%A9%201%262");
  EXPECT_EQ(percentEncode("a-b.c_d~e"), "a-b.c_d~e");
  EXPECT_EQ(percentEncode("r&d|x", "&|"), "r&d|x");
  EXPECT_EQ(percentEncode(std::string_view("a\0b", 3), std::string_view("\0", 1)), "a%00b");
}

}  // namespace
}  // namespace td::core
