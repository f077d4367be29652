// The tape: gradients accumulate over several uses, flow through views, skip tensors that do not
// require grad, stop under NoGrad; a fused op records its own backward.
#include <gtest/gtest.h>

#include "nanolab/autograd.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/ops.hpp"

namespace nanolab {
namespace {

Tensor param(const std::vector<float>& v, const Shape& s) {
  return Tensor::from(v, s).set_requires_grad();
}

TEST(Autograd, GradientAccumulatesWhereATensorIsUsedTwice) {
  Tensor a = param({1, 2, 3}, {3});
  Tensor loss = ops::sum(ops::add(a, ops::scale(a, 3.0f)));  // d/da = 1 + 3
  loss.backward();
  EXPECT_EQ(a.grad().to_vector(), (std::vector<float>{4, 4, 4}));
  // A second backward accumulates into .grad until it is zeroed.
  Tensor loss2 = ops::sum(a);
  loss2.backward();
  EXPECT_EQ(a.grad().to_vector(), (std::vector<float>{5, 5, 5}));
  a.zero_grad();
  EXPECT_EQ(a.grad().to_vector(), (std::vector<float>{0, 0, 0}));
}

TEST(Autograd, SharedGradientBuffersAreNotAliased) {
  // add's backward hands the same diff to both inputs; accumulating more into one of them must
  // not change the other.
  Tensor a = param({1, 1}, {2});
  Tensor b = param({1, 1}, {2});
  Tensor y = ops::add(a, b);
  Tensor loss = ops::add(ops::sum(y), ops::sum(ops::scale(a, 2.0f)));
  loss.backward();
  EXPECT_EQ(a.grad().to_vector(), (std::vector<float>{3, 3}));
  EXPECT_EQ(b.grad().to_vector(), (std::vector<float>{1, 1}));
}

TEST(Autograd, GradientFlowsThroughViews) {
  Tensor a = param({1, 2, 3, 4, 5, 6}, {2, 3});
  Tensor w = Tensor::from({1, 10, 100, 1000, 10000, 100000}, {3, 2});
  Tensor loss = ops::sum(ops::add(a.view({3, 2}), ops::scale(w, 0.0f)));
  loss.backward();
  EXPECT_EQ(a.grad().shape(), (Shape{2, 3}));
  EXPECT_EQ(a.grad().to_vector(), (std::vector<float>(6, 1.0f)));
  EXPECT_FALSE(w.grad().defined());
}

TEST(Autograd, NoGradRecordsNothing) {
  Tensor a = param({1, 2}, {2});
  Tensor y;
  {
    NoGrad no_grad;
    y = ops::scale(a, 2.0f);
  }
  EXPECT_FALSE(y.requires_grad());
  EXPECT_EQ(y.grad_fn(), nullptr);
  EXPECT_TRUE(autograd::grad_enabled());
}

TEST(Autograd, BackwardNeedsAScalarOrAGradient) {
  Tensor a = param({1, 2}, {2});
  Tensor y = ops::scale(a, 2.0f);
  EXPECT_THROW(y.backward(), ShapeError);
  y.backward(Tensor::from({1, 10}, {2}));
  EXPECT_EQ(a.grad().to_vector(), (std::vector<float>{2, 20}));
  EXPECT_THROW(y.backward(Tensor::from({1, 2, 3}, {3})), ShapeError);
}

TEST(Autograd, FusedOpRegistersItsOwnBackward) {
  // dst = src^2 written by hand, with a hand-written backward 2 * src * diff_dst.
  Tensor src = param({1, -2, 3}, {3});
  Tensor dst = Tensor::empty(src.shape());
  for (int i = 0; i < 3; ++i) dst.data()[i] = src.data()[i] * src.data()[i];
  autograd::record(dst, {src}, [src](const Tensor& diff_dst) {
    Tensor d = Tensor::empty(src.shape());
    for (int i = 0; i < 3; ++i) d.data()[i] = 2 * src.data()[i] * diff_dst.data()[i];
    autograd::accumulate_grad(src, std::move(d));
  });
  ASSERT_TRUE(dst.requires_grad());
  ops::sum(dst).backward();
  EXPECT_EQ(src.grad().to_vector(), (std::vector<float>{2, -4, 6}));
}

TEST(Autograd, NodesRunInReverseTapeOrderOnDiamonds) {
  // loss = sum(b + c) with b = 2a, c = 3b: b's node must run after c's has added into b.
  Tensor a = param({1}, {1});
  Tensor b = ops::scale(a, 2.0f);
  Tensor c = ops::scale(b, 3.0f);
  ops::sum(ops::add(b, c)).backward();
  EXPECT_EQ(a.grad().to_vector(), (std::vector<float>{8}));  // 2 + 6
}

}  // namespace
}  // namespace nanolab
