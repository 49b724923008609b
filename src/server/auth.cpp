#include "server/auth.h"

#include <argon2.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace td::server {
namespace {

constexpr std::string_view kBase62 =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
constexpr size_t kSaltBytes = 16;
constexpr size_t kHashBytes = 32;

// Each argon2 computation holds `memory_kib` of RAM; at most this many run at once.
class HashSlots {
 public:
  explicit HashSlots(int slots) : free_(slots) {}
  void acquire() {
    std::unique_lock lock(mutex_);
    cv_.wait(lock, [&] { return free_ > 0; });
    --free_;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      ++free_;
    }
    cv_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int free_;
};

HashSlots& hashSlots() {
  static HashSlots slots(static_cast<int>(std::max(2u, std::thread::hardware_concurrency())));
  return slots;
}

struct SlotGuard {
  SlotGuard() { hashSlots().acquire(); }
  ~SlotGuard() { hashSlots().release(); }
  SlotGuard(const SlotGuard&) = delete;
  SlotGuard& operator=(const SlotGuard&) = delete;
};

void randomBytes(unsigned char* out, size_t n) {
  // RAND_bytes only fails when the CSPRNG cannot be seeded; continuing would hand out
  // predictable secrets, so this is one of the few places that must not return quietly.
  if (RAND_bytes(out, static_cast<int>(n)) != 1) throw std::runtime_error("RAND_bytes failed");
}

}  // namespace

core::Result<std::string> hashPassword(std::string_view password,
                                       const PasswordHashParams& params) {
  if (password.size() > kMaxPasswordLength) {
    return core::fail(core::ErrorCode::kUnprocessable, "password is too long", "password");
  }
  std::array<unsigned char, kSaltBytes> salt{};
  try {
    randomBytes(salt.data(), salt.size());
  } catch (const std::exception& e) {
    return core::fail(core::ErrorCode::kInternal, e.what());
  }
  const size_t len = argon2_encodedlen(params.time_cost, params.memory_kib, params.parallelism,
                                       kSaltBytes, kHashBytes, Argon2_id);
  std::string encoded(len, '\0');
  int rc;
  {
    SlotGuard slot;
    rc = argon2id_hash_encoded(params.time_cost, params.memory_kib, params.parallelism,
                               password.data(), password.size(), salt.data(), salt.size(),
                               kHashBytes, encoded.data(), encoded.size());
  }
  if (rc != ARGON2_OK) {
    return core::fail(core::ErrorCode::kInternal,
                      std::string("argon2id failed: ") + argon2_error_message(rc));
  }
  encoded.resize(encoded.find('\0'));
  return encoded;
}

bool verifyPassword(std::string_view encoded, std::string_view password) {
  if (password.size() > kMaxPasswordLength) return false;
  if (encoded.rfind("$argon2id$", 0) != 0) return false;
  const std::string enc(encoded);  // argon2 wants a NUL-terminated string
  SlotGuard slot;
  return argon2id_verify(enc.c_str(), password.data(), password.size()) == ARGON2_OK;
}

void verifyDummyPassword(std::string_view password) {
  // A fixed hash with the default parameters, so that the work matches a real verification.
  static const std::string dummy = [] {
    auto h = hashPassword("threatdesk-dummy-password");
    return h ? *h : std::string();
  }();
  if (!dummy.empty()) (void)verifyPassword(dummy, password);
}

core::Status checkPasswordPolicy(std::string_view password) {
  if (password.size() < kMinPasswordLength) {
    return core::fail(
        core::ErrorCode::kUnprocessable,
        "password must have at least " + std::to_string(kMinPasswordLength) + " characters",
        "password");
  }
  if (password.size() > kMaxPasswordLength) {
    return core::fail(
        core::ErrorCode::kUnprocessable,
        "password must have at most " + std::to_string(kMaxPasswordLength) + " characters",
        "password");
  }
  return {};
}

std::string randomBase62(size_t n) {
  std::string out;
  out.reserve(n);
  std::array<unsigned char, 64> buf{};
  while (out.size() < n) {
    randomBytes(buf.data(), buf.size());
    for (unsigned char b : buf) {
      // 248 = 4 * 62: rejecting the top values keeps every character equally likely.
      if (b >= 248) continue;
      out.push_back(kBase62[b % 62]);
      if (out.size() == n) break;
    }
  }
  return out;
}

std::string generatePassword() { return randomBase62(20); }

std::string sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 0xF]);
  }
  return out;
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

NewToken generateToken() {
  NewToken t;
  t.secret = std::string(kTokenPrefix) + randomBase62(kTokenRandomChars);
  t.hash = hashToken(t.secret);
  t.prefix = t.secret.substr(0, kTokenShownPrefix);
  return t;
}

std::string hashToken(std::string_view secret) { return sha256Hex(secret); }

bool looksLikeToken(std::string_view secret) {
  if (secret.size() < kTokenPrefix.size() + 32 || secret.size() > 128) return false;
  if (secret.substr(0, kTokenPrefix.size()) != kTokenPrefix) return false;
  for (char c : secret.substr(kTokenPrefix.size())) {
    if (kBase62.find(c) == std::string_view::npos) return false;
  }
  return true;
}

NewSession generateSession() {
  NewSession s;
  s.id = randomBase62(43);  // ~256 bits
  s.id_hash = sha256Hex(s.id);
  s.csrf_token = generateCsrfToken();
  return s;
}

std::string generateCsrfToken() { return randomBase62(32); }

}  // namespace td::server
