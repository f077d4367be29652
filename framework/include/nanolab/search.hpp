// Searches: the trials of an experiment's [search] (experiment.hpp's SearchPlan) trained one job
// at a time, or N at a time in worker processes or on the ranks of an MPI job
// (SearchOptions::jobs), each to the end (method random) or by asynchronous successive halving
// (method asha; Li et al. 2018, "A System for Massively Parallel Hyperparameter Tuning",
// Algorithm 2), which stops most trials at a rung and continues the good ones from their own
// checkpoints (docs/experiments.md#search).
//
// ASHA's rungs and its promotion rule are pure functions of what the search has seen, so a search
// killed at any moment and started again makes the decisions of one that was never stopped (one
// job at a time; with several, they depend on which job ends first): the state (trials, their
// parameters, rung results, decisions) is written to search.json in the experiment's folder,
// atomically, before and after every job.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "nanolab/experiment.hpp"
#include "nanolab/run_store.hpp"
#include "nanolab/trainer.hpp"

namespace nanolab::search {

// The steps at which ASHA compares trials: min_iters x reduction_factor^k for every k at which
// that is below max_iters, then max_iters (always the last rung; the only one when min_iters =
// max_iters).
std::vector<int64_t> rungs(int64_t min_iters, int64_t reduction_factor, int64_t max_iters);

// What ASHA has seen: results[k] maps each trial (by number) that reached rung k to its metric
// there, lower is better (a metric to maximise is negated; NaN counts as the worst); promoted[k]
// holds the trials promoted from rung k. Both have one entry per rung.
struct Ladder {
  std::vector<std::map<int64_t, double>> results;
  std::vector<std::set<int64_t>> promoted;
};

struct Promotion {
  int64_t trial;
  size_t to_rung;
};

// ASHA's get_job (Algorithm 2) without its last line: for k from the rung below the top down to
// 0, the candidates are the top floor(|results[k]| / reduction_factor) trials of rung k (by
// metric, then by trial number); the best candidate not yet promoted goes to rung k + 1. None:
// nothing is promotable now, and a new trial starts (the line left out).
std::optional<Promotion> next_promotion(const Ladder& ladder, int64_t reduction_factor);

// The end of a finite search, where the paper's stream of trials has run dry: when every trial
// has started and next_promotion has none, the search goes on until a trial has a result at
// max_iters (the top rung). While a promoted trial has no result yet at the rung it went to, there
// is nothing to do (it may be the one); otherwise the best trial with a result (not a failure) at
// the highest rung that has one not yet promoted goes on to the next rung. None: the search ends
// (a trial has a result at max_iters, or every trial that did not fail was promoted and failed
// above). Without it, a search of fewer than about reduction_factor^(rungs - 1) trials would
// never train a trial to max_iters.
std::optional<Promotion> final_promotion(const Ladder& ladder);

// The search's metric in a run's log at a rung: an evaluation's column (val/loss, ...) in the
// evaluation at `step`, which a trial's run makes at each rung; any other column of /metrics
// (train/loss, a value a plugin records) its last value logged at or before `step` (a value is
// kept at the logged steps only: train.log_interval, and a rung). A metric the run does not have,
// or has no value of by `step`: ConfigError naming the metric and what the run has.
double metric_at(const RunLog& log, const std::string& metric, int64_t step);

// The most optimizer steps a search can use, over all of its runs: random trains every run to
// max_iters; asha at most that, reached when each new trial beats every earlier one at every rung
// (then every trial but reduction_factor - 1 of each rung is promoted, and final_promotion takes
// the last one on to max_iters if none got there).
int64_t most_steps(const SearchPlan& plan);
// The steps of training every run of the search to max_iters (a grid of the same trials).
int64_t grid_steps(const SearchPlan& plan);

struct SearchOptions {
  std::filesystem::path out;  // the runs go to <out>/<experiment>/<run>/
  std::string command_line;
  bool progress = true;
  bool profile = false;
  std::vector<std::string> overrides;  // the --set KEY=VALUE the experiment was loaded with
  // Jobs at a time (`--jobs N`). 1: every job is trained in this process, one after the other.
  // N > 1: up to N jobs at once, each run of a job trained by a worker process that
  // `job_command(run, step)` starts (the program and its arguments: this same program, which
  // calls train_job_run), with NANOLAB_THREADS = max(1, cores / N) unless the environment sets it.
  // In an MPI job of several ranks (distributed.hpp), rank 0 decides and trains its jobs so, one
  // at a time (jobs must be 1; without a job_command it trains none itself), and every other rank
  // trains the jobs rank 0 sends it in its own process, one at a time.
  int64_t jobs = 1;
  std::function<std::vector<std::string>(const std::string& run, int64_t step)> job_command = {};
};

// What search.json records of the command that started a search: its experiment file (absolute)
// and --set overrides, from which `nanolab resume FOLDER` loads the same experiment again.
struct SearchOrigin {
  std::filesystem::path file;
  std::vector<std::string> overrides;
};
// The origin of the search in `folder` (<out>/<experiment>/), or none when it holds no
// search.json. A search.json that is damaged or does not record its origin: StorageError.
std::optional<SearchOrigin> search_origin(const std::filesystem::path& folder);

// One run of a job, as the worker's command line and rank 0's messages write it: "RUN@STEP".
struct JobRun {
  std::string run;
  int64_t step = 0;
};
std::string to_string(const JobRun& job);
// Throws ConfigError unless `text` is RUN@STEP with a step >= 1.
JobRun parse_job_run(const std::string& text);

// Trains the search of `experiment` (which must have one) in <out>/<experiment>/, continuing
// from its search.json when one is there: runs that are done are not trained again, a run that
// was stopped (kill -9, a signal) resumes from its checkpoint. Returns the exit status: 0 when the
// search finished (trials whose training failed, a learning rate that diverged, say, count as
// the worst and are listed as failed), 130 when a signal stopped it, else the first failure's.
// On a rank other than 0 of an MPI job: trains the jobs rank 0 sends until it sends none.
int run_search(const Experiment& experiment, const SearchOptions& options);

// Trains run `job.run` of the search alone up to `job.step` (its rung; max_iters: to the end):
// continues it from its checkpoint when its folder holds one, else trains it from step 0. One run
// of one job, what a worker does; the search reads the result from the run's file. Throws
// ConfigError when the experiment has no such run.
TrainResult train_job_run(const Experiment& experiment, const JobRun& job,
                          const SearchOptions& options);

}  // namespace nanolab::search
