// The runs that `compare` and `report` show: report::load_runs of their PATH arguments, with each
// file or folder that could not be read named on stderr, once, while the others are shown
// (docs/compare.md). Not used by `diff`, whose two runs are both required.
#pragma once

#include <string>
#include <vector>

#include "nanolab/report.hpp"

namespace nanolab::cli {

std::vector<report::Run> read_runs(const std::string& command,
                                   const std::vector<std::string>& paths);

}  // namespace nanolab::cli
