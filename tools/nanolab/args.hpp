// Command-line options of the `nanolab` commands: `--name value` or `--name=value`, repeatable,
// and positional arguments. An unknown option or a missing value is a ConfigError (exit 2) that
// names the command and the option.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "commands.hpp"

namespace nanolab::cli {

struct ParsedArgs {
  std::vector<std::string> positional;
  std::multimap<std::string, std::string> options;  // "--set" -> "k=v", ...; flags map to ""

  bool has(const std::string& name) const { return options.count(name) != 0; }
  // The last value given for `name`, or `fallback`.
  std::string get(const std::string& name, const std::string& fallback = "") const;
  std::vector<std::string> all(const std::string& name) const;
  // The value as a number, ConfigError naming the option if it is not one.
  double number(const std::string& name, double fallback) const;
};

ParsedArgs parse_args(const std::string& command, const Args& args,
                      const std::set<std::string>& with_value,
                      const std::set<std::string>& flags = {});

}  // namespace nanolab::cli
