// The loss contract, run over every loss plugin the registry finds:
// - the gradient with respect to the logits equals central finite differences of the loss;
// - targets of -1 are ignored: their logits get a zero gradient and do not move the loss;
// - the loss is one finite element.
// And the cross_entropy plugin matches a plain double-precision cross-entropy written here (with
// and without label smoothing), its gradient the analytic softmax minus the smoothed one-hot.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "contract_util.hpp"
#include "nanolab/registry.hpp"

namespace nanolab {
namespace {

using Given = std::map<std::string, OptionValue>;

const int64_t B = 2, T = 3, V = 7;
// One target per (b, t); one position is padding.
const std::vector<int32_t> targets{3, 0, -1, 6, 2, 3};

Tensor logits_of(uint32_t seed) {
  std::mt19937 rng(seed);
  return contract::randn({B, T, V}, 1.0f, rng).set_requires_grad();
}

std::unique_ptr<Loss> make(const std::string& name, const Given& given = {}) {
  return Registry::instance().make<PluginKind::loss>(name, given);
}

class LossContract : public testing::TestWithParam<std::string> {};

TEST(LossPlugins, HasPlugins) {
  EXPECT_FALSE(contract::plugin_names(PluginKind::loss).empty())
      << "no loss plugin was found; " << contract::registry_report();
}

TEST_P(LossContract, GradientMatchesFiniteDifferences) {
  auto loss = make(GetParam());
  Tensor logits = logits_of(1);
  const Tensor value = loss->forward(logits, targets);
  ASSERT_EQ(value.numel(), 1);
  ASSERT_TRUE(std::isfinite(value.item()));
  value.backward();
  ASSERT_TRUE(logits.grad().defined());
  const std::vector<float> grad = logits.grad().to_vector();

  // Central differences in f32 with h = 1e-2: the loss (~2) is rounded to 0.5 ulp (1.2e-7) per
  // evaluation, giving at most 2.4e-7 / (2h) = 1.2e-5 of error; truncation h^2 |f'''| / 6 is
  // ~1e-6 for a mean over 5 tokens (measured: 1.05e-5 at worst). 5e-5 is four times their sum;
  // a wrong gradient (a missing 1/n, smoothing left out) is off by >= 1e-3.
  const float h = 1e-2f;
  Tensor probe = logits.clone();
  for (int64_t i = 0; i < probe.numel(); ++i) {
    const float keep = probe.data()[i];
    probe.data()[i] = keep + h;
    const float up = loss->forward(probe, targets).item();
    probe.data()[i] = keep - h;
    const float down = loss->forward(probe, targets).item();
    probe.data()[i] = keep;
    EXPECT_NEAR(grad[size_t(i)], (up - down) / (2 * h), 5e-5) << "logit " << i;
  }
}

TEST_P(LossContract, IgnoresPaddingTargets) {
  auto loss = make(GetParam());
  Tensor logits = logits_of(2);
  const Tensor value = loss->forward(logits, targets);
  value.backward();
  const int64_t padded = 2;  // the row whose target is -1
  const std::vector<float> grad = logits.grad().to_vector();
  for (int64_t v = 0; v < V; ++v) EXPECT_EQ(grad[size_t(padded * V + v)], 0.0f) << "class " << v;
  Tensor moved = logits.clone();
  for (int64_t v = 0; v < V; ++v) moved.data()[padded * V + v] += 3.0f * float(v + 1);
  EXPECT_EQ(loss->forward(moved, targets).item(), value.item());
}

INSTANTIATE_TEST_SUITE_P(Every, LossContract,
                         testing::ValuesIn(contract::plugin_names(PluginKind::loss)),
                         contract::test_name);

// Mean over counted tokens of (1 - e) * (-log p_target) + e * mean_v(-log p_v), in double.
double reference_cross_entropy(const std::vector<float>& logits, double e) {
  double total = 0;
  int counted = 0;
  for (int64_t r = 0; r < B * T; ++r) {
    if (targets[size_t(r)] < 0) continue;
    const float* x = logits.data() + r * V;
    double z = 0;
    for (int64_t v = 0; v < V; ++v) z += std::exp(double(x[v]));
    double mean_nll = 0;
    for (int64_t v = 0; v < V; ++v) mean_nll += (std::log(z) - x[v]) / double(V);
    total += (1 - e) * (std::log(z) - x[targets[size_t(r)]]) + e * mean_nll;
    ++counted;
  }
  return total / counted;
}

TEST(CrossEntropyLoss, MatchesReferenceAndAnalyticGradient) {
  for (double e : {0.0, 0.1}) {
    SCOPED_TRACE("label_smoothing " + std::to_string(e));
    auto loss = make("cross_entropy", {{"label_smoothing", e}});
    Tensor logits = logits_of(3);
    const std::vector<float> x = logits.to_vector();
    const Tensor value = loss->forward(logits, targets);
    // f32 logits, log-sum-exp accumulated in double by the op, the result rounded to f32:
    // a few ulp of a value ~2, so 1e-6.
    EXPECT_NEAR(value.item(), reference_cross_entropy(x, e), 1e-6);
    value.backward();
    const std::vector<float> grad = logits.grad().to_vector();
    const int counted = 5;
    for (int64_t r = 0; r < B * T; ++r) {
      double z = 0;
      for (int64_t v = 0; v < V; ++v) z += std::exp(double(x[size_t(r * V + v)]));
      for (int64_t v = 0; v < V; ++v) {
        // (softmax - (1 - e) onehot - e / V) / counted, and 0 on the padded row.
        const int32_t t = targets[size_t(r)];
        const double expected =
            t < 0 ? 0.0
                  : (std::exp(double(x[size_t(r * V + v)])) / z - (1 - e) * (v == t) - e / V) /
                        counted;
        // Entries are below 0.2 and come from a few f32 roundings of an f32 log-sum-exp, each
        // ~1e-8 at that size (measured 8.6e-8 at worst); 1e-6 bounds them.
        EXPECT_NEAR(grad[size_t(r * V + v)], expected, 1e-6) << "row " << r << ", class " << v;
      }
    }
  }
}

}  // namespace
}  // namespace nanolab
