// The one check of a value against its OptionSpec, for plugin options and for the keys of an
// experiment file alike (config/schema.hpp: each key holds an OptionSpec): check_value gives
// every problem in one message style ("must be [0, 1), got 1.0", "element 2 must be ...",
// "expected an integer, got a string \"four\""), check_options applies it to a plugin's options
// (with unknown names and defaults). Internal: Registry::validate is the public entry, and the experiment loader calls these
// itself so that each problem is reported at the place of its value; the plugin loader uses
// schema_problems to refuse a plugin whose own schema is inconsistent, so that validated options
// always have the declared types. Not a TOML reader: values arrive already typed (OptionValue).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nanolab/options.hpp"

namespace nanolab::plugin {

// One problem of the options given to a plugin.
struct OptionProblem {
  std::string option;              // the option's name
  std::optional<size_t> element;   // the 0-based element of a list it is about, if one
  std::string message;             // what is wrong, without the option's name
};


// "an integer", "a string list": a type as messages name it.
std::string type_phrase(OptionType type);

// Every problem of `given` against `spec` (type, finiteness, range, choices, length); when there
// are none, `value` holds `given` with the declared type (an integer given for a number becomes
// a number, an empty list takes the declared list type).
std::vector<OptionProblem> check_value(const OptionSpec& spec, const OptionValue& given,
                                       OptionValue& value);

// What is wrong with a schema (duplicate names, a default of the wrong type or outside its own
// range, choices or length); empty when it is usable.
std::vector<std::string> schema_problems(const std::vector<OptionSpec>& schema);

// Every problem of `given` (table fields by their dotted names) against `schema`; when there are
// none, `complete` holds every declared option (given or default) with its declared type, each
// field of a table by its dotted name.
std::vector<OptionProblem> check_options(const std::vector<OptionSpec>& schema,
                                         const std::map<std::string, OptionValue>& given,
                                         std::map<std::string, OptionValue>& complete);

}  // namespace nanolab::plugin
