// `nanolab resume RUN_DIR|SEARCH_DIR [--set train.max_iters=N]`: continues an interrupted or
// failed run from its last whole checkpoint, or trains it again from step 0 when it stopped
// before its first one, with the metrics an uninterrupted run would have logged (trainer.hpp);
// with --set, extends a run (finished or not) to N steps. SEARCH_DIR is a search's folder
// (<out>/<experiment>/, with a search.json): the search goes on as `nanolab run` of the file that
// started it would (nanolab/search.hpp), loading that file again with the --set it was started
// with.
#include <cstdio>

#include "commands.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/experiment.hpp"
#include "nanolab/memory.hpp"
#include "nanolab/search.hpp"
#include "nanolab/trainer.hpp"

namespace nanolab::cli {

namespace {
namespace fs = std::filesystem;

int resume_search(const Parsed& a, const fs::path& folder, const search::SearchOrigin& origin) {
  if (a.has("--set"))
    throw ConfigError("--set: " + folder.string() + " is a search, which continues as it was " +
                      "started\n    hint: change the experiment file and start a new search " +
                      "with `nanolab run FILE --out DIR`");
  if (!fs::exists(origin.file))
    throw ConfigError(folder.string() + ": the search was started from " + origin.file.string() +
                      ", which is gone\n    hint: put it back, or run its copy with `nanolab " +
                      "run FILE --out " + folder.parent_path().string() + "`");
  const Experiment exp = load_experiment(origin.file, origin.overrides);
  if (!exp.search || fs::path(exp.name) != folder.filename())
    throw ConfigError(folder.string() + ": " + origin.file.string() + " no longer starts the " +
                      "search of this folder (it is not a search named " +
                      folder.filename().string() + ")\n    hint: `nanolab run FILE --out DIR` " +
                      "continues a search from its file");
  config::require_memory(exp);
  return train_search(a, exp, folder.parent_path(), origin.overrides, "");
}

int resume_run(const Parsed& a) {
  const std::string dir = a.get("RUN_DIR|SEARCH_DIR");
  fs::path folder = fs::absolute(dir).lexically_normal();
  if (!folder.has_filename()) folder = folder.parent_path();  // a trailing '/'
  if (const auto origin = search::search_origin(folder)) return resume_search(a, folder, *origin);
  if (a.has("--jobs"))
    throw ConfigError("--jobs: " + dir + " is a run, not a search's folder\n    hint: --jobs N " +
                      "trains N jobs of a search at a time");
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
      "resume", "continue an interrupted or failed run, or a search, from its last checkpoint");
  add_positional(app, "RUN_DIR|SEARCH_DIR",
                 "the run's directory (<out>/<experiment>/<run>), or a search's folder "
                 "(<out>/<experiment>, holding search.json)");
  add_repeated(app, "--set", "train.max_iters=N",
               "extend the run, finished or not, to N steps; no other key can change");
  add_value(app, "--jobs", "N", "a search: train N of its jobs at a time (as `run --jobs N`)");
  add_flag(app, "--quiet", "no progress on stderr");
  add_flag(app, "--profile", "time every step by op kind and print the table at the end");
  commands.push_back({app, resume_run});
}

}  // namespace nanolab::cli
