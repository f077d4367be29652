// The experiment loader's internals, shared by the files of config/ (experiment.hpp is the public
// side): where each value was written (Origin), the problems found (Problem), the dotted keys of
// the merged files (Entries), the sweep axes (Axis, Layers), and the Loader that reads files and
// overrides into them. Each concern is one file: parse.cpp (TOML files and include), overrides.cpp
// (--set), sweep.cpp ([sweep] and its expansion into runs), search.cpp ([search], its space and
// the trials drawn from it; search_space.hpp), keys.cpp (keys and values against the
// schema), validate.cpp (merged keys -> ExperimentConfig), naming.cpp (run and folder names),
// problems.cpp (the one ConfigError), write_toml.cpp (the resolved config as TOML), load.cpp (the
// entry points). toml++ checks nothing about types or keys (STACK.md): every check is here,
// against the schema. Not a trainer: nothing here creates a file or a folder.
#pragma once

#include <toml++/toml.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/schema.hpp"
#include "nanolab/experiment.hpp"
#include "plugin/options_schema.hpp"

namespace nanolab::config {
namespace fs = std::filesystem;

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
  bool resolved = false;  // a resolved config stored by a run: its retired keys are upgraded
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

// [search] and [search.space] as the files wrote them (search.cpp); a later file wins key by key.
struct SearchLayer {
  Entries settings;  // "method", "trials", "metric", "mode", "min_iters", "reduction_factor"
  Entries space;     // full key ("optimizer.lr") -> its distribution, { log_uniform = [a, b] }
  Origin origin;     // where [search] was first written
  bool given = false;
};

// What the files and overrides say, merged: later keys win, sweep axes in file order.
struct Layers {
  Entries entries;
  std::vector<Axis> sweep;
  Entries set;  // the keys `--set` gave (the last word for each), which name the runs too
  SearchLayer search;
};

// ---- the loader (parse.cpp, overrides.cpp, sweep.cpp) -------------------------------------------

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
  // `text` as TOML, or nothing after a syntax error reported as a problem at its place.
  std::optional<toml::table> parse_toml(const std::string& text, const std::string& name);
  void flatten(const std::string& path, const toml::node& node, const Origin& key_origin,
               const Source& source, Entries& out);
  void read_sweep(const std::string& prefix, const toml::table& table, const Source& source,
                  std::vector<Axis>& out);
  void read_cases(const toml::node& node, const Origin& origin, const Source& source,
                  std::vector<Axis>& out);
  // Whether `key` can vary from run to run (a sweep axis, a search dimension); a problem at
  // `origin`, reported under `shown`, when it cannot.
  bool check_varied_key(const std::string& key, const Origin& origin, const std::string& shown,
                        bool search);
  void read_search(const toml::table& table, const Origin& origin, const Source& source,
                   SearchLayer& out);
  void read_space(const std::string& prefix, const toml::table& table, const Source& source,
                  Entries& out);
  void take_document(const toml::table& root, const Source& source, const fs::path& path,
                     Layers& layers, bool allow_include_and_sweep);

  std::deque<toml::table> documents_;  // every Entry points into these; a deque never moves them
  std::vector<std::string> files_;     // in the order they were read
  std::vector<fs::path> include_stack_;
  std::vector<std::string> include_names_;
};

// ---- keys and values (keys.cpp) ---------------------------------------------------------------

std::string join(const std::vector<std::string>& items, const std::string& sep);

// A TOML value as TOML text ("[1, 2]", "\"x\""), and described for a message ("a string \"four\"",
// "an integer 4", "a table").
std::string node_text(const toml::node& node);
std::string describe(const toml::node& node);

// An option value from a TOML node; nullopt for a table, a date or a mixed array.
std::optional<OptionValue> to_option_value(const toml::node& node);
// Every problem of a TOML value against an OptionSpec (a key's or a plugin option's), in the
// one message style of plugin::check_value; `value` holds it with the declared type when none.
std::vector<plugin::OptionProblem> check_node(const OptionSpec& spec, const toml::node& node,
                                              OptionValue& value);
