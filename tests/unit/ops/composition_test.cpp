// Ops composed into models: a 2-layer MLP and a 1-block transformer, built from framework ops
// only, train on fixed toy problems with plain SGD written here, and their loss falls below a
// stated value. The same transformer proves the steady-state promise: after the first step of a
// fixed-shape loop no oneDNN primitive is created and no memory is taken from the system.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "nanolab/autograd.hpp"
#include "nanolab/ops.hpp"
#include "nanolab/runtime.hpp"
#include "unit/ops/op_harness.hpp"

namespace nanolab {
namespace {

Tensor randn(const Shape& s, float std, std::mt19937& rng) {
  std::normal_distribution<float> n(0.0f, std);
  std::vector<float> v(static_cast<size_t>(s.numel()));
  for (auto& x : v) x = n(rng);
  return Tensor::from(v, s).set_requires_grad();
}

void zero_grad(std::vector<Tensor>& params) {
  for (Tensor& p : params) p.zero_grad();
}

void sgd(std::vector<Tensor>& params, float lr) {
  for (Tensor& p : params) {
    float* w = p.data();
    const float* g = p.grad().data();
    for (int64_t i = 0; i < p.numel(); ++i) w[i] -= lr * g[i];
  }
}

TEST(Composition, MlpLearnsXorOfSigns) {
  // 2 -> 32 -> 2 classifier of sign(x0 * x1): not linearly separable, so the hidden layer counts.
  std::mt19937 rng(7);
  const int64_t N = 128, H = 32;
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(N * 2);
  std::vector<int32_t> y(N);
  for (int64_t i = 0; i < N; ++i) {
    x[2 * i] = u(rng);
    x[2 * i + 1] = u(rng);
    y[i] = x[2 * i] * x[2 * i + 1] > 0;
  }
  Tensor src = Tensor::from(x, {N, 2});
  std::vector<Tensor> params = {randn({H, 2}, 1.0f, rng), Tensor::zeros({H}).set_requires_grad(),
                                randn({2, H}, 0.3f, rng), Tensor::zeros({2}).set_requires_grad()};
  float first = 0, last = 0;
  for (int step = 0; step < 600; ++step) {
    zero_grad(params);
    Tensor h = ops::gelu(ops::linear(src, params[0], params[1]));
    Tensor loss = ops::cross_entropy(ops::linear(h, params[2], params[3]), y);
    loss.backward();
    sgd(params, 0.5f);
    (step == 0 ? first : last) = loss.item();
  }
  EXPECT_GT(first, 0.6f);  // about ln 2 at the start
  EXPECT_LT(last, 0.15f);
}

// One pre-LayerNorm transformer block with learned positions and a tied head (bias-free, as
// nanoGPT's baby configuration).
struct TinyTransformer {
  static constexpr int64_t V = 8, T = 8, C = 32, NH = 4;
  std::vector<Tensor> p;  // wte, wpe, ln_1, c_attn, c_proj, ln_2, c_fc, mlp c_proj, ln_f

  explicit TinyTransformer(std::mt19937& rng)
      : p{randn({V, C}, 0.3f, rng),
          randn({T, C}, 0.3f, rng),
          Tensor::full({C}, 1.0f).set_requires_grad(),
          randn({3 * C, C}, 0.2f, rng),
          randn({C, C}, 0.1f, rng),
          Tensor::full({C}, 1.0f).set_requires_grad(),
          randn({4 * C, C}, 0.2f, rng),
          randn({C, 4 * C}, 0.1f, rng),
          Tensor::full({C}, 1.0f).set_requires_grad()} {}

  Tensor loss(const std::vector<int32_t>& ids, const std::vector<int32_t>& targets, int64_t B) {
    Tensor x = ops::add(ops::embedding(p[0], ids, {B, T}), p[1]);           // B,T,C
    auto qkv = ops::chunk(ops::linear(ops::layer_norm(x, p[2]), p[3]), 3);  // 3 x B,T,C
    Tensor q = ops::split_heads(qkv[0], NH), k = ops::split_heads(qkv[1], NH),
           v = ops::split_heads(qkv[2], NH);                                // B,NH,T,HS
    Tensor att = ops::causal_softmax(ops::matmul(q, k, false, true),
                                     1.0f / std::sqrt(float(C / NH)));      // B,NH,T,T
    Tensor y = ops::merge_heads(ops::matmul(att, v));                       // B,T,C
    x = ops::add(x, ops::linear(y, p[4]));
    Tensor h = ops::gelu(ops::linear(ops::layer_norm(x, p[5]), p[6]));      // B,T,4C
    x = ops::add(x, ops::linear(h, p[7]));
    Tensor logits = ops::linear(ops::layer_norm(x, p[8]), p[0]);            // B,T,V
    return ops::cross_entropy(logits, targets);
  }
};

// Sequences of random tokens; the target at t is the token at t - 2, a task that needs attention
// and positions. The first two targets are ignored (-1).
void copy_task(int64_t B, std::mt19937& rng, std::vector<int32_t>& ids, std::vector<int32_t>& targets) {
  const int64_t T = TinyTransformer::T;
  std::uniform_int_distribution<int32_t> tok(0, int32_t(TinyTransformer::V) - 1);
  ids.resize(B * T);
  targets.resize(B * T);
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      ids[b * T + t] = tok(rng);
      targets[b * T + t] = t >= 2 ? ids[b * T + t - 2] : -1;
    }
}

TEST(Composition, OneBlockTransformerLearnsToCopyTwoBack) {
  std::mt19937 rng(11);
  TinyTransformer model(rng);
  std::vector<int32_t> ids, targets;
  float first = 0, last = 0;
  for (int step = 0; step < 400; ++step) {
    copy_task(16, rng, ids, targets);
    zero_grad(model.p);
    Tensor loss = model.loss(ids, targets, 16);
    loss.backward();
    sgd(model.p, 0.3f);
    (step == 0 ? first : last) = loss.item();
  }
  EXPECT_GT(first, 1.8f);  // about ln 8 = 2.08 at the start
  EXPECT_LT(last, 0.2f);
}

TEST(SteadyState, NoAllocationAndNoPrimitiveCreationAfterTheFirstStep) {
  std::mt19937 rng(5);
  TinyTransformer model(rng);
  std::vector<int32_t> ids, targets;
  copy_task(4, rng, ids, targets);
  auto step = [&] {
    zero_grad(model.p);
    Tensor loss = model.loss(ids, targets, 4);
    loss.backward();
    sgd(model.p, 0.01f);
  };
  const runtime::Stats after_first = test::expect_steady_state(step, 5);
  EXPECT_GT(after_first.primitives_created, 0u);
}

}  // namespace
}  // namespace nanolab
