// The command line of the `nanolab` program, declared with CLI11: every command adds its
// subcommand, positional arguments and options to one CLI::App, and the same declarations parse
// the arguments, print `--help` and `nanolab help CMD`, and make the shell completion scripts
// (`nanolab completion bash|zsh`). A command's code reads what was parsed through `Parsed`, by the
// names it declared. A usage error is a CLI::ParseError, which main() prints as one line and
// exit 2.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace nanolab::cli {

class Parsed;

// What one declared (sub)command does once its arguments are parsed.
struct Command {
  CLI::App* app;
  std::function<int(const Parsed&)> run;  // the exit status
};
using Commands = std::vector<Command>;

// The whole program's parser: the commands of commands.hpp, each with its options, and the
// actions of every command and subcommand appended to `commands`. The parser lives as long as the
// returned App; `help` and `completion` read it.
std::unique_ptr<CLI::App> make_parser(Commands& commands);

// Declarations shared by the commands, so that every option reads the same way in `--help`:
// an option taking one value (the last one given wins), a repeatable one (`--set k=v` once per
// value), a flag, and positional arguments (from `min` to `max` of them; max -1: any number).
CLI::Option* add_value(CLI::App* app, const std::string& name, const std::string& value_name,
                       const std::string& doc);
CLI::Option* add_repeated(CLI::App* app, const std::string& name, const std::string& value_name,
                          const std::string& doc);
CLI::Option* add_flag(CLI::App* app, const std::string& name, const std::string& doc);
CLI::Option* add_positional(CLI::App* app, const std::string& name, const std::string& doc,
                            int min = 1, int max = 1);

// The values a parsed (sub)command received, by the names it declared ("--set", "RUN_DIR").
class Parsed {
 public:
  // `command_line`: the program's arguments as typed, which a run records.
  Parsed(const CLI::App& app, std::string command_line)
      : app_(app), command_line_(std::move(command_line)) {}
  // The option or flag was given (a flag given as --flag=false is not).
  bool has(const std::string& name) const;
  // The last value given for `name`, or `fallback`.
  std::string get(const std::string& name, const std::string& fallback = "") const;
  // Every value, in the order given.
  std::vector<std::string> all(const std::string& name) const;
  // The value as a number, ConfigError naming the option if it is not one.
  double number(const std::string& name, double fallback) const;
  // The positional arguments of every declared positional, in order.
  std::vector<std::string> positional() const;
  const std::string& command_line() const { return command_line_; }

 private:
  const CLI::Option& option(const std::string& name) const;
  const CLI::App& app_;
  std::string command_line_;
};

// Every command's name path below the program ("run", "plugins show", "tokenizer train"...), with
// its App, depth first in the order declared.
std::vector<std::pair<std::string, const CLI::App*>> command_paths(const CLI::App& nanolab);

}  // namespace nanolab::cli
