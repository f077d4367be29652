// Plugins of a finished run that are no longer on the search path: `sample` and `eval` load only
// the plugins they use (the model's attention and the tokenizer), and a plugin the search path
// lacks is re-opened from the file the run recorded in run.h5 when that file still has the
// recorded sha256 (a note on stderr), refused with exit 4 when it has changed. The run's plugins
// are copies of the test plugins in a temporary folder, named by NANOLAB_PLUGIN_PATH only while
// the run trains.
#include <gtest/gtest.h>

#include <fstream>

#include "nanolab/run_store.hpp"
#include "support/program.hpp"
#include "support/temp_dir.hpp"

namespace nanolab::test {
namespace {

namespace fs = std::filesystem;

struct Fixture {
  TempDir dir{"nanolab-recorded"};
  fs::path plugins = dir.path() / "plugins";
  fs::path exp = dir.path() / "tiny.toml";
  fs::path run = dir.path() / "runs" / "tiny" / "a";

  // A tiny run on the copies of `pause_on_cue` (an attention that computes what causal_mha does)
  // and `nan_after` (a loss: cross-entropy for its first `calls` forwards).
  Fixture() {
    fs::create_directories(plugins);
    for (const char* name : {"pause_on_cue.so", "nan_after.so"})
      fs::copy_file(fs::path(NANOLAB_TEST_INTEGRATION_PLUGIN_DIR) / name, plugins / name);
    std::ofstream(exp) << "[experiment]\nname = \"tiny\"\nseed = 7\n"
                          "[data]\ndataset = \"synthetic:copy\"\nblock_size = 16\nbatch_size = 8\n"
                          "[model]\nn_layer = 1\nn_head = 2\nn_embd = 16\n"
                          "attention = { plugin = \"pause_on_cue\" }\n"
                          "[loss]\nplugin = \"nan_after\"\ncalls = 1000000\n"
                          "[train]\nmax_iters = 20\nwarmup_iters = 2\neval_interval = 20\n"
                          "eval_iters = 1\ncheckpoint_interval = 20\nsample_tokens = 4\n";
  }
  Outcome nanolab(const std::vector<std::string>& args, const std::string& plugin_path,
                  const std::string& tag) const {
    return Program(args, dir.path(), {{"NANOLAB_PLUGIN_PATH", plugin_path}}, tag).wait();
  }
  Outcome sample(const std::string& plugin_path, const std::string& tag) const {
    return nanolab({"sample", run.string(), "--tokens", "12", "--seed", "3"}, plugin_path, tag);
  }
};

TEST(RecordedPlugins, SampleUsesOnlyTheModelsPluginsAndReopensTheRecordedFile) {
  Fixture f;
  const Outcome trained = f.nanolab({"run", f.exp.string(), "--out", (f.dir.path() / "runs").string(),
                                     "--name", "a"},
                                    f.plugins.string(), "run");
  ASSERT_TRUE(trained.exited && trained.status == 0) << trained.err;
  const RunLog log = read_run(f.run / "run.h5");
  bool recorded = false;
  for (const PluginRecord& p : log.plugins)
    if (p.kind == "attention") {
      EXPECT_EQ(p.name, "pause_on_cue");
      EXPECT_EQ(fs::path(p.file), fs::canonical(f.plugins / "pause_on_cue.so"));
      recorded = true;
    }
  ASSERT_TRUE(recorded) << "run.h5 records no attention plugin";

  const Outcome on_path = f.sample(f.plugins.string(), "on_path");
  ASSERT_TRUE(on_path.exited && on_path.status == 0) << on_path.err;
  EXPECT_EQ(on_path.err.find("note: the attention plugin"), std::string::npos) << on_path.err;

  // The loss is gone for good; the attention is off the search path but its recorded file is
  // there, unchanged: the same text, and a note naming the file.
  fs::remove(f.plugins / "nan_after.so");
  const Outcome recorded_file = f.sample("", "recorded_file");
  ASSERT_TRUE(recorded_file.exited && recorded_file.status == 0) << recorded_file.err;
  EXPECT_EQ(recorded_file.out, on_path.out);
  EXPECT_NE(recorded_file.err.find("note: the attention plugin 'pause_on_cue' is not in the plugin "
                                   "folders; using the file " +
                                   fs::canonical(f.plugins / "pause_on_cue.so").string()),
            std::string::npos)
      << recorded_file.err;
  EXPECT_EQ(recorded_file.err.find("nan_after"), std::string::npos) << recorded_file.err;

  // Another library in the recorded file's place is not the code the run was trained with.
  std::ofstream(f.plugins / "pause_on_cue.so", std::ios::app) << '\0';
  const Outcome changed = f.sample("", "changed");
  ASSERT_TRUE(changed.exited) << changed.err;
  EXPECT_EQ(changed.status, 4) << changed.err;
  EXPECT_NE(changed.err.find("has changed since"), std::string::npos) << changed.err;
  EXPECT_TRUE(changed.out.empty()) << changed.out;
}

}  // namespace
}  // namespace nanolab::test
