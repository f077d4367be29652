// What keeps a run inside the machine: an upper bound on every integer key, the tokens of a run
// countable exactly, and the memory estimate of a run (nanolab/memory.hpp) against the model the
// trainer builds, with its refusal.
#include <gtest/gtest.h>

#include <cstdlib>

#include "nanolab/memory.hpp"
#include "config/schema.hpp"
#include "config_test_util.hpp"
#include "nanolab/experiment.hpp"
#include "nanolab/model.hpp"
#include "nanolab/registry.hpp"

namespace nanolab {
namespace {

using config_test::config_error;

class LimitsTest : public config_test::ConfigFiles {
 protected:
  std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
    file_ = write("exp.toml", text).string();
    return config_error([&] { load_experiment(file_, overrides); });
  }
  std::string file_;
};

TEST(Bounds, EveryIntegerKeyButTheSeedHasAnUpperBoundThatFitsInt64) {
  for (const auto& spec : config::schema()) {
    if (spec.type() != config::KeyType::integer || spec.key == "experiment.seed") continue;
    ASSERT_TRUE(spec.value.max.has_value()) << spec.key;
    EXPECT_LT(spec.value.max->value, 9.2e18) << spec.key;
  }
}

TEST_F(LimitsTest, HugeIntegersAreRefusedAtTheirKey) {
  const std::string m = error_of(
      "", {"model.n_layer=1000000000", "data.block_size=1000000000000",
           "model.vocab_size=1000000000000", "data.batch_size=9223372036854775807",
           "train.grad_accum_steps=1000000000000", "train.sample_tokens=1000000000000",
           "model.n_embd=4294967296"});
  for (const std::string& line : std::vector<std::string>{
           "--set model.n_layer: must be [1, 4096], got 1000000000",
              "--set data.block_size: must be [1, 1048576], got 1000000000000",
           "--set model.vocab_size: must be [0, 2147483647], got 1000000000000",
           "--set data.batch_size: must be [1, 1048576], got 9223372036854775807",
           "--set train.grad_accum_steps: must be [1, 4096], got 1000000000000",
           "--set train.sample_tokens: must be [0, 1048576], got 1000000000000",
           "--set model.n_embd: must be [1, 65536], got 4294967296"})
    EXPECT_NE(m.find(line), std::string::npos) << "missing: " << line << "\nin:\n" << m;
}

TEST_F(LimitsTest, TheTokensOfARunMustBeCountableExactly) {
  const std::string m = error_of("[train]\nmax_iters = 1000000000000\ngrad_accum_steps = 4096\n");
  EXPECT_NE(m.find(file_ + ":2:13: train.max_iters: max_iters x grad_accum_steps x batch_size x "
                           "block_size = "),
            std::string::npos)
      << m;
  EXPECT_NE(m.find("tokens, more than the 2^53 a run can count exactly"), std::string::npos) << m;
}

ExperimentConfig config_with(const std::vector<std::string>& sets) {
  return load_experiment("", sets).runs.front().config;
}

TEST(MemoryEstimate, CountsTheWeightsOfTheModelTheTrainerBuilds) {
  for (const bool bias : {false, true})
    for (const std::string position : {"learned", "rope"}) {
      const ExperimentConfig c =
          config_with({"model.bias=" + std::string(bias ? "true" : "false"),
                       "model.position=" + position, "model.n_layer=3", "model.n_embd=48",
                       "model.n_head=4", "data.block_size=40"});
      const int64_t V = 77;
      const Gpt model({V, c.block_size, c.n_layer, c.n_head, c.n_embd, 0.0, bias,
                       position_from_name(position)},
                      [&](const AttentionConfig& ac) {
                        return Registry::instance().make<PluginKind::attention>("causal_mha", {}, ac);
                      });
      const config::MemoryEstimate e = config::estimate_memory(c, V, 0);
      EXPECT_EQ(e.n_params, double(model.num_params())) << "bias " << bias << ", " << position;
      EXPECT_EQ(e.parameters, 4.0 * double(model.num_params()));
      EXPECT_EQ(e.gradients, e.parameters);
      EXPECT_EQ(e.optimizer_state, 2 * e.parameters);
    }
}

TEST(MemoryEstimate, ActivationsGrowWithTheBatchAndTheDatasetWithItsText) {
  const ExperimentConfig c = config_with({"data.batch_size=8"});
  const ExperimentConfig twice = config_with({"data.batch_size=16"});
  const ExperimentConfig accumulating =
      config_with({"data.batch_size=8", "train.grad_accum_steps=64"});
  const auto e = config::estimate_memory(c, 65, 0);
  EXPECT_GT(e.activations, 0);
  EXPECT_EQ(config::estimate_memory(twice, 65, 0).activations, 2 * e.activations);
  // Micro-steps run one after another: accumulating gradients takes no more memory.
  EXPECT_EQ(config::estimate_memory(accumulating, 65, 0).total(), e.total());
  EXPECT_EQ(config::estimate_memory(c, 65, 1000).dataset, 9000);
  EXPECT_EQ(config::estimate_memory(config_with({"train.sample_tokens=0"}), 65, 0).sampling, 0);
}

TEST(MemoryEstimate, ARunThatCannotFitIsRefusedWithTheEstimateAndTheAvailableMemory) {
  unsetenv("NANOLAB_MEMORY_CHECK");
  // 4096 blocks of width 65536: 2.1e14 weights, petabytes with their state.
  const ExperimentConfig c = config_with({"model.n_layer=4096", "model.n_embd=65536"});
  const config::MemoryEstimate e = config::estimate_memory(c, 256, 0);
  const std::string m = config_error([&] { config::require_memory(e, "run x/y"); });
  EXPECT_EQ(m.rfind("run x/y needs about " + e.text() + ", more than the ", 0), 0u) << m;
  EXPECT_NE(m.find(" available ("), std::string::npos) << m;
  EXPECT_NE(m.find("hint: "), std::string::npos) << m;
  // The default experiment fits.
  EXPECT_NO_THROW(config::require_memory(config::estimate_memory(config_with({})), "r"));
}

TEST(MemoryEstimate, NanolabMemoryCheckOffSkipsTheRefusal) {
  const ExperimentConfig c = config_with({"model.n_layer=4096", "model.n_embd=65536"});
  setenv("NANOLAB_MEMORY_CHECK", "off", 1);
  EXPECT_NO_THROW(config::require_memory(config::estimate_memory(c, 256, 0), "run x/y"));
  unsetenv("NANOLAB_MEMORY_CHECK");
}

}  // namespace
}  // namespace nanolab
