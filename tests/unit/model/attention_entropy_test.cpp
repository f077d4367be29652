// attention_entropy (nanolab/attention.hpp), the attention diagnostic of train.diagnostics, against
// a naive reference written here: every score of the (T, T) matrix, the masked softmax of each
// row, and -sum p log p, averaged over batch rows, heads and positions; with a window, ALiBi's
// bias and shared key heads (grouped-query). With q = 0 every row is uniform over the positions it
// sees, so the mean entropy is mean_i log(i + 1), worked out by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "nanolab/attention.hpp"

namespace nanolab {
namespace {

Tensor random_tensor(const Shape& shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.5f);
  std::vector<float> v(size_t(shape.numel()));
  for (float& x : v) x = normal(rng);
  return Tensor::from(v, shape);
}

double reference_entropy(const Tensor& q, const Tensor& k, float scale, int64_t window,
                         const std::vector<float>& slopes) {
  const int64_t B = q.size(0), NH = q.size(1), T = q.size(2), HS = q.size(3), NKV = k.size(1);
  double total = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < NH; ++h)
      for (int64_t i = 0; i < T; ++i) {
        std::vector<double> p(size_t(T), 0.0);
        double z = 0;
        for (int64_t j = 0; j < T; ++j) {
          const bool seen = j <= i && (window == 0 || i - j < window);
          if (!seen) continue;
          double s = 0;
          for (int64_t d = 0; d < HS; ++d)
            s += double(q.data()[((b * NH + h) * T + i) * HS + d]) *
                 double(k.data()[((b * NKV + h / (NH / NKV)) * T + j) * HS + d]);
          s = scale * s - (slopes.empty() ? 0.0 : double(slopes[size_t(h)]) * double(i - j));
          p[size_t(j)] = std::exp(s);
          z += p[size_t(j)];
        }
        for (double pj : p)
          if (pj > 0) total -= (pj / z) * std::log(pj / z);
      }
  return total / double(B * NH * T);
}

TEST(AttentionEntropy, EqualsTheNaiveEntropyOfTheMaskedSoftmax) {
  const std::vector<float> slopes = {0.5f, 0.25f};
  struct Case {
    int64_t nkv, window;
    bool alibi;
  };
  for (const Case c : {Case{2, 0, false}, Case{2, 2, false}, Case{2, 0, true}, Case{1, 3, true}}) {
    const Tensor q = random_tensor({2, 2, 6, 3}, 1), k = random_tensor({2, c.nkv, 6, 3}, 2);
    const std::vector<float> s = c.alibi ? slopes : std::vector<float>{};
    const double want = reference_entropy(q, k, 0.7f, c.window, s);
    const double got = attention_entropy(q, k, 0.7f, {c.window, s});
    // Both in double from the same f32 inputs: only summation order differs.
    EXPECT_NEAR(got, want, 1e-12) << "nkv " << c.nkv << " window " << c.window << " alibi "
                                  << c.alibi;
  }
}

TEST(AttentionEntropy, UniformWeightsHaveTheEntropyOfTheirWidth) {
  const Tensor q = Tensor::zeros({1, 2, 4, 3}), k = random_tensor({1, 2, 4, 3}, 3);
  // Row i sees i + 1 positions: (log 1 + log 2 + log 3 + log 4) / 4.
  EXPECT_NEAR(attention_entropy(q, k, 1.0f), std::log(24.0) / 4, 1e-12);
  // A window of 2: log 1, then log 2 three times.
  EXPECT_NEAR(attention_entropy(q, k, 1.0f, {2, {}}), 3 * std::log(2.0) / 4, 1e-12);
}

TEST(AttentionEntropy, RecordsUnderTheLayersNameOnlyWhenListened) {
  struct Kept final : Metrics {
    bool listening = false;
    std::string name;
    double value = 0;
    bool enabled() const override { return listening; }
    void record(std::string_view n, double v) override { name = n, value = v; }
  } kept;
  const Tensor q = Tensor::zeros({1, 1, 2, 2}), k = Tensor::zeros({1, 1, 2, 2});
  record_attention_entropy(kept, 3, q, k, 1.0f);
  EXPECT_EQ(kept.name, "");
  kept.listening = true;
  record_attention_entropy(kept, 3, q, k, 1.0f);
  EXPECT_EQ(kept.name, "entropy.h.3");
  EXPECT_NEAR(kept.value, std::log(2.0) / 2, 1e-12);
}

}  // namespace
}  // namespace nanolab
