// The pieces of compare that need no run file: flatten_config (a run's stored TOML as the dotted
// keys and value texts that compare, diff and report show and match --where against) and the
// labels of seed groups.
#include <gtest/gtest.h>

#include "nanolab/report.hpp"

namespace nanolab::report {
namespace {

TEST(FlattenConfig, DottedKeysAndShortestNumberTexts) {
  const auto flat = flatten_config(
      "[model]\nn_embd = 128\nposition = \"rope\"\n[model.attention]\nplugin = \"gqa\"\n"
      "[optimizer]\nlr = 0.003\nbetas = [0.9, 0.99]\nnested = [[1, 2], [\"a\"]]\n"
      "[train]\ncompile = true\n");
  const std::map<std::string, std::string> expected{
      {"model.n_embd", "128"},
      {"model.position", "rope"},
      {"model.attention.plugin", "gqa"},
      {"optimizer.lr", "0.003"},
      {"optimizer.betas", "[0.9, 0.99]"},
      {"optimizer.nested", "[[1, 2], [a]]"},
      {"train.compile", "true"},
  };
  EXPECT_EQ(flat, expected);
}

TEST(FlattenConfig, EmptyArray) {
  EXPECT_EQ(flatten_config("[data]\nfiles = []\n").at("data.files"), "[]");
}

TEST(FlattenConfig, InvalidTomlIsAStorageError) {
  EXPECT_THROW(flatten_config("[model\n"), StorageError);
}

report::Run run_with(const std::string& name, std::map<std::string, std::string> config) {
  report::Run run;
  run.log.run = name;
  run.config = std::move(config);
  return run;
}

TEST(SeedGroups, LabelsNameOnlyTheKeysARunHas) {
  const std::vector<report::Run> runs{
      run_with("mha1", {{"model.attention.plugin", "causal_mha"}, {"experiment.seed", "1"}}),
      run_with("gqa1", {{"model.attention.plugin", "gqa"},
                        {"model.attention.n_kv_head", "2"},
                        {"experiment.seed", "1"}}),
      run_with("mha2", {{"model.attention.plugin", "causal_mha"}, {"experiment.seed", "2"}}),
  };
  const auto groups = seed_groups(runs);
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].label, "model.attention.plugin=causal_mha");
  ASSERT_EQ(groups[0].runs.size(), 2u);
  EXPECT_EQ(groups[0].runs[1]->log.run, "mha2");
  EXPECT_EQ(groups[1].label, "model.attention.n_kv_head=2 model.attention.plugin=gqa");
}

TEST(SeedGroups, OneGroupIsNamedAfterItsFirstRun) {
  const std::vector<report::Run> runs{run_with("first", {{"experiment.seed", "1"}}),
                              run_with("second", {{"experiment.seed", "2"}})};
  const auto groups = seed_groups(runs);
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].label, "first");
}

}  // namespace
}  // namespace nanolab::report
