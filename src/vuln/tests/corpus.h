// Where the shared corpus lives for tests: $THREATDESK_CORPUS, else
// $THREATDESK_SOURCE_DIR/../shared/corpus. Tests that need it skip with the reason when absent.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace td::vuln::testing {

inline std::filesystem::path corpusDir() {
  if (const char* env = std::getenv("THREATDESK_CORPUS"); env && *env) return env;
  if (const char* src = std::getenv("THREATDESK_SOURCE_DIR"); src && *src) {
    return std::filesystem::path(src) / ".." / "shared" / "corpus";
  }
#ifdef TD_SOURCE_DIR
  return std::filesystem::path(TD_SOURCE_DIR) / ".." / "shared" / "corpus";
#else
  return std::filesystem::path("..") / "shared" / "corpus";
#endif
}

inline std::string readFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace td::vuln::testing

// Skips the current test unless corpus/<sub> exists.
#define TD_REQUIRE_CORPUS(sub)                                                           \
  do {                                                                                   \
    if (!std::filesystem::exists(::td::vuln::testing::corpusDir() / (sub))) {            \
      GTEST_SKIP() << "corpus not found: " << (::td::vuln::testing::corpusDir() / (sub)) \
                   << " (set THREATDESK_CORPUS to the shared corpus directory)";         \
    }                                                                                    \
  } while (0)
