// The op timers behind `nanolab run --profile`: wall time per op kind, forward and backward apart,
// summed over training steps. Internal to the framework.
//
// Ops, the model and the trainer open a Scope of their kind around their work; time goes to the
// innermost open scope only (a scope's own time excludes the scopes opened inside it), so the
// kinds of one step add up to the step. A node on the autograd tape remembers the kind that was
// innermost when its forward ran, and its backward is timed under that kind. Nothing is collected
// outside a StepScope (evaluation, sampling and checkpoints are not training steps) or on any
// thread but the one that opened it, the thread that runs the ops (runtime.hpp). When profiling is
// off, which is the default, a Scope is one test of a global flag.
//
// Not a sampling profiler: it sees the kinds the framework names, not functions; perf and
// callgrind (docs/performance.md) go below that.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

namespace nanolab::profile {

// The rows of the table, in its order. matmul: ops::matmul and ops::linear wherever they run;
// attention: the attention plugin's own work outside matmuls and softmaxes (q, k, v split, heads
// reshaped, dropout, a fused kernel); softmax: ops::softmax and ops::causal_softmax; cross_entropy:
// the loss plugin; optimizer: gradient clipping and the optimizer's step; data: the batch; other:
// everything else in the step (residual adds, dropout outside attention, the tape, zeroing).
enum class Kind : uint8_t {
  matmul, layer_norm, gelu, attention, softmax, cross_entropy, optimizer, allreduce, embedding,
  data, other
};
inline constexpr int n_kinds = 11;
const char* kind_name(Kind kind);

// Columns: the forward pass (model and loss), the backward pass, and the rest of the step (batch,
// clipping, optimizer, zeroing the gradients).
enum class Phase : uint8_t { forward, backward, rest };
inline constexpr int n_phases = 3;

namespace detail {
extern std::atomic<bool> collecting;  // inside a StepScope with profiling enabled
// Pushes a scope (phase -1: the enclosing one's); false when this thread is not the step's.
bool open(Kind kind, int phase);
void close();
}  // namespace detail

// Times its lifetime under `kind`, in the enclosing scope's phase or in `phase`.
class Scope {
 public:
  explicit Scope(Kind kind) {
    if (detail::collecting.load(std::memory_order_relaxed)) open_ = detail::open(kind, -1);
  }
  Scope(Kind kind, Phase phase) {
    if (detail::collecting.load(std::memory_order_relaxed)) open_ = detail::open(kind, int(phase));
  }
  ~Scope() {
    if (open_) detail::close();
  }
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;

 private:
  bool open_ = false;
};

// The kind of the innermost open scope (Kind::other when none is open or nothing is collected).
Kind current_kind();

// Turns collection on or off for the steps that follow (off by default).
void enable(bool on);
bool enabled();

// One training step: the root scope (kind other, phase rest) of everything timed in it. Collects
// only when profiling is enabled; the calling thread becomes the one whose scopes count.
class StepScope {
 public:
  StepScope();
  ~StepScope();
  StepScope(const StepScope&) = delete;
  StepScope& operator=(const StepScope&) = delete;

 private:
  bool open_ = false;
};

// Seconds per (phase, kind) summed over the steps since enable(true).
struct Totals {
  int64_t steps = 0;
  std::array<std::array<double, n_kinds>, n_phases> seconds{};
  double kind_seconds(Kind kind) const;
  double sum_seconds() const;
  Totals operator-(const Totals& earlier) const;
};
Totals totals();

// The table printed at the end of a profiled run: one row per kind in Kind's order, with
// milliseconds per step in each phase, their total and its share of the sum; then the sum and the
// step time the trainer measured itself over the same steps (`measured_ms_per_step`).
std::string table(const Totals& t, double measured_ms_per_step);
// One line of milliseconds per step per kind, for the progress output of a log interval.
std::string line(const Totals& t);

}  // namespace nanolab::profile
