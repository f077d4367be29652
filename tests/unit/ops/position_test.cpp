// Position encodings at the op level: ops::rope and the ALiBi / sliding-window forms of
// ops::causal_softmax, each held to its plain-loop reference and gradient-checked by the op
// harness, and each shown to have its defining property:
// - RoPE: the dot product of a rotated q and k depends only on their relative position;
// - ALiBi: with equal scores, the weights of row i fall off as exp(-m_h (i - j)), m_h from the
//   paper's geometric sequence (nanolab::alibi_slopes);
// - sliding window: weights outside (i - window, i] are exactly zero.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "nanolab/attention.hpp"
#include "nanolab/ops.hpp"
#include "ops/causal_softmax_ref.hpp"
#include "ops/rope_ref.hpp"
#include "unit/ops/op_harness.hpp"

namespace nanolab::test {
namespace {

OpCase rope_case(const std::string& name, const Shape& src, int64_t pos0) {
  const int64_t t = src[-2], HS = src.last(), R = src.numel() / (t * HS);
  return op_case(name, {src}, [pos0](const Inputs& x) { return ops::rope(x[0], pos0); },
                 NANOLAB_REF_FWD(ref::rope_fwd(s[0], d, R, t, HS, pos0, T(10000))),
                 NANOLAB_REF_BWD(ref::rope_bwd(dd, ds[0], R, t, HS, pos0, T(10000))));
}

OpCase masked_softmax_case(const std::string& name, const Shape& src, int64_t window,
                           std::vector<float> slopes) {
  const int64_t t = src.last(), BH = src.numel() / (t * t);
  const float scale = 1.0f / std::sqrt(8.0f);
  return op_case(
      name, {src},
      [=](const Inputs& x) { return ops::causal_softmax(x[0], scale, {window, slopes}); },
      NANOLAB_REF_FWD(ref::causal_softmax_fwd(s[0], d, BH, t, T(scale), window, slopes)),
      NANOLAB_REF_BWD(ref::causal_softmax_bwd(d, dd, ds[0], BH, t, T(scale))));
}

std::vector<OpCase> cases() {
  return {
      rope_case("rope", {2, 3, 5, 8}, 0),
      // A cached call: rows start at position 7.
      rope_case("rope_offset", {1, 2, 3, 4}, 7),
      masked_softmax_case("causal_softmax_window", {2, 2, 6, 6}, 3, {}),
      masked_softmax_case("causal_softmax_alibi", {2, 2, 6, 6}, 0, {0.5f, 0.25f}),
      masked_softmax_case("causal_softmax_window_alibi", {1, 2, 6, 6}, 2, {0.5f, 0.25f}),
  };
}

NANOLAB_OP_CASES(Position, cases());

double dot(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += double(a[i]) * double(b[i]);
  return s;
}

TEST(Rope, ScoresDependOnlyOnTheRelativePosition) {
  const int64_t HS = 16;
  std::mt19937 rng(1);
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> qv(HS), kv(HS);
  for (auto* v : {&qv, &kv})
    for (float& x : *v) x = n(rng);
  const Tensor q = Tensor::from(qv, {1, HS}), k = Tensor::from(kv, {1, HS});
  auto score = [&](int64_t m, int64_t p) {  // q at position m, k at position p
    return dot(ops::rope(q, m).to_vector(), ops::rope(k, p).to_vector());
  };
  // Scores of a ~ 4 (|q||k| ~ 16 over HS = 16 terms); f32 rotations round each product at 1e-7
  // and the angles of positions near 1000 carry ~6e-5 rad of float rounding in sin/cos
  // arguments that the table computes in double: 1e-4 absolute bounds both. A position-dependent
  // (absolute) encoding moves the score by O(1).
  for (int64_t offset : {0, 1, 5, 100, 1000})
    for (int64_t m : {0, 3, 9})
      for (int64_t p = 0; p <= m; ++p)
        EXPECT_NEAR(score(m + offset, p + offset), score(m, p), 1e-4)
            << "q at " << m << ", k at " << p << ", both shifted by " << offset;
  // ... and the score does change with the distance, or the test above shows nothing.
  EXPECT_GT(std::abs(score(5, 0) - score(5, 5)), 1e-2);
  // Position 0 is the identity.
  EXPECT_EQ(ops::rope(q, 0).to_vector(), qv);
}

TEST(Rope, RejectsAnOddHeadSize) {
  EXPECT_THROW(ops::rope(Tensor::zeros({2, 3, 5})), ShapeError);
}

TEST(Alibi, SlopesAreThePapersGeometricSequence) {
  // Power of two: m_h = 2^(-8h/NH), h = 1..NH.
  EXPECT_EQ(alibi_slopes(8), (std::vector<float>{0.5f, 0.25f, 0.125f, 0.0625f, 0.03125f,
                                                  0.015625f, 0.0078125f, 0.00390625f}));
  EXPECT_EQ(alibi_slopes(1), (std::vector<float>{1.0f / 256.0f}));
  // Not a power of two: the slopes of the closest lower power of two (4: 2^-2 .. 2^-8), then every
  // other slope of the next one (8: 2^-1, 2^-3, ...), as in the authors' code.
  EXPECT_EQ(alibi_slopes(6), (std::vector<float>{0.25f, 0.0625f, 0.015625f, 0.00390625f, 0.5f,
                                                  0.125f}));
}

TEST(Alibi, WeightsOfEqualScoresFallOffWithDistanceAsTheFormula) {
  const int64_t NH = 4, T = 9;
  const std::vector<float> slopes = alibi_slopes(NH);
  // Equal scores: any difference between weights comes from the bias alone.
  const std::vector<float> w =
      ops::causal_softmax(Tensor::zeros({1, NH, T, T}), 1.0f, {0, slopes}).to_vector();
  for (int64_t h = 0; h < NH; ++h)
    for (int64_t i = 0; i < T; ++i) {
      double z = 0;
      for (int64_t j = 0; j <= i; ++j) z += std::exp(-double(slopes[h]) * double(i - j));
      for (int64_t j = 0; j < T; ++j) {
        const double expected = j <= i ? std::exp(-double(slopes[h]) * double(i - j)) / z : 0.0;
        // f32 exp and sum of <= 9 terms of O(1): a few ulp of 1.
        EXPECT_NEAR(w[size_t(((h * T) + i) * T + j)], expected, 1e-6)
            << "head " << h << ", row " << i << ", column " << j;
      }
    }
}

TEST(SlidingWindowSoftmax, WeightsOutsideTheWindowAreExactlyZero) {
  const int64_t T = 10, window = 3;
  std::mt19937 rng(2);
  std::normal_distribution<float> n(0.0f, 2.0f);
  std::vector<float> v(size_t(T * T));
  for (float& x : v) x = n(rng);
  const std::vector<float> w =
      ops::causal_softmax(Tensor::from(v, {1, T, T}), 1.0f, {window, {}}).to_vector();
  for (int64_t i = 0; i < T; ++i) {
    double row = 0;
    for (int64_t j = 0; j < T; ++j) {
      const float x = w[size_t(i * T + j)];
      if (j > i || j <= i - window)
        EXPECT_EQ(x, 0.0f) << "row " << i << ", column " << j;
      else
        EXPECT_GT(x, 0.0f) << "row " << i << ", column " << j;
      row += x;
    }
    EXPECT_NEAR(row, 1.0, 1e-6) << "row " << i;
  }
}

TEST(Alibi, NeedsOneSlopePerHead) {
  const std::vector<float> slopes = alibi_slopes(3);
  EXPECT_THROW(ops::causal_softmax(Tensor::zeros({1, 2, 4, 4}), 1.0f, {0, slopes}), ShapeError);
}

}  // namespace
}  // namespace nanolab::test
