// The search runner (nanolab/search.hpp), a job being one trial trained (all its runs, one per run
// of the [sweep]) up to a rung. The next job is a trial left running by a search that was stopped,
// else ASHA's next promotion, else a new trial, else (every trial started) final_promotion's,
// until a trial reaches max_iters; random has one rung, max_iters, so it never promotes. A run
// stopped at a rung below max_iters ends "pruned" with a checkpoint, and a promotion resumes it
// from there: no step is trained twice, and its schedule is that of max_iters from the start. The
// state goes to search.json (atomically) before each job and after it, and the experiment folder
// is claimed with a run.lock like a run, so that a second search in the same folder gets exit 75.
//
// One job at a time is trained in this process. With jobs > 1, or in an MPI job, this process (rank
// 0) only decides: whenever a worker (workers.hpp: a process, or another rank) is free, the next
// job starts, each run of it trained by a worker, and this process, the only writer of
// search.json, reads the result from the run's file when the worker ends.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <thread>
#include <tuple>

#include "data/shard.hpp"
#include "nanolab/distributed.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/input_file.hpp"
#include "nanolab/interrupt.hpp"
#include "nanolab/run_store.hpp"
#include "nanolab/search.hpp"
#include "nanolab/trainer.hpp"
#include "runtime/json.hpp"
#include "store/run_lock.hpp"
#include "workers.hpp"

namespace nanolab::search {
namespace fs = std::filesystem;
using json::Json;

namespace {

constexpr int64_t state_format_version = 1;

StorageError damaged_state(const fs::path& file, const std::string& why) {
  return StorageError(file.string() + ": " + why +
                      "\nhint: it is written whole or not at all by nanolab; move the folder "
                      "away to start the search again");
}

// A search.json, parsed, of this format and version.
Json read_state(const fs::path& file) {
  const std::string text = read_input(file, ExitCode::storage, input_limit::experiment * 64);
  try {
    Json state = json::parse(text);
    if (state.value("format", "") != "nanolab-search" ||
        state.value("format_version", int64_t(0)) != state_format_version)
      throw damaged_state(file, "not a search state of format_version " +
                                    std::to_string(state_format_version));
    return state;
  } catch (const json::JsonError& e) {
    throw damaged_state(file, e.what());
  } catch (const Json::exception& e) {
    throw damaged_state(file, e.what());
  }
}

struct Trial {
  std::string status;          // "running" (toward `rung`), "pruned", "completed" or "failed"
  size_t rung = 0;             // the rung it trains to, or where it stopped
  std::vector<double> results; // the metric at each rung reached; NaN: failed there
};

// The search's progress, as search.json holds it.
struct State {
  std::vector<Trial> trials;  // those started, in order
  Json decisions = Json::array();
};

class Runner {
 public:
  Runner(const Experiment& exp, const SearchOptions& options)
      : exp_(exp), plan_(*exp.search), options_(options), folder_(options.out / exp.name),
        file_(folder_ / "search.json"),
        rungs_(plan_.method == "asha" ? rungs(plan_.min_iters, plan_.reduction_factor, plan_.max_iters)
                                      : std::vector<int64_t>{plan_.max_iters}) {
    std::string all;
    for (const RunSpec& run : exp.runs) all += run.name + "\n" + run.config_toml + "\n";
    all += plan_.method + " " + plan_.metric + (plan_.maximize ? " max " : " min ") +
           std::to_string(plan_.min_iters) + " " + std::to_string(plan_.reduction_factor);
    fingerprint_ = config_sha256(all);
  }

  int run() {
    fs::create_directories(folder_);
    const store::RunLock lock = store::RunLock::claim(folder_);
    load();
    int first_failure = 0;
    const int stopped = options_.jobs > 1 || distributed::world().size > 1
                            ? run_workers(first_failure)
                            : run_here(first_failure);
    if (stopped) return stopped;
    summarize();
    const bool any_finished = std::any_of(state_.trials.begin(), state_.trials.end(),
                                          [](const Trial& t) { return t.status != "failed"; });
    return any_finished ? 0 : first_failure;
  }

