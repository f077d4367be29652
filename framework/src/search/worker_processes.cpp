// A search's worker processes (worker_processes.hpp). The program, its arguments and environment
// are made ready before fork, so that the child calls only async-signal-safe functions (dup2,
// prctl, getppid, signal, execve) between fork and exec: this process may have other threads
// (TBB's, OpenMP's) whose locks a forked copy would find held.
#include "worker_processes.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>

#include "nanolab/errors.hpp"
#include "nanolab/interrupt.hpp"

extern char** environ;

namespace nanolab::search {

WorkerProcesses::~WorkerProcesses() {
  for (auto& [job, w] : workers_) {
    kill(w.pid, SIGTERM);
    if (w.fd >= 0) close(w.fd);
    reap(w.pid);
  }
}

void WorkerProcesses::start(size_t job, const std::vector<std::string>& argv,
                            const std::vector<std::string>& env, const std::string& tag) {
  std::vector<std::string> environment;
  for (const std::string& mine : env)
    if (mine.find('=') != std::string::npos) environment.push_back(mine);
  for (char** e = environ; *e; ++e) {
    const std::string entry = *e;
    const std::string name = entry.substr(0, entry.find('='));
    bool changed = false;
    for (const std::string& mine : env) changed = changed || mine.substr(0, mine.find('=')) == name;
    if (!changed) environment.push_back(entry);
  }
  std::vector<char*> args, envp;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  for (const std::string& e : environment) envp.push_back(const_cast<char*>(e.c_str()));
  args.push_back(nullptr);
  envp.push_back(nullptr);

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    throw StorageError(std::string("cannot make a pipe for a worker process: ") +
                       std::strerror(errno));
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int error = errno;
    close(fds[0]);
    close(fds[1]);
    throw StorageError(std::string("cannot start a worker process: ") + std::strerror(error));
  }
  if (pid == 0) {
    // dup2 leaves the new descriptors open across exec; the pipe's own ends close there.
    if (dup2(fds[1], STDOUT_FILENO) < 0 || dup2(fds[1], STDERR_FILENO) < 0) _exit(127);
    // SIGTERM when the search dies, kill -9 included; if it is already gone, stop at once.
    if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent) _exit(130);
    // Its output has no reader once the search is gone: a write then fails instead of killing it
    // before it has written its checkpoint and released its run.
    signal(SIGPIPE, SIG_IGN);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  close(fds[1]);
  workers_[job] = Worker{pid, fds[0], tag, {}};
}

std::optional<WorkerProcesses::Ended> WorkerProcesses::wait(int timeout_ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    std::vector<pollfd> polled;
    std::vector<Worker*> owners;
    for (auto& [job, w] : workers_) {
      if (w.fd < 0) {  // its output is closed: it has ended, or is about to
        const Ended ended{job, reap(w.pid)};
        workers_.erase(job);
        return ended;
      }
      polled.push_back({w.fd, POLLIN, 0});
      owners.push_back(&w);
    }
    if (polled.empty() || (!stopping_ && interrupted())) return std::nullopt;
    int wait_ms = 200;  // at most, so that a signal that comes just before poll is seen soon
    if (timeout_ms >= 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          end - std::chrono::steady_clock::now());
      if (left.count() < 0) return std::nullopt;
      wait_ms = std::min(wait_ms, int(left.count()));
    }
    const int n = poll(polled.data(), polled.size(), wait_ms);
    if (n < 0 && errno != EINTR)
      throw StorageError(std::string("cannot read the workers' output: ") + std::strerror(errno));
    for (size_t i = 0; n > 0 && i < polled.size(); ++i) {
      if (polled[i].revents == 0) continue;
      Worker& w = *owners[i];
      char buffer[65536];
      const ssize_t got = read(w.fd, buffer, sizeof buffer);
      if (got < 0 && errno == EINTR) continue;
      if (got > 0) {
        w.partial.append(buffer, size_t(got));
        forward(w, false);
      } else {  // end of file (or a broken pipe): the worker is ending
        forward(w, true);
        close(w.fd);
        w.fd = -1;
      }
    }
  }
}

void WorkerProcesses::stop() {
  stopping_ = true;
  for (const auto& [job, w] : workers_) kill(w.pid, SIGTERM);
}

void WorkerProcesses::forward(Worker& w, bool all) {
  size_t begin = 0;
  for (size_t end; (end = w.partial.find('\n', begin)) != std::string::npos; begin = end + 1)
    std::fprintf(stderr, "[%s] %.*s\n", w.tag.c_str(), int(end - begin), w.partial.data() + begin);
  w.partial.erase(0, begin);
  if (all && !w.partial.empty()) {
    std::fprintf(stderr, "[%s] %s\n", w.tag.c_str(), w.partial.c_str());
    w.partial.clear();
  }
}

int WorkerProcesses::reap(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return 128 + SIGKILL;  // not our child any more: count it as killed
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace nanolab::search
