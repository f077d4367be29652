// Checkpoints of format_version 1 (tests/fixtures/checkpoints_v1/: written before the framework
// kept the optimizers' state, with the step count as a float tensor) still resume: the optimizer
// state read back is the file's, entry for entry and bit for bit, with its step count, and
// `nanolab resume` trains on to the losses of the same run that never stopped. The run writes its
// next checkpoint in the current format, the step count a whole number.
#include <gtest/gtest.h>

#include <cstring>

#include "nanolab/experiment.hpp"
#include "nanolab/model.hpp"
#include "nanolab/registry.hpp"
#include "nanolab/run_store.hpp"
#include "support/program.hpp"
#include "support/temp_dir.hpp"

namespace nanolab::test {
namespace {

namespace fs = std::filesystem;

fs::path fixture(const std::string& optimizer) {
  return fs::path(NANOLAB_TEST_FIXTURES) / "checkpoints_v1" / optimizer;
}

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), sizeof(float) * size_t(a.numel())) == 0;
}

class CheckpointV1 : public testing::TestWithParam<std::string> {};

TEST_P(CheckpointV1, OptimizerStateReadBackEqualsTheFile) {
  const Checkpoint ck = read_checkpoint(fixture(GetParam()));
  EXPECT_EQ(ck.format_version, 1);
  EXPECT_EQ(ck.step, 4);
  ASSERT_EQ(ck.optimizer_scalars.count("step"), 1u) << "the float /optimizer/step, read";
  EXPECT_EQ(ck.optimizer_scalars.at("step"), 4);
  EXPECT_EQ(ck.optimizer.count("step"), 0u);

  // The run's model (its attention, pause_on_cue, has causal_mha's parameters) and optimizer.
  Registry& registry = Registry::instance();
  registry.add_directories({NANOLAB_TEST_INTEGRATION_PLUGIN_DIR});
  const ExperimentConfig c = parse_resolved_config(ck.config_toml, "checkpoint.h5");
  const GptConfig gpt{ck.model.at("wte.weight").size(0), c.block_size, c.n_layer, c.n_head,
                      c.n_embd, c.dropout, c.bias, position_from_name(c.position)};
  Gpt model(gpt, [&](const AttentionConfig& ac) {
    return registry.make<PluginKind::attention>("causal_mha", {}, ac);
  });
  StatefulOptimizer optimizer(registry.make<PluginKind::optimizer>(c.optimizer.plugin, c.optimizer.options),
                              model.parameters(), c.lr);
  optimizer.load_state({ck.optimizer, ck.optimizer_scalars}, true);

  const OptimizerState state = optimizer.state();
  EXPECT_EQ(state.scalars, ck.optimizer_scalars);
  ASSERT_FALSE(ck.optimizer.empty());
  for (const auto& [key, t] : ck.optimizer) {
    ASSERT_EQ(state.tensors.count(key), 1u) << key;
    EXPECT_TRUE(same_bits(state.tensors.at(key), t)) << key;
  }
  for (const auto& [key, t] : state.tensors)
    EXPECT_EQ(ck.optimizer.count(key), 1u) << key << " is not in the file";
}

TEST_P(CheckpointV1, ResumesToTheLossesOfTheRunThatNeverStopped) {
  TempDir dir("nanolab-v1");
  const fs::path run = dir.path() / "out" / GetParam() / "run";
  fs::create_directories(run);
  for (const char* file : {"run.h5", "checkpoint.h5"})
    fs::copy_file(fixture(GetParam()) / file, run / file);
  // The fixture's run file holds all 8 steps of the run that never stopped.
  const RunLog whole = read_run(run / "run.h5");
  ASSERT_EQ(whole.train.size(), 8u);

  const Outcome o = run_program({"resume", run.string(), "--quiet"}, dir.path(),
                                {{"NANOLAB_PLUGIN_PATH", NANOLAB_TEST_INTEGRATION_PLUGIN_DIR}});
  ASSERT_TRUE(o.exited && o.status == 0) << o.err;
  const RunLog resumed = read_run(run / "run.h5");
  EXPECT_EQ(resumed.status, "completed");
  ASSERT_EQ(resumed.train.size(), 8u);
  for (size_t i = 4; i < 8; ++i) {
    SCOPED_TRACE("step " + std::to_string(i + 1));
    EXPECT_EQ(resumed.train[i].step, whole.train[i].step);
    EXPECT_EQ(resumed.train[i].loss, whole.train[i].loss);
    EXPECT_EQ(resumed.train[i].grad_norm, whole.train[i].grad_norm);
  }
  const Checkpoint last = read_checkpoint(run);
  EXPECT_EQ(last.format_version, 2);
  EXPECT_EQ(last.step, 8);
  EXPECT_EQ(last.optimizer_scalars, (std::map<std::string, int64_t>{{"step", 8}}));
  EXPECT_EQ(last.optimizer.count("step"), 0u);
}

INSTANTIATE_TEST_SUITE_P(Optimizers, CheckpointV1,
                         testing::Values(std::string("adamw"), std::string("muon"),
                                         std::string("adafactor")),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace nanolab::test
