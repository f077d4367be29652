// Op cases for layer_norm (with and without bias), gelu (tanh and erf), softmax and
// causal_softmax (scale 1 and 1/sqrt(HS)), plus the contracts the harness cannot see: a wrong
// shape names the op and the shapes, the causal mask gives exact zeros and rows that sum to 1,
// and a second call with the same shapes creates no oneDNN primitive.
#include <cfloat>
#include <cmath>
#include <random>

#include "nanolab/autograd.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/runtime.hpp"
#include "ops/causal_softmax_ref.hpp"
#include "ops/gelu_ref.hpp"
#include "runtime/kernels.hpp"
#include "ops/layer_norm_ref.hpp"
#include "ops/softmax_ref.hpp"
#include "unit/ops/op_harness.hpp"

namespace nanolab::test {
namespace {

// f32 tolerances are the harness defaults (1e-5 of the tensor's scale): every output element is
// a short sum (C <= 16 or N <= 67 terms of size <= 1) or one transcendental function. The worst
// error measured, on 1 and 2 threads, is 5e-7 of the scale (oneDNN's vectorised erf and tanh lose
// relative accuracy in the tails where GELU is near 0, not absolute accuracy): 20x under it.
// GradCheck keeps the harness default too; its worst measured error is 2e-9.

OpCase layer_norm_case(const std::string& name, const Shape& src, bool with_bias) {
  const int64_t R = src.rows(), C = src.last();
  std::vector<Shape> shapes{src, {C}};
  if (with_bias) shapes.push_back({C});
  auto fast = [with_bias](const Inputs& x) {
    return with_bias ? ops::layer_norm(x[0], x[1], x[2]) : ops::layer_norm(x[0], x[1]);
  };
  return op_case(
      name, shapes, fast,
      NANOLAB_REF_FWD(ref::layer_norm_fwd(s[0], s[1], with_bias ? s[2] : (const T*)nullptr, d, R,
                                          C, T(1e-5))),
      NANOLAB_REF_BWD(ref::layer_norm_bwd(s[0], s[1], dd, ds[0], ds[1],
                                          with_bias ? ds[2] : (T*)nullptr, R, C, T(1e-5))));
}

OpCase gelu_case(const std::string& name, const Shape& src, ops::GeluForm form) {
  const int64_t n = src.numel();
  const bool tanh_form = form == ops::GeluForm::tanh;
  OpCase c = op_case(name, {src}, [form](const Inputs& x) { return ops::gelu(x[0], form); },
                     NANOLAB_REF_FWD(ref::gelu_fwd(s[0], d, n, tanh_form)),
                     NANOLAB_REF_BWD(ref::gelu_bwd(s[0], dd, ds[0], n, tanh_form)));
  // Out to |x| = 4, where the tanh and erf forms part and the curve flattens into its tails.
  c.lo = -4.0;
  c.hi = 4.0;
  return c;
}

OpCase softmax_case(const std::string& name, const Shape& src) {
  const int64_t R = src.rows(), N = src.last();
  return op_case(name, {src}, [](const Inputs& x) { return ops::softmax(x[0]); },
                 NANOLAB_REF_FWD(ref::softmax_fwd(s[0], d, R, N)),
                 NANOLAB_REF_BWD(ref::softmax_bwd(d, dd, ds[0], R, N)));
}

OpCase causal_softmax_case(const std::string& name, const Shape& src, float scale) {
  // t is the time dim T: inside the reference lambdas T names the element type.
  const int64_t t = src.last(), BH = src.numel() / (t * t);
  return op_case(name, {src}, [scale](const Inputs& x) { return ops::causal_softmax(x[0], scale); },
                 NANOLAB_REF_FWD(ref::causal_softmax_fwd(s[0], d, BH, t, T(scale))),
                 NANOLAB_REF_BWD(ref::causal_softmax_bwd(d, dd, ds[0], BH, t, T(scale))));
}

std::vector<OpCase> cases() {
  return {
      layer_norm_case("layer_norm_bias", {2, 3, 16}, true),
      layer_norm_case("layer_norm_nobias", {5, 8}, false),
      gelu_case("gelu_tanh", {2, 3, 16}, ops::GeluForm::tanh),
      gelu_case("gelu_erf", {2, 3, 16}, ops::GeluForm::erf),
      // 347 elements: not a multiple of any vector width, so oneDNN's tail loop runs too
      gelu_case("gelu_tanh_tail", {347}, ops::GeluForm::tanh),
      gelu_case("gelu_erf_tail", {347}, ops::GeluForm::erf),
      softmax_case("softmax", {2, 3, 7}),
      softmax_case("softmax_wide", {4, 67}),
      causal_softmax_case("causal_softmax", {2, 2, 5, 5}, 1.0f),
      // 1/sqrt(HS) with HS = 8, as attention calls it
      causal_softmax_case("causal_softmax_scaled", {2, 2, 5, 5}, 1.0f / std::sqrt(8.0f)),
  };
}

// `f` throws ShapeError whose message starts with "<op>:" and contains every shape in `shapes`.
template <class F>
void expect_shape_error(F f, const std::string& op, const std::vector<std::string>& shapes) {
  try {
    f();
    ADD_FAILURE() << op << ": no ShapeError";
  } catch (const ShapeError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind(op + ":", 0), 0u) << msg;
    for (const auto& s : shapes) EXPECT_NE(msg.find(s), std::string::npos) << s << " in: " << msg;
  }
}

}  // namespace

NANOLAB_OP_CASES(NormAct, cases());

