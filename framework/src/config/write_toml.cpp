// The resolved config as TOML (loader.hpp): every key of the schema in its order, sections as
// tables, a plugin's options with it; what a run file stores and parse_resolved_config reads back.
// with_max_iters changes the one line that an extended run changes.
#include <cctype>

#include "config/loader.hpp"

namespace nanolab::config {

namespace {

std::string segment_text(const std::string& key) {
  const bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '-';
  });
  return bare ? key : to_string(OptionValue(key));
}

// An option's name as a TOML key: the field of a table option as a dotted key (window.size).
std::string key_text(const std::string& name) {
  std::string out;
  for (size_t begin = 0;;) {
    const size_t dot = name.find('.', begin);
    out += segment_text(name.substr(begin, dot - begin));
    if (dot == std::string::npos) return out;
    out += '.';
    begin = dot + 1;
  }
}

// `k = v` for each option, between `before` and `after`.
std::string options_text(const std::map<std::string, OptionValue>& options, const char* before,
                         const char* after) {
  std::string out;
  for (const auto& [name, value] : options)
    out += before + key_text(name) + " = " + to_string(value) + after;
  return out;
}

}  // namespace

std::string to_toml(const ExperimentConfig& config) {
  std::string out;
  std::string section;
  const std::map<std::string, OptionValue>* section_options = nullptr;
  // The options of a section's plugin ([optimizer]) close its section, after the framework's keys.
  auto end_section = [&] {
    if (section_options) out += options_text(*section_options, "", "\n");
    section_options = nullptr;
  };
  for (const auto& spec : schema()) {
    if (!has_field(spec)) continue;
    const std::string top = spec.key.substr(0, spec.key.find('.'));
    if (top != section) {
      end_section();
      out += (out.empty() ? "[" : "\n[") + top + "]\n";
      section = top;
    }
    if (spec.type() != KeyType::plugin) {
      out += spec.leaf() + " = " + to_string(field_value(config, spec)) + "\n";
      continue;
    }
    const PluginChoice& choice = config.*std::get<PluginChoice ExperimentConfig::*>(spec.field);
    if (spec.key == top) {
      out += "plugin = " + to_string(OptionValue(choice.plugin)) + "\n";
      section_options = &choice.options;
    } else {
      out += spec.leaf() + " = { plugin = " + to_string(OptionValue(choice.plugin)) +
             options_text(choice.options, ", ", "") + " }\n";
    }
  }
  end_section();
  return out;
}

std::string with_max_iters(const std::string& toml_text, int64_t max_iters) {
  // to_toml writes the key as a line of its own in [train], whose end is the next section's.
  const std::string section = "[train]\n", key = "\nmax_iters = ";
  const size_t train = toml_text.find(section);
  if (train == std::string::npos || (train > 0 && toml_text[train - 1] != '\n')) return toml_text;
  const size_t end = toml_text.find("\n[", train);
  const size_t at = toml_text.find(key, train + section.size() - 1);
  if (at == std::string::npos || at >= end) return toml_text;
  const size_t value = at + key.size(), eol = std::min(toml_text.find('\n', value), toml_text.size());
  return toml_text.substr(0, value) + std::to_string(max_iters) + toml_text.substr(eol);
}

}  // namespace nanolab::config
