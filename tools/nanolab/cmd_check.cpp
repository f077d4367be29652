// `nanolab check EXP.toml [--set key=value]...`: validates an experiment, estimates the memory of
// each run against what the machine has left (nanolab/memory.hpp), and lists the runs its sweep
// would make, without creating anything (docs/experiments.md). Every problem of the file
// comes back in one ConfigError, which main() prints and turns into exit 2; so does a run that
// `nanolab run` (without --out) would refuse because its folder already holds a run. A search
// lists its space, its trials (the runs below, trial by trial) and the most steps it can use. A dataset
// whose files are not found is a warning on stderr (exit 0): the experiment is valid, the machine
// lacks data.
// `nanolab check --schema` prints every key of an experiment as a Markdown table (the table in
// docs/experiments.md is this output).
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "commands.hpp"
#include "nanolab/data.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/experiment.hpp"
#include "nanolab/memory.hpp"
#include "nanolab/run_dir.hpp"
#include "nanolab/search.hpp"

namespace nanolab::cli {
namespace {

int check(const Parsed& a) {
  if (a.has("--schema")) {
    std::fputs(config::schema_markdown().c_str(), stdout);
    return 0;
  }
  if (a.positional().empty())
    throw ConfigError("check needs EXP.toml, or --schema; `nanolab check --help` says more");
  const std::string file = a.get("EXP.toml");

  const Experiment experiment = load_experiment(file, a.all("--set"));
  config::require_memory(experiment);
  // `nanolab run` without --out writes runs/<experiment>/<run>/ and refuses one that holds a run.
  // A search's runs are its own: `nanolab run` continues them.
  std::string taken;
  if (!experiment.search)
    for (const auto& run : experiment.runs)
      if (const std::string t =
              run_dir_taken(std::filesystem::path("runs") / experiment.name / run.name);
          !t.empty())
        taken += (taken.empty() ? "" : "\n") + t;
  if (!taken.empty()) throw ConfigError(taken);
  const size_t n = experiment.runs.size();
  std::printf("%s: ok: experiment '%s', %zu run%s\n", file.c_str(), experiment.name.c_str(), n,
              n == 1 ? "" : "s");
  if (const auto& plan = experiment.search) {
    std::printf("  search: %s, %ld trials of %zu run%s each, %s of %s", plan->method.c_str(),
                long(plan->trials), plan->runs_per_trial, plan->runs_per_trial == 1 ? "" : "s",
                plan->maximize ? "max" : "min", plan->metric.c_str());
    if (plan->method == "asha") {
      std::string rungs;
      for (int64_t r : search::rungs(plan->min_iters, plan->reduction_factor, plan->max_iters))
        rungs += (rungs.empty() ? "" : ", ") + std::to_string(r);
      std::printf(", rungs at steps %s, keeping 1/%ld at each", rungs.c_str(),
                  long(plan->reduction_factor));
    }
    std::printf("\n  space:\n");
    for (const auto& d : plan->space)
      std::printf("      %s = { %s = %s }\n", d.key.c_str(), d.distribution.c_str(),
                  d.arguments.c_str());
    std::printf("  steps: at most %ld (training every run to max_iters: %ld)\n",
                long(search::most_steps(*plan)), long(search::grid_steps(*plan)));
  }
  std::set<std::string> datasets;
  for (const auto& run : experiment.runs) {
    std::printf("  %s  needs about %s\n", run.name.c_str(),
                config::estimate_memory(run.config).text().c_str());
    for (const auto& [key, value] : run.swept)
      std::printf("      %s = %s\n", key.c_str(), value.c_str());
    datasets.insert(run.config.dataset);
  }
  // The configuration is valid, but `run` would stop at the data (exit 3): said once per dataset.
  for (const std::string& dataset : datasets)
    if (const std::string problem = missing_dataset_files(dataset); !problem.empty())
      std::fprintf(stderr, "nanolab check: warning: `nanolab run` would exit 3: %s\n",
                   problem.c_str());
  return 0;
}

}  // namespace

void add_check(CLI::App& nanolab, Commands& commands) {
  CLI::App* app = nanolab.add_subcommand(
      "check",
      "validate an experiment and list the runs of its sweep, each with the memory it "
      "needs, creating nothing");
  CLI::Option* file = add_positional(app, "EXP.toml", "the experiment file", 0, 1);
  CLI::Option* set = add_repeated(app, "--set", "KEY=VALUE", "change a key of the experiment");
  add_flag(app, "--schema", "print every key of an experiment as a Markdown table")
      ->excludes(file)
      ->excludes(set);
  commands.push_back({app, check});
}

}  // namespace nanolab::cli
