// Levenshtein distance with one row of the dynamic-programming table (names are short).
#include "nanolab/did_you_mean.hpp"

#include <algorithm>
#include <numeric>

namespace nanolab {

size_t edit_distance(std::string_view a, std::string_view b) {
  // row[j] = distance between the first i chars of a and the first j chars of b
  std::vector<size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), size_t{0});
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];  // distance(a[0, i-1), b[0, j-1))
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

size_t typo_distance(std::string_view typed) { return std::max<size_t>(2, typed.size() / 3); }

std::optional<std::string> did_you_mean(std::string_view typed,
                                        const std::vector<std::string>& candidates) {
  const size_t limit = typo_distance(typed);
  std::optional<std::string> best;
  size_t best_distance = limit + 1;
  for (const auto& candidate : candidates) {
    size_t d = edit_distance(typed, candidate);
    if (d < best_distance) {
      best = candidate;
      best_distance = d;
    }
  }
  return best;
}

std::string did_you_mean_hint(std::string_view typed, const std::vector<std::string>& candidates) {
  auto suggestion = did_you_mean(typed, candidates);
  return suggestion ? " (did you mean '" + *suggestion + "'?)" : "";
}

}  // namespace nanolab
