// The one schema of an experiment file: every key, its type, default, allowed values and doc.
// A key's constraints are an OptionSpec, the type plugins declare their options with, checked by
// the same function (plugin::check_value) with the same messages; a KeySpec binds one to its place
// in the resolved config (the field it fills, the plugin kind it names, whether it is sweepable).
//
// Everything else reads this table: the defaults of a config, the checks of each value, the list
// of known keys for "did you mean", the key order of a resolved config, and the Markdown table of
// `nanolab check --schema` (pasted into docs/experiments.md). A key is added here and nowhere else.
// A row of type `plugin` is a table (or a whole section, like [optimizer]) holding `plugin = NAME`
// and that plugin's options; the options are not in this table: each plugin declares its own
// (Registry::validate checks them). A plugin's name alone (`lr_schedule = "wsd"`) is short for
// { plugin = NAME }. Not a parser: parse.cpp reads TOML and checks values against these rows.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "nanolab/experiment.hpp"
#include "nanolab/plugin.hpp"

namespace nanolab::config {

enum class KeyType { boolean, integer, number, string, string_list, plugin };

// The field of ExperimentConfig a row fills; its alternative fixes the row's type.
using Field =
    std::variant<bool ExperimentConfig::*, int64_t ExperimentConfig::*, double ExperimentConfig::*,
                 std::string ExperimentConfig::*, std::vector<std::string> ExperimentConfig::*,
                 PluginChoice ExperimentConfig::*>;

struct KeySpec {
  std::string key;  // full dotted path: "model.n_embd", "data.tokenizer", "optimizer"
  Field field;      // nullptr member for keys that are not part of the resolved config (include)
  // Named `key`: type, default, bounds, choices, doc. A plugin row's value is its plugin's name
  // (a string).
  OptionSpec value;
  PluginKind plugin_kind = PluginKind::attention;  // of plugin rows
  bool sweepable = true;

  KeyType type() const { return KeyType(field.index()); }
  std::string parent() const;  // the table holding the key: "model" for "model.n_embd", "" at top
  std::string leaf() const;    // last segment: "n_embd"
};

// Every key, in the order of a resolved config (sections in order, keys within each).
const std::vector<KeySpec>& schema();

// The row of exactly `key`, or null.
const KeySpec* find_key(const std::string& key);

// True when `path` is a section or any table that holds schema keys ("", "model", "optimizer").
bool is_table_path(const std::string& path);

// The schema keys directly inside `table_path` (full paths), for "did you mean".
std::vector<std::string> keys_in(const std::string& table_path);
// Every key a value can be given for, with "<row>.plugin" for plugin rows
// ("model.attention.plugin").
std::vector<std::string> leaf_keys();

// A config holding every default.
ExperimentConfig default_config();

// "an integer", "a number", "a table { plugin = ... }": what a row expects, for messages.
std::string expected_text(const KeySpec& spec);

}  // namespace nanolab::config
