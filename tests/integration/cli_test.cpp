// The command line as a person uses it, held to the parser the program is built from
// (tools/nanolab/command_line.hpp, linked into this test), not to a list written here:
// - `nanolab CMD --help` and `nanolab help CMD` print the same text, which names every argument
//   and option the parser declares for that command (and subcommand); the program's help names
//   every command;
// - a usage mistake (an unknown option, a missing argument or value, an unknown command) exits 2
//   with exactly one line on stderr; `--version` prints the project's version;
// - `check` of a valid experiment whose dataset files are not there warns (exit 0) with the
//   message that makes `run` exit 3;
// - `nanolab completion bash`, sourced in a real bash, completes command names, every option of
//   every command, the choices of an option's value, and files.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "command_line.hpp"
#include "support/files.hpp"
#include "support/program.hpp"
#include "support/temp_dir.hpp"

namespace nanolab::test {
namespace {

namespace fs = std::filesystem;

struct Parser {
  cli::Commands commands;
  std::unique_ptr<CLI::App> nanolab = cli::make_parser(commands);
};

std::vector<std::string> words_of(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// The names a person types for each option of `app` (-o, --out) and the names of its positionals.
std::vector<std::string> declared_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_group().empty()) continue;  // internal (run's --search-job): not for users
    if (o->get_positional()) names.push_back(o->get_name());
    for (const std::string& s : o->get_snames()) names.push_back("-" + s);
    for (const std::string& l : o->get_lnames()) names.push_back("--" + l);
  }
  return names;
}

std::vector<std::string> with(std::vector<std::string> words,
                              const std::vector<std::string>& more) {
  words.insert(words.end(), more.begin(), more.end());
  return words;
}

TEST(Cli, EveryCommandsHelpNamesEachOfItsArgumentsAndOptions) {
  TempDir dir;
  Parser parser;
  const auto paths = cli::command_paths(*parser.nanolab);
  ASSERT_GE(paths.size(), 13u);  // the eleven commands, help and completion, and subcommands

  const Outcome top = run_program({"--help"}, dir.path());
  ASSERT_EQ(top.status, 0) << top.err;
  EXPECT_EQ(run_program({"help"}, dir.path()).out, top.out);
  for (const CLI::App* command : parser.nanolab->get_subcommands({}))
    EXPECT_NE(top.out.find("  " + command->get_name() + " "), std::string::npos)
        << command->get_name() << " is not in\n"
        << top.out;

  for (const auto& [path, app] : paths) {
    SCOPED_TRACE(path);
    const std::vector<std::string> words = words_of(path);
    const Outcome help = run_program(with(words, {"--help"}), dir.path());
    ASSERT_EQ(help.status, 0) << help.err;
    EXPECT_NE(help.out.find("Usage: nanolab " + path + " "), std::string::npos) << help.out;
    for (const std::string& name : declared_names(*app))  // "  -o,--out FILE", "  RUN_DIR"
      EXPECT_TRUE(help.out.find(" " + name + " ") != std::string::npos ||
                  help.out.find(" " + name + ",") != std::string::npos ||
                  help.out.find("," + name + " ") != std::string::npos)
          << name << " is not in\n"
          << help.out;
    const Outcome help_cmd = run_program(with({"help"}, words), dir.path());
    ASSERT_EQ(help_cmd.status, 0) << help_cmd.err;
    EXPECT_EQ(help_cmd.out, help.out);
  }
}

// stderr holds exactly one line, which names the command.
void expect_one_line_usage_error(const Outcome& o, const std::string& command) {
  ASSERT_TRUE(o.exited);
  EXPECT_EQ(o.status, 2) << o.err;
  EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << o.err;
  EXPECT_EQ(o.err.rfind(command + ": error: ", 0), 0u) << o.err;
  EXPECT_TRUE(o.out.empty()) << o.out;
}

TEST(Cli, AUsageMistakeExits2WithOneLine) {
  TempDir dir;
  Parser parser;
  for (const auto& [path, app] : cli::command_paths(*parser.nanolab)) {
    SCOPED_TRACE(path);
    expect_one_line_usage_error(run_program(with(words_of(path), {"--no-such-option"}), dir.path()),
                                "nanolab " + path);
  }
  const Outcome no_file = run_program({"run"}, dir.path());
  expect_one_line_usage_error(no_file, "nanolab run");
  // A name that starts the message keeps its spelling.
  EXPECT_EQ(no_file.err.rfind("nanolab run: error: EXP.toml is required", 0), 0u) << no_file.err;
  expect_one_line_usage_error(run_program({"run", "e.toml", "--out"}, dir.path()), "nanolab run");
  expect_one_line_usage_error(run_program({"diff", "a"}, dir.path()), "nanolab diff");
  expect_one_line_usage_error(run_program({"tokenizer"}, dir.path()), "nanolab tokenizer");
  expect_one_line_usage_error(run_program({"export", "a", "-o", "f"}, dir.path()),
                              "nanolab export");
  expect_one_line_usage_error(run_program({"check", "e.toml", "--schema"}, dir.path()),
                              "nanolab check");
  const Outcome typo = run_program({"rnu"}, dir.path());
  expect_one_line_usage_error(typo, "nanolab");
  EXPECT_NE(typo.err.find("unknown command 'rnu' (did you mean 'run'?)"), std::string::npos)
      << typo.err;
}

TEST(Cli, VersionIsTheProjectsVersion) {
  TempDir dir;
  const Outcome o = run_program({"--version"}, dir.path());
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.out, "nanolab " NANOLAB_TEST_VERSION "\n");
}

