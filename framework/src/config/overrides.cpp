// `--set key=value` (loader.hpp): the value is TOML, or the bare word it spells; a key set on the
// command line is the last word, is no longer swept or searched, and names the runs like a swept key.
#include "config/loader.hpp"

namespace nanolab::config {

namespace {

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

}  // namespace

void Loader::apply_set(const std::string& assignment, Layers& layers) {
  const Origin at{"", 0, 0, true};
  const auto eq = assignment.find('=');
  const std::string key =
      eq == std::string::npos ? trim(assignment) : trim(assignment.substr(0, eq));
  if (eq == std::string::npos || key.empty()) {
    problem(at, assignment, "expected key=value", "e.g. --set model.n_layer=6");
    return;
  }
  if (key == "experiment.include" || key.rfind("sweep", 0) == 0 || key.rfind("search", 0) == 0) {
    problem(at, key, "can only be given in an experiment file (from --set)");
    return;
  }
  // The value is TOML (`6`, `1e-3`, `[0.9, 0.95]`, `"text"`); a bare word that is not valid TOML,
  // such as `tinyshakespeare` or `synthetic:add`, is the string it spells.
  const std::string value = assignment.substr(eq + 1);
  std::optional<toml::table> parsed;
  if (value.find_first_of("\r\n") == std::string::npos) {
    const std::string document = "v = " + value;
    try {
      parsed = toml::parse(std::string_view(document), std::string_view("--set"));
    } catch (const toml::parse_error&) {
      // not TOML: taken as the bare word below
    }
  }
  if (!parsed || parsed->size() != 1 || !parsed->contains("v")) {
    parsed = toml::table{};
    parsed->insert("v", value);
  }
  const toml::table& kept = keep(std::move(*parsed));
  Entries set;
  flatten(key, *kept.get("v"), at, Source{"", true}, set);
  // The command line is the last word: a key it sets is no longer swept.
  for (const auto& [k, entry] : set) {
    // Named capture: clang 14 (the sanitizer build) cannot capture a structured binding.
    layers.sweep.erase(std::remove_if(layers.sweep.begin(), layers.sweep.end(),
                                      [&k = k](const Axis& a) { return a.key == k; }),
                       layers.sweep.end());
    for (Axis& axis : layers.sweep)
      for (Entries& c : axis.cases) c.erase(k);
    layers.search.space.erase(k);  // nor searched
  }
  for (const auto& [k, entry] : set)
    if (k != "experiment.name") layers.set.insert_or_assign(k, entry);  // it names the folder above
  merge(layers, std::move(set), {});
}

}  // namespace nanolab::config
