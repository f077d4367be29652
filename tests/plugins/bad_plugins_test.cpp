// Bad plugins seen from the real program: `<build>/bin/nanolab plugins` runs as a subprocess with
// NANOLAB_PLUGIN_PATH set to a temporary folder holding one bad file beside the good test plugin
// fixture_bytes. Each case asserts what a user relies on: the process exits with status 4 (never
// a signal), stderr names the bad file with the reason, and the good plugin is still listed.
// Libraries that crash or hang while they load (a data object as the entry point, a static
// constructor that segfaults, aborts or never returns) are read in the plugin probe process: the
// listing survives them, a run that does not name them trains, and one that names them exits 4.
// `plugins show` is checked on the fixture (every option with type, default, range, doc) and
// with an unknown name (status 2, did-you-mean).
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "plugins/plugin_folder.hpp"
#include "support/program.hpp"

namespace nanolab::test {
namespace {

// Runs the nanolab program with `args`, NANOLAB_PLUGIN_PATH set to `plugin_path`.
Outcome run_nanolab(const std::vector<std::string>& args, const std::string& plugin_path,
                    const PluginFolder& scratch) {
  return run_program(args, scratch.path(), {{"NANOLAB_PLUGIN_PATH", plugin_path}});
}

// The folder for the program, and a separate one for its captured output (so that the output
// files are not in the plugin folder).
struct Case {
  PluginFolder plugins, scratch;
  Case() { plugins.add(fixture_plugin("fixture_bytes")); }
  Outcome list() { return run_nanolab({"plugins"}, plugins.path().string(), scratch); }
};

// A listed plugin: its row in the table (kind, name, version, file).
bool lists(const Outcome& o, const std::string& name, const std::filesystem::path& file) {
  std::istringstream lines(o.out);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("tokenizer", 0) == 0 && line.find(" " + name + " ") != std::string::npos &&
        line.find(std::filesystem::canonical(file).string()) != std::string::npos)
      return true;
  return false;
}

void expect_plugin_error(const Outcome& o, const std::filesystem::path& bad_file,
                         const std::string& reason, const Case& c) {
  ASSERT_TRUE(o.exited) << "killed by signal " << o.status << "\n" << o.err;
  EXPECT_EQ(o.status, 4) << o.err;
  const std::string line = "nanolab plugins: error: " +
                           std::filesystem::canonical(bad_file).string() + ": " + reason;
  EXPECT_NE(o.err.find(line), std::string::npos) << "expected: " << line << "\ngot: " << o.err;
  EXPECT_TRUE(lists(o, "fixture_bytes", c.plugins.path() / "fixture_bytes.so")) << o.out;
}

TEST(BadPlugins, CleanFolderListsAndExitsZero) {
  Case c;
  auto o = c.list();
  ASSERT_TRUE(o.exited);
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_TRUE(lists(o, "fixture_bytes", c.plugins.path() / "fixture_bytes.so")) << o.out;
  EXPECT_NE(o.out.find("KIND"), std::string::npos);
  EXPECT_NE(o.out.find(" 1.2.3 "), std::string::npos) << o.out;
  EXPECT_EQ(o.err, "");
}

TEST(BadPlugins, NotALibrary) {
  Case c;
  auto bad = c.plugins.add_text("x.so", "just some text\n");
  expect_plugin_error(c.list(), bad, "not a shared library (no ELF header)", c);
}

TEST(BadPlugins, TruncatedCopyOfARealPlugin) {
  Case c;
  auto bad = c.plugins.add_truncated(fixture_plugin("fixture_bytes"), "truncated.so", 1.0 / 3);
  expect_plugin_error(c.list(), bad, "truncated: ", c);
}

TEST(BadPlugins, NoEntryPoint) {
  Case c;
  auto bad = c.plugins.add(bad_plugin("no_entry_point"));
  expect_plugin_error(c.list(), bad, "has no entry point nanolab_plugin_v1", c);
}

TEST(BadPlugins, WrongAbiVersion) {
  Case c;
  auto bad = c.plugins.add(bad_plugin("wrong_abi"));
  expect_plugin_error(c.list(), bad,
                      "built for plugin ABI version 999, this nanolab uses version 2", c);
}

TEST(BadPlugins, DescriptorFactoryThrows) {
  Case c;
  auto bad = c.plugins.add(bad_plugin("describe_throws"));
  expect_plugin_error(c.list(), bad,
                      "its entry point threw while describing the plugin: describe() failed on purpose",
                      c);
}

TEST(BadPlugins, DuplicateKindAndNameNamesBothFiles) {
  Case c;
  // Files are loaded in name order, so the problem is reported on the later one, fixture_bytes.so.
  const auto first = c.plugins.add(bad_plugin("duplicate_fixture_bytes"));
  expect_plugin_error(c.list(), c.plugins.path() / "fixture_bytes.so",
                      "tokenizer 'fixture_bytes' is also defined by " +
                          std::filesystem::canonical(first).string(),
                      c);
}

// How a segfault is told: "signal 11 (SIGSEGV, ...)", or under the sanitizers the first line of
// their report ("AddressSanitizer: SEGV on unknown address", or UBSan's "store to null pointer",
// which it reports before the write faults).
bool tells_segfault(const std::string& err) {
  return err.find("SEGV") != std::string::npos || err.find("null pointer") != std::string::npos;
}

// A library that kills the process loading it: listed as a problem naming the file and how it
// ended, the good plugin still listed.
Outcome expect_crash_reported(const std::string& bad_name) {
  Case c;
  auto bad = c.plugins.add(bad_plugin(bad_name));
  auto o = c.list();
  expect_plugin_error(o, bad, "crashed the plugin probe process while loading, with ", c);
  EXPECT_NE(o.err.find("nanolab did not load it"), std::string::npos) << o.err;
  return o;
}

TEST(BadPlugins, EntryPointThatIsDataIsReportedNotFatal) {
  EXPECT_TRUE(tells_segfault(expect_crash_reported("entry_point_is_data").err));
}

TEST(BadPlugins, ConstructorThatSegfaultsIsReportedNotFatal) {
  EXPECT_TRUE(tells_segfault(expect_crash_reported("constructor_segfault").err));
}

TEST(BadPlugins, ConstructorThatAbortsIsReportedNotFatal) {
  const Outcome o = expect_crash_reported("constructor_abort");
  EXPECT_NE(o.err.find("with signal 6 (SIGABRT, Aborted)"), std::string::npos) << o.err;
}

TEST(BadPlugins, ConstructorThatNeverReturnsTimesOut) {
  Case c;
  auto bad = c.plugins.add(bad_plugin("constructor_hangs"));
  const auto start = std::chrono::steady_clock::now();
  auto o = c.list();
  const auto seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start);
  expect_plugin_error(o, bad,
                      "did not finish loading within 10 s in the plugin probe process, which was "
                      "stopped",
                      c);
  EXPECT_GE(seconds.count(), 10.0);
}

