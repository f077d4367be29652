// `nanolab resume RUN_DIR [--set train.max_iters=N]`: continues an interrupted or failed run from
// its last whole checkpoint, or trains it again from step 0 when it stopped before its first one,
// with the metrics an uninterrupted run would have logged (trainer.hpp); with --set, extends a
// run (finished or not) to N steps.
#include <cstdio>

#include "args.hpp"
#include "commands.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/trainer.hpp"

namespace nanolab::cli {

int cmd_resume(const Args& args) {
  const ParsedArgs a = parse_args("resume", args, {"--set"}, {"--quiet", "--profile"});
  if (a.positional.size() != 1)
    throw ConfigError(
        "usage: nanolab resume RUN_DIR [--set train.max_iters=N] [--quiet] [--profile]");
  std::string command_line = "nanolab resume";
  for (const auto& s : args) command_line += " " + s;
  TrainOptions options{a.positional[0], command_line, !a.has("--quiet"), a.has("--profile")};
  options.overrides = a.all("--set");
  const TrainResult r = resume(options);
  std::fprintf(stderr, "%s: %s, best val loss %.4f\n", a.positional[0].c_str(), r.status.c_str(),
               r.summary.at("best_val_loss"));
  return r.status == "interrupted" ? 130 : 0;
}

}  // namespace nanolab::cli
