// `nanolab resume RUN_DIR [--set train.max_iters=N]`: continues an interrupted or failed run from
// its last whole checkpoint, or trains it again from step 0 when it stopped before its first one,
// with the metrics an uninterrupted run would have logged (trainer.hpp); with --set, extends a
// run (finished or not) to N steps.
#include <cstdio>

#include "commands.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/trainer.hpp"

namespace nanolab::cli {

namespace {

int resume_run(const Parsed& a) {
  const std::string dir = a.get("RUN_DIR");
  TrainOptions options{dir, a.command_line(), !a.has("--quiet"), a.has("--profile")};
  options.overrides = a.all("--set");
  const TrainResult r = resume(options);
  std::fprintf(stderr, "%s: %s, best val loss %.4f\n", dir.c_str(), r.status.c_str(),
               r.summary.at("best_val_loss"));
  return r.status == "interrupted" ? 130 : 0;
}

}  // namespace

void add_resume(CLI::App& nanolab, Commands& commands) {
  CLI::App* app = nanolab.add_subcommand(
      "resume", "continue an interrupted or failed run from its last checkpoint");
  add_positional(app, "RUN_DIR", "the run's directory (<out>/<experiment>/<run>)");
  add_repeated(app, "--set", "train.max_iters=N",
               "extend the run, finished or not, to N steps; no other key can change");
  add_flag(app, "--quiet", "no progress on stderr");
  add_flag(app, "--profile", "time every step by op kind and print the table at the end");
  commands.push_back({app, resume_run});
}

}  // namespace nanolab::cli
