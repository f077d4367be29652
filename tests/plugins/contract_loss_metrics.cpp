// What the loss plugins record through the Metrics they are given (group "loss"), against values
// worked out here from the definitions on a tiny case: cross_entropy's nll, label_smoothing and
// z_loss terms add up to its loss, each equal to its formula; focal records the mean -log p_t and
// the mean weight (1 - p_t)^gamma of the counted tokens. A Metrics that does not listen gets
// nothing, and the loss is the same either way.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "nanolab/registry.hpp"

namespace nanolab {
namespace {

using Given = std::map<std::string, OptionValue>;

class Kept final : public Metrics {
 public:
  explicit Kept(bool listening) : listening_(listening) {}
  bool enabled() const override { return listening_; }
  // As Metrics promises: a value recorded while not enabled is not kept.
  void record(std::string_view name, double value) override {
    if (listening_) values[std::string(name)] = value;
  }
  std::map<std::string, double> values;

 private:
  bool listening_;
};

// Three rows of V = 4 logits; the last row's target is padding (-1).
constexpr int64_t V = 4;
const std::vector<float> logits_values = {1.0f, 2.0f, 0.5f, -1.0f,  //
                                          0.0f, 0.3f, 3.0f, 1.0f,   //
                                          9.0f, 9.0f, 9.0f, 9.0f};
const std::vector<int32_t> targets = {1, 3, -1};

Tensor logits() { return Tensor::from(logits_values, {1, 3, V}); }

double lse(int64_t r) {
  double z = 0;
  for (int64_t v = 0; v < V; ++v) z += std::exp(double(logits_values[size_t(r * V + v)]));
  return std::log(z);
}
double log_p(int64_t r, int64_t v) { return double(logits_values[size_t(r * V + v)]) - lse(r); }

TEST(LossMetrics, CrossEntropyRecordsTermsThatAddUpToItsLoss) {
  const double e = 0.1, k = 0.01;
  auto loss = Registry::instance().make<PluginKind::loss>("cross_entropy",
                                             Given{{"label_smoothing", e}, {"z_loss", k}});
  double nll = 0, smooth = 0, z = 0;
  for (int64_t r = 0; r < 2; ++r) {
    nll += -log_p(r, targets[size_t(r)]) / 2;
    double uniform = 0;  // -mean_v log p_v
    for (int64_t v = 0; v < V; ++v) uniform += -log_p(r, v) / V;
    // PyTorch's smoothing: (1 - e) nll + e uniform, so it adds e (uniform - nll).
    smooth += e * (uniform + log_p(r, targets[size_t(r)])) / 2;
    z += k * lse(r) * lse(r) / 2;
  }
  Kept kept(true);
  const float value = loss->forward(logits(), targets, kept).item();
  ASSERT_EQ(kept.values.size(), 3u);
  // f32 ops on values of ~2: a few roundings of 1.2e-7 each.
  EXPECT_NEAR(kept.values.at("nll"), nll, 1e-6);
  EXPECT_NEAR(kept.values.at("label_smoothing"), smooth, 1e-6);
  EXPECT_NEAR(kept.values.at("z_loss"), z, 1e-6);
  EXPECT_NEAR(value, nll + smooth + z, 1e-6);

  Kept deaf(false);
  EXPECT_EQ(loss->forward(logits(), targets, deaf).item(), value);
  EXPECT_TRUE(deaf.values.empty());
}

TEST(LossMetrics, CrossEntropyRecordsOnlyTheTermsItHas) {
  auto loss = Registry::instance().make<PluginKind::loss>("cross_entropy", Given{});
  Kept kept(true);
  const float value = loss->forward(logits(), targets, kept).item();
  ASSERT_EQ(kept.values.size(), 1u);
  EXPECT_EQ(kept.values.at("nll"), double(value));
}

TEST(LossMetrics, FocalRecordsTheLikelihoodAndTheWeightOfItsTokens) {
  const double gamma = 2.0;
  auto loss = Registry::instance().make<PluginKind::loss>("focal", Given{{"gamma", gamma}});
  double nll = 0, weight = 0, focal = 0;
  for (int64_t r = 0; r < 2; ++r) {
    const double lp = log_p(r, targets[size_t(r)]), w = std::pow(1 - std::exp(lp), gamma);
    nll += -lp / 2;
    weight += w / 2;
    focal += -w * lp / 2;
  }
  Kept kept(true);
  const float value = loss->forward(logits(), targets, kept).item();
  ASSERT_EQ(kept.values.size(), 2u);
  EXPECT_NEAR(kept.values.at("nll"), nll, 1e-6);
  EXPECT_NEAR(kept.values.at("focal_weight"), weight, 1e-6);
  EXPECT_NEAR(value, focal, 1e-6);
  Kept deaf(false);
  EXPECT_EQ(loss->forward(logits(), targets, deaf).item(), value);
  EXPECT_TRUE(deaf.values.empty());
}

}  // namespace
}  // namespace nanolab
