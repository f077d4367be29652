// `nanolab report PATH... -o|--out report.html [--metric KEY] [--sort KEY]
// [--where key=value[,value]]... [--group-seeds]`: one self-contained HTML page about the runs
// (docs/compare.md); the page is built by the framework (report::report_html).
#include <cstdio>

#include "args.hpp"
#include "commands.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/report.hpp"
#include "read_runs.hpp"

namespace nanolab::cli {

int cmd_report(const Args& args) {
  // parse_args knows only long options: -o is the short name of --out.
  Args long_args = args;
  for (auto& arg : long_args)
    if (arg == "-o") arg = "--out";
  const ParsedArgs a = parse_args("report", long_args, {"--out", "--metric", "--sort", "--where"},
                                  {"--group-seeds"});
  if (a.positional.empty() || !a.has("--out"))
    throw ConfigError(
        "usage: nanolab report PATH... -o report.html [--metric KEY] [--sort KEY] "
        "[--where key=value[,value]]... [--group-seeds]");
  report::CompareOptions o;
  o.metric = report::parse_metric(a.get("--metric", "val/loss"));
  o.sort = a.get("--sort");
  for (const auto& clause : a.all("--where")) report::add_where(o, clause);
  o.group_seeds = a.has("--group-seeds");
  const std::vector<report::Run> runs = report::filter_runs(read_runs("report", a.positional), o);
  if (runs.empty()) throw ConfigError("no run matches the --where filters");
  report::write_text(a.get("--out"), report::report_html(runs, o));
  std::printf("%s: %zu runs\n", a.get("--out").c_str(), runs.size());
  return 0;
}

}  // namespace nanolab::cli