 private:
  std::string trial_name(size_t t) const {
    const std::string& run = exp_.runs[t * plan_.runs_per_trial].name;
    return run.substr(0, run.find(','));
  }

  // Every job in this process, one after the other. Returns 130 when a signal stopped the
  // search, else 0, `first_failure` holding the exit status of the first trial that failed.
  int run_here(int& first_failure) {
    while (const std::optional<size_t> t = next_job()) {
      const int code = train_trial(*t);
      if (code == 130) return 130;
      if (code != 0 && first_failure == 0) first_failure = code;
      say_progress();
    }
    return 0;
  }

  // As many jobs at a time as there are workers (workers.hpp): options_.jobs processes, and in an
  // MPI job one process on this rank and every other rank. Returns as run_here does, or 75 when a
  // worker found a run in use by another process.
  int run_workers(int& first_failure) {
    struct Job {
      size_t run = 0;  // of the trial's runs, the one its worker trains
      double sum = 0;  // the metric of the runs before it
    };
    std::map<size_t, Job> jobs;  // by trial
    // A worker process gets its share of this machine's cores, and is no rank of an MPI job.
    std::vector<std::string> env = distributed::launcher_variables();
    if (!std::getenv("NANOLAB_THREADS"))
      env.push_back("NANOLAB_THREADS=" +
                    std::to_string(std::max<int64_t>(
                        1, int64_t(std::thread::hardware_concurrency()) /
                               (options_.jobs * distributed::world().local_size))));
    Workers workers(size_t(options_.jobs), options_, env);
    const auto start = [&](size_t t) {
      const RunSpec& spec = exp_.runs[t * plan_.runs_per_trial + jobs[t].run];
      const int64_t step = rungs_[state_.trials[t].rung];
      say_start(spec, step);
      workers.start(t, JobRun{spec.name, step});
    };
    int stopped = 0;
    for (;;) {
      while (stopped == 0 && !interrupted() && jobs.size() < workers.size()) {
        const std::optional<size_t> t = next_job();
        if (!t) break;
        busy_.insert(*t);
        start(*t);
      }
      if (jobs.empty()) return stopped;
      const std::optional<Workers::Ended> ended = workers.wait();
      if (!ended) {  // a signal: every worker ends its run with a checkpoint
        stopped = 130;
        workers.stop();
        continue;
      }
      const size_t t = ended->job;
      Job& job = jobs[t];
      const RunSpec& spec = exp_.runs[t * plan_.runs_per_trial + job.run];
      int failure = ended->status;
      const auto leave_running = [&] {  // the next `nanolab run` continues the trial
        jobs.erase(t);
        busy_.erase(t);
      };
      if (failure == 130 || failure == int(ExitCode::run_in_use)) {
        // Stopped by a signal, or another process trains its run: nothing of the search can go on.
        if (stopped == 0) workers.stop();
        stopped = std::max(stopped, failure);
        leave_running();
        continue;
      }
      if (failure == 0) {
        failure = add_result(spec, rungs_[state_.trials[t].rung], job.sum);
      } else {
        std::fprintf(stderr, "nanolab run: error in run %s: its worker %s %d\n", spec.name.c_str(),
                     failure > 128 ? "was killed by signal" : "exited with status",
                     failure > 128 ? failure - 128 : failure);
      }
      if (failure == 0 && ++job.run < plan_.runs_per_trial) {
        stopped ? leave_running() : start(t);
        continue;
      }
      const double sum = job.sum;
      jobs.erase(t);
      busy_.erase(t);
      record(t, sum, failure);
      if (failure != 0 && first_failure == 0) first_failure = failure > 128 ? 1 : failure;
      say_progress();
    }
  }

