// The sweep (loader.hpp): [sweep] axes ("dotted.key" = [values], seeds, cases) read from a file, and
// their expansion into runs, an odometer over the axes with the last turning fastest, each run
// resolved and named after its values.
#include <set>

#include "nanolab/did_you_mean.hpp"
#include "config/loader.hpp"

namespace nanolab::config {

// [sweep]: "dotted.key" = [values]; an unquoted dotted key makes nested tables, read the same way.
void Loader::read_sweep(const std::string& prefix, const toml::table& table, const Source& source,
                        std::vector<Axis>& out) {
  for (const auto& [k, node] : table) {
    const std::string written = prefix + std::string(k.str());
    const Origin origin = source.at(k.source());
    const std::string shown = "sweep." + written;
    if (prefix.empty() && written == "cases") {
      read_cases(node, origin, source, out);
      continue;
    }
    if (prefix.empty() && written == "seeds" && !node.is_array()) {
      problem(source.at(node.source()), shown, "expected an array of seeds, got " + describe(node));
      continue;
    }
    if (const auto* inner = node.as_table(); inner && classify(written) != Slot::value) {
      read_sweep(written + ".", *inner, source, out);
      continue;
    }
    std::string key = prefix.empty() && written == "seeds" ? "experiment.seed" : written;
    // A plugin table swept by its plugins' names: "train.lr_schedule" = ["cosine", "wsd"].
    if (classify(key) == Slot::plugin_table && node.is_array()) key += ".plugin";
    if (!check_varied_key(key, origin, shown, false)) continue;
    const auto* values = node.as_array();
    if (!values) {
      problem(source.at(node.source()), shown, "expected an array of values, got " + describe(node),
              "each run takes one element: \"" + key + "\" = [a, b]");
      continue;
    }
    if (values->empty()) {
      problem(source.at(node.source()), shown, "an empty array makes no runs");
      continue;
    }
    auto same = [&](const Axis& a) { return a.sets(key); };
    if (std::find_if(out.begin(), out.end(), same) != out.end()) {
      problem(
          origin, shown, key + " is swept twice",
          key == "experiment.seed" ? "seeds = [...] is short for \"experiment.seed\" = [...]" : "");
      continue;
    }
    out.push_back(Axis{key, values, origin, {}});
  }
}

bool Loader::check_varied_key(const std::string& key, const Origin& origin,
                              const std::string& shown, bool search) {
  const std::string verb = search ? "search" : "sweep";
  const Slot slot = classify(key);
  if (slot == Slot::unknown) {
    std::vector<std::string> candidates = leaf_keys();
    if (!search) candidates.push_back("seeds");
    problem(origin, shown, "unknown key" + did_you_mean_hint(key, candidates),
            "a " + verb + " key is the full dotted key of a value, in quotes: \"model.n_layer\" = " +
                (search ? "{ int_uniform = [2, 6] }" : "[4, 6]"));
    return false;
  }
  if (slot == Slot::table || slot == Slot::plugin_table) {
    problem(origin, shown, "cannot " + verb + " the table " + key + "; " + verb + " one of its keys",
            slot == Slot::plugin_table
                ? "e.g. \"" + key + (search ? ".plugin\" = { choice = [\"NAME\", ...] }"
                                           : "\" = [\"NAME\", ...]")
                : "");
    return false;
  }
  if (const auto* spec = find_key(key); spec && !spec->sweepable) {
    problem(origin, shown,
            key + " cannot be " + (search ? "searched" : "swept") + ": it is the same for every run");
    return false;
  }
  return true;
}

// sweep.cases = [{ "key" = value, ... }, ...]: one run per case (times the other axes), each
// setting its keys as a file would. For variants that are not a grid: a plugin with its own
// options, or one optimizer's own learning rates.
void Loader::read_cases(const toml::node& node, const Origin& origin, const Source& source,
                        std::vector<Axis>& out) {
  const auto* array = node.as_array();
  const std::string hint =
      "cases = [{ \"model.attention.plugin\" = \"gqa\" }, { \"model.position\" = \"rope\" }]";
  if (!array || array->empty()) {
    problem(source.at(node.source()), "sweep.cases",
            array ? "an empty array makes no runs" : "expected an array of tables, got " + describe(node),
            hint);
    return;
  }
  Axis axis{"cases", array, origin, {}};
  for (const toml::node& element : *array) {
    const auto* table = element.as_table();
    if (!table || table->empty()) {
      problem(source.at(element.source()), "sweep.cases",
              "expected a table of the keys one case sets, got " + describe(element), hint);
      continue;
    }
    Entries keys;
    flatten("", *table, source.at(element.source()), source, keys);
    for (const auto& [key, entry] : keys) {
      if (const auto* spec = find_key(key); spec && !spec->sweepable)
        problem(entry.key_origin, "sweep.cases", key + " cannot be swept: it is the same for every run");
      // Named capture: clang 14 (the sanitizer build) cannot capture a structured binding.
      else if (std::any_of(out.begin(), out.end(),
                           [&key = key](const Axis& a) { return a.sets(key); }))
        problem(entry.key_origin, "sweep.cases", key + " is swept twice: by a case and by [sweep]");
    }
    axis.cases.push_back(std::move(keys));
  }
  out.push_back(std::move(axis));
}

std::vector<RunSpec> expand_sweep(const Layers& layers, Loader& loader) {
  size_t total = 1;
  for (const auto& axis : layers.sweep) {
    total *= axis.size();
    if (total > 100000) {
      loader.problem(axis.origin, "sweep", "the sweep makes more than 100000 runs");
      return {};
    }
  }
  // The keys --set gave name every run first (a sweep whose lr is set from the command line
  // makes runs apart from those of another lr), then the sweep's axes.
  std::vector<std::string> named_keys;
  for (const auto& [key, entry] : layers.set) named_keys.push_back(key);
  for (const auto& axis : layers.sweep) named_keys.push_back(axis.key);
  const auto labels = key_labels(named_keys);
  std::vector<std::string> set_pieces;
  for (const auto& [key, entry] : layers.set)
    set_pieces.push_back(labels[set_pieces.size()] + "=" + name_piece(*entry.node));

  std::vector<RunSpec> runs;
  std::set<std::string> names;
  for (size_t run = 0; run < total; ++run) {
    Entries entries = layers.entries;
    RunSpec spec;
    std::vector<std::string> pieces = set_pieces;
    // Odometer over the axes, the last one turning fastest.
    size_t rest = run;
    std::vector<size_t> index(layers.sweep.size());
    for (size_t a = layers.sweep.size(); a-- > 0;) {
      index[a] = rest % layers.sweep[a].size();
      rest /= layers.sweep[a].size();
    }
    for (size_t a = 0; a < layers.sweep.size(); ++a) {
      const Axis& axis = layers.sweep[a];
      if (!axis.cases.empty()) {  // keys in the order the case writes them
        const Entries& keys = axis.cases[index[a]];
        assign(entries, keys);
        std::vector<std::pair<std::pair<int64_t, int64_t>, std::string>> written;
        for (const auto& [key, entry] : keys)
          written.push_back({{entry.key_origin.line, entry.key_origin.column}, key});
        std::sort(written.begin(), written.end());
        for (const auto& [at, key] : written) {
          const toml::node& value = *keys.at(key).node;
          spec.swept[key] = node_text(value);
          // A plugin key keeps its table's name.
          pieces.push_back(folder_safe(key_tail(key, leaf_of(key) == "plugin" ? 2 : 1)) + "=" +
                           name_piece(value));
        }
        continue;
      }
      const toml::node& value = *axis.values->get(index[a]);
      assign(entries, {{axis.key, Entry{&value, axis.origin,
                                        Source{axis.origin.file, false}.at(value.source())}}});
      spec.swept[axis.key] = node_text(value);
      pieces.push_back(labels[layers.set.size() + a] + "=" + name_piece(value));
    }
    spec.config = resolve(entries, loader, true);
    // Without a [sweep] or --set the one run is "run"; a sweep of one run is named like any other
    // sweep run, so that runs added to its folder later by another case never collide with it.
    spec.name = pieces.empty() ? "run" : join(pieces, ",");
    // Values that differ only in characters a folder name cannot hold would collide.
    for (int n = 2; names.count(spec.name); ++n)
      spec.name = join(pieces, ",") + "-" + std::to_string(n);
    names.insert(spec.name);
    if (const std::string problem = folder_name_problem(spec.name); !problem.empty())
      loader.problem(layers.sweep.empty() ? Origin{"", 0, 0, true} : layers.sweep.front().origin,
                     "sweep",
                     "the name of run " + std::to_string(run + 1) + ", '" +
                         (spec.name.size() > 64 ? spec.name.substr(0, 64) + "..." : spec.name) +
                         "', " + problem,
                     "sweep or --set fewer keys, or give shorter string values");
    runs.push_back(std::move(spec));
  }
  return runs;
}

}  // namespace nanolab::config
