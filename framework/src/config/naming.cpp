// Names (loader.hpp, experiment.hpp): of runs (the shortest key tail that tells the swept and
// --set keys apart, values as folder-safe pieces), of folders, and the rule of experiment.name.
#include <cctype>
#include <cstdio>

#include "config/loader.hpp"

namespace nanolab::config {

// The shortest tail of each swept key that tells it apart from the others ("lr",
// "attention.plugin"); a lone "plugin" would not say which.
// The last n segments of a dotted key.
std::string key_tail(const std::string& key, size_t n) {
  size_t at = key.size();
  for (size_t i = 0; i < n && at != std::string::npos && at > 0; ++i) at = key.rfind('.', at - 1);
  return at == std::string::npos ? key : key.substr(at + 1);
}

// `text` with every character other than letters, digits, '.', '_', '-' and '+' made '_': a
// piece of a run's name holds no '/', no '=' or ',' of its own, and no control character.
std::string folder_safe(std::string text) {
  for (char& c : text)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
          c == '+'))
      c = '_';
  return text;
}

std::vector<std::string> key_labels(const std::vector<std::string>& keys) {
  const auto tail = key_tail;
  std::vector<std::string> labels;
  for (const auto& key : keys) {
    size_t n = leaf_of(key) == "plugin" ? 2 : 1;
    auto clash = [&](size_t segments) {
      for (const auto& other : keys)
        if (other != key && tail(other, segments) == tail(key, segments)) return true;
      return false;
    };
    while (clash(n) && tail(key, n) != key) ++n;
    labels.push_back(folder_safe(tail(key, n)));
  }
  return labels;
}

// A value as a piece of a folder name: strings bare, no separators, at most 32 characters.
std::string name_piece(const toml::node& node) {
  std::string text;
  if (const auto* s = node.as_string()) {
    text = s->get();
  } else if (const auto* a = node.as_array()) {
    // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) about `"+" + piece`.
    for (const auto& element : *a) text.append(text.empty() ? "" : "+").append(name_piece(element));
  } else {
    text = node_text(node);
  }
  return folder_safe(text).substr(0, 32);
}

// experiment.name: a folder name (folder_name_problem) of letters, digits, '.', '_' and '-'.
std::string experiment_name_problem(const std::string& s) {
  if (std::string problem = folder_name_problem(s); !problem.empty()) return problem;
  const bool plain = std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-';
  });
  return plain ? "" : "holds characters other than letters, digits, '.', '_' and '-'";
}

}  // namespace nanolab::config

namespace nanolab {

std::string folder_name_problem(const std::string& name) {
  if (name.empty()) return "is empty";
  if (name == "." || name == "..") return "is '" + name + "', which is not a folder of its own";
  if (name.find('/') != std::string::npos) return "holds a '/': it would be a path, not a name";
  for (size_t i = 0; i < name.size(); ++i)
    if (const auto c = static_cast<unsigned char>(name[i]); c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", c);
      return "holds the control character " + std::string(hex) + " at byte " + std::to_string(i);
    }
  if (name.size() > max_folder_name_bytes)
    return "is " + std::to_string(name.size()) + " bytes long, more than the " +
           std::to_string(max_folder_name_bytes) + " a folder name may have";
  return "";
}

}  // namespace nanolab
