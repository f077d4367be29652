// `nanolab run EXP.toml [--set k=v]... [--out DIR] [--name RUN] [--quiet] [--profile]
// [--distribute runs] [--jobs N]`: validates the experiment (every run of its sweep) before
// anything is created, then trains each run into <out>/<experiment>/<run>/. A run that fails is
// reported at once and the others still run; the summary at the end lists every run, and the exit
// status is that of the first failure. An experiment with a [search] of method random or asha
// trains its trials instead (nanolab/search.hpp), continuing the search its folder holds, N jobs
// at a time with --jobs N: each in a worker, this program started again with the same arguments
// and the internal option `--search-job RUN@STEP`, which trains that one run to that step; under
// mpirun, rank 0 decides and the other ranks train the jobs it sends them.
// Under mpirun (docs/scaling.md) every run trains data-parallel on all the ranks, rank 0 speaking
// for the job; with --distribute runs, rank r trains runs r, r + N, r + 2N... alone, and rank 0
// prints the summary of all of them from their run files once every rank is done.
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "commands.hpp"
#include "nanolab/distributed.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/interrupt.hpp"
#include "nanolab/memory.hpp"
#include "nanolab/report.hpp"
#include "nanolab/search.hpp"
#include "nanolab/trainer.hpp"

namespace nanolab::cli {

namespace {

// --jobs N: a whole number >= 1.
int64_t jobs_option(const Parsed& a) {
  const std::string s = a.get("--jobs", "1");
  char* end = nullptr;
  errno = 0;
  const long long n = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || errno != 0 || n < 1)
    throw ConfigError("--jobs " + to_string(OptionValue(s)) +
                      ": expected a whole number of jobs at a time, 1 or more\n    hint: --jobs 2 "
                      "trains two trials of a search at once, each on half of the cores");
  return n;
}

// The internal --search-job RUN@STEP of a search's worker: trains that run alone to that step.
int search_job(const Parsed& a, const Experiment& exp, const std::filesystem::path& out) {
  const TrainResult r =
      search::train_job_run(exp, search::parse_job_run(a.get("--search-job")),
                            {out, a.command_line(), !a.has("--quiet"), a.has("--profile"),
                             a.all("--set")});
  return r.status == "interrupted" ? int(ExitCode::interrupted) : 0;
}

}  // namespace

int train_search(const Parsed& a, const Experiment& exp, const std::filesystem::path& out,
                 const std::vector<std::string>& overrides, const std::string& name) {
  const int64_t jobs = jobs_option(a);
  if (distributed::world().size > 1 && jobs > 1)
    throw ConfigError("--jobs " + std::to_string(jobs) + ": under mpirun each rank trains one "
                      "job of the search at a time\n    hint: leave --jobs out, or run without "
                      "mpirun");
  search::SearchOptions options{out, a.command_line(), !a.has("--quiet"), a.has("--profile"),
                                overrides};
  options.jobs = jobs;
  // A worker: `nanolab run` of the experiment file with its --set, --jobs left out.
  std::vector<std::string> worker = {"/proc/self/exe", "run", exp.file.string(), "--out",
                                     out.string()};
  for (const std::string& set : overrides) worker.insert(worker.end(), {"--set", set});
  if (!name.empty()) worker.insert(worker.end(), {"--name", name});
  if (a.has("--quiet")) worker.push_back("--quiet");
  if (a.has("--profile")) worker.push_back("--profile");
  options.job_command = [worker](const std::string& run, int64_t step) {
    std::vector<std::string> command = worker;
    command.insert(command.end(), {"--search-job", search::to_string({run, step})});
    return command;
  };
  return search::run_search(exp, options);
}

