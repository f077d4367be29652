// Schedule: the plugin interface for the learning rate of each optimizer step after the warmup.
//
// The framework owns the warmup: iterations 0 .. warmup_iters - 1 take lr * (iter + 1) /
// (warmup_iters + 1) (nanoGPT's get_lr) and never ask the schedule. From iteration warmup_iters on
// the trainer asks learning_rate(iter), `iter` being 0-based (the learning rate of the iter-th
// update). A schedule is a pure function of iter and its ScheduleConfig: no state, no order of
// calls (a resumed run asks for its next iteration first), a finite value in [min_lr, lr] for
// every iter >= warmup_iters, the iterations after decay_iters included (a resumed run may go on).
// `train.lr_schedule` names the plugin, with its own options if it declares any
// (`lr_schedule = { plugin = "wsd", decay_frac = 0.1 }`); the contract suite
// tests/plugins/contract_schedule.cpp holds every schedule plugin to this.
#pragma once

#include <cstdint>

#include "nanolab/errors.hpp"

namespace nanolab {

// What the experiment says about the learning rate over the run ([optimizer] lr, [train]).
struct ScheduleConfig {
  double lr;             // optimizer.lr: the peak, reached at the end of the warmup
  double min_lr;         // train.min_lr: where a decay ends; <= lr
  int64_t warmup_iters;  // train.warmup_iters: the framework's warmup, before the schedule
  int64_t decay_iters;   // train.lr_decay_iters, or max_iters when that is 0: where a decay ends
};

class NANOLAB_VISIBLE Schedule {
 public:
  virtual ~Schedule() = default;
  // The learning rate of the iter-th update, iter >= warmup_iters.
  virtual double learning_rate(int64_t iter) const = 0;
};

}  // namespace nanolab