// Several bad files in one folder: each is reported, and the probe goes on past each crash to the
// files after it (sorted by name: the good plugin comes after the crashing ones).
TEST(BadPlugins, EveryCrashingFileIsReportedAndTheRestStillRead) {
  Case c;
  std::vector<std::filesystem::path> bad;
  for (const char* name : {"constructor_abort", "constructor_segfault", "entry_point_is_data"})
    bad.push_back(c.plugins.add(bad_plugin(name)));
  auto o = c.list();
  for (const auto& file : bad)
    expect_plugin_error(o, file, "crashed the plugin probe process while loading", c);
}

// A run of a tiny experiment with a plugin folder holding a crashing library: it trains when it
// does not name that library, and exits 4 naming the file when it does.
struct RunCase : Case {
  std::filesystem::path experiment = scratch.path() / "tiny.toml";
  RunCase() {
    std::ofstream(experiment)
        << "[experiment]\nname = \"tiny\"\nseed = 7\n"
           "[data]\ndataset = \"synthetic:copy\"\nblock_size = 8\nbatch_size = 4\n"
           "[model]\nn_layer = 1\nn_head = 2\nn_embd = 16\n"
           "[train]\nmax_iters = 2\nwarmup_iters = 1\neval_interval = 2\neval_iters = 1\n"
           "log_interval = 1\ncheckpoint_interval = 2\nsample_tokens = 0\n";
  }
  Outcome run(const std::vector<std::string>& sets) {
    std::vector<std::string> args = {"run", experiment.string(), "--out",
                                     (scratch.path() / "runs").string()};
    for (const auto& s : sets) args.insert(args.end(), {"--set", s});
    return run_nanolab(args, plugins.path().string(), scratch);
  }
};

