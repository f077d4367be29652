// Experiment files (experiment.hpp): read, include, override, validate, expand the sweep, write the
// resolved config back as TOML.
//
// The TOML tree of each file is flattened into dotted keys ("model.n_embd", "optimizer.betas"),
// each remembering where it was written; files merge key by key (included files first, the
// including file over them, then --set), so "later keys win" is a map assignment. Every check
// appends a Problem instead of throwing, so one ConfigError lists all of them. Syntax and include
// errors stop before validation (what is left of the tree would give errors that are not real).
// toml++ checks nothing about types or keys (STACK.md): every check is here, against the schema.
// Not a trainer: nothing here creates a file or a folder.
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <set>
#include <sstream>
#include <tuple>

#include "nanolab/did_you_mean.hpp"
#include "config/schema.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/gpt2.hpp"
#include "nanolab/input_file.hpp"
#include "nanolab/registry.hpp"

namespace nanolab {
namespace fs = std::filesystem;

namespace config {
namespace {

struct Origin {
  std::string file;  // empty with from_set false: a default value
  int64_t line = 0;
  int64_t column = 0;
  bool from_set = false;
};

struct Problem {
  Origin origin;
  std::string key;
  std::string message;
  std::string hint;
};

// Where the nodes of one document come from: a file, or a --set value.
struct Source {
  std::string file;
  bool from_set = false;
  Origin at(const toml::source_region& region) const {
    if (from_set) return Origin{"", 0, 0, true};
    return Origin{file, region.begin.line, region.begin.column, false};
  }
};

struct Entry {
  const toml::node* node;
  Origin key_origin;    // where the key was written: unknown-key errors
  Origin value_origin;  // where the value was written: type and range errors
};
using Entries = std::map<std::string, Entry>;

struct Axis {
  std::string key;  // full key; `seeds` is experiment.seed; "cases" for sweep.cases
  const toml::array* values;
  Origin origin;
  std::vector<Entries> cases;  // sweep.cases: the keys each case sets, one run each

