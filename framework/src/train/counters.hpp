// The counters of a run: the state that a checkpoint carries besides the weights, the optimizer's
// state and the tokenizer, restored by `nanolab resume` so that the resumed run's summary
// (tokens_seen, best_val_*, skips, wall time) continues the interrupted one. Every field is listed
// once, in for_each_field, which both save and restore walk.
#pragma once

#include <cstdint>
#include <limits>

#include "nanolab/run_store.hpp"

namespace nanolab::train_detail {

struct Counters {
  int64_t step = 0;  // the checkpoint's own step, not one of its counters
  int64_t tokens_seen = 0;
  int64_t consecutive_skips = 0;
  int64_t skipped_total = 0;
  double best_val_loss = std::numeric_limits<double>::infinity();
  int64_t best_val_step = -1;
  double best_val_accuracy = std::numeric_limits<double>::quiet_NaN();
  double final_train_loss = std::numeric_limits<double>::quiet_NaN();
  double wall_s = 0;        // summed over every session of the run
  double train_step_s = 0;  // time inside training steps, for ms_per_iter
  int64_t timed_steps = 0;
  // 1: the evaluation of `step` is still to run, before the next step: a new run's of step 0, or
  // one that a signal stopped (`resume` runs it first).
  int64_t pending_evaluation = 1;

  // f(name, field) for every field but step: int64_t fields go to the checkpoint's counters,
  // double fields to its values.
  template <class Self, class F>
  static void for_each_field(Self& c, F&& f) {
    f("tokens_seen", c.tokens_seen);
    f("consecutive_skips", c.consecutive_skips);
    f("skipped_total", c.skipped_total);
    f("best_val_loss", c.best_val_loss);
    f("best_val_step", c.best_val_step);
    f("best_val_accuracy", c.best_val_accuracy);
    f("final_train_loss", c.final_train_loss);
    f("wall_s", c.wall_s);
    f("train_step_s", c.train_step_s);
    f("timed_steps", c.timed_steps);
    f("pending_evaluation", c.pending_evaluation);
  }

  void save(Checkpoint& ck) const;
  // A counter missing from the checkpoint (one written before it existed) restores as 0, a value
  // as NaN.
  static Counters restore(const Checkpoint& ck);
};

}  // namespace nanolab::train_detail