TEST(NormAct, LayerNormWrongWeightNamesOpAndShapes) {
  Tensor src = Tensor::zeros({2, 3, 16});
  Tensor weight = Tensor::zeros({8});
  expect_shape_error([&] { ops::layer_norm(src, weight); }, "layer_norm", {"[2, 3, 16]", "[8]"});
}

TEST(NormAct, LayerNormWrongBiasNamesOpAndShapes) {
  Tensor src = Tensor::zeros({5, 8});
  Tensor weight = Tensor::zeros({8});
  Tensor bias = Tensor::zeros({5});
  expect_shape_error([&] { ops::layer_norm(src, weight, bias); }, "layer_norm", {"[5, 8]", "[5]"});
}

// gelu is elementwise: every shape is valid, so it has no wrong-shape test.

TEST(NormAct, SoftmaxWithoutLastDimNamesOpAndShape) {
  Tensor src = Tensor::zeros({4, 0});
  expect_shape_error([&] { ops::softmax(src); }, "softmax", {"[4, 0]"});
}

TEST(NormAct, CausalSoftmaxNonSquareNamesOpAndShape) {
  Tensor src = Tensor::zeros({2, 5, 4});
  expect_shape_error([&] { ops::causal_softmax(src); }, "causal_softmax", {"[2, 5, 4]"});
}

TEST(NormAct, CausalSoftmaxMaskIsExactAndRowsSumToOne) {
  constexpr int64_t B = 2, NH = 4, T = 64;
  // Enough work (rows x T) that kernels::parallel_for runs it on TBB workers, not serially.
  static_assert(B * NH * T * T >= 2 * kernels::serial_below);
  const float scale = 1.0f / std::sqrt(8.0f);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-8.0f, 8.0f);
  std::vector<float> v(size_t(B * NH * T * T));
  // Huge scores in the masked half: a kernel that read them would put all the mass there.
  for (int64_t k = 0; k < int64_t(v.size()); ++k) v[k] = (k % T) > (k / T) % T ? 1e4f : u(rng);
  Tensor src = Tensor::from(v, {B, NH, T, T});
  src.set_requires_grad();
  Tensor dst = ops::causal_softmax(src, scale);

  const std::vector<float> y = dst.to_vector();
  for (int64_t r = 0; r < B * NH * T; ++r) {
    const int64_t i = r % T;
    double sum = 0;
    for (int64_t j = 0; j < T; ++j) {
      const float p = y[r * T + j];
      if (j > i) {
        ASSERT_EQ(p, 0.0f) << "row " << r << " col " << j;
      } else {
        ASSERT_GT(p, 0.0f) << "row " << r << " col " << j;
        sum += p;
      }
    }
    // A float sum of i+1 terms and one rounding per element: (T + 1) * 2^-24 bounds the error;
    // T * FLT_EPSILON (twice that) is still far below a row that is mis-normalised.
    ASSERT_NEAR(sum, 1.0, T * FLT_EPSILON) << "row " << r;
  }

  std::vector<float> diff(v.size());
  for (auto& x : diff) x = u(rng);
  dst.backward(Tensor::from(diff, dst.shape()));
  const std::vector<float> g = src.grad().to_vector();
  for (int64_t k = 0; k < int64_t(g.size()); ++k) {
    if ((k % T) > (k / T) % T) {
      ASSERT_EQ(g[k], 0.0f) << "masked gradient at " << k;
    }
  }
}

// The op cases run layer_norm with grad (oneDNN's training forward); without grad it takes
// another primitive (the inference forward), held here to the same reference and tolerance.
TEST(NormAct, LayerNormWithoutGradMatchesReferenceAndRecordsNothing) {
  const int64_t R = 6, C = 16;
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(R * C)), w(static_cast<size_t>(C)),
      b(static_cast<size_t>(C));
  for (auto* v : {&x, &w, &b})
    for (auto& e : *v) e = u(rng);
  Tensor src = Tensor::from(x, {R, C});
  Tensor weight = Tensor::from(w, {C});
  Tensor bias = Tensor::from(b, {C});
  weight.set_requires_grad();
  NoGrad no_grad;
  Tensor dst = ops::layer_norm(src, weight, bias);
  EXPECT_EQ(dst.grad_fn(), nullptr);
  std::vector<float> ref(x.size());
  ref::layer_norm_fwd(x.data(), w.data(), b.data(), ref.data(), R, C, 1e-5f);
  const std::vector<float> got = dst.to_vector();
  for (size_t k = 0; k < ref.size(); ++k) EXPECT_NEAR(got[k], ref[k], 1e-5) << "at " << k;
}

TEST(NormAct, SecondCallWithSameShapesCreatesNoPrimitive) {
  // Shapes no other test uses, so the first round must create every primitive.
  auto round = [] {
    Tensor x = Tensor::full({3, 7, 41}, 0.5f);
    x.set_requires_grad();
    Tensor w = Tensor::full({41}, 1.0f);
    w.set_requires_grad();
    Tensor b = Tensor::full({41}, 0.0f);
    b.set_requires_grad();
    Tensor y = ops::softmax(ops::gelu(ops::gelu(ops::layer_norm(x, w, b), ops::GeluForm::erf)));
    y.backward(Tensor::full(y.shape(), 1.0f));
  };
  const uint64_t before = runtime::stats().primitives_created;
  round();
  const uint64_t first = runtime::stats().primitives_created;
  round();
  // forward and backward of layer_norm, gelu erf, gelu tanh and softmax: 8 primitives, once
  EXPECT_EQ(first - before, 8u);
  EXPECT_EQ(runtime::stats().primitives_created, first);
}

}  // namespace nanolab::test