namespace {

int run(const Parsed& a) {
  const std::string file = a.get("EXP.toml");
  const int64_t jobs = jobs_option(a);
  const bool distribute = a.has("--distribute");
  if (distribute && a.get("--distribute") != "runs")
    throw ConfigError("--distribute " + a.get("--distribute") +
                      ": the one way to distribute is `runs` (each rank trains its share of the "
                      "sweep's runs alone)");
  const distributed::World& world = distributed::world();
  // In a data-parallel job rank 0 speaks for all; distributed runs each report their own.
  const bool speaks = world.rank == 0 || distribute;
  const std::string rank_prefix =
      world.size > 1 ? "rank " + std::to_string(world.rank) + ": " : std::string();
  Experiment exp = load_experiment(file, a.all("--set"));
  if (a.has("--name")) {
    // The run directory is always <out>/<experiment>/<run>/: a name is one folder, never a path.
    const std::string name = a.get("--name");
    if (const std::string problem = folder_name_problem(name); !problem.empty())
      throw ConfigError("--name " + to_string(OptionValue(name)) +
                        ": must be a folder name, but it " + problem +
                        "\n    hint: --out DIR chooses where the runs go; --name names one folder "
                        "in <out>/<experiment>/");
    if (exp.runs.size() != 1)
      throw ConfigError("--name names one run, but the sweep of " + file + " has " +
                        std::to_string(exp.runs.size()));
    exp.runs[0].name = name;
  }
  // Every run must fit in memory before the first one starts (nanolab/memory.hpp).
  config::require_memory(exp);
  const std::filesystem::path out = a.get("--out", "runs");
  if (a.has("--search-job")) return search_job(a, exp, out);
  if (exp.search) {
    if (distribute)
      throw ConfigError("--distribute runs: " + file + " is a search, whose trials are shared "
                        "between the ranks of mpirun without it\n    hint: leave --distribute out");
    return train_search(a, exp, out, a.all("--set"), a.get("--name"));
  }
  if (jobs > 1)
    throw ConfigError("--jobs " + std::to_string(jobs) + ": " + file +
                      " has no [search]; --jobs trains a search's trials at a time\n    hint: "
                      "under mpirun, --distribute runs shares a sweep's runs between the ranks");

  struct Outcome {
    std::string run, status, detail;
  };
  std::vector<Outcome> outcomes;
  int exit_status = 0;
  for (size_t i = 0; i < exp.runs.size(); ++i) {
    if (distribute && int(i % size_t(world.size)) != world.rank) continue;
    const RunSpec& spec = exp.runs[i];
    const std::filesystem::path dir = out / exp.name / spec.name;
    if (exp.runs.size() > 1 && speaks)
      std::fprintf(stderr, "%s== run %zu/%zu: %s\n", rank_prefix.c_str(), i + 1, exp.runs.size(),
                   spec.name.c_str());
    try {
      TrainOptions options{dir, a.command_line(), !a.has("--quiet") && world.rank == 0,
                           a.has("--profile")};
      options.data_parallel = !distribute;
      TrainResult r = train(spec, options);
      char detail[128];
      std::snprintf(detail, sizeof detail, "best val loss %.4f", r.summary["best_val_loss"]);
      outcomes.push_back({spec.name, r.status, detail});
      if (speaks)
        std::fprintf(stderr, "%s%s: %s, %s (%s)\n", rank_prefix.c_str(), spec.name.c_str(),
                     r.status.c_str(), detail, dir.c_str());
      if (r.status == "interrupted") {
        exit_status = 130;
        break;
      }
    } catch (const Interrupted&) {
      throw;  // a signal during a run's set-up stops the sweep, not only that run
    } catch (const Error& e) {
      // One run, or a data-parallel job, which cannot go on without this rank (the others would
      // wait for it): the error ends the command, and main() reports it, once.
      if (exp.runs.size() == 1 || (world.size > 1 && !distribute)) throw;
      std::fprintf(stderr, "%snanolab run: error in run %s: %s\n", rank_prefix.c_str(),
                   spec.name.c_str(), e.what());
      outcomes.push_back({spec.name, "failed", e.what()});
      if (exit_status == 0) exit_status = int(e.code());
    }
  }
  if (distribute && world.size > 1) {
    // Every rank's runs are done (or failed): rank 0 reads them all back for the summary.
    distributed::barrier("waiting for every rank's runs");
    exit_status = int(distributed::allreduce_max(exit_status, "the sweep's exit status"));
    if (world.rank != 0) return exit_status;
    outcomes.clear();
    for (const RunSpec& spec : exp.runs) {
      const std::filesystem::path file = out / exp.name / spec.name / "run.h5";
      try {
        const report::Run run = report::load_run(file);
        const auto best = run.log.summary.find("best_val_loss");
        char detail[128];
        std::snprintf(detail, sizeof detail, "best val loss %.4f",
                      best == run.log.summary.end() ? NAN : best->second);
        outcomes.push_back({spec.name, run.log.status, detail});
      } catch (const Error& e) {
        outcomes.push_back({spec.name, "failed", e.what()});
      }
    }
  }
  if (exp.runs.size() > 1 && world.rank == 0) {
    std::fprintf(stderr, "\nsweep %s: %zu runs\n", exp.name.c_str(), exp.runs.size());
    for (const auto& o : outcomes)
      std::fprintf(stderr, "  %-40s %-11s %s\n", o.run.c_str(), o.status.c_str(), o.detail.c_str());
  }
  return exit_status;
}

}  // namespace

void add_run(CLI::App& nanolab, Commands& commands) {
  CLI::App* app = nanolab.add_subcommand(
      "run",
      "validate an experiment and every run of its sweep, then train each run into "
      "<out>/<experiment>/<run>/");
  add_positional(app, "EXP.toml", "the experiment file");
  add_repeated(app, "--set", "KEY=VALUE", "change a key of the experiment (a TOML value)");
  add_value(app, "--out", "DIR", "where the runs go (default: runs)");
  add_value(app, "--name", "RUN", "the run's folder name (an experiment of one run)");
  add_flag(app, "--quiet", "no progress on stderr");
  add_flag(app, "--profile", "time every step by op kind and print the table at the end");
  add_value(app, "--distribute", "runs",
            "under mpirun: each rank trains its share of the sweep's runs alone, instead of "
            "every run data-parallel");
  add_value(app, "--jobs", "N",
            "a [search]: train up to N trials at a time, each in its own process with "
            "NANOLAB_THREADS = cores / N (default 1: one at a time, in this process)");
  // A search's worker (--jobs N): trains one run of the search to a step. Not for users.
  add_value(app, "--search-job", "RUN@STEP", "")->group("");
  commands.push_back({app, run});
}

}  // namespace nanolab::cli
