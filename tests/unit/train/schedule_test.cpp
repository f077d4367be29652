// The learning-rate schedules (train/schedule.hpp) at the iterations where their pieces meet: the
// values are written out from the definitions, not taken from the code. Mostly "wsd"
// (warmup-stable-decay), whose decay starts late and ends on the last step.
#include <gtest/gtest.h>

#include "config/schema.hpp"
#include "train/schedule.hpp"

namespace nanolab {
namespace {

using train_detail::learning_rate;

// max_iters 100, warmup 10, lr 1e-3, min_lr 1e-4, wsd decaying over the last 20 iterations.
ExperimentConfig wsd_config() {
  ExperimentConfig c = config::default_config();
  c.max_iters = 100;
  c.warmup_iters = 10;
  c.lr = 1e-3;
  c.min_lr = 1e-4;
  c.lr_schedule = "wsd";
  c.lr_decay_iters = 0;
  c.lr_decay_frac = 0.2;
  return c;
}

TEST(WsdSchedule, WarmsUpLinearlyAsTheOtherSchedules) {
  const ExperimentConfig c = wsd_config();
  EXPECT_DOUBLE_EQ(learning_rate(c, 0), 1e-3 * 1 / 11);
  EXPECT_DOUBLE_EQ(learning_rate(c, 9), 1e-3 * 10 / 11);  // the last warmup step
  EXPECT_EQ(learning_rate(c, 10), 1e-3);                  // the first at lr
}

TEST(WsdSchedule, StaysAtLrUntilTheDecayThenFallsLinearlyToMinLrOnTheLastStep) {
  const ExperimentConfig c = wsd_config();
  // The decay takes iterations 80 .. 99: 80 is one twentieth of the way down, 99 is min_lr.
  for (int64_t iter = 10; iter < 80; ++iter) EXPECT_EQ(learning_rate(c, iter), 1e-3) << iter;
  EXPECT_DOUBLE_EQ(learning_rate(c, 80), 1e-3 - 0.9e-3 / 20);
  EXPECT_DOUBLE_EQ(learning_rate(c, 89), 1e-3 - 0.9e-3 * 10 / 20);
  EXPECT_DOUBLE_EQ(learning_rate(c, 98), 1e-3 - 0.9e-3 * 19 / 20);
  EXPECT_EQ(learning_rate(c, 99), 1e-4);  // the last step of the run, exactly
  EXPECT_EQ(learning_rate(c, 100), 1e-4);  // and after it (a resumed run that goes on)
  for (int64_t iter = 80; iter < 100; ++iter)
    EXPECT_LT(learning_rate(c, iter), learning_rate(c, iter - 1)) << iter;
}

TEST(WsdSchedule, DecayLengthRoundsAndEndsAtLrDecayIters) {
  ExperimentConfig c = wsd_config();
  c.max_iters = 30;
  c.warmup_iters = 0;
  c.lr_decay_frac = 0.1;  // 3 iterations: 27, 28, 29
  EXPECT_EQ(learning_rate(c, 26), 1e-3);
  EXPECT_DOUBLE_EQ(learning_rate(c, 27), 1e-3 - 0.9e-3 / 3);
  EXPECT_EQ(learning_rate(c, 29), 1e-4);
  c.lr_decay_frac = 0.01;  // 0.3 of an iteration: at least one, the last
  EXPECT_EQ(learning_rate(c, 28), 1e-3);
  EXPECT_EQ(learning_rate(c, 29), 1e-4);
  c.lr_decay_frac = 0.2;
  c.lr_decay_iters = 20;  // the decay ends there (iterations 16 .. 19), min_lr after it
  EXPECT_EQ(learning_rate(c, 15), 1e-3);
  EXPECT_DOUBLE_EQ(learning_rate(c, 16), 1e-3 - 0.9e-3 / 4);
  EXPECT_EQ(learning_rate(c, 19), 1e-4);
  EXPECT_EQ(learning_rate(c, 25), 1e-4);
}

TEST(WsdSchedule, DecayOfTheWholeRunStartsAtTheFirstStepAfterWarmup) {
  ExperimentConfig c = wsd_config();
  c.lr_decay_frac = 1.0;  // iterations 0 .. 99 on the decay line; the warmup keeps its own values
  EXPECT_DOUBLE_EQ(learning_rate(c, 9), 1e-3 * 10 / 11);
  EXPECT_DOUBLE_EQ(learning_rate(c, 10), 1e-3 - 0.9e-3 * 11 / 100);
  EXPECT_EQ(learning_rate(c, 99), 1e-4);
}

// The other schedules at the same boundaries, so that adding wsd changed none of them.
TEST(Schedules, CosineLinearAndConstantAtTheirBoundaries) {
  ExperimentConfig c = wsd_config();
  c.lr_schedule = "cosine";
  EXPECT_EQ(learning_rate(c, 10), 1e-3);
  EXPECT_DOUBLE_EQ(learning_rate(c, 55), 1e-4 + 0.5 * 0.9e-3);  // half way: cos = 0
  EXPECT_EQ(learning_rate(c, 101), 1e-4);
  c.lr_schedule = "linear";
  EXPECT_DOUBLE_EQ(learning_rate(c, 55), 1e-4 + 0.5 * 0.9e-3);
  EXPECT_DOUBLE_EQ(learning_rate(c, 100), 1e-4);
  c.lr_schedule = "constant";
  EXPECT_EQ(learning_rate(c, 99), 1e-3);
}

}  // namespace
}  // namespace nanolab