  bool sets(const std::string& full_key) const {
    if (key == full_key) return true;
    for (const Entries& c : cases)
      if (c.count(full_key)) return true;
    return false;
  }
  size_t size() const { return cases.empty() ? values->size() : cases.size(); }
};

// What the files and overrides say, merged: later keys win, sweep axes in file order.
struct Layers {
  Entries entries;
  std::vector<Axis> sweep;
};

// Sets `from` over `into` (defined with the key classification below).
void assign(Entries& into, const Entries& from);

void merge(Layers& into, Entries entries, std::vector<Axis> sweep) {
  assign(into.entries, entries);
  // An axis swept again by a later file replaces the earlier one in its place.
  for (auto& axis : sweep) {
    auto same = [&](const Axis& a) { return a.key == axis.key; };
    auto it = std::find_if(into.sweep.begin(), into.sweep.end(), same);
    if (it != into.sweep.end())
      *it = std::move(axis);
    else
      into.sweep.push_back(std::move(axis));
  }
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

// ---- describing TOML values in messages ---------------------------------------------------

std::string node_text(const toml::node& node) {
  if (const auto* v = node.as_string()) return to_string(OptionValue(v->get()));
  if (const auto* v = node.as_integer()) return std::to_string(v->get());
  if (const auto* v = node.as_floating_point()) return to_string(OptionValue(v->get()));
  if (const auto* v = node.as_boolean()) return v->get() ? "true" : "false";
  if (const auto* a = node.as_array()) {
    std::vector<std::string> items;
    for (const auto& element : *a) items.push_back(node_text(element));
    return "[" + join(items, ", ") + "]";
  }
  if (node.is_table()) return "{ ... }";
  std::ostringstream out;  // dates and times, in TOML's own format
  if (const auto* v = node.as_date()) out << v->get();
  if (const auto* v = node.as_time()) out << v->get();
  if (const auto* v = node.as_date_time()) out << v->get();
  return out.str();
}

// `a string "four"`, `an integer 4`, `a table`.
std::string describe(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string " + node_text(node);
    case toml::node_type::integer:
      return "an integer " + node_text(node);
    case toml::node_type::floating_point:
      return "a float " + node_text(node);
    case toml::node_type::boolean:
      return "a boolean " + node_text(node);
    case toml::node_type::array:
      return "an array " + node_text(node);
    case toml::node_type::table:
      return "a table";
    case toml::node_type::date:
      return "a date " + node_text(node);
    case toml::node_type::time:
      return "a time " + node_text(node);
    case toml::node_type::date_time:
      return "a date-time " + node_text(node);
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

// ---- values against the schema --------------------------------------------------------------

std::optional<KeyValue> to_key_value(const KeySpec& spec, const toml::node& node,
                                     std::string& error) {
  switch (spec.type()) {
    case KeyType::boolean:
      if (const auto* v = node.as_boolean()) return KeyValue(v->get());
      break;
    case KeyType::integer:
      if (const auto* v = node.as_integer()) return KeyValue(int64_t(v->get()));
      break;
    case KeyType::number:
      // `lr = 1` means 1.0, as every TOML user expects; the reverse is not true of integers.
      if (const auto* v = node.as_integer()) return KeyValue(double(v->get()));
      if (const auto* v = node.as_floating_point()) return KeyValue(v->get());
      break;
    case KeyType::string:
      if (const auto* v = node.as_string()) return KeyValue(v->get());
      break;
    case KeyType::string_list:
      if (const auto* a = node.as_array()) {
        std::vector<std::string> list;
        for (size_t i = 0; i < a->size(); ++i) {
          const auto* s = (*a)[i].as_string();
          if (!s) {
            error = "expected an array of strings, got " + describe((*a)[i]) + " as element " +
                    std::to_string(i + 1);
            return std::nullopt;
          }
          list.push_back(s->get());
        }
        return KeyValue(std::move(list));
      }
      break;
    case KeyType::plugin:
      break;
  }
  error = "expected " + expected_text(spec) + ", got " + describe(node);
  return std::nullopt;
}

// What is wrong with a value of the right type: range, finiteness, choices ("" when nothing).
std::string value_problem(const KeySpec& spec, const KeyValue& value) {
  if (spec.type() == KeyType::integer || spec.type() == KeyType::number) {
    const double v = spec.type() == KeyType::integer ? double(std::get<int64_t>(value))
                                                     : std::get<double>(value);
    if (!std::isfinite(v)) return value_text(value) + " is not a finite number";
    // Written so that NaN fails every bound.
    const bool above_min = !spec.min || (spec.min_exclusive ? v > *spec.min : v >= *spec.min);
    const bool below_max = !spec.max || (spec.max_exclusive ? v < *spec.max : v <= *spec.max);
    if (!above_min || !below_max)
      return "must be " + allowed_text(spec) + ", got " + value_text(value);
  }
  if (spec.type() == KeyType::string && !spec.choices.empty()) {
    const auto& s = std::get<std::string>(value);
    if (std::find(spec.choices.begin(), spec.choices.end(), s) == spec.choices.end())
      return "must be " + allowed_text(spec) + ", got " + value_text(value) +
             did_you_mean_hint(s, spec.choices);
  }
  return "";
}

std::optional<OptionValue> to_option_value(const toml::node& node) {
  if (const auto* v = node.as_boolean()) return OptionValue(v->get());
  if (const auto* v = node.as_integer()) return OptionValue(int64_t(v->get()));
  if (const auto* v = node.as_floating_point()) return OptionValue(v->get());
  if (const auto* v = node.as_string()) return OptionValue(v->get());
  if (const auto* a = node.as_array()) {
    std::vector<double> list;
    for (const auto& element : *a) {
      if (const auto* i = element.as_integer())
        list.push_back(double(i->get()));
      else if (const auto* f = element.as_floating_point())
        list.push_back(f->get());
      else
        return std::nullopt;
    }
    return OptionValue(std::move(list));
  }
  return std::nullopt;
}

KeyValue field_value(const ExperimentConfig& config, const KeySpec& spec) {
  return std::visit(
      [&](auto member) -> KeyValue {
        using Member = std::remove_cv_t<std::remove_reference_t<decltype(config.*member)>>;
        if constexpr (std::is_same_v<Member, PluginChoice>)
          return (config.*member).plugin;
        else
          return config.*member;
      },
      spec.field);
}

void set_field(ExperimentConfig& config, const KeySpec& spec, const KeyValue& value) {
  std::visit(
      [&](auto member) {
        using Member = std::remove_reference_t<decltype(config.*member)>;
        if constexpr (!std::is_same_v<Member, PluginChoice>)
          config.*member = std::get<Member>(value);
      },
      spec.field);
}

bool has_field(const KeySpec& spec) {
  return std::visit([](auto member) { return member != nullptr; }, spec.field);
}

// ---- where a dotted key belongs ---------------------------------------------------------------

enum class Slot { value, plugin_table, plugin_leaf, table, unknown };

Slot classify(const std::string& path) {
  if (const auto* spec = find_key(path))
    return spec->type() == KeyType::plugin ? Slot::plugin_table : Slot::value;
  const auto dot = path.rfind('.');
  if (dot != std::string::npos) {
    const auto* parent = find_key(path.substr(0, dot));
    if (parent && parent->type() == KeyType::plugin) return Slot::plugin_leaf;
  }
  return is_table_path(path) ? Slot::table : Slot::unknown;
}

std::string parent_of(const std::string& path) {
  const auto dot = path.rfind('.');
  return dot == std::string::npos ? "" : path.substr(0, dot);
}

std::string leaf_of(const std::string& path) { return path.substr(path.rfind('.') + 1); }

// Sets `from` over `into`, later keys winning. A plugin's options belong to the plugin named with
// them: when `from` names another plugin for a table ("optimizer.plugin" = "sgd" over "adamw"),
// the options `into` holds for the earlier plugin are dropped with it.
void assign(Entries& into, const Entries& from) {
  for (const auto& [key, entry] : from) {
    if (leaf_of(key) != "plugin") continue;
    const auto earlier = into.find(key);
    if (earlier == into.end() || node_text(*earlier->second.node) == node_text(*entry.node))
      continue;
    const std::string table = key.substr(0, key.size() - std::string("plugin").size());
    for (auto it = into.lower_bound(table); it != into.end() && it->first.rfind(table, 0) == 0;)
      it = classify(it->first) == Slot::plugin_leaf && leaf_of(it->first) != "plugin"
               ? into.erase(it)
               : std::next(it);
  }
  for (const auto& [key, entry] : from) into.insert_or_assign(key, entry);
}


// " (did you mean 'model.n_layer'?)" from the keys of the same table, or else a key of the same
// name in another table ("model.lr" -> "optimizer.lr"); `hint` gets the table's keys when neither.
std::string unknown_key_suggestion(const std::string& path, std::vector<std::string> siblings,
                                   std::string& hint) {
  if (auto near = did_you_mean(path, siblings)) return " (did you mean '" + *near + "'?)";
  for (const auto& key : leaf_keys())
    if (leaf_of(key) == leaf_of(path) && key != path)
      return " (did you mean '" + key + "'? it belongs to [" + parent_of(key) + "])";
  for (auto& s : siblings) s = leaf_of(s);
  const std::string table = parent_of(path);
  hint = (table.empty() ? "the top-level tables are " : "the keys of [" + table + "] are ") +
         join(siblings, ", ");
  return "";
}

// ---- the loader -------------------------------------------------------------------------------

class Loader {
 public:
  std::vector<Problem> problems;
  bool structure_broken = false;  // a syntax or include error: validation would only add noise

  void problem(Origin origin, std::string key, std::string message, std::string hint = "") {
    problems.push_back({std::move(origin), std::move(key), std::move(message), std::move(hint)});
  }

  // Reads `path` and what it includes into `layers`. `from` is the include element naming it.
  void load_file(const fs::path& path, Layers& layers, const Origin* from = nullptr);
  void parse_text(const std::string& text, const std::string& name, Layers& layers,
                  bool allow_include_and_sweep);
  void apply_set(const std::string& assignment, Layers& layers);

  const toml::table& keep(toml::table table) {
    documents_.push_back(std::move(table));
    return documents_.back();
  }

  size_t file_rank(const std::string& file) const {
    auto it = std::find(files_.begin(), files_.end(), file);
    return size_t(it - files_.begin());
  }

 private:
  void flatten(const std::string& path, const toml::node& node, const Origin& key_origin,
               const Source& source, Entries& out);
  void read_sweep(const std::string& prefix, const toml::table& table, const Source& source,
                  std::vector<Axis>& out);
  void read_cases(const toml::node& node, const Origin& origin, const Source& source,
                  std::vector<Axis>& out);
  void take_document(const toml::table& root, const Source& source, const fs::path& path,
                     Layers& layers, bool allow_include_and_sweep);

  std::deque<toml::table> documents_;  // every Entry points into these; a deque never moves them
  std::vector<std::string> files_;     // in the order they were read
  std::vector<fs::path> include_stack_;
  std::vector<std::string> include_names_;
};

void Loader::flatten(const std::string& path, const toml::node& node, const Origin& key_origin,
                     const Source& source, Entries& out) {
  const Origin value_origin = source.at(node.source());
  switch (classify(path)) {
    case Slot::value:
      out.insert_or_assign(path, Entry{&node, key_origin, value_origin});
      return;
    case Slot::plugin_leaf:
      if (node.is_table()) {
        problem(value_origin, path,
                "expected a boolean, number, string or array of numbers, got a table",
                "plugin options are plain values");
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
        const std::string name = node.is_string() ? node_text(node) : "\"NAME\"";
        problem(value_origin, path, "expected " + expected_text(*spec) + ", got " + describe(node),
                path.find('.') == std::string::npos
                    ? "write plugin = " + name + " in the [" + path + "] table"
                    : "write " + leaf_of(path) + " = { plugin = " + name + " } in [" +
                          parent_of(path) + "]");
      } else {
        problem(value_origin, path, "expected a table, got " + describe(node));
      }
      return;
    case Slot::unknown: {
      std::vector<std::string> siblings = keys_in(parent_of(path));
      if (parent_of(path).empty()) siblings.push_back("sweep");
      std::string hint;
      std::string suggestion = unknown_key_suggestion(path, siblings, hint);
      problem(key_origin, path,
              "unknown key" + std::string(source.from_set ? " (from --set)" : "") + suggestion,
              hint);
      return;
    }
  }
}

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
    const std::string key = prefix.empty() && written == "seeds" ? "experiment.seed" : written;
    const Slot slot = classify(key);
    if (slot == Slot::unknown) {
      std::vector<std::string> candidates = leaf_keys();
      candidates.push_back("seeds");
      problem(
          origin, shown, "unknown key" + did_you_mean_hint(key, candidates),
          "a sweep key is the full dotted key of a value, in quotes: \"model.n_layer\" = [4, 6]");
      continue;
    }
    if (slot == Slot::table || slot == Slot::plugin_table) {
      problem(origin, shown, "cannot sweep the table " + key + "; sweep one of its keys",
              slot == Slot::plugin_table ? "e.g. \"" + key + ".plugin\" = [...]" : "");
      continue;
    }
    if (const auto* spec = find_key(key); spec && !spec->sweepable) {
      problem(origin, shown, key + " cannot be swept: it is the same for every run");
      continue;
    }
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

void Loader::take_document(const toml::table& root, const Source& source, const fs::path& path,
                           Layers& layers, bool allow_include_and_sweep) {
  Entries own;
  std::vector<Axis> own_sweep;
  for (const auto& [k, node] : root) {
    if (k.str() != "sweep") {
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

  if (auto it = own.find("experiment.include"); it != own.end()) {
    const Entry include = it->second;
    own.erase(it);
    std::string error;
    if (!allow_include_and_sweep) {
      problem(include.key_origin, "experiment.include", "a resolved config includes nothing");
    } else if (!to_key_value(*find_key("experiment.include"), *include.node, error)) {
      problem(include.value_origin, "experiment.include", error);
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

  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    problem(Origin{name, e.source().begin.line, e.source().begin.column, false}, "",
            "syntax error: " + std::string(e.description()));
    structure_broken = true;
    return;
  }
  include_stack_.push_back(canonical);
  include_names_.push_back(name);
  take_document(keep(std::move(root)), Source{name, false}, path, layers, true);
  include_stack_.pop_back();
  include_names_.pop_back();
}

void Loader::parse_text(const std::string& text, const std::string& name, Layers& layers,
                        bool allow_include_and_sweep) {
  files_.push_back(name);
  toml::table root;
  try {
    root = toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    problem(Origin{name, e.source().begin.line, e.source().begin.column, false}, "",
            "syntax error: " + std::string(e.description()));
    structure_broken = true;
    return;
  }
  take_document(keep(std::move(root)), Source{name, false}, fs::path(name), layers,
                allow_include_and_sweep);
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

void Loader::apply_set(const std::string& assignment, Layers& layers) {
  const Origin at{"", 0, 0, true};
  const auto eq = assignment.find('=');
  const std::string key =
      eq == std::string::npos ? trim(assignment) : trim(assignment.substr(0, eq));
  if (eq == std::string::npos || key.empty()) {
    problem(at, assignment, "expected key=value", "e.g. --set model.n_layer=6");
    return;
  }
  if (key == "experiment.include" || key.rfind("sweep", 0) == 0) {
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
  }
  merge(layers, std::move(set), {});
}

// ---- validation: merged keys -> ExperimentConfig ------------------------------------------------

// experiment.name: a folder name (folder_name_problem) of letters, digits, '.', '_' and '-'.
std::string experiment_name_problem(const std::string& s) {
  if (std::string problem = folder_name_problem(s); !problem.empty()) return problem;
  const bool plain = std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '.' || c == '_' || c == '-';
  });
  return plain ? "" : "holds characters other than letters, digits, '.', '_' and '-'";
}

// The registry's lines "<where>.<option>: reason" become problems at the option's own place.
void add_option_problems(const std::string& message, const std::string& fallback_key,
                         const Entries& entries, const Origin& fallback, Loader& loader,
                         const std::string& plugin_name) {
  std::istringstream lines(message);
  std::string line;
  std::getline(lines, line);  // "invalid options for <kind> '<name>' (<file>):"
  while (std::getline(lines, line)) {
    line = trim(line);
    if (line.empty()) continue;
    const auto colon = line.find(": ");
    std::string key = colon == std::string::npos ? fallback_key : line.substr(0, colon);
    std::string reason = colon == std::string::npos ? line : line.substr(colon + 2);
    auto it = entries.find(key);
    loader.problem(it == entries.end() ? fallback : it->second.value_origin, key, reason,
                   "`nanolab plugins show " + plugin_name + "` lists its options");
  }
}

// model.init_from: the architecture is the file's (its header alone is read, gpt2.hpp). A key the
// experiment gives that disagrees with the file is a problem naming both values, except a shorter
// data.block_size, which takes the first rows of wpe (nanoGPT's crop_block_size). A file of GPT-2's
// vocabulary (50257, or nanoGPT's padded 50304) gets GPT-2's tokenizer from $NANOLAB_DATA/gpt2
// unless the experiment names a tokenizer. A damaged file is a CheckpointError (exit 7), thrown
// as it is. The path is made absolute (relative to the file that names it), so that the resolved
// config names the same file from anywhere.
void apply_init_from(ExperimentConfig& config, const Entries& entries, Loader& loader,
                     std::set<std::string>& refused) {
  auto origin_of = [&](const std::string& key) {
    auto it = entries.find(key);
    return it == entries.end() ? Origin{} : it->second.value_origin;
  };
  const Origin at = origin_of("model.init_from");
  const fs::path base = at.file.empty() ? fs::current_path() : fs::absolute(at.file).parent_path();
  config.init_from = (base / config.init_from).lexically_normal().string();
  std::error_code ec;
  // A missing file is a mistake in the experiment; one that is not a regular file (a FIFO, a
  // folder) or not GPT-2's is refused by the reader (input_file.hpp) as a CheckpointError.
  if (!fs::exists(config.init_from, ec)) {
    loader.problem(at, "model.init_from", "no such file: " + config.init_from,
                   "a Hugging Face model.safetensors or an llm.c .bin (gpt2_124M.bin)");
    refused.insert("model.init_from");
    return;
  }
  const gpt2::Architecture a = gpt2::inspect(config.init_from).arch;
  const std::string from = "init_from " + config.init_from;
  auto conflict = [&](const std::string& key, const std::string& ours, const std::string& theirs,
                      const std::string& hint) {
    loader.problem(
        origin_of(key), key,
        leaf_of(key) + " = " + ours + " conflicts with " + from + ", which has " + theirs, hint);
    refused.insert(key);
  };
  auto take = [&](const std::string& key, int64_t& field, int64_t value) {
    if (refused.count(key)) return;
    if (entries.count(key) && field != value)
      conflict(key, std::to_string(field), leaf_of(key) + " = " + std::to_string(value),
               "leave " + key + " out: the file decides the architecture");
    else
      field = value;
  };
  take("model.n_layer", config.n_layer, a.n_layer);
  take("model.n_embd", config.n_embd, a.n_embd);
  take("model.vocab_size", config.model_vocab_size, a.vocab_size);
  if (a.n_head > 0) {
    take("model.n_head", config.n_head, a.n_head);
  } else if (!entries.count("model.n_head")) {
    loader.problem(at, "model.init_from",
                   config.init_from + " does not say n_head (a safetensors file without the "
                                      "config.json of its folder)",
                   "give model.n_head (GPT-2: 12 for 124M, 16 for 355M, 20 for 774M, 25 for 1.5B)");
    refused.insert("model.n_head");
  }
  if (!refused.count("data.block_size") && entries.count("data.block_size") &&
      config.block_size > a.block_size)
    conflict("data.block_size", std::to_string(config.block_size),
             "wpe for " + std::to_string(a.block_size) + " positions",
             "a block_size up to " + std::to_string(a.block_size) + " uses the first rows of wpe");
  else if (!entries.count("data.block_size"))
    config.block_size = a.block_size;
  if (entries.count("model.bias") && !config.bias && !refused.count("model.bias"))
    conflict("model.bias", "false", "GPT-2's biases", "leave model.bias out");
  config.bias = true;
  if (entries.count("model.position") && config.position != "learned" &&
      !refused.count("model.position"))
    conflict("model.position", to_string(OptionValue(config.position)),
             "GPT-2's learned positions (wpe)", "leave model.position out");
  config.position = "learned";

  if (entries.count("data.tokenizer.plugin") || (a.vocab_size != 50257 && a.vocab_size != 50304))
    return;
  const char* data = std::getenv("NANOLAB_DATA");
  const fs::path dir =
      data && *data ? fs::absolute(fs::path(data) / "gpt2").lexically_normal() : fs::path();
  if (dir.empty() || !fs::is_regular_file(dir / "encoder.json", ec) ||
      !fs::is_regular_file(dir / "vocab.bpe", ec)) {
    loader.problem(at, "model.init_from",
                   "the file's vocabulary of " + std::to_string(a.vocab_size) +
                       " is GPT-2's, whose tokenizer is read from $NANOLAB_DATA/gpt2/encoder.json "
                       "and vocab.bpe, but " +
                       (dir.empty() ? std::string("NANOLAB_DATA is not set")
                                    : "they are not in " + dir.string()),
                   "set NANOLAB_DATA to the folder holding gpt2/, or give data.tokenizer = { "
                   "plugin = \"bpe\", encoder_json = \"...\", vocab_bpe = \"...\", "
                   "special_tokens = \"<|endoftext|>\" }");
    return;
  }
  config.tokenizer = PluginChoice{"bpe",
                                  {{"encoder_json", OptionValue((dir / "encoder.json").string())},
                                   {"vocab_bpe", OptionValue((dir / "vocab.bpe").string())},
                                   {"special_tokens", OptionValue(std::string("<|endoftext|>"))}}};
}

// `used`: the kinds whose plugins are looked up and validated; empty: every kind.
ExperimentConfig resolve(const Entries& entries, Loader& loader, bool read_init_from,
                         const std::vector<PluginKind>& used = {}) {
  ExperimentConfig config = default_config();
  std::set<std::string> refused;  // keys whose value was refused: rules across keys skip them
  auto origin_of = [&](const std::string& key) {
    auto it = entries.find(key);
    return it == entries.end() ? Origin{} : it->second.value_origin;
  };
  auto given = [&](const std::string& key) { return entries.count(key) != 0; };

  for (const auto& spec : schema()) {
    if (!has_field(spec)) continue;
    if (spec.type() == KeyType::plugin) {
      PluginChoice choice{std::get<std::string>(spec.default_value), {}};
      const std::string name_key = spec.key + ".plugin";
      if (auto it = entries.find(name_key); it != entries.end()) {
        if (const auto* s = it->second.node->as_string()) {
          choice.plugin = s->get();
        } else {
          loader.problem(it->second.value_origin, name_key,
                         "expected a string (a plugin name), got " + describe(*it->second.node));
          refused.insert(name_key);
        }
      }
      const std::string prefix = spec.key + ".";
      for (auto it = entries.lower_bound(prefix);
           it != entries.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
        if (it->first == name_key || find_key(it->first)) continue;  // optimizer.lr is ours
        if (auto option = to_option_value(*it->second.node)) {
          choice.options.emplace(leaf_of(it->first), std::move(*option));
        } else {
          loader.problem(it->second.value_origin, it->first,
                         "expected a boolean, number, string or array of numbers, got " +
                             describe(*it->second.node));
          refused.insert(name_key);  // its options are incomplete: do not validate them
        }
      }
      config.*std::get<PluginChoice ExperimentConfig::*>(spec.field) = std::move(choice);
      continue;
    }
    auto it = entries.find(spec.key);
    if (it == entries.end()) continue;
    std::string error;
    auto value = to_key_value(spec, *it->second.node, error);
    if (value) error = value_problem(spec, *value);
    if (!error.empty()) {
      loader.problem(it->second.value_origin, spec.key, error);
      refused.insert(spec.key);
      continue;
    }
    set_field(config, spec, *value);
  }

  if (const std::string problem = refused.count("experiment.name")
                                     ? std::string()
                                     : experiment_name_problem(config.name);
      !problem.empty()) {
    loader.problem(origin_of("experiment.name"), "experiment.name",
                   "must be a folder name, got " + to_string(OptionValue(config.name)) +
                       ", which " + problem,
                   "use letters, digits, '.', '_' and '-', at most 255 of them");
    refused.insert("experiment.name");
  }
  if (!refused.count("data.dataset") && config.dataset.empty()) {
    loader.problem(origin_of("data.dataset"), "data.dataset", "must not be empty",
                   "a recipe name, a path to a text file, or synthetic:sort");
  }
  // Plugin folders are relative to the file that names them (to the working folder for --set).
  if (!refused.count("experiment.plugin_dirs")) {
    const Origin at = origin_of("experiment.plugin_dirs");
    const fs::path base =
        at.file.empty() ? fs::current_path() : fs::absolute(at.file).parent_path();
    for (auto& dir : config.plugin_dirs) {
      dir = (base / dir).lexically_normal().string();
      std::error_code ec;
      if (!fs::is_directory(dir, ec)) {
        loader.problem(at, "experiment.plugin_dirs", "no such folder: " + dir);
        refused.insert("experiment.plugin_dirs");
      }
    }
  }
  if (read_init_from && !config.init_from.empty() && !refused.count("model.init_from"))
    apply_init_from(config, entries, loader, refused);

  // Rules across keys: reported at the key the user gave (the first named when both were).
  auto rule_origin = [&](const std::string& a, const std::string& b) {
    return given(a) || !given(b) ? std::pair{a, origin_of(a)} : std::pair{b, origin_of(b)};
  };
  auto both_ok = [&](const char* a, const char* b) {
    return !refused.count(a) && !refused.count(b);
  };
  if (both_ok("model.n_embd", "model.n_head") && config.n_embd % config.n_head != 0) {
    const int64_t nearest = std::max<int64_t>(
        config.n_head, (config.n_embd + config.n_head / 2) / config.n_head * config.n_head);
    auto [key, at] = rule_origin("model.n_embd", "model.n_head");
    loader.problem(at, key,
                   "n_embd = " + std::to_string(config.n_embd) +
                       " is not divisible by n_head = " + std::to_string(config.n_head),
                   "each head gets n_embd / n_head channels; e.g. n_embd = " +
                       std::to_string(nearest) + " with n_head = " + std::to_string(config.n_head));
  }
  if (both_ok("train.warmup_iters", "train.max_iters") && config.warmup_iters > config.max_iters) {
    auto [key, at] = rule_origin("train.warmup_iters", "train.max_iters");
    loader.problem(at, key,
                   "warmup_iters = " + std::to_string(config.warmup_iters) +
                       " is more than max_iters = " + std::to_string(config.max_iters));
  }
  if (both_ok("train.min_lr", "optimizer.lr") && config.min_lr > config.lr) {
    auto [key, at] = rule_origin("train.min_lr", "optimizer.lr");
    loader.problem(at, key,
                   "min_lr = " + to_string(OptionValue(config.min_lr)) +
                       " is more than optimizer.lr = " + to_string(OptionValue(config.lr)),
                   "the schedule decays from lr down to min_lr");
  }

  // tokens_seen, the run's count of tokens, is a float64 in the run file: exact up to 2^53.
  if (both_ok("train.max_iters", "train.grad_accum_steps") &&
      both_ok("data.batch_size", "data.block_size")) {
    const double tokens = double(config.max_iters) * double(config.grad_accum_steps) *
                          double(config.batch_size) * double(config.block_size);
    if (tokens > 9007199254740992.0) {  // 2^53
      auto [key, at] = rule_origin("train.max_iters", "data.batch_size");
      loader.problem(at, key,
                     "max_iters x grad_accum_steps x batch_size x block_size = " +
                         to_string(OptionValue(tokens)) +
                         " tokens, more than the 2^53 a run can count exactly");
    }
  }

  Registry& registry = Registry::instance();
  if (!refused.count("experiment.plugin_dirs") && !config.plugin_dirs.empty())
    registry.add_directories(
        std::vector<fs::path>(config.plugin_dirs.begin(), config.plugin_dirs.end()));
  for (const auto& spec : schema()) {
    if (spec.type() != KeyType::plugin) continue;
    if (!used.empty() && std::find(used.begin(), used.end(), spec.plugin_kind) == used.end())
      continue;
    const std::string name_key = spec.key + ".plugin";
    if (refused.count(name_key)) continue;
    PluginChoice& choice = config.*std::get<PluginChoice ExperimentConfig::*>(spec.field);
    const LoadedPlugin* plugin = nullptr;
    try {
      plugin = &registry.find(spec.plugin_kind, choice.plugin, name_key);
    } catch (const ConfigError& e) {
      std::string message = e.what();
      if (message.rfind(name_key + ": ", 0) == 0) message.erase(0, name_key.size() + 2);
      loader.problem(origin_of(name_key), name_key, message);
      continue;
    }
    try {
      const Options complete = Registry::validate(*plugin, choice.options, spec.key);
      // Keep only what was given, with the declared types (an integer given for a number).
      for (auto& [name, value] : choice.options) value = complete.values().at(name);
    } catch (const ConfigError& e) {
      add_option_problems(e.what(), spec.key, entries, origin_of(name_key), loader, choice.plugin);
    }
  }
  return config;
}

// ---- reporting ----------------------------------------------------------------------------------

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

// ---- the resolved config as TOML ----------------------------------------------------------------

std::string key_text(const std::string& key) {
  const bool bare = !key.empty() && std::all_of(key.begin(), key.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '_' || c == '-';
  });
  return bare ? key : to_string(OptionValue(key));
}

// `k = v` for each option, between `before` and `after`.
std::string options_text(const std::map<std::string, OptionValue>& options, const char* before,
                         const char* after) {
  std::string out;
  for (const auto& [name, value] : options)
    out += before + key_text(name) + " = " + to_string(value) + after;
  return out;
}

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
      out += spec.leaf() + " = " + value_text(field_value(config, spec)) + "\n";
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

// ---- the sweep
// ------------------------------------------------------------------------------------

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

std::vector<std::string> axis_labels(const std::vector<Axis>& axes) {
  const auto tail = key_tail;
  std::vector<std::string> labels;
  for (const auto& axis : axes) {
    size_t n = leaf_of(axis.key) == "plugin" ? 2 : 1;
    auto clash = [&](size_t segments) {
      for (const auto& other : axes)
        if (other.key != axis.key && tail(other.key, segments) == tail(axis.key, segments))
          return true;
      return false;
    };
    while (clash(n) && tail(axis.key, n) != axis.key) ++n;
    labels.push_back(folder_safe(tail(axis.key, n)));
  }
  return labels;
}

// A value as a piece of a folder name: strings bare, no separators, at most 32 characters.
std::string name_piece(const toml::node& node) {
  std::string text;
  if (const auto* s = node.as_string()) {
    text = s->get();
  } else if (const auto* a = node.as_array()) {
    for (const auto& element : *a) text += (text.empty() ? "" : "+") + name_piece(element);
  } else {
    text = node_text(node);
  }
  return folder_safe(text).substr(0, 32);
}

}  // namespace
}  // namespace config

Experiment load_experiment(const fs::path& file, const std::vector<std::string>& overrides) {
  using namespace config;
  Loader loader;
  Layers layers;
  if (!file.empty()) loader.load_file(file, layers);
  for (const auto& assignment : overrides) loader.apply_set(assignment, layers);
  const std::string main_file = file.empty() ? "(the defaults)" : file.string();
  if (loader.structure_broken) throw_problems(loader, main_file);

  size_t total = 1;
  for (const auto& axis : layers.sweep) {
    total *= axis.size();
    if (total > 100000) {
      loader.problem(axis.origin, "sweep", "the sweep makes more than 100000 runs");
      throw_problems(loader, main_file);
    }
  }
  const auto labels = axis_labels(layers.sweep);

  Experiment experiment;
  experiment.file = file;
  std::set<std::string> names;
  for (size_t run = 0; run < total; ++run) {
    Entries entries = layers.entries;
    RunSpec spec;
    std::vector<std::string> pieces;
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
      pieces.push_back(labels[a] + "=" + name_piece(value));
    }
    spec.config = resolve(entries, loader, true);
    // Without a [sweep] the one run is "run"; a sweep of one run is named like any other sweep run,
    // so that runs added to its folder later by another case never collide with it.
    spec.name = pieces.empty() ? "run" : join(pieces, ",");
    // Values that differ only in characters a folder name cannot hold would collide.
    for (int n = 2; names.count(spec.name); ++n)
      spec.name = join(pieces, ",") + "-" + std::to_string(n);
    names.insert(spec.name);
    if (const std::string problem = folder_name_problem(spec.name); !problem.empty())
      loader.problem(layers.sweep.front().origin, "sweep",
                     "the name of run " + std::to_string(run + 1) + ", '" +
                         (spec.name.size() > 64 ? spec.name.substr(0, 64) + "..." : spec.name) +
                         "', " + problem,
                     "sweep fewer keys in one experiment, or give shorter string values");
    experiment.runs.push_back(std::move(spec));
  }
  throw_problems(loader, main_file);
  for (auto& run : experiment.runs) run.config_toml = to_toml(run.config);
  experiment.name = experiment.runs.front().config.name;
  return experiment;
}

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

ExperimentConfig parse_resolved_config(const std::string& toml_text, const std::string& origin,
                                       const std::vector<PluginKind>& used) {
  using namespace config;
  Loader loader;
  Layers layers;
  loader.parse_text(toml_text, origin, layers, false);
  if (loader.structure_broken) throw_problems(loader, origin);
  ExperimentConfig config = resolve(layers.entries, loader, false, used);
  throw_problems(loader, origin);
  return config;
}

}  // namespace nanolab
