// A run's parts built from its configuration (train/components.hpp): an optimizer that declares an
// option `lr` receives optimizer.lr in it (optimizer.hpp), which muon's AdamW group needs to follow
// the schedule.
#include <gtest/gtest.h>

#include "config/schema.hpp"
#include "nanolab/registry.hpp"
#include "train/components.hpp"

namespace nanolab {
namespace {

TEST(Components, AnOptimizerDeclaringLrReceivesTheSchedulesPeak) {
  ExperimentConfig c = config::default_config();  // synthetic:sort: no file needed
  c.optimizer = {"muon", {{"adamw_lr", 0.002}}};
  c.lr = 0.25;
  train_detail::Components parts = train_detail::build(c, train_detail::Purpose::train);
  auto adamw = Registry::instance().make<PluginKind::optimizer>(
      "adamw", {{"betas", std::vector<double>{0.9, 0.95}}, {"eps", 1e-10}, {"weight_decay", 0.0}});
  // A layer-norm gain takes muon's AdamW group, at adamw_lr * lr / peak: half of 0.002 here. Had
  // the peak not reached muon (its default lr is 0.02), the ratio would be 6.25, not 0.5.
  Parameters a{{"h.0.ln_1.weight", Tensor::from({0.5f, -1.0f, 2.0f}, {3})}};
  Parameters b{{"h.0.ln_1.weight", Tensor::from({0.5f, -1.0f, 2.0f}, {3})}};
  for (Parameters* p : {&a, &b}) {
    (*p)[0].tensor.set_requires_grad();
    (*p)[0].tensor.grad() = Tensor::from({0.3f, -0.1f, 0.2f}, {3});
  }
  parts.optimizer->step(a, 0.125f, 1);
  adamw->step(b, 0.001f, 1);
  EXPECT_EQ(a[0].tensor.to_vector(), b[0].tensor.to_vector());
}

}  // namespace
}  // namespace nanolab
