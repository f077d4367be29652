// The commands of the `nanolab` program. Each lives in its own cmd_<name>.cpp and adds itself to
// the program's parser (command_line.hpp): its subcommand, the arguments and options it takes with
// their help, and what it does with them, which returns the exit status or throws a
// nanolab::Error that main() turns into one message and the error's exit status (docs/cli.md).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "command_line.hpp"
#include "nanolab/experiment.hpp"

namespace nanolab::cli {

void add_run(CLI::App& nanolab, Commands& commands);
void add_resume(CLI::App& nanolab, Commands& commands);
void add_sample(CLI::App& nanolab, Commands& commands);
void add_check(CLI::App& nanolab, Commands& commands);
void add_plugins(CLI::App& nanolab, Commands& commands);
void add_eval(CLI::App& nanolab, Commands& commands);
void add_export(CLI::App& nanolab, Commands& commands);
void add_compare(CLI::App& nanolab, Commands& commands);
void add_diff(CLI::App& nanolab, Commands& commands);
void add_report(CLI::App& nanolab, Commands& commands);
void add_serve(CLI::App& nanolab, Commands& commands);
void add_tokenizer(CLI::App& nanolab, Commands& commands);
// Trains the search of `exp` (loaded with `overrides`, its one run named `name` unless "") into
// <out>/<experiment>/ as `run` and `resume` do, with the --jobs, --quiet and --profile of `a`:
// the worker processes of --jobs N run `nanolab run` of the same file (cmd_run.cpp).
int train_search(const Parsed& a, const Experiment& exp, const std::filesystem::path& out,
                 const std::vector<std::string>& overrides, const std::string& name);

// `help [CMD...]` and `completion bash|zsh`, which read the parser itself.
void add_help(CLI::App& nanolab, Commands& commands);
void add_completion(CLI::App& nanolab, Commands& commands);

}  // namespace nanolab::cli
