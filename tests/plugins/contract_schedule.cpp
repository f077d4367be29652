// The schedule contract (nanolab/schedule.hpp), run over every schedule plugin the registry finds,
// with its default options, for several runs (with and without a warmup, a decay that ends before
// max_iters, one that ends inside the warmup, a lr equal to min_lr):
// - every value from warmup_iters to well past decay_iters is finite and in [min_lr, lr];
// - after decay_iters the value no longer changes (a resumed run that goes on keeps it);
// - a value depends on its iteration alone: asked backwards, or by a fresh instance, it is the
//   same (a resumed run asks for its next iteration first);
// - the whole run's learning rate, warmup included, is finite and positive at every step.
// Then the shipped schedules at the iterations where their pieces meet, against values written out
// from their definitions (docs/training.md), not taken from the plugins.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "contract_util.hpp"
#include "nanolab/registry.hpp"

namespace nanolab {
namespace {

std::unique_ptr<Schedule> make(const std::string& name, const ScheduleConfig& c) {
  return Registry::instance().make<PluginKind::schedule>(name, {}, c);
}

// wsd with its option decay_frac.
std::unique_ptr<Schedule> make_wsd(const ScheduleConfig& c, double decay_frac) {
  return Registry::instance().make<PluginKind::schedule>("wsd", {{"decay_frac", decay_frac}}, c);
}

// lr, min_lr, warmup_iters, decay_iters
const std::vector<ScheduleConfig> runs = {
    {1e-3, 1e-4, 10, 100},  // nanoGPT's shape
    {6e-4, 0.0, 0, 100},    // no warmup, decay to 0
    {1e-3, 1e-4, 10, 60},   // the decay ends before the run (max_iters 100)
    {1e-3, 1e-4, 20, 15},   // the decay ends inside the warmup
    {3e-3, 3e-3, 5, 50},    // min_lr = lr
};

std::string show(const ScheduleConfig& c) {
  return "lr " + std::to_string(c.lr) + " min_lr " + std::to_string(c.min_lr) + " warmup " +
         std::to_string(c.warmup_iters) + " decay_iters " + std::to_string(c.decay_iters);
}

class ScheduleContract : public testing::TestWithParam<std::string> {};

TEST(SchedulePlugins, HasPlugins) {
  EXPECT_FALSE(contract::plugin_names(PluginKind::schedule).empty())
      << "no schedule plugin was found; " << contract::registry_report();
}

TEST_P(ScheduleContract, FiniteAndBetweenMinLrAndLr) {
  for (const ScheduleConfig& c : runs) {
    auto schedule = make(GetParam(), c);
    for (int64_t iter = c.warmup_iters; iter <= c.decay_iters + 50; ++iter) {
      const double lr = schedule->learning_rate(iter);
      ASSERT_TRUE(std::isfinite(lr)) << show(c) << " iter " << iter;
      ASSERT_GE(lr, c.min_lr) << show(c) << " iter " << iter;
      ASSERT_LE(lr, c.lr) << show(c) << " iter " << iter;
    }
  }
}

TEST_P(ScheduleContract, FlatAfterDecayIters) {
  for (const ScheduleConfig& c : runs) {
    auto schedule = make(GetParam(), c);
    const int64_t end = std::max(c.decay_iters, c.warmup_iters);
    const double last = schedule->learning_rate(end);
    for (int64_t iter = end; iter <= end + 1000; iter += 7)
      ASSERT_EQ(schedule->learning_rate(iter), last) << show(c) << " iter " << iter;
  }
}

TEST_P(ScheduleContract, ValueDependsOnTheIterationAlone) {
  for (const ScheduleConfig& c : runs) {
    auto forward = make(GetParam(), c);
    std::vector<double> values;
    for (int64_t iter = c.warmup_iters; iter <= c.decay_iters + 5; ++iter)
      values.push_back(forward->learning_rate(iter));
    auto backward = make(GetParam(), c);
    for (int64_t iter = c.decay_iters + 5; iter >= c.warmup_iters; --iter)
      ASSERT_EQ(backward->learning_rate(iter), values[size_t(iter - c.warmup_iters)])
          << show(c) << " iter " << iter;
  }
}

TEST_P(ScheduleContract, WholeRunIsFiniteAndPositive) {
  // The framework's warmup followed by the plugin, as the trainer asks it (train/schedule.cpp).
  for (const ScheduleConfig& c : runs) {
    if (c.min_lr <= 0) continue;  // a decay to 0 ends at 0
    auto schedule = make(GetParam(), c);
    for (int64_t iter = 0; iter <= 100; ++iter) {
      const double lr = iter < c.warmup_iters
                            ? c.lr * double(iter + 1) / double(c.warmup_iters + 1)
                            : schedule->learning_rate(iter);
      ASSERT_TRUE(std::isfinite(lr) && lr > 0) << show(c) << " iter " << iter << ": " << lr;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Every, ScheduleContract,
                         testing::ValuesIn(contract::plugin_names(PluginKind::schedule)),
                         contract::test_name);

// --- The shipped schedules against their definitions ---------------------------------------------

// max_iters 100, warmup 10, lr 1e-3, min_lr 1e-4.
const ScheduleConfig baby{1e-3, 1e-4, 10, 100};

TEST(WsdSchedule, StaysAtLrUntilTheDecayThenFallsLinearlyToMinLrOnTheLastStep) {
  auto wsd = make("wsd", baby);  // decay_frac's default, 0.2: the last 20 iterations
  EXPECT_EQ(wsd->learning_rate(10), 1e-3);  // the first at lr
  // The decay takes iterations 80 .. 99: 80 is one twentieth of the way down, 99 is min_lr.
  for (int64_t iter = 10; iter < 80; ++iter) EXPECT_EQ(wsd->learning_rate(iter), 1e-3) << iter;
  EXPECT_DOUBLE_EQ(wsd->learning_rate(80), 1e-3 - 0.9e-3 / 20);
  EXPECT_DOUBLE_EQ(wsd->learning_rate(89), 1e-3 - 0.9e-3 * 10 / 20);
  EXPECT_DOUBLE_EQ(wsd->learning_rate(98), 1e-3 - 0.9e-3 * 19 / 20);
  EXPECT_EQ(wsd->learning_rate(99), 1e-4);   // the last step of the run, exactly
  EXPECT_EQ(wsd->learning_rate(100), 1e-4);  // and after it (a resumed run that goes on)
  for (int64_t iter = 80; iter < 100; ++iter)
    EXPECT_LT(wsd->learning_rate(iter), wsd->learning_rate(iter - 1)) << iter;
}

TEST(WsdSchedule, DecayLengthRoundsAndEndsAtDecayIters) {
  ScheduleConfig c{1e-3, 1e-4, 0, 30};
  auto wsd = make_wsd(c, 0.1);  // 3 iterations: 27, 28, 29
  EXPECT_EQ(wsd->learning_rate(26), 1e-3);
  EXPECT_DOUBLE_EQ(wsd->learning_rate(27), 1e-3 - 0.9e-3 / 3);
  EXPECT_EQ(wsd->learning_rate(29), 1e-4);
  wsd = make_wsd(c, 0.01);  // 0.3 of an iteration: at least one, the last
  EXPECT_EQ(wsd->learning_rate(28), 1e-3);
  EXPECT_EQ(wsd->learning_rate(29), 1e-4);
  c.decay_iters = 20;  // the decay ends there (iterations 16 .. 19), min_lr after it
  wsd = make_wsd(c, 0.2);
  EXPECT_EQ(wsd->learning_rate(15), 1e-3);
  EXPECT_DOUBLE_EQ(wsd->learning_rate(16), 1e-3 - 0.9e-3 / 4);
  EXPECT_EQ(wsd->learning_rate(19), 1e-4);
  EXPECT_EQ(wsd->learning_rate(25), 1e-4);
}

TEST(WsdSchedule, DecayOfTheWholeRunGoesOnFromWhereTheWarmupLeavesIt) {
  auto wsd = make_wsd(baby, 1.0);  // iterations 0 .. 99 on the decay line
  EXPECT_DOUBLE_EQ(wsd->learning_rate(10), 1e-3 - 0.9e-3 * 11 / 100);
  EXPECT_EQ(wsd->learning_rate(99), 1e-4);
}

TEST(Schedules, CosineLinearAndConstantAtTheirBoundaries) {
  auto cosine = make("cosine", baby);
  EXPECT_EQ(cosine->learning_rate(10), 1e-3);
  EXPECT_DOUBLE_EQ(cosine->learning_rate(55), 1e-4 + 0.5 * 0.9e-3);  // half way: cos = 0
  EXPECT_EQ(cosine->learning_rate(101), 1e-4);
  auto linear = make("linear", baby);
  EXPECT_EQ(linear->learning_rate(10), 1e-3);
  EXPECT_DOUBLE_EQ(linear->learning_rate(55), 1e-4 + 0.5 * 0.9e-3);
  EXPECT_DOUBLE_EQ(linear->learning_rate(100), 1e-4);
  auto constant = make("constant", baby);
  EXPECT_EQ(constant->learning_rate(10), 1e-3);
  EXPECT_EQ(constant->learning_rate(99), 1e-3);
  // A decay that ends inside the warmup: the decaying schedules are at min_lr when it ends.
  const ScheduleConfig short_decay{1e-3, 1e-4, 20, 15};
  EXPECT_EQ(make("cosine", short_decay)->learning_rate(20), 1e-4);
  EXPECT_EQ(make("linear", short_decay)->learning_rate(20), 1e-4);
}

}  // namespace
}  // namespace nanolab
