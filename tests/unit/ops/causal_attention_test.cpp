// Op cases for causal_attention (plain, with dropout on the weights, with a window and ALiBi's
// slopes), and the contracts the harness cannot see: the op equals the composition of framework
// ops it replaces (ops.hpp) at a size that runs its parallel loops, repeated calls create no
// oneDNN primitive and take no memory from the system, and bad arguments name the op.
#include <cmath>
#include <random>
#include <vector>

#include "nanolab/autograd.hpp"
#include "nanolab/errors.hpp"
#include "ops/causal_attention_ref.hpp"
#include "unit/ops/op_harness.hpp"

namespace nanolab::test {
namespace {

// f32 tolerances are the harness defaults (1e-5 of the tensor's scale): every element is a sum of
// at most T = 6 products of softmax weights or HS = 4 products of inputs.
OpCase attention_case(const std::string& name, ref::AttentionShape a) {
  auto fast = [a](const Inputs& x) {
    return ops::causal_attention(x[0], a.NH, float(a.scale), {a.window, a.slopes}, a.p, a.seed);
  };
  return op_case(name, {{a.B, a.T, 3 * a.NH * a.HS}}, fast,
                 NANOLAB_REF_FWD(ref::causal_attention_fwd(s[0], d, a)),
                 NANOLAB_REF_BWD(ref::causal_attention_bwd(s[0], dd, ds[0], a)));
}

std::vector<OpCase> cases() {
  const double scale = 1.0 / std::sqrt(4.0);
  return {
      attention_case("causal_attention", {2, 6, 2, 4, scale, 0, {}}),
      attention_case("causal_attention_dropout", {2, 6, 2, 4, scale, 0, {}, 0.3f, 11}),
      attention_case("causal_attention_window_alibi", {2, 6, 2, 4, scale, 3, {0.5f, 0.25f}}),
  };
}

Tensor random_tensor(const Shape& shape, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-2.0f, 2.0f);
  Tensor t = Tensor::empty(shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = u(rng);
  return t;
}

float max_abs_diff(const Tensor& a, const Tensor& b) {
  float m = 0.0f;
  for (int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::abs(a.data()[i] - b.data()[i]));
  return m;
}

}  // namespace

NANOLAB_OP_CASES(CausalAttention, cases());

TEST(CausalAttention, EqualsTheComposedOpsItReplaces) {
  // 2 x 4 heads of T = 64: 32768 weights, enough for the row loops to run on TBB workers.
  constexpr int64_t B = 2, T = 64, NH = 4, HS = 16, C = NH * HS;
  const float scale = 1.0f / std::sqrt(float(HS)), p = 0.2f;
  const uint64_t seed = 42;
  const std::vector<float> slopes{0.5f, 0.25f, 0.125f, 0.0625f};
  const Tensor dy = random_tensor({B, T, C}, 2);
  for (const ops::AttentionMask mask : {ops::AttentionMask{}, ops::AttentionMask{16, slopes}}) {
    Tensor qkv_fused = random_tensor({B, T, 3 * C}, 1).set_requires_grad();
    Tensor qkv_composed = random_tensor({B, T, 3 * C}, 1).set_requires_grad();
    Tensor fused = ops::causal_attention(qkv_fused, NH, scale, mask, p, seed);
    std::vector<Tensor> parts = ops::chunk(qkv_composed, 3);
    Tensor att = ops::causal_softmax(
        ops::matmul(ops::split_heads(parts[0], NH), ops::split_heads(parts[1], NH), false, true),
        scale, mask);
    Tensor composed = ops::merge_heads(
        ops::matmul(ops::dropout(att, p, seed), ops::split_heads(parts[2], NH)));
    // Same products in another blocking: the sums may differ in the last bits.
    EXPECT_LT(max_abs_diff(fused, composed), 1e-5f) << "window " << mask.window;
    fused.backward(dy);
    composed.backward(dy);
    EXPECT_LT(max_abs_diff(qkv_fused.grad(), qkv_composed.grad()), 1e-4f)
        << "window " << mask.window;
  }
}

TEST(CausalAttention, AfterTheFirstCallCreatesNoPrimitiveAndTakesNoMemoryFromTheSystem) {
  constexpr int64_t B = 2, T = 16, NH = 2, HS = 8;
  Tensor qkv = random_tensor({B, T, 3 * NH * HS}, 3).set_requires_grad();
  const Tensor dy = random_tensor({B, T, NH * HS}, 4);
  auto step = [&] {
    qkv.reset_grad();
    ops::causal_attention(qkv, NH, 0.5f, {}, 0.1f, 9).backward(dy);
  };
  expect_steady_state(step, 3);
}

TEST(CausalAttention, BadArgumentsNameTheOpAndWhatWasExpected) {
  const Tensor qkv = Tensor::zeros({2, 5, 12});
  auto message = [](auto f) -> std::string {
    try {
      f();
    } catch (const Error& e) {
      return e.what();
    }
    return "no error";
  };
  // 12 = 3 * 4, and 4 is not divisible by 3 heads.
  EXPECT_EQ(message([&] { ops::causal_attention(qkv, 3, 1.0f); }),
            "causal_attention: expected qkv (B, T, 3C) with C divisible by n_head = 3, got "
            "[2, 5, 12]");
  const std::vector<float> slopes{0.5f};
  EXPECT_EQ(message([&] { ops::causal_attention(qkv, 2, 1.0f, {0, slopes}); }),
            "causal_attention: expected one ALiBi slope per head (2), got 1");
  EXPECT_THROW(ops::causal_attention(qkv, 2, 1.0f, {}, 1.0f), ConfigError);
  EXPECT_THROW(ops::causal_attention(qkv, 2, 1.0f, {-1, {}}), ShapeError);
}

}  // namespace nanolab::test