  // The trial to train now: one left running (and not trained now), else a promotion, else a new
  // trial, else (every trial started) the end rule of a finite search; none when no job can start
  // now. A decision is written down before its job starts.
  std::optional<size_t> next_job() {
    for (size_t t = 0; t < state_.trials.size(); ++t)
      if (state_.trials[t].status == "running" && !busy_.count(t)) return t;
    if (const auto p = next_promotion(ladder(), plan_.reduction_factor))
      return promote(*p, "promote ", "");
    if (int64_t(state_.trials.size()) < plan_.trials) {
      state_.trials.push_back(Trial{"running", 0, {}});
      decide("start " + trial_name(state_.trials.size() - 1));
      return state_.trials.size() - 1;
    }
    // The end rule waits for every job in progress: a result still to come may promote.
    const bool training = std::any_of(state_.trials.begin(), state_.trials.end(),
                                      [](const Trial& t) { return t.status == "running"; });
    if (const auto p = training ? std::nullopt : final_promotion(ladder()))
      return promote(*p, "continue ",
                     " (every trial has started, none has reached " +
                         std::to_string(plan_.max_iters) + ")");
    return std::nullopt;
  }

  size_t promote(const Promotion& p, const std::string& verb, const std::string& why) {
    Trial& trial = state_.trials[size_t(p.trial)];
    trial.status = "running";
    trial.rung = p.to_rung;
    decide(verb + trial_name(size_t(p.trial)) + " from step " +
           std::to_string(rungs_[p.to_rung - 1]) + " to " + std::to_string(rungs_[p.to_rung]) +
           why);
    return size_t(p.trial);
  }

  void decide(const std::string& decision) {
    state_.decisions.push_back(decision);
    save();
  }

  // What ASHA has seen: every result, lower is better; a failed trial is the worst.
  Ladder ladder() const {
    Ladder l{std::vector<std::map<int64_t, double>>(rungs_.size()),
             std::vector<std::set<int64_t>>(rungs_.size())};
    for (size_t t = 0; t < state_.trials.size(); ++t) {
      const Trial& trial = state_.trials[t];
      for (size_t k = 0; k < trial.results.size(); ++k) {
        const double v = trial.results[k];
        l.results[k][int64_t(t)] =
            std::isnan(v) ? std::numeric_limits<double>::infinity() : plan_.maximize ? -v : v;
      }
      for (size_t k = 0; k < trial.rung; ++k) l.promoted[k].insert(int64_t(t));
    }
    return l;
  }

  // Trains each run of trial `t` up to its rung and records the trial's result there (the mean
  // over its runs). Returns 0, 130 after a signal, or the exit code of a run that failed.
  int train_trial(size_t t) {
    const int64_t step = rungs_[state_.trials[t].rung];
    double sum = 0;
    int failure = 0;
    for (size_t c = 0; c < plan_.runs_per_trial && failure == 0; ++c) {
      const RunSpec& spec = exp_.runs[t * plan_.runs_per_trial + c];
      say_start(spec, step);
      try {
        if (train_job_run(exp_, {spec.name, step}, options_).status == "interrupted") return 130;
      } catch (const Interrupted&) {
        throw;
      } catch (const RunInUse&) {
        throw;  // another process trains it: nothing of the search can go on
      } catch (const Error& e) {
        std::fprintf(stderr, "nanolab run: error in run %s: %s\n", spec.name.c_str(), e.what());
        failure = int(e.code());
      }
      if (failure == 0) failure = add_result(spec, step, sum);
    }
    record(t, sum, failure);
    return failure;
  }

  // Adds the metric of a run trained to `step` to `sum`. Returns 0, or the exit status of a run
  // file that cannot give it; a metric the run does not have stops the search (ConfigError, exit
  // 2; workers still running are stopped on the way out).
  int add_result(const RunSpec& spec, int64_t step, double& sum) const {
    try {
      sum += metric_at(read_run(folder_ / spec.name / "run.h5"), plan_.metric, step);
      return 0;
    } catch (const ConfigError&) {
      throw;
    } catch (const Error& e) {
      std::fprintf(stderr, "nanolab run: error in run %s: %s\n", spec.name.c_str(), e.what());
      return int(e.code());
    }
  }

  void say_start(const RunSpec& spec, int64_t step) const {
    if (options_.progress)
      std::fprintf(stderr, "== %s: %s to step %ld of %ld\n", exp_.name.c_str(), spec.name.c_str(),
                   long(step), long(plan_.max_iters));
  }

