// The transport's pieces that need no server: webhook signatures (HMAC-SHA256) against the
// RFC 4231 test vectors, with keys changing between calls (each key's state is kept).
#include "respond/transport.h"

#include <gtest/gtest.h>

#include <string>

namespace td::respond {
namespace {

TEST(TransportTest, SignaturesMatchRfc4231) {
  const std::string jefe_data = "what do ya want for nothing?";
  const std::string jefe = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  const std::string long_key(131, '\xaa');  // longer than a block: hashed first
  const std::string long_data = "Test Using Larger Than Block-Size Key - Hash Key First";
  const std::string long_mac = "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54";
  const std::string key20(20, '\x0b');
  const std::string hi = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7";
  for (int round = 0; round < 2; ++round) {  // the second round signs with the kept states
    EXPECT_EQ(hmacSha256Hex("Jefe", jefe_data), jefe);
    EXPECT_EQ(hmacSha256Hex(long_key, long_data), long_mac);
    EXPECT_EQ(hmacSha256Hex(key20, "Hi There"), hi);
  }
  // More keys than a thread keeps: the states start over, the signatures stay right.
  for (int i = 0; i < 70; ++i) EXPECT_EQ(hmacSha256Hex("k" + std::to_string(i), "x").size(), 64u);
  EXPECT_EQ(hmacSha256Hex("Jefe", jefe_data), jefe);
}

}  // namespace
}  // namespace td::respond
