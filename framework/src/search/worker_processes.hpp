// The worker processes of a search run with --jobs N (run_search.cpp): each trains one run of a
// job and exits. A worker is a program started with fork and exec (never a fork that goes on
// without exec: TBB's and OpenMP's threads do not survive a fork), its stdout and stderr go to a
// pipe whose lines this process prints on its own stderr behind the worker's tag, and it gets
// SIGTERM when this process dies, even by kill -9 (PR_SET_PDEATHSIG): it then stops as a run
// stops on a signal, with a checkpoint, instead of outliving the search.
//
// Not a process pool: a worker does one run; the search decides what the next one trains.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace nanolab::search {

class WorkerProcesses {
 public:
  struct Ended {
    size_t job;  // the key start() was given
    int status;  // the exit status, or 128 + the signal that killed it
  };

  WorkerProcesses() = default;
  WorkerProcesses(const WorkerProcesses&) = delete;
  WorkerProcesses& operator=(const WorkerProcesses&) = delete;
  // Stops the workers still running (stop()) and waits for them.
  ~WorkerProcesses();

  // Starts argv[0] with arguments argv[1...] as the worker of `job` (one at a time per job), with
  // the environment of this process changed by `env`: NAME=VALUE sets NAME, NAME alone removes
  // it. Its output lines are printed on stderr as "[tag] line". Throws StorageError if the
  // process cannot be made.
  void start(size_t job, const std::vector<std::string>& argv, const std::vector<std::string>& env,
             const std::string& tag);
  size_t running() const { return workers_.size(); }
  // Forwards the workers' output until one of them ends, and returns it; none when no worker is
  // running, when a signal asked this process to stop (nanolab/interrupt.hpp) and stop() was not
  // called yet, or after `timeout_ms` (-1: no timeout).
  std::optional<Ended> wait(int timeout_ms = -1);
  // SIGTERM to every worker still running: each ends its run with a checkpoint. wait() then
  // waits for them whatever the signals.
  void stop();

 private:
  struct Worker {
    pid_t pid;
    int fd;  // the read end of its output pipe; -1 once it is closed
    std::string tag, partial;  // partial: output after its last newline
  };
  static void forward(Worker& w, bool all);
  static int reap(pid_t pid);
  std::map<size_t, Worker> workers_;
  bool stopping_ = false;
};

}  // namespace nanolab::search