  // Trial `t`'s result at its rung: the mean of its runs' metrics (`sum`), or failed.
  void record(size_t t, double sum, int failure) {
    Trial& trial = state_.trials[t];
    const int64_t step = rungs_[trial.rung];
    trial.results.resize(trial.rung + 1);
    trial.results[trial.rung] =
        failure ? std::numeric_limits<double>::quiet_NaN() : sum / double(plan_.runs_per_trial);
    trial.status = failure                          ? "failed"
                   : trial.rung + 1 == rungs_.size() ? "completed"
                                                     : "pruned";
    char line[256];
    std::snprintf(line, sizeof line, "%s: %s %.6g at step %ld", trial_name(t).c_str(),
                  plan_.metric.c_str(), trial.results[trial.rung], long(step));
    decide(failure ? trial_name(t) + ": failed at step " + std::to_string(step) : line);
  }

  // Optimizer steps trained so far, over every run.
  int64_t steps_used() const {
    int64_t steps = 0;
    for (const Trial& t : state_.trials)
      steps += t.status == "running" ? (t.rung ? rungs_[t.rung - 1] : 0) : rungs_[t.rung];
    return steps * int64_t(plan_.runs_per_trial);
  }

  // The best result at the highest rung any trial reached: (trial, rung), or none.
  std::optional<std::pair<size_t, size_t>> best() const {
    std::optional<std::pair<size_t, size_t>> b;
    for (size_t t = 0; t < state_.trials.size(); ++t) {
      const auto& r = state_.trials[t].results;
      for (size_t k = 0; k < r.size(); ++k) {
        if (std::isnan(r[k])) continue;
        if (!b || k > b->second ||
            (k == b->second && (plan_.maximize ? r[k] > state_.trials[b->first].results[k]
                                               : r[k] < state_.trials[b->first].results[k])))
          b = std::pair(t, k);
      }
    }
    return b;
  }

  void say_progress() const {
    size_t completed = 0, pruned = 0, failed = 0, running = 0;
    for (const Trial& t : state_.trials) {
      completed += t.status == "completed";
      pruned += t.status == "pruned";
      failed += t.status == "failed";
      running += t.status == "running";
    }
    std::string best_text = "none yet";
    if (const auto b = best()) {
      char text[160];
      std::snprintf(text, sizeof text, "%.4f (%s at step %ld)",
                    state_.trials[b->first].results[b->second], trial_name(b->first).c_str(),
                    long(rungs_[b->second]));
      best_text = text;
    }
    std::fprintf(stderr,
                 "search %s: %zu/%ld trials: %zu completed, %zu pruned, %zu failed, %zu running; "
                 "best %s %s; %ld steps of a full grid's %ld\n",
                 exp_.name.c_str(), state_.trials.size(), long(plan_.trials), completed, pruned,
                 failed, running, plan_.metric.c_str(), best_text.c_str(), long(steps_used()),
                 long(grid_steps(plan_)));
  }

  // Every trial, best first (the furthest rung, then the metric there).
  void summarize() const {
    std::vector<size_t> order(state_.trials.size());
    for (size_t t = 0; t < order.size(); ++t) order[t] = t;
    const auto key = [&](size_t t) {
      const Trial& trial = state_.trials[t];
      const double v = trial.results.empty() ? NAN : trial.results.back();
      const double ranked = std::isnan(v) ? INFINITY : plan_.maximize ? -v : v;
      return std::tuple(trial.status == "failed", -int64_t(trial.rung), ranked, t);
    };
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return key(a) < key(b); });
    std::fprintf(stderr, "\nsearch %s: %ld trials, %s (%s)\n", exp_.name.c_str(),
                 long(plan_.trials), plan_.method.c_str(), file_.c_str());
    for (size_t t : order) {
      const Trial& trial = state_.trials[t];
      std::string parameters;
      for (const auto& [key_name, value] : exp_.runs[t * plan_.runs_per_trial].swept)
        parameters += (parameters.empty() ? "" : " ") + key_name + "=" + value;
      std::fprintf(stderr, "  %-12s %-9s step %-8ld %s %-10.4f %s\n", trial_name(t).c_str(),
                   trial.status.c_str(), long(rungs_[trial.rung]), plan_.metric.c_str(),
                   trial.results.empty() ? NAN : trial.results.back(), parameters.c_str());
    }
    say_progress();
  }

