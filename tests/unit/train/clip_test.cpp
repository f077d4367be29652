// Gradient clipping by the global norm (train/clip.hpp) against a hand computation: the norm is
// taken over every parameter's gradient together (not the first one's, not each one's), the same
// scale max_norm / (norm + 1e-6) is applied to all of them, nothing changes at or below the
// threshold or with clipping off, the norm returned is the one before clipping, and a parameter
// without a gradient counts as zero. The large case spans several of the clipper's blocks, so the
// partial sums of different parameters and blocks are all added.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "train/clip.hpp"

namespace nanolab {
namespace {

Parameter with_grad(const std::string& name, const std::vector<float>& grad) {
  Parameter p{name, Tensor::zeros({int64_t(grad.size())})};
  p.tensor.set_requires_grad();
  p.tensor.grad() = Tensor::from(grad, {int64_t(grad.size())});
  return p;
}

// Gradients {3, 4} and {12}: the global norm is sqrt(9 + 16 + 144) = 13 (the first alone: 5).
Parameters three_four_twelve() { return {with_grad("a", {3, 4}), with_grad("b", {12})}; }

TEST(GradientClipper, ScalesEveryGradientByTheGlobalNorm) {
  Parameters params = three_four_twelve();
  train_detail::GradientClipper clipper;
  EXPECT_EQ(clipper.clip(params, 1.0), 13.0);
  const float k = float(1.0 / (13.0 + 1e-6));
  EXPECT_EQ(params[0].tensor.grad().to_vector(), (std::vector<float>{3 * k, 4 * k}));
  EXPECT_EQ(params[1].tensor.grad().to_vector(), (std::vector<float>{12 * k}));
  // The clipped gradients have the norm asked for (to float rounding).
  EXPECT_NEAR(clipper.clip(params, 0.0), 1.0, 1e-6);
}

TEST(GradientClipper, LeavesGradientsAtOrBelowTheThresholdAlone) {
  for (double max_norm : {13.0, 13.5, 1e9, 0.0, -1.0}) {
    Parameters params = three_four_twelve();
    train_detail::GradientClipper clipper;
    EXPECT_EQ(clipper.clip(params, max_norm), 13.0) << max_norm;
    EXPECT_EQ(params[0].tensor.grad().to_vector(), (std::vector<float>{3, 4})) << max_norm;
    EXPECT_EQ(params[1].tensor.grad().to_vector(), (std::vector<float>{12})) << max_norm;
  }
}

TEST(GradientClipper, AParameterWithoutAGradientCountsAsZero) {
  Parameters params = three_four_twelve();
  params.insert(params.begin() + 1, Parameter{"no_grad", Tensor::full({3}, 7.0f)});
  train_detail::GradientClipper clipper;
  EXPECT_EQ(clipper.clip(params, 26.0), 13.0);
  EXPECT_EQ(clipper.clip(params, 6.5), 13.0);
  EXPECT_FALSE(params[1].tensor.grad().defined());
  EXPECT_NEAR(params[2].tensor.grad().to_vector()[0], 6.0f, 1e-5);
}

TEST(GradientClipper, ANonFiniteNormIsReportedAndNothingIsScaled) {
  Parameters params = {with_grad("a", {3, INFINITY}), with_grad("b", {12})};
  train_detail::GradientClipper clipper;
  EXPECT_TRUE(std::isinf(clipper.clip(params, 1.0)));
  EXPECT_EQ(params[1].tensor.grad().to_vector(), (std::vector<float>{12}));
}

// Three parameters of 40,000 elements (several blocks each) holding i % 7 - 3: the norm against a
// plain double sum, and every element scaled by the same factor.
TEST(GradientClipper, LargeGradientsAgainstAPlainSum) {
  Parameters params;
  double sq = 0;
  for (int p = 0; p < 3; ++p) {
    std::vector<float> g(40'000);
    for (size_t i = 0; i < g.size(); ++i) {
      g[i] = float(int((i + size_t(p)) % 7) - 3) * float(p + 1);
      sq += double(g[i]) * double(g[i]);
    }
    params.push_back(with_grad(std::string(1, char('a' + p)), g));
  }
  const double norm = std::sqrt(sq);
  std::vector<std::vector<float>> before;
  for (const Parameter& p : params) before.push_back(p.tensor.grad().to_vector());
  train_detail::GradientClipper clipper;
  EXPECT_NEAR(clipper.clip(params, norm / 4), norm, norm * 1e-12);
  const float k = float((norm / 4) / (norm + 1e-6));
  for (size_t p = 0; p < params.size(); ++p) {
    const std::vector<float> after = params[p].tensor.grad().to_vector();
    for (size_t i = 0; i < after.size(); ++i) ASSERT_EQ(after[i], before[p][i] * k) << p << " " << i;
  }
}

}  // namespace
}  // namespace nanolab
