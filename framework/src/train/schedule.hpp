// The learning rate of each step: the framework's linear warmup, then the schedule plugin that
// train.lr_schedule names (nanolab/schedule.hpp). Iterations 0 .. warmup_iters - 1 take
// lr * (iter + 1) / (warmup_iters + 1), as nanoGPT's get_lr; from warmup_iters on the schedule
// decides. A warmup that runs into a schedule's decay keeps its own values, and the decay then goes
// on from where it stands. `iter` is 0-based (the learning rate of the iter-th update).
#pragma once

#include <cstdint>

#include "nanolab/experiment.hpp"
#include "nanolab/schedule.hpp"

namespace nanolab::train_detail {

// What a schedule plugin is told of the run: optimizer.lr and the train.* keys of the schedule,
// lr_decay_iters = 0 made max_iters.
ScheduleConfig schedule_config(const ExperimentConfig& config);

double learning_rate(const Schedule& schedule, const ExperimentConfig& config, int64_t iter);

}  // namespace nanolab::train_detail
