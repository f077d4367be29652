// The plugin registry in-process: scanning folders of test plugins (tests/plugins/fixtures and
// bad/), lookup with did-you-mean, option validation against a schema, the factories' boundary,
// duplicates, and the default folder. The same failures seen from the real program are in
// tests/plugins/bad_plugins_test.cpp.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "nanolab/registry.hpp"
#include "plugin/loader.hpp"
#include "plugins/plugin_folder.hpp"
#include "runtime/sha256.hpp"

namespace nanolab {
namespace {

using test::bad_plugin;
using test::fixture_plugin;
using test::PluginFolder;

// The message of the exception `f` throws, which must be of type E.
template <class E, class F>
std::string message_of(F f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an exception";
  return "";
}

const PluginProblem* problem_of(const Registry& r, const std::filesystem::path& file) {
  for (const auto& p : r.problems())
    if (p.file.filename() == file.filename()) return &p;
  return nullptr;
}

TEST(Registry, ScansAFolder) {
  Registry r;
  r.scan(NANOLAB_TEST_FIXTURE_PLUGIN_DIR);
  EXPECT_TRUE(r.problems().empty());
  ASSERT_EQ(r.plugins().size(), 2u);
  // Sorted by file name within a folder.
  EXPECT_EQ(r.plugins()[0].descriptor->name, "factory_fails");
  EXPECT_EQ(r.plugins()[1].descriptor->name, "fixture_bytes");
  const auto& p = r.plugins()[1];
  EXPECT_EQ(p.descriptor->kind, PluginKind::tokenizer);
  EXPECT_EQ(p.descriptor->version, "1.2.3");
  EXPECT_EQ(p.file, std::filesystem::canonical(fixture_plugin("fixture_bytes")));
  EXPECT_EQ(p.sha256, runtime::sha256_file_hex(p.file));
  EXPECT_EQ(r.of_kind(PluginKind::tokenizer).size(), 2u);
  EXPECT_TRUE(r.of_kind(PluginKind::attention).empty());
  ASSERT_EQ(r.directories().size(), 1u);
  EXPECT_EQ(r.directories()[0], std::filesystem::canonical(NANOLAB_TEST_FIXTURE_PLUGIN_DIR));
}

TEST(Registry, ScansEachFolderAndFileOnce) {
  PluginFolder link_dir;
  std::filesystem::create_directory_symlink(NANOLAB_TEST_FIXTURE_PLUGIN_DIR, link_dir.path() / "l");
  Registry r;
  r.scan(NANOLAB_TEST_FIXTURE_PLUGIN_DIR);
  r.scan(std::string(NANOLAB_TEST_FIXTURE_PLUGIN_DIR) + "/.");
  r.scan(link_dir.path() / "l");  // the same folder through a symlink
  EXPECT_EQ(r.plugins().size(), 2u);
  EXPECT_TRUE(r.problems().empty());
  EXPECT_EQ(r.directories().size(), 1u);
}

// Whether `file` is loaded in this process (dlopen with RTLD_NOLOAD loads nothing).
bool loaded_here(const std::filesystem::path& file) {
  void* handle = dlopen(std::filesystem::canonical(file).c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (handle) dlclose(handle);  // only the reference RTLD_NOLOAD took
  return handle != nullptr;
}

// Discovery reads the libraries in the plugin probe's process: none is loaded in this one until a
// plugin is made, and then only that plugin's library.
TEST(Registry, DiscoveryLoadsNoLibraryHereAndMakingAPluginLoadsOnlyItsOwn) {
  PluginFolder folder;
  const auto made = folder.add(fixture_plugin("fixture_bytes"));
  const auto other = folder.add(fixture_plugin("factory_fails"));
  Registry r;
  r.scan(folder.path());
  ASSERT_EQ(r.plugins().size(), 2u);
  EXPECT_TRUE(r.problems().empty());
  EXPECT_FALSE(loaded_here(made));
  EXPECT_FALSE(loaded_here(other));
  EXPECT_EQ(r.make<PluginKind::tokenizer>("fixture_bytes", {})->vocab_size(), 256);
  EXPECT_TRUE(loaded_here(made));
  EXPECT_FALSE(loaded_here(other));
}

TEST(Registry, MissingFolderIsAProblem) {
  Registry r;
  r.scan("/nonexistent/nanolab/plugins");
  ASSERT_EQ(r.problems().size(), 1u);
  EXPECT_EQ(r.problems()[0].file, "/nonexistent/nanolab/plugins");
  EXPECT_NE(r.problems()[0].message.find("cannot read the plugin folder"), std::string::npos);
}

TEST(Registry, FindsByKindAndNameWithDidYouMean) {
  Registry r;
  r.scan(NANOLAB_TEST_FIXTURE_PLUGIN_DIR);
  EXPECT_EQ(r.find(PluginKind::tokenizer, "fixture_bytes").descriptor->name, "fixture_bytes");

  auto msg = message_of<ConfigError>(
      [&] { r.find(PluginKind::tokenizer, "fixture_byts", "data.tokenizer.plugin"); });
  EXPECT_EQ(msg.rfind("data.tokenizer.plugin: no tokenizer plugin named 'fixture_byts' "
                      "(did you mean 'fixture_bytes'?)", 0), 0u) << msg;
  EXPECT_NE(msg.find(std::filesystem::canonical(NANOLAB_TEST_FIXTURE_PLUGIN_DIR).string()),
            std::string::npos) << msg;

  // Names are per kind: a tokenizer's name does not find a loss.
  msg = message_of<ConfigError>([&] { r.find(PluginKind::loss, "fixture_bytes"); });
  EXPECT_NE(msg.find("no loss plugin named 'fixture_bytes'; none found"), std::string::npos) << msg;
}

TEST(Registry, ValidateFillsDefaultsAndConvertsIntegers) {
  Registry r;
  r.scan(NANOLAB_TEST_FIXTURE_PLUGIN_DIR);
  const auto& p = r.find(PluginKind::tokenizer, "fixture_bytes");
  auto o = Registry::validate(p, {{"scale", int64_t{2}}, {"mode", std::string("reversed")}});
  EXPECT_EQ(o.values().size(), 7u);  // the table's fields by their dotted names
  EXPECT_EQ(o.get<int64_t>("window.size"), 4);
  EXPECT_EQ(o.get<double>("window.stride.step"), 1.0);
  EXPECT_EQ(o.get<double>("scale"), 2.0);  // integer given for a number: converted
  EXPECT_EQ(o.get<std::string>("mode"), "reversed");
  EXPECT_EQ(o.get<int64_t>("offset"), 0);
  EXPECT_EQ(o.get<bool>("strict"), true);
  EXPECT_EQ(o.get<std::vector<double>>("weights"), (std::vector<double>{0.5, 0.25}));
  // Bounds are inclusive.
  EXPECT_NO_THROW(Registry::validate(p, {{"offset", int64_t{1000}}, {"scale", 0.0}}));
}

TEST(Registry, ValidateReportsEveryProblemAtOnce) {
  Registry r;
  r.scan(NANOLAB_TEST_FIXTURE_PLUGIN_DIR);
  const auto& p = r.find(PluginKind::tokenizer, "fixture_bytes");
  auto msg = message_of<ConfigError>([&] {
    Registry::validate(p,
                       {{"ofset", int64_t{3}},                             // unknown, near "offset"
                        {"colour", std::string("red")},                    // unknown, near nothing
                        {"strict", std::string("yes")},                    // wrong type
                        {"offset", 2.5},                                   // number for integer
                        {"scale", 10.5},                                   // out of range
                        {"weights", std::vector<double>{0.5, 1.5}},        // element out of range
                        {"mode", std::string("revesed")}},                 // not among choices
                       "data.tokenizer");
  });
  const std::vector<std::string> expected = {
      "invalid options for tokenizer 'fixture_bytes' (",
      "\n  data.tokenizer.ofset: unknown option (did you mean 'offset'?)",
      "\n  data.tokenizer.colour: unknown option; its options are offset, mode, strict, scale, "
      "weights, window.size, window.stride.step",
      "\n  data.tokenizer.strict: expected a boolean, got a string \"yes\"",
      "\n  data.tokenizer.offset: expected an integer, got a number 2.5",
      "\n  data.tokenizer.scale: must be [0, 10], got 10.5",
      "\n  data.tokenizer.weights: element 2 must be [0, 1], got 1.5",
      "\n  data.tokenizer.mode: must be one of \"plain\", \"reversed\", got \"revesed\" "
      "(did you mean 'reversed'?)",
  };
  for (const auto& line : expected) EXPECT_NE(msg.find(line), std::string::npos) << line << "\n" << msg;
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n'), 7) << msg;
}

TEST(Registry, NanIsRefusedWhateverTheRange) {
  Registry r;
  r.scan(NANOLAB_TEST_FIXTURE_PLUGIN_DIR);
  const auto& p = r.find(PluginKind::tokenizer, "fixture_bytes");
  auto msg = message_of<ConfigError>(
      [&] { Registry::validate(p, {{"scale", std::numeric_limits<double>::quiet_NaN()}}); });
  EXPECT_NE(msg.find("scale: must be a finite number in [0, 10], got nan"), std::string::npos) << msg;
}

TEST(Registry, MakesAPluginWithValidatedOptions) {
  Registry r;
  r.scan(NANOLAB_TEST_FIXTURE_PLUGIN_DIR);
  auto tok = r.make<PluginKind::tokenizer>("fixture_bytes", {{"offset", int64_t{10}}, {"mode", std::string("reversed")}});
  EXPECT_EQ(tok->vocab_size(), 266);
  EXPECT_EQ(tok->encode("ab"), (std::vector<int32_t>{'b' + 10, 'a' + 10}));
  EXPECT_THROW(r.make<PluginKind::tokenizer>("fixture_bytes", {{"offset", int64_t{-1}}}), ConfigError);
  EXPECT_THROW(r.make<PluginKind::tokenizer>("fixture_byte", {}), ConfigError);
}

TEST(Registry, FactoryFailuresAreReportedAtTheBoundary) {
  Registry r;
  r.scan(NANOLAB_TEST_FIXTURE_PLUGIN_DIR);
  const std::string file = std::filesystem::canonical(fixture_plugin("factory_fails")).string();
  auto msg = message_of<PluginError>(
      [&] { r.make<PluginKind::tokenizer>("factory_fails", {{"fail", std::string("std")}}); });
  EXPECT_EQ(msg, file + ": the factory of tokenizer 'factory_fails' threw: fixture factory failure");
  msg = message_of<PluginError>(
      [&] { r.make<PluginKind::tokenizer>("factory_fails", {{"fail", std::string("null")}}); });
  EXPECT_EQ(msg, file + ": the factory of tokenizer 'factory_fails' returned null");
  // A nanolab error thrown inside the plugin reaches the host as itself (its exit status kept).
  msg = message_of<ConfigError>(
      [&] { r.make<PluginKind::tokenizer>("factory_fails", {{"fail", std::string("config")}}); });
  EXPECT_EQ(msg, "fixture refuses its options");
}

TEST(Registry, BadLibrariesAreProblemsNamingTheFile) {
  PluginFolder folder;
  folder.add(fixture_plugin("fixture_bytes"));
  folder.add_text("not_a_library.so", "this is text, not a library\n");
  folder.add_truncated(fixture_plugin("fixture_bytes"), "truncated.so", 1.0 / 3);
  for (auto name : {"no_entry_point", "wrong_abi", "describe_throws", "missing_factory", "bad_schema"})
    folder.add(bad_plugin(name));
  folder.add_text("readme.txt", "not a .so: never looked at\n");

  Registry r;
  r.scan(folder.path());  // a truncated library here would kill this process without the ELF check
  ASSERT_EQ(r.plugins().size(), 1u);
  EXPECT_EQ(r.plugins()[0].descriptor->name, "fixture_bytes");
  EXPECT_EQ(r.problems().size(), 7u);

  const std::vector<std::pair<std::string, std::string>> expected = {
      {"not_a_library.so", "not a shared library (no ELF header)"},
      {"truncated.so", "truncated: "},
      {"no_entry_point.so", "has no entry point nanolab_plugin_v1"},
      {"wrong_abi.so", "built for plugin ABI version 999, this nanolab uses version 2"},
      {"describe_throws.so", "its entry point threw while describing the plugin: describe() failed on purpose"},
      {"missing_factory.so", "loss 'missing_factory' has no loss factory"},
      {"bad_schema.so", "option 'lr': its default must be [0, 1], got 5.0"},
  };
  for (const auto& [file, text] : expected) {
    const auto* problem = problem_of(r, file);
    ASSERT_NE(problem, nullptr) << file;
    EXPECT_EQ(problem->file, std::filesystem::canonical(folder.path() / file));
    EXPECT_NE(problem->message.find(text), std::string::npos) << problem->message;
    EXPECT_EQ(problem->message.find('\n'), std::string::npos) << "one line: " << problem->message;
  }
}

TEST(Registry, DuplicatesNameBothFilesAndCannotBeUsed) {
  PluginFolder folder;
  folder.add(bad_plugin("duplicate_fixture_bytes"));
  Registry r;
  r.scan(NANOLAB_TEST_FIXTURE_PLUGIN_DIR);
  const auto first = std::filesystem::canonical(fixture_plugin("fixture_bytes")).string();
  const auto second = std::filesystem::canonical(folder.path() / "duplicate_fixture_bytes.so").string();

  auto msg = message_of<PluginError>([&] { r.add_directories({folder.path()}); });
  EXPECT_EQ(msg, "tokenizer 'fixture_bytes' is defined by both " + first + " and " + second +
                     ": remove or rename one of the two files");
  // Both stay listed, the problem names both, and asking for the name is an error.
  EXPECT_EQ(r.of_kind(PluginKind::tokenizer).size(), 3u);
  ASSERT_EQ(r.problems().size(), 1u);
  EXPECT_EQ(r.problems()[0].file.string(), second);
  EXPECT_NE(r.problems()[0].message.find(first), std::string::npos);
  msg = message_of<PluginError>([&] { r.find(PluginKind::tokenizer, "fixture_bytes"); });
  EXPECT_NE(msg.find(first), std::string::npos);
  EXPECT_NE(msg.find(second), std::string::npos);
  EXPECT_EQ(r.find(PluginKind::tokenizer, "factory_fails").descriptor->name, "factory_fails");
}

TEST(Registry, DefaultFolderIsBesideLibnanolab) {
  EXPECT_EQ(std::filesystem::weakly_canonical(plugin::default_plugin_dir()),
            std::filesystem::weakly_canonical(std::filesystem::path(NANOLAB_TEST_LIBNANOLAB_DIR) /
                                              "nanolab" / "plugins"));
}

}  // namespace
}  // namespace nanolab
