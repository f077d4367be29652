// `nanolab report PATH... -o|--out report.html [--metric KEY] [--sort KEY]
// [--where key=value[,value]]... [--group-seeds] [--baseline KEY=VALUE]...`: one self-contained
// HTML page about the runs (docs/compare.md): the page of `nanolab serve` with the runs embedded,
// built by the framework (report::report_page).
#include <cstdio>

#include "commands.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/report.hpp"
#include "read_runs.hpp"

namespace nanolab::cli {

namespace {

int make_report(const Parsed& a) {
  const report::CompareOptions o = compare_options(a);
  const std::vector<report::Run> runs = report::filter_runs(read_runs("report", a.positional()), o);
  if (runs.empty()) throw ConfigError("no run matches the --where filters");
  report::write_text(a.get("--out"), report::report_page(runs, o));
  std::printf("%s: %zu runs\n", a.get("--out").c_str(), runs.size());
  return 0;
}

}  // namespace

void add_report(CLI::App& nanolab, Commands& commands) {
  CLI::App* app = nanolab.add_subcommand(
      "report",
      "one self-contained HTML page about the runs, the dashboard of `nanolab serve` with "
      "the runs inlined (no server, no network): charts, runs table, compare table, "
      "samples");
  add_run_filters(app);
  add_value(app, "-o,--out", "FILE.html", "the page to write")->required();
  commands.push_back({app, make_report});
}

}  // namespace nanolab::cli
