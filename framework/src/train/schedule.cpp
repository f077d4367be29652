// Learning-rate schedules (schedule.hpp).
#include "train/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace nanolab::train_detail {

double learning_rate(const ExperimentConfig& c, int64_t iter) {
  if (iter < c.warmup_iters) return c.lr * double(iter + 1) / double(c.warmup_iters + 1);
  if (c.lr_schedule == "constant") return c.lr;
  const int64_t decay_iters = c.lr_decay_iters > 0 ? c.lr_decay_iters : c.max_iters;
  if (c.lr_schedule == "wsd") {
    const int64_t D = std::max<int64_t>(1, std::llround(c.lr_decay_frac * double(decay_iters)));
    const int64_t k = iter - (decay_iters - D) + 1;  // 1 at the first decaying iteration
    if (k <= 0) return c.lr;
    if (k >= D) return c.min_lr;
    return c.lr - double(k) * (c.lr - c.min_lr) / double(D);
  }
  if (iter > decay_iters || decay_iters <= c.warmup_iters) return c.min_lr;
  const double ratio = double(iter - c.warmup_iters) / double(decay_iters - c.warmup_iters);
  const double coeff = c.lr_schedule == "linear" ? 1.0 - ratio
                                                 : 0.5 * (1.0 + std::cos(std::numbers::pi * ratio));
  return c.min_lr + coeff * (c.lr - c.min_lr);
}

}  // namespace nanolab::train_detail
