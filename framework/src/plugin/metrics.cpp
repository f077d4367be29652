// The rule for the names of recorded metrics (nanolab/metrics.hpp): what the trainer accepts from
// a plugin's Metrics::record, and what a search's metric may name.
#include <algorithm>

#include "nanolab/metrics.hpp"

namespace nanolab {

std::string metric_name_problem(std::string_view name) {
  constexpr size_t max_name_length = 64;
  const auto name_char = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-';
  };
  if (name.empty()) return "it is empty";
  if (name.size() > max_name_length)
    return "it is longer than " + std::to_string(max_name_length) + " characters";
  if (!std::all_of(name.begin(), name.end(), name_char))
    return "it holds a character other than letters, digits, '_', '.' and '-'";
  if (name == "step" || name == "." || name == "..")
    return "the name " + std::string(name) + " is reserved";
  return "";
}

}  // namespace nanolab
