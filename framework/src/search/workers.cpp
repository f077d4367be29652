// A search's workers: processes on this machine and the other ranks of an MPI job (workers.hpp),
// and what each of them does with a job's run (train_job_run, nanolab/search.hpp). Rank 0 polls
// for the other ranks' answers between short waits for its processes, so that neither kind
// waits for the other.
#include "workers.hpp"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "nanolab/distributed.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/interrupt.hpp"
#include "nanolab/trainer.hpp"

namespace nanolab::search {

Workers::Workers(size_t processes, const SearchOptions& options, std::vector<std::string> env)
    : process_slots_(options.job_command ? processes : 0), options_(options), env_(std::move(env)) {
  for (int r = 1; r < distributed::world().size; ++r) idle_ranks_.push_back(r);
  if (size() == 0)
    throw Error(ExitCode::internal, "a search of several jobs at a time was given no way to start "
                                    "a worker process (SearchOptions::job_command)");
}

Workers::~Workers() {
  for (int r = 1; r < distributed::world().size; ++r) {
    try {
      distributed::send(r, "", "telling the other ranks that the search is over");
    } catch (const Error&) {
      // a rank that is gone needs no telling
    }
  }
}

size_t Workers::size() const {
  return process_slots_ + idle_ranks_.size() + busy_ranks_.size();
}

size_t Workers::running() const { return processes_.running() + busy_ranks_.size(); }

void Workers::start(size_t job, const JobRun& run) {
  if (processes_.running() < process_slots_) {
    processes_.start(job, options_.job_command(run.run, run.step), env_, run.run);
    return;
  }
  const int rank = idle_ranks_.back();
  distributed::send(rank, to_string(run), "sending a job to a rank");
  idle_ranks_.pop_back();
  busy_ranks_[rank] = job;
}

std::optional<Workers::Ended> Workers::wait() {
  for (;;) {
    if (busy_ranks_.empty()) return processes_.wait();
    if (const auto answer = distributed::poll_receive("waiting for a rank's job to end")) {
      const auto busy = busy_ranks_.find(answer->first);
      if (busy == busy_ranks_.end())
        throw DistributedError("rank " + std::to_string(answer->first) +
                               " answered, but it was given no job");
      const Ended ended{busy->second, std::atoi(answer->second.c_str())};
      busy_ranks_.erase(busy);
      idle_ranks_.push_back(answer->first);
      return ended;
    }
    if (!stopping_ && interrupted()) return std::nullopt;
    if (processes_.running() == 0) {
      const timespec pause{0, 20'000'000};
      nanosleep(&pause, nullptr);
    } else if (const auto ended = processes_.wait(20)) {
      return ended;
    }
  }
}

void Workers::stop() {
  stopping_ = true;
  processes_.stop();
}

TrainResult train_job_run(const Experiment& experiment, const JobRun& job,
                          const SearchOptions& options) {
  const auto spec = std::find_if(experiment.runs.begin(), experiment.runs.end(),
                                 [&](const RunSpec& r) { return r.name == job.run; });
  if (spec == experiment.runs.end() || !experiment.search)
    throw ConfigError("the search " + experiment.name + " has no run named '" + job.run + "'");
  const std::filesystem::path dir = options.out / experiment.name / job.run;
  TrainOptions o{dir, options.command_line, options.progress, options.profile};
  o.stop_at = job.step < experiment.search->max_iters ? job.step : 0;
  o.data_parallel = false;  // in an MPI job, each rank trains its own jobs
  // A run begun by an earlier job (or by this one before a kill) continues from its checkpoint; a
  // run without a checkpoint starts again from step 0.
  return std::filesystem::exists(dir / "run.h5") ? resume(o) : train(*spec, o);
}

std::string to_string(const JobRun& job) { return job.run + "@" + std::to_string(job.step); }

JobRun parse_job_run(const std::string& text) {
  const size_t at = text.rfind('@');
  char* end = nullptr;
  const long long step =
      at == std::string::npos ? 0 : std::strtoll(text.c_str() + at + 1, &end, 10);
  if (step < 1 || *end != '\0' || at == 0)
    throw ConfigError("a search's job '" + text + "': expected RUN@STEP, a step of 1 or more");
  return {text.substr(0, at), step};
}

int serve_jobs(const Experiment& experiment, const SearchOptions& options) {
  const int rank = distributed::world().rank;
  int stopped = 0;
  for (;;) {
    const std::string text = distributed::receive(0, "waiting for the search's next job");
    if (text.empty()) return stopped;
    int status = 0;
    try {
      const JobRun job = parse_job_run(text);
      status = train_job_run(experiment, job, options).status == "interrupted" ? 130 : 0;
    } catch (const Error& e) {
      std::fprintf(stderr, "rank %d: nanolab run: error in run %s: %s\n", rank, text.c_str(),
                   e.what());
      status = int(e.code());
    }
    if (status == 130) stopped = 130;
    distributed::send(0, std::to_string(status), "sending a job's end to rank 0");
  }
}

}  // namespace nanolab::search
