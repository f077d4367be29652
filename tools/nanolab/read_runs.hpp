// The runs that `compare` and `report` show: their PATH arguments and the options that choose and
// order the runs (--metric, --sort, --where, --group-seeds, --baseline), declared once for both; then
// report::load_runs of the paths, with each file or folder that could not be read named on
// stderr, once, while the others are shown (docs/compare.md). Not used by `diff`, whose two runs
// are both required.
#pragma once

#include <string>
#include <vector>

#include "command_line.hpp"
#include "nanolab/report.hpp"

namespace nanolab::cli {

void add_run_filters(CLI::App* app);
// The options of add_run_filters, checked (ConfigError naming the option).
report::CompareOptions compare_options(const Parsed& a);

std::vector<report::Run> read_runs(const std::string& command,
                                   const std::vector<std::string>& paths);

}  // namespace nanolab::cli