  static Json number(double v) { return std::isfinite(v) ? Json(v) : Json(nullptr); }

  void save() const {
    Json trials = Json::array();
    for (size_t t = 0; t < state_.trials.size(); ++t) {
      const Trial& trial = state_.trials[t];
      Json runs = Json::array(), parameters = Json::object(), results = Json::array();
      for (size_t c = 0; c < plan_.runs_per_trial; ++c)
        runs.push_back(exp_.runs[t * plan_.runs_per_trial + c].name);
      for (const SearchDimension& d : plan_.space)
        parameters[d.key] = exp_.runs[t * plan_.runs_per_trial].swept.at(d.key);
      for (double v : trial.results) results.push_back(number(v));
      trials.push_back(Json{{"trial", trial_name(t)},
                            {"status", trial.status},
                            {"rung", trial.rung},
                            {"step", rungs_[trial.rung]},
                            {"results", results},
                            {"runs", runs},
                            {"parameters", parameters}});
    }
    const Json state{{"format", "nanolab-search"},
                     {"format_version", state_format_version},
                     {"experiment", exp_.name},
                     {"fingerprint", fingerprint_},
                     {"method", plan_.method},
                     {"metric", plan_.metric},
                     {"mode", plan_.maximize ? "max" : "min"},
                     {"trials", plan_.trials},
                     {"reduction_factor", plan_.reduction_factor},
                     {"rungs", rungs_},
                     {"origin", Json{{"file", fs::absolute(exp_.file).string()},
                                     {"set", options_.overrides}}},
                     {"started", trials},
                     {"decisions", state_.decisions}};
    const std::string text = json::dump(state, 1) + "\n";
    data::write_atomically(file_, {{text.data(), text.size()}});
  }

  // search.json of this same search, if there is one.
  void load() {
    if (!fs::exists(file_)) return;
    const auto damaged = [&](const std::string& why) { return damaged_state(file_, why); };
    const Json state = read_state(file_);
    try {
      if (state.at("fingerprint").get<std::string>() != fingerprint_)
        throw ConfigError(file_.string() + ": the folder holds another search (another file, " +
                          "space, sweep or settings)\n    hint: --out DIR or another "
                          "experiment.name starts this one elsewhere; or move the folder away");
      for (const Json& j : state.at("started")) {
        Trial t{j.at("status").get<std::string>(), j.at("rung").get<size_t>(), {}};
        for (const Json& v : j.at("results"))
          t.results.push_back(v.is_null() ? NAN : v.get<double>());
        if (t.rung >= rungs_.size() || t.results.size() > t.rung + 1)
          throw damaged("trial " + j.at("trial").get<std::string>() + " is past the last rung");
        state_.trials.push_back(std::move(t));
      }
      state_.decisions = state.at("decisions");
    } catch (const Json::exception& e) {
      throw damaged(e.what());
    }
    if (int64_t(state_.trials.size()) > plan_.trials) throw damaged("more trials than the search");
    std::fprintf(stderr, "search %s: continuing from %s\n", exp_.name.c_str(), file_.c_str());
    say_progress();
  }

  const Experiment& exp_;
  const SearchPlan& plan_;
  const SearchOptions& options_;
  const fs::path folder_, file_;
  const std::vector<int64_t> rungs_;
  std::string fingerprint_;
  State state_;
  std::set<size_t> busy_;  // trials whose job runs in a worker now
};

}  // namespace

std::optional<SearchOrigin> search_origin(const fs::path& folder) {
  const fs::path file = folder / "search.json";
  if (!fs::exists(file)) return std::nullopt;
  const Json state = read_state(file);
  try {
    const Json& origin = state.at("origin");
    return SearchOrigin{origin.at("file").get<std::string>(),
                        origin.at("set").get<std::vector<std::string>>()};
  } catch (const Json::exception& e) {
    throw damaged_state(file, std::string("no origin of the search: ") + e.what());
  }
}

int run_search(const Experiment& experiment, const SearchOptions& options) {
  if (distributed::world().rank != 0) return serve_jobs(experiment, options);
  return Runner(experiment, options).run();
}

}  // namespace nanolab::search
