// The runs of `compare` and `report` (read_runs.hpp).
#include "read_runs.hpp"

#include <cstdio>

namespace nanolab::cli {

void add_run_filters(CLI::App* app) {
  add_positional(app, "PATH", "run directories, run.h5 files, or folders holding runs", 1, -1);
  add_value(app, "--metric", "GROUP/NAME", "the metric shown and plotted (default: val/loss)");
  add_value(app, "--sort", "COLUMN|GROUP/NAME", "order the runs by a column or a metric");
  add_repeated(app, "--where", "KEY=V[,V]|KEY!=V[,V]|'KEY<V'",
               "keep the runs whose config key, status or metric (its last value) has one of the "
               "values, none of them, or passes the comparison (< <= > >=)");
  add_flag(app, "--group-seeds",
           "one row per configuration: mean, std and 95% confidence interval over its seeds");
  add_repeated(app, "--baseline", "KEY=VALUE",
               "with --group-seeds: the group the others are tested against (Welch's t-test p, "
               "Hedges' g)");
}

report::CompareOptions compare_options(const Parsed& a) {
  report::CompareOptions o;
  o.metric = report::parse_metric(a.get("--metric", "val/loss"));
  o.sort = a.get("--sort");
  for (const auto& clause : a.all("--where")) report::add_where(o, clause);
  o.group_seeds = a.has("--group-seeds");
  for (const auto& clause : a.all("--baseline")) report::add_baseline(o, clause);
  return o;
}

std::vector<report::Run> read_runs(const std::string& command,
                                   const std::vector<std::string>& paths) {
  report::LoadedRuns loaded = report::load_runs({paths.begin(), paths.end()});
  for (const report::Skipped& s : loaded.skipped)
    std::fprintf(stderr, "nanolab %s: warning: skipped %s\n", command.c_str(), s.reason.c_str());
  if (!loaded.skipped.empty())
    std::fprintf(stderr, "nanolab %s: %zu run(s) read, %zu path(s) skipped\n", command.c_str(),
                 loaded.runs.size(), loaded.skipped.size());
  return std::move(loaded.runs);
}

}  // namespace nanolab::cli