TEST(BadPlugins, RunThatDoesNotNameACrashingPluginTrains) {
  RunCase c;
  c.plugins.add(bad_plugin("constructor_segfault"));
  c.plugins.add(bad_plugin("constructor_abort"));
  auto o = c.run({});
  ASSERT_TRUE(o.exited) << "killed by signal " << o.status << "\n" << o.err;
  EXPECT_EQ(o.status, 0) << o.err;
  EXPECT_TRUE(std::filesystem::exists(c.scratch.path() / "runs" / "tiny")) << o.err;
}

TEST(BadPlugins, RunThatNamesACrashingPluginExits4NamingTheFile) {
  RunCase c;
  auto bad = c.plugins.add(bad_plugin("constructor_segfault"));
  auto o = c.run({"loss.plugin=constructor_segfault"});
  ASSERT_TRUE(o.exited) << "killed by signal " << o.status << "\n" << o.err;
  EXPECT_EQ(o.status, 4) << o.err;
  EXPECT_NE(o.err.find(std::filesystem::canonical(bad).string() +
                       ": crashed the plugin probe process while loading, with "),
            std::string::npos)
      << o.err;
  EXPECT_TRUE(tells_segfault(o.err)) << o.err;
  EXPECT_FALSE(std::filesystem::exists(c.scratch.path() / "runs" / "tiny")) << o.err;
}

TEST(BadPlugins, ShowPrintsEveryOption) {
  Case c;
  auto o = run_nanolab({"plugins", "show", "fixture_bytes"}, c.plugins.path().string(), c.scratch);
  ASSERT_TRUE(o.exited);
  EXPECT_EQ(o.status, 0) << o.err;
  const auto file = std::filesystem::canonical(c.plugins.path() / "fixture_bytes.so");
  for (const std::string& expected : std::vector<std::string>{
       "kind         tokenizer\n", "name         fixture_bytes\n", "version      1.2.3\n",
        "file         " + file.string() + "\n",
        "sha256       ", "description  test byte tokenizer with one option of each type\n",
        "  NAME                TYPE         DEFAULT      ALLOWED                     DOC\n",
        "  offset              integer      0            [0, 1000]                   added to every "
        "byte's id\n",
        "  mode                string       \"plain\"      one of \"plain\", \"reversed\"  order of "
        "the ids\n",
        "  strict              boolean      true         any                         unused; a "
        "boolean to validate\n",
        "  scale               number       1.0          [0, 10]                     unused; a "
        "bounded number",
        "  weights             number list  [0.5, 0.25]  each [0, 1]                 unused; a "
        "bounded number list",
        // The fields of a table option, at any depth, by their dotted names.
        "  window.size         integer      4            [1, 64]                     unused; a field "
        "to validate\n",
        "  window.stride.step  number       1.0          > 0                         unused\n"})
    EXPECT_NE(o.out.find(expected), std::string::npos) << "expected: " << expected << "\ngot:\n" << o.out;
}

TEST(BadPlugins, ShowUnknownNameIsAConfigErrorWithDidYouMean) {
  Case c;
  auto o = run_nanolab({"plugins", "show", "fixture_byte"}, c.plugins.path().string(), c.scratch);
  ASSERT_TRUE(o.exited);
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.err.find("no plugin named 'fixture_byte' (did you mean 'fixture_bytes'?)"),
            std::string::npos) << o.err;
}

}  // namespace
}  // namespace nanolab::test
