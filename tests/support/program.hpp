// Test helper: runs the real `nanolab` program as a child process with extra environment, captures
// its stdout and stderr in files, and reports how it ended (exit status or signal). Shared by the
// tests that check what a user sees: exit codes, messages, files left behind. The program's path
// comes from NANOLAB_TEST_CLI (tests/CMakeLists.txt).
#pragma once

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/files.hpp"

namespace nanolab::test {

struct Outcome {
  bool exited = false;  // false: killed by a signal
  int status = -1;      // exit status, or the signal number
  std::string out, err;
};

// A running `nanolab` process; its output goes to <scratch>/<tag>.out and .err. With
// max_file_bytes >= 0 no file it writes may grow past that size (RLIMIT_FSIZE, with SIGXFSZ
// ignored so that the write fails with EFBIG): a full disk that spares the test's own files.
// A launcher (`mpirun -np 2`) runs the program under it: the launcher is then the process.
class Program {
 public:
  Program(const std::vector<std::string>& args, const std::filesystem::path& scratch,
          const std::map<std::string, std::string>& env = {}, const std::string& tag = "nanolab",
          long max_file_bytes = -1, const std::vector<std::string>& launcher = {})
      : out_(scratch / (tag + ".out")), err_(scratch / (tag + ".err")) {
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      if (!freopen(out_.c_str(), "w", stdout) || !freopen(err_.c_str(), "w", stderr)) _exit(127);
      if (max_file_bytes >= 0) {
        const rlimit limit{rlim_t(max_file_bytes), rlim_t(max_file_bytes)};
        if (setrlimit(RLIMIT_FSIZE, &limit) != 0 || ::signal(SIGXFSZ, SIG_IGN) == SIG_ERR)
          _exit(127);
      }
      for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
      std::vector<char*> argv;
      for (const auto& a : launcher) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(const_cast<char*>(NANOLAB_TEST_CLI));
      for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  Program(const Program&) = delete;
  Program& operator=(const Program&) = delete;
  ~Program() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  pid_t pid() const { return pid_; }
  void signal(int sig) const { kill(pid_, sig); }
  bool running() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }

  Outcome wait() {
    int wstatus = 0;
    waitpid(pid_, &wstatus, 0);
    pid_ = -1;
    Outcome o;
    o.exited = WIFEXITED(wstatus);
    o.status = o.exited ? WEXITSTATUS(wstatus) : WTERMSIG(wstatus);
    o.out = read_file(out_);
    o.err = read_file(err_);
    return o;
  }

 private:
  pid_t pid_ = -1;
  std::filesystem::path out_, err_;
};

inline Outcome run_program(const std::vector<std::string>& args,
                           const std::filesystem::path& scratch,
                           const std::map<std::string, std::string>& env = {}) {
  return Program(args, scratch, env).wait();
}

}  // namespace nanolab::test
