// Reporting (loader.hpp): every problem of the files and overrides in one ConfigError, files in the
// order they were read, each by line, as FILE:LINE:COLUMN: KEY: message with its hint.
#include <tuple>

#include "config/loader.hpp"
#include "nanolab/errors.hpp"

namespace nanolab::config {

namespace {

std::string format(const Problem& p, const std::string& main_file) {
  std::string out;
  if (p.origin.from_set)
    out = "--set ";
  else if (!p.origin.file.empty())
    out = p.origin.file + ":" + std::to_string(p.origin.line) + ":" +
          std::to_string(p.origin.column) + ": ";
  else
    out = main_file + ": ";  // a default value
  if (!p.key.empty()) out += p.key + ": ";
  out += p.message;
  if (!p.origin.from_set && p.origin.file.empty() && !p.key.empty()) out += " (the default)";
  if (!p.hint.empty()) out += "\n    hint: " + p.hint;
  return out;
}

}  // namespace

// One ConfigError listing every problem, files in the order they were read, each by line.
void throw_problems(const Loader& loader, const std::string& main_file) {
  if (loader.problems.empty()) return;
  std::vector<Problem> sorted = loader.problems;
  auto rank = [&](const Problem& p) {
    return std::tuple(p.origin.from_set       ? 1
                      : p.origin.file.empty() ? 2
                                              : 0,
                      loader.file_rank(p.origin.file), p.origin.line, p.origin.column);
  };
  std::stable_sort(sorted.begin(), sorted.end(),
                   [&](const Problem& a, const Problem& b) { return rank(a) < rank(b); });
  std::vector<std::string> lines;
  for (const auto& p : sorted) {
    std::string line = format(p, main_file);
    if (std::find(lines.begin(), lines.end(), line) == lines.end()) lines.push_back(line);
  }
  if (lines.size() == 1) throw ConfigError(lines.front());
  throw ConfigError(main_file + ": " + std::to_string(lines.size()) + " errors\n" +
                    join(lines, "\n"));
}

}  // namespace nanolab::config
