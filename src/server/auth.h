// Credentials of ThreatDesk: password hashing (argon2id), password policy, API tokens (random
// secrets stored only as their SHA-256) and browser session secrets (session id, CSRF token).
//
// Thread safety: every function is safe to call from any thread. hashPassword/verifyPassword
// bound how many argon2 computations run at once (each takes tens of MiB), so a burst of logins
// queues instead of exhausting memory.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.h"

namespace td::server {

// argon2id cost. The defaults follow RFC 9106's second recommended option (t=3, m=64 MiB, p=1):
// about 0.1-0.3 s per hash on a 2-core box, which is acceptable for a login and makes offline
// guessing expensive. Tests may pass lighter parameters; verification reads the parameters from
// the encoded string, so hashes made with any parameters keep verifying.
struct PasswordHashParams {
  std::uint32_t time_cost = 3;
  std::uint32_t memory_kib = 64 * 1024;
  std::uint32_t parallelism = 1;
};

// The cheapest parameters argon2 accepts; for tests only.
constexpr PasswordHashParams kTestPasswordHashParams{1, 8, 1};

constexpr size_t kMinPasswordLength = 12;
constexpr size_t kMaxPasswordLength = 1024;  // bounds the work a login can ask for

// An argon2id encoded string ("$argon2id$v=19$m=65536,t=3,p=1$salt$hash") with a fresh 16-byte
// random salt.
core::Result<std::string> hashPassword(std::string_view password,
                                       const PasswordHashParams& params = {});
// True when `password` matches `encoded`; false for a mismatch or a malformed encoding.
bool verifyPassword(std::string_view encoded, std::string_view password);
// Burns about the time of one verification; used when a login names an unknown user so that the
// answer time does not tell which emails exist.
void verifyDummyPassword(std::string_view password);

// At least kMinPasswordLength characters, at most kMaxPasswordLength.
core::Status checkPasswordPolicy(std::string_view password);
// 20 random base62 characters (~119 bits).
std::string generatePassword();

// `n` random base62 characters from OpenSSL's CSPRNG.
std::string randomBase62(size_t n);
// Lower-case hex SHA-256 of `data`.
std::string sha256Hex(std::string_view data);
// Compares in time independent of where the inputs differ.
bool constantTimeEquals(std::string_view a, std::string_view b);

constexpr std::string_view kTokenPrefix = "tdk_";
constexpr size_t kTokenRandomChars = 40;  // ~238 bits
constexpr size_t kTokenShownPrefix = 12;  // "tdk_" + 8 characters, shown in token lists

struct NewToken {
  std::string secret;  // shown once to the user, never stored
  std::string hash;    // SHA-256 hex of the secret: what the store keeps
  std::string prefix;  // the first kTokenShownPrefix characters, to tell tokens apart
};
NewToken generateToken();
std::string hashToken(std::string_view secret);
// True when `secret` has the shape of a token ("tdk_" + base62), before any lookup.
bool looksLikeToken(std::string_view secret);

// A browser session: the cookie carries `id`; the store keeps only `id_hash`.
struct NewSession {
  std::string id;
  std::string id_hash;
  std::string csrf_token;
};
NewSession generateSession();
// The CSRF token sent in the login answer and required in X-CSRF-Token on every change.
std::string generateCsrfToken();

}  // namespace td::server
