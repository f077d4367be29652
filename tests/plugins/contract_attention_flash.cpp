// Tests of the `flash` attention beyond the attention contract (contract_attention.cpp, which
// already holds it to causality, the KV cache and the double-precision reference at T = 5):
// - on the same weights, flash matches causal_mha (the materialised-softmax attention) forward and
//   in every gradient, at sequence lengths that take one tile, several tiles, and a partial last
//   tile, with head sizes on and off the vector width;
// - its results do not depend on the thread count (bit for bit);
// - its memory is linear in T: a forward + backward at T = 1024 takes from the allocator about
//   twice what T = 512 takes and less than one (B, NH, T, T) buffer, while causal_mha, measured
//   the same way, grows about 4x (the control that shows the measurement can see a T x T buffer).
// Not a benchmark: tools/bench/attention.cpp times the two.
#include <gtest/gtest.h>

#include <tbb/global_control.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "contract_util.hpp"
#include "nanolab/autograd.hpp"
#include "nanolab/registry.hpp"
#include "nanolab/runtime.hpp"
#include "support/skip.hpp"

namespace nanolab {
namespace {

using contract::randn;

struct Case {
  int64_t B, T, C, NH;
};

std::unique_ptr<Attention> make(const std::string& name, const Case& c, float dropout = 0.0f) {
  return Registry::instance().make<PluginKind::attention>(
      name, {}, AttentionConfig{c.C, c.NH, c.T, /*bias=*/true, dropout, /*layer=*/0, /*n_layer=*/2});
}

// Weights of N(0, 1/C) (biases N(0, 0.1^2)): q and k come out N(0, ~1), so the scaled scores are
// O(1) and the softmax rows are neither uniform (which would hide masking mistakes) nor one-hot
// (which would hide everything but the largest weight).
void randomise(Attention& attention, int64_t C, uint32_t seed) {
  std::mt19937 rng(seed);
  for (Parameter& p : attention.parameters()) {
    const float std = p.tensor.ndim() == 1 ? 0.1f : 1.0f / std::sqrt(float(C));
    p.tensor.copy_from(randn(p.tensor.shape(), std, rng));
  }
}

// dst, then the gradients of the input and of every parameter (by name) after backward(diff_dst).
struct Result {
  std::vector<float> dst;
  std::map<std::string, std::vector<float>> grads;
};

Result run(Attention& attention, const Tensor& src_values, const Tensor& diff_dst,
           const ForwardContext& ctx = {}) {
  Tensor src = src_values.clone();
  src.set_requires_grad();
  Parameters params = attention.parameters();
  for (Parameter& p : params) p.tensor.reset_grad();
  Result r;
  const Tensor dst = attention.forward(src, ctx);
  r.dst = dst.to_vector();
  dst.backward(diff_dst);
  r.grads["src"] = src.grad().to_vector();
  for (Parameter& p : params) r.grads[p.name] = p.tensor.grad().to_vector();
  return r;
}

float max_abs(const std::vector<float>& v) {
  float m = 0;
  for (float x : v) m = std::max(m, std::abs(x));
  return m;
}

class FlashMatchesCausalMha : public testing::TestWithParam<Case> {};

TEST_P(FlashMatchesCausalMha, ForwardAndEveryGradient) {
  const Case c = GetParam();
  auto reference = make("causal_mha", c);
  auto flash = make("flash", c);
  randomise(*reference, c.C, 21);
  Parameters a = reference->parameters(), b = flash->parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].name, b[i].name);
    ASSERT_EQ(a[i].init, b[i].init) << a[i].name;
    b[i].tensor.copy_from(a[i].tensor);
  }
  std::mt19937 rng(22);
  const Tensor src = randn({c.B, c.T, c.C}, 1.0f, rng);
  const Tensor diff_dst = randn({c.B, c.T, c.C}, 1.0f, rng);
  const Result want = run(*reference, src, diff_dst);
  const Result got = run(*flash, src, diff_dst);

  // Both are f32 with different summation orders (oneDNN's matmuls and softmax against tiles
  // with an online softmax, rescaled per key tile, and a polynomial exp with relative error
  // <= 8.3e-8). Each output is a chain of sums of up to T (attention) and C (projections) products
  // of O(1) terms, so both sit within a few ulp of the exact value; measured at most 2.3e-7 of
  // the output scale over these shapes. 5e-6 of the scale is ~20x that and far below the O(1e-2)
  // that a wrong mask, scale, tile edge or rescaling step causes.
  const float fwd_scale = std::max(1.0f, max_abs(want.dst));
  for (size_t i = 0; i < want.dst.size(); ++i)
    ASSERT_NEAR(got.dst[i], want.dst[i], 5e-6f * fwd_scale) << "dst element " << i;

  // Gradients sum over up to B*T rows more than the forward (the weight gradients), and the
  // softmax backward subtracts D = rowsum(dO * O) from dP, which cancels: measured at most 5.7e-7
  // of each gradient's scale (c_attn.weight, T = 200, HS = 12). 1e-5 of the scale is ~18x that and
  // still catches a missing or doubled term, which is off by O(1e-2) or more.
  for (const auto& [name, expected] : want.grads) {
    ASSERT_TRUE(got.grads.count(name)) << name;
    const std::vector<float>& g = got.grads.at(name);
    ASSERT_EQ(g.size(), expected.size()) << name;
    const float scale = std::max(1.0f, max_abs(expected));
    for (size_t i = 0; i < g.size(); ++i)
      ASSERT_NEAR(g[i], expected[i], 1e-5f * scale) << "gradient of " << name << "[" << i << "]";
  }
}

