#include "server/auth.h"

#include <gtest/gtest.h>

#include <set>

namespace td::server {
namespace {

TEST(AuthTest, HashedPasswordVerifies) {
  auto h = hashPassword("correct horse battery", kTestPasswordHashParams);
  ASSERT_TRUE(h) << h.error().message;
  EXPECT_EQ(h->rfind("$argon2id$", 0), 0u);
  EXPECT_TRUE(verifyPassword(*h, "correct horse battery"));
  EXPECT_FALSE(verifyPassword(*h, "correct horse batterz"));
  EXPECT_FALSE(verifyPassword(*h, ""));
}

TEST(AuthTest, DefaultParamsUseArgon2idWith64MiB) {
  auto h = hashPassword("a password of some length");
  ASSERT_TRUE(h);
  EXPECT_NE(h->find("m=65536,t=3,p=1"), std::string::npos) << *h;
  EXPECT_TRUE(verifyPassword(*h, "a password of some length"));
}

TEST(AuthTest, SamePasswordGetsDifferentSalts) {
  auto a = hashPassword("same password!!", kTestPasswordHashParams);
  auto b = hashPassword("same password!!", kTestPasswordHashParams);
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
}

TEST(AuthTest, MalformedEncodingDoesNotVerify) {
  EXPECT_FALSE(verifyPassword("", "x"));
  EXPECT_FALSE(verifyPassword("$argon2id$garbage", "x"));
  EXPECT_FALSE(verifyPassword("$2b$10$bcrypthash", "x"));
  EXPECT_FALSE(verifyPassword("plaintext", "plaintext"));
}

TEST(AuthTest, PolicyNeedsTwelveCharacters) {
  EXPECT_FALSE(checkPasswordPolicy("short"));
  EXPECT_FALSE(checkPasswordPolicy("elevenchars"));
  EXPECT_TRUE(checkPasswordPolicy("twelve chars"));
  auto err = checkPasswordPolicy("x");
  EXPECT_EQ(err.error().field, "password");
  EXPECT_FALSE(checkPasswordPolicy(std::string(kMaxPasswordLength + 1, 'a')));
}

TEST(AuthTest, GeneratedPasswordsPassPolicyAndDiffer) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    auto p = generatePassword();
    EXPECT_EQ(p.size(), 20u);
    EXPECT_TRUE(checkPasswordPolicy(p));
    seen.insert(p);
  }
  EXPECT_EQ(seen.size(), 50u);
}

TEST(AuthTest, TokenHasPrefixAndStoredHash) {
  auto t = generateToken();
  EXPECT_EQ(t.secret.rfind("tdk_", 0), 0u);
  EXPECT_GE(t.secret.size(), 4u + 32u);
  EXPECT_EQ(t.hash, hashToken(t.secret));
  EXPECT_EQ(t.hash.size(), 64u);
  EXPECT_EQ(t.prefix, t.secret.substr(0, kTokenShownPrefix));
  EXPECT_TRUE(looksLikeToken(t.secret));
  EXPECT_NE(generateToken().secret, t.secret);
}

TEST(AuthTest, LooksLikeTokenRejectsOtherShapes) {
  EXPECT_FALSE(looksLikeToken(""));
  EXPECT_FALSE(looksLikeToken("tdk_short"));
  EXPECT_FALSE(looksLikeToken("xyz_" + std::string(40, 'a')));
  EXPECT_FALSE(looksLikeToken("tdk_" + std::string(39, 'a') + "-"));
}

TEST(AuthTest, Sha256MatchesKnownVector) {
  EXPECT_EQ(sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(AuthTest, SessionSecretsAreRandomAndHashed) {
  auto a = generateSession();
  auto b = generateSession();
  EXPECT_NE(a.id, b.id);
  EXPECT_NE(a.csrf_token, b.csrf_token);
  EXPECT_EQ(a.id_hash, sha256Hex(a.id));
  EXPECT_GE(a.csrf_token.size(), 32u);
}

TEST(AuthTest, ConstantTimeEquals) {
  EXPECT_TRUE(constantTimeEquals("abc", "abc"));
  EXPECT_FALSE(constantTimeEquals("abc", "abd"));
  EXPECT_FALSE(constantTimeEquals("abc", "abcd"));
}

TEST(AuthTest, RandomBase62IsUniformEnough) {
  auto s = randomBase62(62 * 200);
  std::array<int, 128> counts{};
  for (char c : s) counts[static_cast<unsigned char>(c)]++;
  for (char c : std::string_view("09AZaz")) EXPECT_GT(counts[static_cast<unsigned char>(c)], 100);
}

}  // namespace
}  // namespace td::server
