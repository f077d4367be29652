// The runs of `compare` and `report` (read_runs.hpp).
#include "read_runs.hpp"

#include <cstdio>

namespace nanolab::cli {

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