// T = 64: exactly one tile; T = 200: three full tiles and a partial one of 8 rows; HS = 64 is the
// head size of GPT-2 (full vectors), HS = 12 leaves a remainder in every loop over HS.
INSTANTIATE_TEST_SUITE_P(Shapes, FlashMatchesCausalMha,
                         testing::Values(Case{2, 64, 128, 2}, Case{2, 200, 128, 2},
                                         Case{2, 200, 48, 4}),
                         [](const testing::TestParamInfo<Case>& info) {
                           std::string name = "T";
                           name += std::to_string(info.param.T);
                           name += "_HS";
                           name += std::to_string(info.param.C / info.param.NH);
                           return name;
                         });

// Every output element is summed by one task in a fixed order, so one thread and all of them give
// the same bits, with dropout on (its mask is a function of the seed and the index only).
TEST(Flash, ResultsDoNotDependOnTheThreadCount) {
  NANOLAB_SKIP_ON_ONE_THREAD();
  const Case c{2, 150, 64, 2};
  auto flash = make("flash", c, 0.2f);
  randomise(*flash, c.C, 23);
  std::mt19937 rng(24);
  const Tensor src = randn({c.B, c.T, c.C}, 1.0f, rng);
  const Tensor diff_dst = randn({c.B, c.T, c.C}, 1.0f, rng);
  const ForwardContext training{true, 99};
  const Result all = run(*flash, src, diff_dst, training);
  Result one;
  {
    tbb::global_control single(tbb::global_control::max_allowed_parallelism, 1);
    one = run(*flash, src, diff_dst, training);
  }
  EXPECT_EQ(one.dst, all.dst);
  for (const auto& [name, g] : all.grads) EXPECT_EQ(one.grads.at(name), g) << name;
}

