// The op timers (runtime/profile.hpp): time goes to the innermost scope only, scopes inherit the
// enclosing phase, a node's backward is timed under the kind its forward ran in, nothing is
// collected outside a step, when profiling is off, or on another thread. Waits are sleeps of a
// known length: a scope that holds one has at least that much time, and a scope around it that
// does nothing else has far less.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "nanolab/autograd.hpp"
#include "nanolab/ops.hpp"
#include "runtime/profile.hpp"

namespace nanolab::profile {
namespace {

using std::chrono::milliseconds;

double seconds(const Totals& t, Phase p, Kind k) { return t.seconds[size_t(p)][size_t(k)]; }

// Every test leaves profiling off, as the rest of the suite expects.
struct Profile : testing::Test {
  void SetUp() override { enable(true); }
  void TearDown() override { enable(false); }
};

TEST_F(Profile, TimeGoesToTheInnermostScope) {
  {
    StepScope step;
    Scope outer(Kind::attention, Phase::forward);
    Scope inner(Kind::matmul);
    std::this_thread::sleep_for(milliseconds(30));
  }
  const Totals t = totals();
  EXPECT_EQ(t.steps, 1);
  EXPECT_GE(seconds(t, Phase::forward, Kind::matmul), 0.030);
  // The outer scope and the step's root only opened and closed the inner ones.
  EXPECT_LT(seconds(t, Phase::forward, Kind::attention), 0.005);
  EXPECT_LT(seconds(t, Phase::rest, Kind::other), 0.005);
  EXPECT_DOUBLE_EQ(t.sum_seconds(), seconds(t, Phase::forward, Kind::matmul) +
                                        seconds(t, Phase::forward, Kind::attention) +
                                        seconds(t, Phase::rest, Kind::other));
}

TEST_F(Profile, ScopesTakeTheEnclosingPhase) {
  {
    StepScope step;
    {
      Scope backward(Kind::other, Phase::backward);
      Scope norm(Kind::layer_norm);
      std::this_thread::sleep_for(milliseconds(10));
    }
    Scope update(Kind::optimizer);
    std::this_thread::sleep_for(milliseconds(10));
  }
  const Totals t = totals();
  EXPECT_GE(seconds(t, Phase::backward, Kind::layer_norm), 0.010);
  EXPECT_EQ(seconds(t, Phase::forward, Kind::layer_norm), 0.0);
  EXPECT_GE(seconds(t, Phase::rest, Kind::optimizer), 0.010);
}

TEST_F(Profile, ABackwardIsTimedUnderTheKindOfItsForward) {
  {
    StepScope step;
    Tensor x = Tensor::full({64, 64}, 0.5f).set_requires_grad();
    Tensor y;
    {
      Scope forward(Kind::other, Phase::forward);
      y = ops::sum(ops::gelu(x));
      EXPECT_EQ(current_kind(), Kind::other);
    }
    Scope backward(Kind::other, Phase::backward);
    y.backward();
  }
  const Totals t = totals();
  EXPECT_GT(seconds(t, Phase::forward, Kind::gelu), 0.0);
  EXPECT_GT(seconds(t, Phase::backward, Kind::gelu), 0.0);
  EXPECT_EQ(seconds(t, Phase::backward, Kind::matmul), 0.0);
}

TEST_F(Profile, CollectsOnlyInsideAStepOnItsThread) {
  {
    Scope outside(Kind::matmul, Phase::forward);
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(totals().sum_seconds(), 0.0);
  {
    StepScope step;
    std::thread other([] {
      Scope elsewhere(Kind::gelu, Phase::forward);
      std::this_thread::sleep_for(milliseconds(5));
    });
    other.join();
  }
  EXPECT_EQ(seconds(totals(), Phase::forward, Kind::gelu), 0.0);
  enable(false);
  {
    StepScope step;
    Scope off(Kind::matmul, Phase::forward);
    std::this_thread::sleep_for(milliseconds(5));
  }
  EXPECT_EQ(totals().steps, 0);
  EXPECT_EQ(totals().sum_seconds(), 0.0);
}

TEST_F(Profile, TableHasARowPerKindAndTheMeasuredStep) {
  Totals t;
  t.steps = 2;
  t.seconds[size_t(Phase::forward)][size_t(Kind::matmul)] = 0.006;  // 3 ms per step
  t.seconds[size_t(Phase::rest)][size_t(Kind::data)] = 0.002;       // 1 ms per step
  const std::string s = table(t, 5.0);
  EXPECT_NE(s.find("profile: 2 steps"), std::string::npos) << s;
  EXPECT_NE(s.find("matmul/linear      3.000         -         -     3.000   75.0%"),
            std::string::npos) << s;
  EXPECT_NE(s.find("data                   -         -     1.000     1.000   25.0%"),
            std::string::npos) << s;
  EXPECT_NE(s.find("the sum is 80.0% of it"), std::string::npos) << s;
  size_t rows = 0;
  for (int k = 0; k < n_kinds; ++k) rows += s.find(kind_name(Kind(k))) != std::string::npos;
  EXPECT_EQ(rows, size_t(n_kinds));
}

}  // namespace
}  // namespace nanolab::profile