TEST(Cli, CheckWarnsWhereRunWouldExit3ForWantOfData) {
  TempDir dir;
  const std::string quickstart =
      (fs::path(NANOLAB_TEST_SOURCE_DIR) / "experiments" / "quickstart.toml").string();
  // No data anywhere: an empty $NANOLAB_DATA and an empty cache.
  fs::create_directories(dir.path() / "data");
  const std::map<std::string, std::string> env = {
      {"NANOLAB_DATA", (dir.path() / "data").string()},
      {"XDG_CACHE_HOME", (dir.path() / "cache").string()}};
  const Outcome fine = run_program({"check", quickstart}, dir.path(), env);
  EXPECT_EQ(fine.status, 0) << fine.err;
  EXPECT_EQ(fine.err, "");  // synthetic:add is generated: nothing to find

  const std::string missing = (dir.path() / "missing.txt").string();
  for (const auto& [dataset, said] : std::vector<std::pair<std::string, std::string>>{
           {"tinyshakespeare", "dataset 'tinyshakespeare': raw file input.txt not found in "
                               "$NANOLAB_DATA/tinyshakespeare"},
           {missing, "dataset '" + missing + "': " + missing + ": no such file"}}) {
    SCOPED_TRACE(dataset);
    const std::vector<std::string> sets = {"--set", "data.dataset=\"" + dataset + "\"", "--set",
                                           "data.tokenizer.plugin=\"char\""};
    const Outcome check = run_program(with({"check", quickstart}, sets), dir.path(), env);
    EXPECT_EQ(check.status, 0) << check.err;
    EXPECT_NE(check.out.find(": ok: "), std::string::npos) << check.out;
    EXPECT_NE(check.err.find("nanolab check: warning: `nanolab run` would exit 3: " + said),
              std::string::npos)
        << check.err;
    const Outcome run = run_program(
        with({"run", quickstart, "--out", (dir.path() / "runs").string()}, sets), dir.path(), env);
    EXPECT_EQ(run.status, 3) << run.err;
  }
}

// What bash offers for the words typed so far (the last one being completed), run in `cwd` with
// the script of `nanolab completion bash` sourced: the COMPREPLY of _nanolab, sorted.
std::vector<std::string> complete(const fs::path& script, const fs::path& cwd,
                                  const std::vector<std::string>& words) {
  std::string command =
      "cd '" + cwd.string() +
      "' && bash -c 'source \"$0\"; COMP_WORDS=(\"$@\"); "
      "COMP_CWORD=$(($# - 1)); _nanolab; printf \"%s\\n\" \"${COMPREPLY[@]}\"' '" +
      script.string() + "'";
  for (const std::string& w : words) command += " '" + w + "'";
  const fs::path out = cwd.parent_path() / "completion.out";
  command += " > '" + out.string() + "'";
  EXPECT_EQ(std::system(command.c_str()), 0) << command;
  std::vector<std::string> lines;
  std::istringstream in(read_file(out));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(line);
  std::sort(lines.begin(), lines.end());
  return lines;
}

TEST(Cli, BashCompletesCommandsOptionsChoicesAndFiles) {
  TempDir dir;
  const Outcome script = run_program({"completion", "bash"}, dir.path());
  ASSERT_EQ(script.status, 0) << script.err;
  const fs::path file = dir.path() / "nanolab.bash";
  std::ofstream(file) << script.out;
  const fs::path cwd = dir.path() / "work";
  fs::create_directories(cwd / "runs" / "quickstart");
  std::ofstream(cwd / "quickstart.toml") << "";

  using Words = std::vector<std::string>;
  EXPECT_EQ(complete(file, cwd, {"nanolab", "ru"}), Words({"run"}));
  EXPECT_EQ(complete(file, cwd, {"nanolab", "re"}), Words({"report", "resume"}));
  EXPECT_EQ(complete(file, cwd, {"nanolab", "tokenizer", "e"}), Words({"encode"}));
  EXPECT_EQ(complete(file, cwd, {"nanolab", "help", "tok"}), Words({"tokenizer"}));
  EXPECT_EQ(complete(file, cwd, {"nanolab", "completion", ""}), Words({"bash", "zsh"}));
  EXPECT_EQ(complete(file, cwd, {"nanolab", "compare", "runs", "--format", "j"}), Words({"json"}));
  EXPECT_EQ(complete(file, cwd, {"nanolab", "run", "--pr"}), Words({"--profile"}));
  // Files and folders: the experiment, the run directory, the folder of --out.
  EXPECT_EQ(complete(file, cwd, {"nanolab", "run", "q"}), Words({"quickstart.toml"}));
  EXPECT_EQ(complete(file, cwd, {"nanolab", "resume", "runs/q"}), Words({"runs/quickstart"}));
  EXPECT_EQ(complete(file, cwd, {"nanolab", "run", "quickstart.toml", "--out", "r"}),
            Words({"runs"}));

  // Every option of every command, as the parser declares them.
  Parser parser;
  for (const auto& [path, app] : cli::command_paths(*parser.nanolab)) {
    SCOPED_TRACE(path);
    Words options;
    for (const std::string& name : declared_names(*app))
      if (name[0] == '-') options.push_back(name);
    std::sort(options.begin(), options.end());
    EXPECT_EQ(complete(file, cwd, with(with({"nanolab"}, words_of(path)), {"-"})), options);
  }
}

}  // namespace
}  // namespace nanolab::test
