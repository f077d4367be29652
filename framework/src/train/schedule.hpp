// Learning-rate schedules, as nanoGPT's get_lr: linear warmup over warmup_iters, then "cosine" or
// "linear" decay to min_lr at lr_decay_iters (default max_iters), min_lr after; "constant" keeps lr
// after the warmup. "wsd" (warmup-stable-decay, Hägele et al. 2024) keeps lr after the warmup and
// decays linearly to min_lr over the last D = round(lr_decay_frac * E) of the E = lr_decay_iters
// (default max_iters) iterations: iterations E - D .. E - 1 take lr - k (lr - min_lr) / D for
// k = 1 .. D, so the last one (E - 1) is at min_lr exactly; min_lr after. A warmup that runs into
// the decay keeps its own values and the decay then goes on from where it stands. `iter` is 0-based
// (the learning rate of the iter-th update).
#pragma once

#include <cstdint>

#include "nanolab/experiment.hpp"

namespace nanolab::train_detail {

double learning_rate(const ExperimentConfig& config, int64_t iter);

}  // namespace nanolab::train_detail
