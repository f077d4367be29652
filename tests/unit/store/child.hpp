// Test helper for the store tests: runs a function in a forked child process (a second writer, a
// writer to be killed with SIGKILL, a writer under a file-size limit) and reports how it ended.
// The child never returns into GoogleTest: it leaves with _exit, status 0 if the function
// returned normally and 1 if it threw. A pipe lets the child tell the parent "I got this far".
//
// Fork only while no RunWriter is alive in the parent: its I/O thread could hold HDF5's global
// lock at the instant of the fork, and the child would inherit it locked.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>

#include "support/files.hpp"

namespace nanolab::test {

class Child {
 public:
  // `body` gets a function that tells the parent it reached a point (see wait_ready).
  explicit Child(const std::function<void(const std::function<void()>& ready)>& body) {
    int fds[2];
    if (pipe(fds) != 0) throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      close(fds[0]);
      int status = 0;
      try {
        body([&] {
          const char c = 'r';
          if (write(fds[1], &c, 1) != 1) _exit(3);
        });
      } catch (const std::exception& e) {
        std::fprintf(stderr, "child: %s\n", e.what());
        status = 1;
      }
      _exit(status);
    }
    close(fds[1]);
    ready_fd_ = fds[0];
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;
  ~Child() {
    if (!reaped_) kill_and_wait();
    close(ready_fd_);
  }

  pid_t pid() const { return pid_; }
  // Blocks until the child called ready() once more; false if it ended first.
  bool wait_ready() {
    char c;
    return read(ready_fd_, &c, 1) == 1;
  }
  bool running() {
    if (!reaped_ && waitpid(pid_, &status_, WNOHANG) == pid_) reaped_ = true;
    return !reaped_;
  }
  // Waits for the end; the raw wait status (WIFEXITED, WTERMSIG...).
  int wait() {
    if (!reaped_) waitpid(pid_, &status_, 0);
    reaped_ = true;
    return status_;
  }
  int kill_and_wait(int sig = SIGKILL) {
    kill(pid_, sig);
    return wait();
  }

 private:
  pid_t pid_ = -1;
  int ready_fd_ = -1;
  bool reaped_ = false;
  int status_ = 0;
};

}  // namespace nanolab::test
