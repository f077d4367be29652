// `nanolab compare PATH... [--metric KEY] [--sort KEY] [--where key=value[,value]]... [--all-keys]
// [--group-seeds] [--format table|csv|json|markdown] [--plot FILE.svg] [--x step|tokens|wall]
// [--log-y] [--smooth N]`: the table of runs with the configuration keys that differ between them
// (docs/compare.md), on stdout; optionally the metric's curves as an SVG file. The work is in the
// framework (nanolab/report.hpp); this file only maps options onto it.
#include <cstdio>

#include "args.hpp"
#include "commands.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/report.hpp"
#include "read_runs.hpp"

namespace nanolab::cli {

int cmd_compare(const Args& args) {
  const ParsedArgs a = parse_args(
      "compare", args, {"--metric", "--sort", "--where", "--format", "--plot", "--x", "--smooth"},
      {"--all-keys", "--group-seeds", "--log-y"});
  if (a.positional.empty())
    throw ConfigError(
        "usage: nanolab compare PATH... [--metric KEY] [--sort KEY] "
        "[--where key=value[,value]]... [--all-keys] [--group-seeds] "
        "[--format table|csv|json|markdown] [--plot FILE.svg] [--x step|tokens|wall] "
        "[--log-y] [--smooth N]");
  report::CompareOptions o;
  o.metric = report::parse_metric(a.get("--metric", "val/loss"));
  o.sort = a.get("--sort");
  for (const auto& clause : a.all("--where")) report::add_where(o, clause);
  o.all_keys = a.has("--all-keys");
  o.group_seeds = a.has("--group-seeds");
  const report::Format format = report::parse_format(a.get("--format", "table"));
  const report::XAxis x = report::parse_x_axis(a.get("--x", "step"));
  const double smooth = a.number("--smooth", 1);
  if (smooth < 1 || smooth != int(smooth))
    throw ConfigError("--smooth: expected a whole number of points >= 1");

  const std::vector<report::Run> runs = report::filter_runs(read_runs("compare", a.positional), o);
  if (runs.empty()) throw ConfigError("no run matches the --where filters");
  const std::string text = report::render(report::compare_table(runs, o), format);
  std::fwrite(text.data(), 1, text.size(), stdout);

  if (a.has("--plot")) {
    report::PlotOptions p;
    p.title = o.metric.name;
    p.x_label = x == report::XAxis::step     ? "step"
                : x == report::XAxis::tokens ? "tokens"
                                             : "wall s";
    p.y_label = o.metric.name;
    p.log_y = a.has("--log-y");
    report::write_text(
        a.get("--plot"),
        report::plot_svg(report::metric_series(runs, o.metric, x, o.group_seeds, int(smooth)), p));
  }
  return 0;
}

}  // namespace nanolab::cli
