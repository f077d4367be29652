// Reading experiment files (loader.hpp): TOML parsed by toml++, flattened into dotted keys that
// remember where they were written, and `include`s read before the file that names them (earlier
// files first; a cycle, or a file that cannot be read, stops before validation).
#include "config/loader.hpp"
#include "nanolab/input_file.hpp"

namespace nanolab::config {

void Loader::flatten(const std::string& path, const toml::node& node, const Origin& key_origin,
                     const Source& source, Entries& out) {
  const Origin value_origin = source.at(node.source());
  switch (classify(path)) {
    case Slot::value:
      out.insert_or_assign(path, Entry{&node, key_origin, value_origin});
      return;
    case Slot::plugin_leaf:
      // A table option: its fields by their dotted paths ("optimizer.window.size").
      if (const auto* table = node.as_table()) {
        for (const auto& [key, child] : *table)
          flatten(path + "." + std::string(key.str()), child, source.at(key.source()), source, out);
        return;
      }
      out.insert_or_assign(path, Entry{&node, key_origin, value_origin});
      return;
    case Slot::plugin_table:
    case Slot::table:
      if (const auto* table = node.as_table()) {
        for (const auto& [key, child] : *table) {
          const std::string child_path =
              path.empty() ? std::string(key.str()) : path + "." + std::string(key.str());
          flatten(child_path, child, source.at(key.source()), source, out);
        }
        return;
      }
      if (const auto* spec = find_key(path); spec && spec->type() == KeyType::plugin) {
        // A plugin's name alone is short for { plugin = NAME }: the plugin with its defaults.
        if (node.is_string()) {
          out.insert_or_assign(path + ".plugin", Entry{&node, key_origin, value_origin});
          return;
        }
        problem(value_origin, path, "expected " + expected_text(*spec) + ", got " + describe(node),
                path.find('.') == std::string::npos
                    ? "write " + path + " = \"NAME\", or plugin = \"NAME\" in the [" + path +
                          "] table"
                    : "write " + leaf_of(path) + " = \"NAME\", or " + leaf_of(path) +
                          " = { plugin = \"NAME\", option = value } in [" + parent_of(path) + "]");
      } else {
        problem(value_origin, path, "expected a table, got " + describe(node));
      }
      return;
    case Slot::unknown: {
      if (source.resolved && is_retired_key(path)) {  // upgraded by take_document
        out.insert_or_assign(path, Entry{&node, key_origin, value_origin});
        return;
      }
      if (path == "train.lr_decay_frac") {
        problem(key_origin, path, "unknown key: it is the wsd schedule's option decay_frac",
                "write lr_schedule = { plugin = \"wsd\", decay_frac = " + node_text(node) +
                    " } in [train]");
        return;
      }
      std::vector<std::string> siblings = keys_in(parent_of(path));
      if (parent_of(path).empty()) siblings.insert(siblings.end(), {"sweep", "search"});
      std::string hint;
      std::string suggestion = unknown_key_suggestion(path, siblings, hint);
      problem(key_origin, path,
              "unknown key" + std::string(source.from_set ? " (from --set)" : "") + suggestion,
              hint);
      return;
    }
  }
}

void Loader::take_document(const toml::table& root, const Source& source, const fs::path& path,
                           Layers& layers, bool allow_include_and_sweep) {
  Entries own;
  std::vector<Axis> own_sweep;
  SearchLayer own_search;
  for (const auto& [k, node] : root) {
    if (k.str() == "search") {
      if (!allow_include_and_sweep)
        problem(source.at(k.source()), "search", "a resolved config has no [search]");
      else if (const auto* table = node.as_table())
        read_search(*table, source.at(k.source()), source, own_search);
      else
        problem(source.at(node.source()), "search",
                "expected a table (method, trials, metric, ..., and [search.space]), got " +
                    describe(node));
    } else if (k.str() != "sweep") {
      flatten(std::string(k.str()), node, source.at(k.source()), source, own);
    } else if (!allow_include_and_sweep) {
      problem(source.at(k.source()), "sweep", "a resolved config has no [sweep]");
    } else if (const auto* table = node.as_table()) {
      read_sweep("", *table, source, own_sweep);
      // toml++ iterates a table in key order; the sweep turns in the order the file wrote it.
      std::stable_sort(own_sweep.begin(), own_sweep.end(), [](const Axis& a, const Axis& b) {
        return std::pair(a.origin.line, a.origin.column) <
               std::pair(b.origin.line, b.origin.column);
      });
    } else {
      problem(source.at(node.source()), "sweep",
              "expected a table of \"key\" = [values], got " + describe(node));
    }
  }

  if (source.resolved)
    upgrade_retired_keys(own, [](const Entry& e) {
      return e.node->is_string() ? e.node->as_string()->get() : std::string();
    });

  if (auto it = own.find("experiment.include"); it != own.end()) {
    const Entry include = it->second;
    own.erase(it);
    OptionValue files;
    if (!allow_include_and_sweep) {
      problem(include.key_origin, "experiment.include", "a resolved config includes nothing");
    } else if (const auto problems =
                   check_node(find_key("experiment.include")->value, *include.node, files);
               !problems.empty()) {
      for (const auto& p : problems)
        problem(place_of(include, p.element), "experiment.include", p.message);
    } else {
      // Earlier files first: each include is merged before the file that names it.
      for (const auto& element : *include.node->as_array()) {
        const Origin at = source.at(element.source());
        load_file((path.parent_path() / element.as_string()->get()).lexically_normal(), layers,
                  &at);
      }
    }
  }
  merge(layers, std::move(own), std::move(own_sweep));
  // [search] over the included files' key by key, as a table.
  if (own_search.given) {
    if (!layers.search.given) layers.search.origin = own_search.origin;
    layers.search.given = true;
    for (auto& [key, entry] : own_search.settings) layers.search.settings.insert_or_assign(key, entry);
    for (auto& [key, entry] : own_search.space) layers.search.space.insert_or_assign(key, entry);
  }
}

void Loader::load_file(const fs::path& path, Layers& layers, const Origin* from) {
  std::error_code ec;
  const fs::path canonical = fs::weakly_canonical(fs::absolute(path), ec);
  const std::string name = path.string();
  if (std::find(include_stack_.begin(), include_stack_.end(), canonical) != include_stack_.end()) {
    std::vector<std::string> chain = include_names_;
    chain.push_back(name);
    problem(*from, "experiment.include", "include cycle: " + join(chain, " -> "),
            "a file cannot include itself, directly or through another file");
    structure_broken = true;
    return;
  }

  // A FIFO, a device or a directory is refused before it is read, and so is a file too large to
  // be an experiment (input_file.hpp).
  std::string text;
  if (const std::string reason = read_input(path, input_limit::experiment, text);
      !reason.empty()) {
    if (!from) throw ConfigError(name + ": " + reason);
    problem(*from, "experiment.include",
            "cannot include '" + name + "': " + reason + " (looked for " +
                fs::absolute(path).string() + ")",
            "include paths are relative to the file that names them, or absolute");
    structure_broken = true;
    return;
  }
  files_.push_back(name);

  std::optional<toml::table> root = parse_toml(text, name);
  if (!root) return;
  include_stack_.push_back(canonical);
  include_names_.push_back(name);
  take_document(keep(std::move(*root)), Source{name, false}, path, layers, true);
  include_stack_.pop_back();
  include_names_.pop_back();
}

std::optional<toml::table> Loader::parse_toml(const std::string& text, const std::string& name) {
  try {
    return toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    problem(Origin{name, e.source().begin.line, e.source().begin.column, false}, "",
            "syntax error: " + std::string(e.description()));
    structure_broken = true;
    return std::nullopt;
  }
}

void Loader::parse_text(const std::string& text, const std::string& name, Layers& layers,
                        bool allow_include_and_sweep) {
  files_.push_back(name);
  std::optional<toml::table> root = parse_toml(text, name);
  if (!root) return;
  take_document(keep(std::move(*root)), Source{name, false, !allow_include_and_sweep},
                fs::path(name), layers, allow_include_and_sweep);
}

}  // namespace nanolab::config
