// `nanolab compare PATH... [--metric KEY] [--sort KEY] [--where key=value[,value]]... [--all-keys]
// [--group-seeds] [--baseline KEY=VALUE]... [--format table|csv|json|markdown] [--plot FILE.svg]
// [--x step|tokens|wall] [--log-y] [--smooth N]`: the table of runs with the configuration keys
// that differ between them, or of seed groups with their statistics (docs/compare.md), on stdout;
// optionally the metric's curves as an SVG file. The work is in the framework
// (nanolab/report.hpp); this file only maps options onto it.
#include <cstdio>

#include "commands.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/report.hpp"
#include "read_runs.hpp"

namespace nanolab::cli {

namespace {

int compare(const Parsed& a) {
  report::CompareOptions o = compare_options(a);
  o.all_keys = a.has("--all-keys");
  const report::Format format = report::parse_format(a.get("--format", "table"));
  const report::XAxis x = report::parse_x_axis(a.get("--x", "step"));
  const double smooth = a.number("--smooth", 1);
  if (smooth < 1 || smooth != int(smooth))
    throw ConfigError("--smooth: expected a whole number of points >= 1");

  const std::vector<report::Run> runs =
      report::filter_runs(read_runs("compare", a.positional()), o);
  if (runs.empty()) throw ConfigError("no run matches the --where filters");
  report::Table table = report::compare_table(report::refs(runs), o);
  // Seed groups for a reader: mean ± std in one cell (csv and json keep a column for each).
  if (format == report::Format::table || format == report::Format::markdown)
    table = report::spread_cells(table, o.metric);
  const std::string text = report::render(table, format);
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

}  // namespace

void add_compare(CLI::App& nanolab, Commands& commands) {
  CLI::App* app = nanolab.add_subcommand(
      "compare",
      "the runs side by side: the configuration keys that differ and a metric's best "
      "value");
  add_run_filters(app);
  add_flag(app, "--all-keys", "every configuration key, not only those that differ");
  add_value(app, "--format", "table|csv|json|markdown",
            "how the table is written (default: table)");
  add_value(app, "--plot", "FILE.svg", "also draw the metric's curves into an SVG file");
  add_value(app, "--x", "step|tokens|wall", "the plot's x axis (default: step)");
  add_flag(app, "--log-y", "a logarithmic y axis");
  add_value(app, "--smooth", "N", "the plot's curves as moving averages of N points (default: 1)");
  commands.push_back({app, compare});
}

}  // namespace nanolab::cli