// Where a problem about `entry` (or about element `element` of its list) is reported.
Origin place_of(const Entry& entry, std::optional<size_t> element);

OptionValue field_value(const ExperimentConfig& config, const KeySpec& spec);
void set_field(ExperimentConfig& config, const KeySpec& spec, const OptionValue& value);
bool has_field(const KeySpec& spec);

// Where a dotted key belongs.
enum class Slot { value, plugin_table, plugin_leaf, table, unknown };
Slot classify(const std::string& path);
std::string parent_of(const std::string& path);
std::string leaf_of(const std::string& path);

// Keys that resolved configs of earlier versions hold and today's schema does not.
// train.lr_decay_frac became the wsd schedule's option decay_frac.
inline bool is_retired_key(const std::string& key) { return key == "train.lr_decay_frac"; }

// A resolved config of an earlier version in today's keys: train.lr_decay_frac moves to
// train.lr_schedule.decay_frac when the schedule is wsd (the one schedule that used it) and is
// dropped otherwise. `name_of` gives the string a value holds. For the loader's entries and for
// compare's flat text alike.
template <class Map, class NameOf>
void upgrade_retired_keys(Map& flat, NameOf name_of) {
  const auto frac = flat.find("train.lr_decay_frac");
  if (frac == flat.end()) return;
  const auto schedule = flat.find("train.lr_schedule.plugin");
  if (schedule != flat.end() && name_of(schedule->second) == "wsd")
    flat.insert_or_assign("train.lr_schedule.decay_frac", frac->second);
  flat.erase(frac);
}

// Sets `from` over `into`, later keys winning; a plugin's options go with the plugin named with
// them.
void assign(Entries& into, const Entries& from);
// Merges a file's (or --set's) keys and sweep axes over `into`.
void merge(Layers& into, Entries entries, std::vector<Axis> sweep);
// " (did you mean 'model.n_layer'?)" for an unknown key, or "" with `hint` listing its table.
std::string unknown_key_suggestion(const std::string& path, std::vector<std::string> siblings,
                                   std::string& hint);

// ---- the rest -----------------------------------------------------------------------------------

// The config of merged keys, every value checked (validate.cpp); `read_init_from` applies
// model.init_from's file (not when reading back a resolved config).
// `used`: the kinds whose plugins are looked up and validated; empty: every kind.
ExperimentConfig resolve(const Entries& entries, Loader& loader, bool read_init_from,
                         const std::vector<PluginKind>& used = {});
// The runs of the merged keys and the sweep, each resolved and named (sweep.cpp); none after a
// problem that stops the expansion.
std::vector<RunSpec> expand_sweep(const Layers& layers, Loader& loader);
// The runs of a [search] (search.cpp): each trial drawn from the space, times the sweep's runs;
// `plan` describes the search (none for method "grid", whose runs are the sweep's).
std::vector<RunSpec> expand_search(const Layers& layers, Loader& loader,
                                   std::optional<SearchPlan>& plan);
// Throws one ConfigError listing every problem, if there is one (problems.cpp).
void throw_problems(const Loader& loader, const std::string& main_file);
// The resolved config as TOML, every key (write_toml.cpp).
std::string to_toml(const ExperimentConfig& config);

// Run names (naming.cpp): the label of each key that names runs (swept or set), the last n
// segments of a dotted key, a text made a folder-name piece, a value as a piece of a run's name.
std::vector<std::string> key_labels(const std::vector<std::string>& keys);
std::string key_tail(const std::string& key, size_t n);
std::string folder_safe(std::string text);
std::string name_piece(const toml::node& node);
// A fully resolved config (RunSpec::config_toml, to_toml's text) with train.max_iters =
// `max_iters` and every other line as it is: the config of a run that `nanolab resume --set
// train.max_iters=N` extends (write_toml.cpp). The text unchanged when it has no train.max_iters.
std::string with_max_iters(const std::string& toml_text, int64_t max_iters);
// experiment.name's rule: a folder name of letters, digits, '.', '_' and '-' ("" when it is).
std::string experiment_name_problem(const std::string& s);

}  // namespace nanolab::config
