// A run's parts built from its configuration (train/components.hpp): the optimizer steps with
// optimizer.lr as its peak (optimizer.hpp), which muon's AdamW group needs to follow the schedule;
// the model gives its parameters their roles and decay (parameter.hpp), and optimizer.no_decay
// turns decay off by name.
#include <gtest/gtest.h>

#include <map>

#include "config/schema.hpp"
#include "nanolab/registry.hpp"
#include "train/components.hpp"

namespace nanolab {
namespace {

const Parameter& parameter(const train_detail::Components& parts, const std::string& name) {
  for (const Parameter& p : parts.model->parameters())
    if (p.name == name) return p;
  throw std::runtime_error("no parameter " + name);
}

TEST(Components, TheOptimizerStepsWithTheSchedulesPeak) {
  ExperimentConfig c = config::default_config();  // synthetic:sort: no file needed
  c.optimizer = {"muon", {{"adamw_lr", 0.002}}};
  c.lr = 0.25;
  train_detail::Components parts = train_detail::build(c, train_detail::Purpose::train);
  // Only a layer-norm gain has a gradient: it takes muon's AdamW group at adamw_lr * lr / peak,
  // half of 0.002 here. Had the peak not reached muon, the ratio would not be 0.5.
  const Parameter& gain = parameter(parts, "h.0.ln_1.weight");
  const Tensor start = gain.tensor.clone();
  gain.tensor.grad() = Tensor::full(gain.tensor.shape(), 0.3f);
  parts.optimizer->step(parts.model->parameters(), 0.125f, 1);

  Parameters b{{"h.0.ln_1.weight", start.clone()}};
  b[0].tensor.set_requires_grad();
  b[0].tensor.grad() = Tensor::full(gain.tensor.shape(), 0.3f);
  StatefulOptimizer adamw(
      Registry::instance().make<PluginKind::optimizer>(
          "adamw",
          {{"betas", std::vector<double>{0.9, 0.95}}, {"eps", 1e-10}, {"weight_decay", 0.0}}),
      b, 1.0);
  adamw.step(b, 0.001f, 1);
  EXPECT_EQ(gain.tensor.to_vector(), b[0].tensor.to_vector());
  EXPECT_NE(gain.tensor.to_vector(), start.to_vector());
}

TEST(Components, TheModelGivesEveryParameterItsRoleAndDecay) {
  ExperimentConfig c = config::default_config();
  c.bias = true;
  train_detail::Components parts = train_detail::build(c, train_detail::Purpose::train);
  const std::map<std::string, Role> expected{
      {"wte.weight", Role::embedding},          {"wpe.weight", Role::embedding},
      {"h.0.ln_1.weight", Role::vector},        {"h.0.ln_1.bias", Role::vector},
      {"h.0.attn.c_attn.weight", Role::matrix}, {"h.0.attn.c_attn.bias", Role::vector},
      {"h.0.attn.c_proj.weight", Role::matrix}, {"h.0.mlp.c_fc.weight", Role::matrix},
      {"h.0.mlp.c_proj.bias", Role::vector},    {"ln_f.weight", Role::vector}};
  for (const auto& [name, role] : expected) {
    SCOPED_TRACE(name);
    const Parameter& p = parameter(parts, name);
    EXPECT_EQ(int(p.role), int(role));
    EXPECT_EQ(p.decay, role != Role::vector);  // nanoGPT: every weight of 2+ dims decays
  }
}

TEST(Components, NoDecayPatternsTurnDecayOffByName) {
  ExperimentConfig c = config::default_config();
  c.no_decay = {"wpe.*", "h.*.attn.c_proj.weight"};
  train_detail::Components parts = train_detail::build(c, train_detail::Purpose::train);
  for (const Parameter& p : parts.model->parameters()) {
    SCOPED_TRACE(p.name);
    const bool off = p.name == "wpe.weight" || p.name.ends_with(".attn.c_proj.weight");
    EXPECT_EQ(p.decay, !off && p.role != Role::vector);
  }
  EXPECT_EQ(parameter(parts, "wte.weight").decay, true);
}

TEST(Components, ANoDecayPatternThatMatchesNothingIsAConfigErrorWithTheClosestName) {
  ExperimentConfig c = config::default_config();
  c.no_decay = {"ln_f.weigth"};
  try {
    train_detail::build(c, train_detail::Purpose::train);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("optimizer.no_decay: the pattern 'ln_f.weigth' matches no parameter"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("did you mean 'ln_f.weight'"), std::string::npos) << what;
  }
}

}  // namespace
}  // namespace nanolab
