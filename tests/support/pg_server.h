// A real PostgreSQL server for tests, on loopback. Under ctest, the `pg` fixture has started one
// with scripts/pg-test-server and left its URL in TD_TEST_PG_URL_FILE (compiled in by CMake);
// THREATDESK_TEST_PG_URL overrides it; otherwise (a test binary run by hand) the first use starts
// a server of this process's own, stopped when the process exits. Each test asks for a fresh,
// empty database so tests never see each other's rows.
#pragma once

#include <pqxx/pqxx>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace td::testing {

class PgTestServer {
 public:
  static PgTestServer& instance() {
    static PgTestServer server;
    return server;
  }

  // Empty when a server is running; else why not (the test should fail, not skip: CI has one).
  const std::string& error() const { return error_; }
  const std::string& url() const { return url_; }

  // Creates an empty database and returns its URL.
  std::string freshDatabase() {
    std::random_device rd;
    const std::string name = "td_test_" + std::to_string(rd()) + std::to_string(rd());
    pqxx::connection admin(url_);
    pqxx::nontransaction w(admin);
    w.exec("CREATE DATABASE " + name);
    const auto slash = url_.rfind('/');
    return url_.substr(0, slash + 1) + name;
  }

  ~PgTestServer() {
    if (own_dir_.empty()) return;
    const std::string cmd = script() + " stop '" + own_dir_ + "' >/dev/null 2>&1";
    (void)std::system(cmd.c_str());
  }

 private:
  PgTestServer() {
    if (const char* env = std::getenv("THREATDESK_TEST_PG_URL"); env && *env) {
      url_ = env;
      return;
    }
#ifdef TD_TEST_PG_URL_FILE
    if (std::ifstream in(TD_TEST_PG_URL_FILE); in && std::getline(in, url_) && !url_.empty())
      return;
#endif
    std::random_device rd;
    own_dir_ = (std::filesystem::temp_directory_path() /
                ("threatdesk-pg-" + std::to_string(rd()) + std::to_string(rd())))
                   .string();
    const std::string cmd = script() + " start '" + own_dir_ + "'";
    FILE* p = popen(cmd.c_str(), "r");
    char buf[512] = {};
    if (p && std::fgets(buf, sizeof buf, p)) url_ = buf;
    const int rc = p ? pclose(p) : -1;
    while (!url_.empty() && (url_.back() == '\n' || url_.back() == '\r')) url_.pop_back();
    if (rc != 0 || url_.empty()) error_ = "could not start PostgreSQL with " + cmd;
  }

  static std::string script() {
    const char* src = std::getenv("THREATDESK_SOURCE_DIR");
    return std::string(src ? src : ".") + "/scripts/pg-test-server";
  }

  std::string url_;
  std::string own_dir_;
  std::string error_;
};

}  // namespace td::testing
