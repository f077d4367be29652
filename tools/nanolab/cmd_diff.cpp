// `nanolab diff RUN_A RUN_B [--only-differ] [--format table|csv|json|markdown]`: two runs side by
// side — the configuration keys that differ, plugins (name, version, sha256), provenance (git
// commit, dirty flag, library versions) and summary metrics, each row that differs marked `*` —
// then the uncommitted git diff of each run when the two differ (docs/compare.md). The table is
// built by the framework (report::diff_table).
#include <unistd.h>

#include <cstdio>
#include <sstream>

#include "commands.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/report.hpp"

namespace nanolab::cli {

namespace {

int diff(const Parsed& a) {
  const report::Format format = report::parse_format(a.get("--format", "table"));
  std::vector<report::Run> runs;
  for (const auto& path : a.positional()) {
    const auto files = report::find_runs({path});
    if (files.size() != 1)
      throw ConfigError(path + ": holds " + std::to_string(files.size()) +
                        " runs; diff takes one run directory or run.h5 for each side");
    runs.push_back(report::load_run(files[0]));
  }
  std::string text =
      report::render(report::diff_table(runs[0], runs[1], a.has("--only-differ")), format);
  // At a terminal, the rows that differ (marked `*`) in bold as well.
  if (format == report::Format::table && isatty(STDOUT_FILENO)) {
    std::string bold;
    std::istringstream lines(text);
    for (std::string line; std::getline(lines, line);)
      bold += line.rfind('*', 0) == 0 ? "\033[1m" + line + "\033[0m\n" : line + "\n";
    text = bold;
  }
  auto git_diff = [](const report::Run& run) {
    const auto it = run.log.meta.find("git_diff");
    return it == run.log.meta.end() ? std::string() : it->second;
  };
  // The table shows a diff's first line only; in full here, for a reader at a terminal.
  if (format == report::Format::table && git_diff(runs[0]) != git_diff(runs[1])) {
    for (const auto& run : runs) {
      const std::string diff = git_diff(run);
      text += "\nuncommitted diff of " + run.log.run + ":\n" + (diff.empty() ? "(none)\n" : diff);
    }
  }
  std::fwrite(text.data(), 1, text.size(), stdout);
  return 0;
}

}  // namespace

void add_diff(CLI::App& nanolab, Commands& commands) {
  CLI::App* app = nanolab.add_subcommand(
      "diff", "two runs side by side: configuration, plugins, git, versions and summary");
  add_positional(app, "RUN_A", "a run directory or its run.h5");
  add_positional(app, "RUN_B", "a run directory or its run.h5");
  add_flag(app, "--only-differ", "only the rows whose two values differ");
  add_value(app, "--format", "table|csv|json|markdown",
            "how the table is written (default: table)");
  commands.push_back({app, diff});
}

}  // namespace nanolab::cli
