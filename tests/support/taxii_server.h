// Starts tests/support/taxii_server.py (a real TAXII 2.1 server on 127.0.0.1, free port) for one
// test and stops it when the object goes. The script is found through THREATDESK_SOURCE_DIR
// (ctest sets it) or the compiled-in TD_SOURCE_DIR.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace td::testing {

class TaxiiServer {
 public:
  // `bundle`: path of the STIX bundle file served (re-read on every request).
  TaxiiServer(const std::string& bundle, const std::string& user, const std::string& password,
              int page_size) {
    const std::string script = sourceDir() + "/tests/support/taxii_server.py";
    std::vector<std::string> args = {"python3", script, "--bundle", bundle, "--page-size",
                                     std::to_string(page_size)};
    if (!user.empty()) {
      args.insert(args.end(), {"--user", user, "--password", password});
    }
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      close(in[1]);
      close(out[0]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execvp("python3", argv.data());
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    stdin_ = in[1];
    FILE* f = fdopen(out[0], "r");
    char line[64] = {0};
    if (f != nullptr && fgets(line, sizeof line, f) != nullptr &&
        std::string(line).rfind("PORT ", 0) == 0)
      port_ = std::atoi(line + 5);
    if (f != nullptr) fclose(f);
  }
  ~TaxiiServer() {
    if (stdin_ >= 0) close(stdin_);
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }
  TaxiiServer(const TaxiiServer&) = delete;
  TaxiiServer& operator=(const TaxiiServer&) = delete;

  int port() const { return port_; }  // 0 when the server did not start
  std::string collectionUrl() const {
    return "http://127.0.0.1:" + std::to_string(port_) +
           "/api1/collections/91a7b528-80eb-42ed-a74d-c6fbd5a26116/";
  }

  static std::string sourceDir() {
    if (const char* dir = std::getenv("THREATDESK_SOURCE_DIR")) return dir;
#ifdef TD_SOURCE_DIR
    return TD_SOURCE_DIR;
#else
    return ".";
#endif
  }

 private:
  pid_t pid_ = -1;
  int stdin_ = -1;
  int port_ = 0;
};

}  // namespace td::testing
