// Run names are one folder, never a path: folder_name_problem for experiment.name, `--name` and
// the names a sweep makes (no '/', no "." or "..", no control character, at most NAME_MAX bytes),
// and the sweep's values made safe for a folder name.
#include <gtest/gtest.h>

#include "config_test_util.hpp"
#include "nanolab/experiment.hpp"

namespace nanolab {
namespace {

using config_test::config_error;

class RunNameTest : public config_test::ConfigFiles {
 protected:
  std::string error_of(const std::string& text) {
    file_ = write("exp.toml", text).string();
    return config_error([&] { load_experiment(file_); });
  }
  std::string file_;
};

TEST(RunNames, AFolderNameIsOneFolderOfAtMost255Bytes) {
  const std::pair<std::string, std::string> refused[] = {
      {"", "is empty"},
      {".", "is '.'"},
      {"..", "is '..'"},
      {"../../x", "holds a '/'"},
      {"/abs/x", "holds a '/'"},
      {"a/b", "holds a '/'"},
      {"x/..", "holds a '/'"},
      {std::string("a\0b", 3), "the control character 0x00 at byte 1"},
      {"a\x01", "the control character 0x01 at byte 1"},
      {"tab\there", "the control character 0x09 at byte 3"},
      {"del\x7f", "the control character 0x7f at byte 3"},
      {std::string(256, 'a'), "is 256 bytes long, more than the 255"},
  };
  for (const auto& [name, reason] : refused) {
    const std::string problem = folder_name_problem(name);
    EXPECT_NE(problem.find(reason), std::string::npos)
        << "name of " << name.size() << " bytes: '" << problem << "'";
  }
  for (const std::string& name : std::vector<std::string>{"run", "lr=0.003,seed=2", "a..b", "...",
                                                          "..x", std::string(255, 'a'),
                                                          "r\xc3\xa9sum\xc3\xa9"})
    EXPECT_EQ(folder_name_problem(name), "") << name;
}

TEST_F(RunNameTest, AnExperimentNameOver255BytesIsRefused) {
  const std::string name(256, 'e');
  const std::string m = error_of("[experiment]\nname = \"" + name + "\"\n");
  EXPECT_NE(m.find(file_ + ":2:8: experiment.name: must be a folder name, got \"" + name +
                   "\", which is 256 bytes long, more than the 255 a folder name may have"),
            std::string::npos)
      << m;
}

TEST_F(RunNameTest, ASweepWhoseRunNamesOutgrowAFolderNameIsRefused) {
  // Every value is valid; together the run's name is about 310 bytes.
  const std::string m = error_of(
      "[sweep]\n"
      "\"data.dataset\" = [\"synthetic:0123456789012345678901234567890123456789\"]\n"
      "\"optimizer.lr\" = [0.00123456789012345]\n"
      "\"train.min_lr\" = [0.00012345678901234]\n"
      "\"model.dropout\" = [0.123456789012345]\n"
      "\"train.grad_clip\" = [1.23456789012345]\n"
      "\"train.max_iters\" = [123456789]\n"
      "\"train.warmup_iters\" = [12345678]\n"
      "\"train.eval_interval\" = [123456789]\n"
      "\"train.log_interval\" = [123456789]\n"
      "\"train.checkpoint_interval\" = [123456789]\n"
      "seeds = [1234567890123]\n");
  EXPECT_NE(m.find(file_ +
                   ":2:1: sweep: the name of run 1, 'dataset=synthetic_0123456789012345678901"),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("bytes long, more than the 255 a folder name may have"), std::string::npos) << m;
}

TEST_F(RunNameTest, SweptStringsWithSlashesAndControlCharactersBecomeUnderscores) {
  file_ = write("exp.toml",
                "[sweep]\n\"data.dataset\" = [\"../../etc/x\", \"/abs/y\", \"a\\u0001b\"]\n")
              .string();
  const Experiment e = load_experiment(file_);
  ASSERT_EQ(e.runs.size(), 3u);
  EXPECT_EQ(e.runs[0].name, "dataset=.._.._etc_x");
  EXPECT_EQ(e.runs[1].name, "dataset=_abs_y");
  EXPECT_EQ(e.runs[2].name, "dataset=a_b");
  for (const RunSpec& run : e.runs) EXPECT_EQ(folder_name_problem(run.name), "") << run.name;
}

}  // namespace
}  // namespace nanolab
