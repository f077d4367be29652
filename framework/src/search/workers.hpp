// Where a search with several jobs at a time trains them (run_search.cpp): its workers, each
// training one run of a job at a time. A worker is a process on this machine
// (worker_processes.hpp) or, in an MPI job, one of the other ranks, to which rank 0 sends
// "RUN@STEP" and which answers with the run's exit status (serve_jobs). The search sees both
// alike: start a run on a free worker, wait for one to end.
//
// Not a scheduler: which job comes next is the search's decision; this only carries it out.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nanolab/search.hpp"
#include "worker_processes.hpp"

namespace nanolab::search {

class Workers {
 public:
  using Ended = WorkerProcesses::Ended;

  // `processes` worker processes, started with options.job_command and the environment changes
  // `env` (worker_processes.hpp), none without a job_command, and in an MPI job every rank but
  // this one (rank 0). Throws Error (internal) when that makes no worker.
  Workers(size_t processes, const SearchOptions& options, std::vector<std::string> env);
  // Tells the other ranks that there is no more work (serve_jobs returns).
  ~Workers();
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;

  size_t size() const;     // workers in all
  size_t running() const;  // workers training a run now
  // Starts `run` on a free worker (running() < size()), as the work of `job`.
  void start(size_t job, const JobRun& run);
  // As WorkerProcesses::wait: the next worker to end; none when none is running, or when a
  // signal asked this process to stop and stop() was not called yet.
  std::optional<Ended> wait();
  // Stops the worker processes (SIGTERM; they end their runs with a checkpoint). The other ranks
  // got the signal from mpirun, which sends it to every rank: their runs stop the same way.
  void stop();

 private:
  WorkerProcesses processes_;
  size_t process_slots_;
  const SearchOptions& options_;
  std::vector<std::string> env_;
  std::vector<int> idle_ranks_;
  std::map<int, size_t> busy_ranks_;  // rank: the job it trains a run of
  bool stopping_ = false;
};

// A rank other than 0 of an MPI job: trains alone each run that rank 0 sends, answering with its
// exit status (0, 130 after a signal, else the failure's), until rank 0 sends an empty text.
// Returns 130 if a signal stopped one of its runs, else 0.
int serve_jobs(const Experiment& experiment, const SearchOptions& options);

}  // namespace nanolab::search