// Attention dropout is recomputed by the backward, not stored: the gradient must be the gradient
// of the forward that ran. With one seed the function is smooth in the input, so the directional
// derivative along a random direction is checked against the backward's gradient.
TEST(Flash, DropoutBackwardIsTheGradientOfItsForward) {
  const Case c{1, 70, 32, 2};
  auto flash = make("flash", c, 0.3f);
  randomise(*flash, c.C, 25);
  std::mt19937 rng(26);
  const Tensor src = randn({c.B, c.T, c.C}, 1.0f, rng);
  const Tensor diff_dst = randn({c.B, c.T, c.C}, 1.0f, rng);
  const Tensor direction = randn({c.B, c.T, c.C}, 1.0f, rng);
  const ForwardContext training{true, 7};
  const Result r = run(*flash, src, diff_dst, training);
  const std::vector<float> g = diff_dst.to_vector(), d = direction.to_vector();
  // sum(dst(src + h * direction) * diff_dst), in double
  auto objective = [&](float h, const ForwardContext& ctx) {
    NoGrad no_grad;
    Tensor x = src.clone();
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] += h * d[size_t(i)];
    const std::vector<float> y = flash->forward(x, ctx).to_vector();
    double s = 0;
    for (size_t i = 0; i < y.size(); ++i) s += double(y[i]) * g[i];
    return s;
  };
  double analytic = 0;
  for (size_t i = 0; i < d.size(); ++i) analytic += double(r.grads.at("src")[i]) * d[i];
  // Central difference of f32 forwards: the objective (~1e2) sums 2240 outputs, each rounded to
  // ~1e-7 relative, so rounding adds ~1e-5 * |f| / h; truncation adds ~h^2 |f^(3)| / 6. Measured
  // 7e-4 apart on a derivative of 62 (1.1e-5 relative); 2e-4 of max(1, |analytic|) is ~18x that.
  const float h = 1e-2f;
  const double numeric = (objective(h, training) - objective(-h, training)) / (2 * h);
  const double tol = 2e-4 * std::max(1.0, std::abs(analytic));
  EXPECT_NEAR(numeric, analytic, tol);
  // The control: the derivative of the forward under another seed (other masks) is far from this
  // backward's, so a backward that recomputed another mask than its forward's would fail above.
  const ForwardContext other{true, 8};
  const double other_numeric = (objective(h, other) - objective(-h, other)) / (2 * h);
  EXPECT_GT(std::abs(other_numeric - analytic), 100 * tol);
}

// Bytes the allocator takes from the system for one forward + backward, starting from an empty
// cache: with a caching allocator that never returns blocks, that is the peak of the memory the
// step holds at once beyond what was live before (to the size-class rounding, <= 12.5 %).
size_t step_bytes(const std::string& name, int64_t T) {
  const Case c{1, T, 64, 4};  // HS = 16: the (T, T) weights dominate a T x T implementation
  auto attention = make(name, c);
  randomise(*attention, c.C, 27);
  std::mt19937 rng(28);
  const Tensor src = randn({c.B, c.T, c.C}, 1.0f, rng);
  const Tensor diff_dst = randn({c.B, c.T, c.C}, 1.0f, rng);
  for (Parameter& p : attention->parameters()) p.tensor.zero_grad();
  runtime::release_cached_memory();
  const size_t before = runtime::stats().bytes_reserved;
  run(*attention, src, diff_dst);
  const size_t after = runtime::stats().bytes_reserved;
  return after - before;
}

TEST(Flash, MemoryIsLinearInT) {
  const size_t flash_512 = step_bytes("flash", 512), flash_1024 = step_bytes("flash", 1024);
  const size_t mha_512 = step_bytes("causal_mha", 512), mha_1024 = step_bytes("causal_mha", 1024);
  const double flash_ratio = double(flash_1024) / double(flash_512);
  const double mha_ratio = double(mha_1024) / double(mha_512);
  // One (B=1, NH=4, T, T) f32 buffer at T = 1024: what a single materialised softmax would take.
  const size_t weights_1024 = size_t(1) * 4 * 1024 * 1024 * sizeof(float);
  RecordProperty("flash_512", std::to_string(flash_512));
  RecordProperty("flash_1024", std::to_string(flash_1024));
  RecordProperty("causal_mha_1024", std::to_string(mha_1024));
  // Linear memory doubles with T; quadratic memory quadruples. Size classes round each block up
  // by at most 12.5 % and blocks of other sizes (parameters' gradients) stay constant, so a
  // linear step lands in [1.7, 2.3]; 3 or more means a term in T^2.
  EXPECT_GT(flash_ratio, 1.7) << flash_512 << " -> " << flash_1024 << " bytes";
  EXPECT_LT(flash_ratio, 2.3) << flash_512 << " -> " << flash_1024 << " bytes";
  EXPECT_LT(flash_1024, weights_1024) << "flash took more than one (B, NH, T, T) buffer";
  // The control: the same measurement sees causal_mha's (T, T) buffers.
  EXPECT_GT(mha_ratio, 3.0) << mha_512 << " -> " << mha_1024 << " bytes";
  EXPECT_GT(mha_1024, weights_1024);
}

}  // namespace
}  // namespace nanolab
