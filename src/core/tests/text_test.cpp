#include "core/text.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace td::core {
namespace {

TEST(TextTest, ComparesIgnoringCase) {
  EXPECT_TRUE(equalsIgnoreCase("In Progress", "in progress"));
  EXPECT_FALSE(equalsIgnoreCase("New", "News"));
  EXPECT_TRUE(containsIgnoreCase("Mimikatz on WS-042", "ws-04"));
  EXPECT_FALSE(containsIgnoreCase("abc", "abd"));
}

TEST(TextTest, FindBytesAgreesWithFindEverywhere) {
  // A small alphabet makes many near misses; lengths around the 16-byte blocks and the end.
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> letter(0, 2);
  auto random = [&](size_t n) {
    std::string s(n, 'a');
    for (auto& c : s) c = static_cast<char>('a' + letter(rng));
    return s;
  };
  for (size_t hay = 0; hay <= 70; ++hay) {
    for (size_t n = 0; n <= 19 && n <= hay + 1; ++n) {
      for (int k = 0; k < 20; ++k) {
        const std::string h = random(hay), needle = random(n);
        const size_t want = std::string_view(h).find(needle);
        const char* got = findBytes(h, needle);
        ASSERT_EQ(got ? static_cast<size_t>(got - h.data()) : std::string_view::npos, want)
            << "'" << needle << "' in '" << h << "'";
      }
    }
  }
  const std::string text = std::string(40, 'x') + std::string("needle\0with nul", 15);
  EXPECT_EQ(findBytes(text, std::string_view("e\0w", 3)), text.data() + 45);
  EXPECT_EQ(findBytes(text, "needles"), nullptr);
  EXPECT_EQ(findBytes("", "a"), nullptr);
}

TEST(TextTest, LowerAsciiIntoLowersLettersOnly) {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  all += all;  // 512 bytes: blocks of 16 and no tail; then every length for the tail
  for (size_t len :
       {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{300}, all.size()}) {
    std::string got(all.substr(0, len));
    lowerAsciiInto(got.data(), got);  // in place
    for (size_t i = 0; i < len; ++i) {
      const auto b = static_cast<unsigned char>(all[i]);
      const unsigned char want = b >= 'A' && b <= 'Z' ? b + 32 : b;
      ASSERT_EQ(static_cast<unsigned char>(got[i]), want) << len << " byte " << i;
    }
  }
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
