// `nanolab run EXP.toml [--set k=v]... [--out DIR] [--name RUN] [--quiet] [--profile]`: validates
// the experiment (every run of its sweep) before anything is created, then trains each run into
// <out>/<experiment>/<run>/. A run that fails is reported at once and the others still run; the
// summary at the end lists every run, and the exit status is that of the first failure.
#include <cstdio>
#include <string>

#include "args.hpp"
#include "commands.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/trainer.hpp"

namespace nanolab::cli {

int cmd_run(const Args& args) {
  const ParsedArgs a =
      parse_args("run", args, {"--set", "--out", "--name"}, {"--quiet", "--profile"});
  if (a.positional.size() != 1)
    throw ConfigError(
        "usage: nanolab run EXP.toml [--set key=value]... [--out DIR] [--name RUN] [--quiet] "
        "[--profile]");
  Experiment exp = load_experiment(a.positional[0], a.all("--set"));
  if (a.has("--name")) {
    if (exp.runs.size() != 1)
      throw ConfigError("--name names one run, but the sweep of " + a.positional[0] + " has " +
                        std::to_string(exp.runs.size()));
    exp.runs[0].name = a.get("--name");
  }
  const std::filesystem::path out = a.get("--out", "runs");
  std::string command_line = "nanolab run";
  for (const auto& s : args) command_line += " " + s;

  struct Outcome {
    std::string run, status, detail;
  };
  std::vector<Outcome> outcomes;
  int exit_status = 0;
  for (size_t i = 0; i < exp.runs.size(); ++i) {
    const RunSpec& spec = exp.runs[i];
    const std::filesystem::path dir = out / exp.name / spec.name;
    if (exp.runs.size() > 1)
      std::fprintf(stderr, "== run %zu/%zu: %s\n", i + 1, exp.runs.size(), spec.name.c_str());
    try {
      TrainResult r = train(spec, {dir, command_line, !a.has("--quiet"), a.has("--profile")});
      char detail[128];
      std::snprintf(detail, sizeof detail, "best val loss %.4f", r.summary["best_val_loss"]);
      outcomes.push_back({spec.name, r.status, detail});
      std::fprintf(stderr, "%s: %s, %s (%s)\n", spec.name.c_str(), r.status.c_str(), detail,
                   dir.c_str());
      if (r.status == "interrupted") {
        exit_status = 130;
        break;
      }
    } catch (const Error& e) {
      std::fprintf(stderr, "nanolab run: error in run %s: %s\n", spec.name.c_str(), e.what());
      outcomes.push_back({spec.name, "failed", e.what()});
      if (exit_status == 0) exit_status = int(e.code());
      if (exp.runs.size() == 1) throw;
    }
  }
  if (exp.runs.size() > 1) {
    std::fprintf(stderr, "\nsweep %s: %zu runs\n", exp.name.c_str(), exp.runs.size());
    for (const auto& o : outcomes)
      std::fprintf(stderr, "  %-40s %-11s %s\n", o.run.c_str(), o.status.c_str(), o.detail.c_str());
  }
  return exit_status;
}

}  // namespace nanolab::cli
