// The warmup and the schedule plugin (schedule.hpp).
#include "train/schedule.hpp"

namespace nanolab::train_detail {

ScheduleConfig schedule_config(const ExperimentConfig& c) {
  return ScheduleConfig{c.lr, c.min_lr, c.warmup_iters,
                        c.lr_decay_iters > 0 ? c.lr_decay_iters : c.max_iters};
}

double learning_rate(const Schedule& schedule, const ExperimentConfig& c, int64_t iter) {
  if (iter < c.warmup_iters) return c.lr * double(iter + 1) / double(c.warmup_iters + 1);
  return schedule.learning_rate(iter);
}

}  // namespace nanolab::train_detail
