// The framework's side of the learning rate (train/schedule.hpp): the linear warmup, which never
// asks the schedule plugin, the hand-over to the plugin at warmup_iters, and what the plugin is
// told (ScheduleConfig). The plugins' own values are held by tests/plugins/contract_schedule.cpp.
#include <gtest/gtest.h>

#include <vector>

#include "config/schema.hpp"
#include "train/schedule.hpp"

namespace nanolab {
namespace {

using train_detail::learning_rate;
using train_detail::schedule_config;

// A schedule that answers 7 + iter and remembers what it was asked.
class Recording final : public Schedule {
 public:
  double learning_rate(int64_t iter) const override {
    asked.push_back(iter);
    return 7.0 + double(iter);
  }
  mutable std::vector<int64_t> asked;
};

ExperimentConfig config() {
  ExperimentConfig c = config::default_config();
  c.max_iters = 100;
  c.warmup_iters = 10;
  c.lr = 1e-3;
  c.min_lr = 1e-4;
  c.lr_decay_iters = 0;
  return c;
}

TEST(Warmup, RisesLinearlyWithoutAskingTheSchedule) {
  const ExperimentConfig c = config();
  Recording schedule;
  EXPECT_DOUBLE_EQ(learning_rate(schedule, c, 0), 1e-3 * 1 / 11);
  EXPECT_DOUBLE_EQ(learning_rate(schedule, c, 4), 1e-3 * 5 / 11);
  EXPECT_DOUBLE_EQ(learning_rate(schedule, c, 9), 1e-3 * 10 / 11);  // the last warmup step
  EXPECT_TRUE(schedule.asked.empty());
}

TEST(Warmup, HandsOverToTheScheduleAtWarmupIters) {
  ExperimentConfig c = config();
  Recording schedule;
  EXPECT_EQ(learning_rate(schedule, c, 10), 17.0);
  EXPECT_EQ(learning_rate(schedule, c, 250), 257.0);  // after max_iters too (a run that goes on)
  EXPECT_EQ(schedule.asked, (std::vector<int64_t>{10, 250}));
  c.warmup_iters = 0;  // no warmup: the schedule from the first step
  EXPECT_EQ(learning_rate(schedule, c, 0), 7.0);
}

TEST(ScheduleConfigOfARun, TakesLrAndTheTrainKeysWithDecayItersDefaultingToMaxIters) {
  ExperimentConfig c = config();
  ScheduleConfig s = schedule_config(c);
  EXPECT_EQ(s.lr, 1e-3);
  EXPECT_EQ(s.min_lr, 1e-4);
  EXPECT_EQ(s.warmup_iters, 10);
  EXPECT_EQ(s.decay_iters, 100);
  c.lr_decay_iters = 60;
  EXPECT_EQ(schedule_config(c).decay_iters, 60);
}

}  // namespace
}  // namespace nanolab
