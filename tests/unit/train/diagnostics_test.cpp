// The per-layer metrics of train.diagnostics (train/diagnostics.hpp) against hand computations:
// each layer's gradient norm is the L2 norm over the gradients of its parameters only (h.0's
// parameters together, wte alone), and the update ratio is ||p_after - p_before|| / ||p_before||
// over the layer's parameters for the update between keep_weights and record_update_ratios.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "train/diagnostics.hpp"

namespace nanolab::train_detail {
namespace {

// Keeps every value recorded, by name.
class Kept final : public Metrics {
 public:
  bool enabled() const override { return true; }
  void record(std::string_view name, double value) override { values[std::string(name)] = value; }
  std::map<std::string, double> values;
};

Parameter with(const std::string& name, const std::vector<float>& weight,
               const std::vector<float>& grad) {
  const int64_t n = int64_t(weight.size());
  Parameter p{name, Tensor::from(weight, {n})};
  p.tensor.set_requires_grad();
  p.tensor.grad() = Tensor::from(grad, {n});
  return p;
}

TEST(LayerDiagnostics, NamesTheLayerOfEachParameter) {
  EXPECT_EQ(layer_of("h.0.attn.c_attn.weight"), "h.0");
  EXPECT_EQ(layer_of("h.11.mlp.c_fc.bias"), "h.11");
  EXPECT_EQ(layer_of("wte.weight"), "wte");
  EXPECT_EQ(layer_of("ln_f.bias"), "ln_f");
  EXPECT_EQ(layer_of("lm_head"), "lm_head");
}

TEST(LayerDiagnostics, GradientNormOfEachLayerIsTheNormOfItsGradients) {
  // h.0: {3, 4} and {12} -> 13; h.1: {1, 2, 2} -> 3; wte: {6, 8} -> 10.
  const Parameters params = {with("wte.weight", {1, 1}, {6, 8}),
                             with("h.0.attn.c_attn.weight", {1, 1}, {3, 4}),
                             with("h.0.mlp.c_fc.bias", {1}, {12}),
                             with("h.1.ln_1.weight", {1, 1, 1}, {1, 2, 2})};
  LayerDiagnostics d;
  Kept kept;
  d.record_grad_norms(params, kept);
  EXPECT_EQ(kept.values, (std::map<std::string, double>{
                             {"grad_norm.wte", 10.0}, {"grad_norm.h.0", 13.0}, {"grad_norm.h.1", 3.0}}));
}

TEST(LayerDiagnostics, UpdateRatioIsTheNormOfTheChangeOverTheNormOfTheWeights) {
  const Parameters params = {with("h.0.a", {3, 0}, {0, 0}), with("h.0.b", {4}, {0}),
                             with("h.1.a", {1, 0}, {0, 0})};
  LayerDiagnostics d;
  Kept kept;
  d.keep_weights(params);
  // h.0: weights {3, 0, 4} (norm 5) move by {0.3, 0.4, 0} (norm 0.5); h.1 by {0, 2} (norm 2).
  params[0].tensor.data()[0] = 3.3f;
  params[0].tensor.data()[1] = 0.4f;
  params[2].tensor.data()[1] = 2.0f;
  d.record_update_ratios(params, kept);
  ASSERT_EQ(kept.values.size(), 2u);
  EXPECT_NEAR(kept.values.at("update_ratio.h.0"), 0.1, 1e-7);
  EXPECT_NEAR(kept.values.at("update_ratio.h.1"), 2.0, 1e-7);
}

}  // namespace
}  // namespace nanolab::train_detail
