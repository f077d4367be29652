// `nanolab check EXP.toml [--set key=value]...`: validates an experiment, estimates the memory of
// each run against what the machine has left (nanolab/memory.hpp), and lists the runs its sweep
// would make, without creating anything (docs/experiments.md). Every problem of the file
// comes back in one ConfigError, which main() prints and turns into exit 2; so does a run that
// `nanolab run` (without --out) would refuse because its folder already holds a run.
// `nanolab check --schema` prints every key of an experiment as a Markdown table (the table in
// docs/experiments.md is this output).
#include <cstdio>
#include <string>
#include <vector>

#include "args.hpp"
#include "nanolab/memory.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/experiment.hpp"
#include "nanolab/run_dir.hpp"

namespace nanolab::cli {

int cmd_check(const Args& args) {
  const ParsedArgs a = parse_args("check", args, {"--set"}, {"--schema"});
  if (a.has("--schema") && a.positional.empty() && !a.has("--set")) {
    std::fputs(config::schema_markdown().c_str(), stdout);
    return 0;
  }
  if (a.positional.size() != 1 || a.has("--schema"))
    throw ConfigError(
        "usage: nanolab check EXP.toml [--set key=value]... | nanolab check --schema");
  const std::string file = a.positional[0];

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
  for (const auto& run : experiment.runs) {
    std::printf("  %s  needs about %s\n", run.name.c_str(),
                config::estimate_memory(run.config).text().c_str());
    for (const auto& [key, value] : run.swept)
      std::printf("      %s = %s\n", key.c_str(), value.c_str());
  }
  return 0;
}

}  // namespace nanolab::cli
