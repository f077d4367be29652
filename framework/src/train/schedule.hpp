// Learning-rate schedules, as nanoGPT's get_lr: linear warmup over warmup_iters, then "cosine" or
// "linear" decay to min_lr at lr_decay_iters (default max_iters), min_lr after; "constant" keeps lr
// after the warmup. `iter` is 0-based (the learning rate of the iter-th update).
#pragma once

#include <cstdint>

#include "nanolab/experiment.hpp"

namespace nanolab::train_detail {

double learning_rate(const ExperimentConfig& config, int64_t iter);

}  // namespace nanolab::train_detail
