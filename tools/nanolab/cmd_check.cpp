// `nanolab check EXP.toml [--set key=value]...`: validates an experiment, estimates the memory of
// each run against what the machine has left (nanolab/memory.hpp), and lists the runs its sweep
// would make, without creating anything (docs/experiments.md). Every problem of the file
// comes back in one ConfigError, which main() prints and turns into exit 2; so does a run that
// `nanolab run` (without --out) would refuse because its folder already holds a run. A dataset
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
  std::string taken;
  for (const auto& run : experiment.runs)
    if (const std::string t = run_dir_taken(std::filesystem::path("runs") / experiment.name / run.name);
        !t.empty())
      taken += (taken.empty() ? "" : "\n") + t;
  if (!taken.empty()) throw ConfigError(taken);
  const size_t n = experiment.runs.size();
  std::printf("%s: ok: experiment '%s', %zu run%s\n", file.c_str(), experiment.name.c_str(), n,
              n == 1 ? "" : "s");
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
