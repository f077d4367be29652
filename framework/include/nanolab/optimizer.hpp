// Optimizer: the plugin interface for a parameter update rule, and the framework's side of it.
//
// A plugin declares its state (`state_spec`) and applies its update rule (`step`); the framework
// (StatefulOptimizer, below; framework/src/optim/) allocates the state, hands it to every step,
// checkpoints it, and validates and restores it on resume.
//
// The state: per-parameter tensors, each with a name, the parameters it applies to, a shape rule
// (like the parameter, one value per row or per column of it, one number, or any function of its
// shape) and an initial value; and whole-number scalars (a step count), 0 at the start. A
// checkpoint keeps tensor `s` of parameter `p` as "p.s" (so state names hold no '.') and a scalar
// by its name (docs/run-format.md).
//
// `step` updates, from its .grad (which the trainer has filled, clipped and not zeroed), every
// parameter in the context: those that took part in the loss (a parameter whose .grad is
// undefined is left as it is and is not in the context). The context carries the learning rate of
// the schedule for this step (`lr`), the schedule's peak (`peak_lr`, optimizer.lr: a learning rate
// of the optimizer's own, like muon's adamw_lr, follows the schedule as adamw_lr * lr / peak_lr),
// the 1-based step, and where to record metrics. Whether weight decay applies to a parameter is
// its `decay`, and its group its `role` (parameter.hpp), never a rule of the plugin's own.
//
// Below the interface is what several optimizers share: the AdamW update, and its loop over
// parameters.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "nanolab/errors.hpp"
#include "nanolab/metrics.hpp"
#include "nanolab/parallel.hpp"
#include "nanolab/parameter.hpp"

namespace nanolab {

// Shape rules of a state tensor, from the shape of its parameter.
namespace state_shape {
inline Shape like_parameter(const Shape& s) { return s; }
// One value per row: the shape without its last dim, (..., R) of (..., R, N).
inline Shape rows(const Shape& s) { return Shape::of(s.data(), s.ndim() - 1); }
// One value per column: the shape without its last but one dim, (..., N) of (..., R, N).
inline Shape columns(const Shape& s) {
  std::vector<int64_t> dims(s.data(), s.data() + s.ndim());
  dims.erase(dims.end() - 2);
  return Shape::of(dims.data(), int(dims.size()));
}
inline Shape scalar(const Shape&) { return Shape{1}; }
}  // namespace state_shape

// A state tensor every parameter for which `applies` holds (every one when it is empty) has.
struct StateTensor {
  std::string name;                                       // letters, digits, '_'
  std::function<Shape(const Shape&)> shape = state_shape::like_parameter;
  float initial = 0.0f;
  std::function<bool(const Parameter&)> applies = {};
};

struct StateSpec {
  std::vector<StateTensor> tensors;
  std::vector<std::string> scalars;  // whole numbers, 0 at the start (e.g. "step")
};

// One parameter in a step: its gradient and its state tensors in the order of
// StateSpec::tensors (undefined where a declared tensor does not apply to it).
struct ParameterState {
  const Parameter& param;
  const Tensor& grad;
  std::span<const Tensor> state;
};

struct OptimizerStep {
  std::span<const ParameterState> params;  // those with a gradient, in the model's order
  std::span<int64_t> scalars;              // in the order of StateSpec::scalars
  float lr;                                // the schedule's learning rate for this step
  double peak_lr;                          // optimizer.lr, the schedule's peak
  int64_t step;                            // 1-based
  Metrics& metrics;
};

class NANOLAB_VISIBLE Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual StateSpec state_spec() const = 0;
  virtual void step(const OptimizerStep& ctx) = 0;
};

// --- The framework's side ----------------------------------------------------------------------

// All of an optimizer's state: tensors by "<parameter>.<state>", scalars by name.
struct OptimizerState {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, int64_t> scalars;
};

// An optimizer plugin with the state the framework keeps for it, for a fixed list of parameters
// (names and shapes; the tensors are passed again to every step).
class NANOLAB_VISIBLE StatefulOptimizer {
 public:
  // Allocates every declared state tensor at its initial value.
  StatefulOptimizer(std::unique_ptr<Optimizer> optimizer, std::span<const Parameter> params,
                    double peak_lr);
  StatefulOptimizer(const StatefulOptimizer&) = delete;
  StatefulOptimizer& operator=(const StatefulOptimizer&) = delete;

  // One update at the schedule's `lr` for 1-based `step`; `params` are those of the constructor,
  // in its order.
  void step(std::span<const Parameter> params, float lr, int64_t step,
            Metrics& metrics = Metrics::none());

  // The live state, not copies (a copy of the moments would double the optimizer's memory at
  // every checkpoint): valid and unchanged until the next `step` or `load_state`; the caller
  // reads them and never writes into them.
  OptimizerState state() const;

  // Copies `state` in, after checking it all: an entry that names no parameter or no declared
  // state, a tensor of another shape than its rule gives, or (unless `missing_is_initial`) a
  // declared entry that is absent is a CheckpointError naming it; nothing is changed then.
  // `missing_is_initial` keeps absent entries at their initial value: checkpoints of
  // format_version 1 hold state only for the parameters that had been updated.
  void load_state(const OptimizerState& state, bool missing_is_initial = false);

 private:
  std::unique_ptr<Optimizer> optimizer_;
  StateSpec spec_;
  double peak_lr_;
  std::vector<std::string> names_;          // parameter names, in order
  std::vector<std::vector<Tensor>> state_;  // per parameter, per StateSpec::tensors
  std::vector<int64_t> scalars_;            // per StateSpec::scalars
};

// --- Shared by the optimizer plugins ------------------------------------------------------------

// One update of PyTorch's torch.optim.AdamW (Loshchilov & Hutter, with bias correction), the t-th
// (1-based) of a state, at learning rate lr:
//   p <- p * decay                                  decay = 1 - lr * weight_decay, or 1
//   m <- beta1 * m + (1 - beta1) * g
//   v <- beta2 * v + (1 - beta2) * g^2
//   p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// The plugins `adamw` and `muon` (for its AdamW group) both apply it, element by element.
class AdamWUpdate {
 public:
  AdamWUpdate(float lr, float beta1, float beta2, float eps, int64_t t)
      : beta1_(beta1),
        beta2_(beta2),
        eps_(eps),
        step_size_(float(double(lr) / (1.0 - std::pow(double(beta1), double(t))))),
        bias_correction2_sqrt_(float(std::sqrt(1.0 - std::pow(double(beta2), double(t))))) {}

  // p, g, m, v: n elements each. The loop is vectorised (SIMD) when compiled with
  // -fno-math-errno, as nanolab_add_plugin compiles plugins: the factors are copied into locals,
  // since the compiler could not otherwise tell that the stores to m, v and p leave them alone.
  void apply(float* p, const float* g, float* m, float* v, int64_t n, float decay) const {
    const float beta1 = beta1_, beta2 = beta2_, eps = eps_, step_size = step_size_,
                bias_correction2_sqrt = bias_correction2_sqrt_;
    for (int64_t j = 0; j < n; ++j) {
      m[j] = beta1 * m[j] + (1.0f - beta1) * g[j];
      v[j] = beta2 * v[j] + (1.0f - beta2) * g[j] * g[j];
      const float denom = std::sqrt(v[j]) / bias_correction2_sqrt + eps;
      p[j] = p[j] * decay - step_size * m[j] / denom;
    }
  }

 private:
  float beta1_, beta2_, eps_, step_size_, bias_correction2_sqrt_;
};

// `update` on every parameter of `params`, whose moments m and v are their state tensors of
// indices `m` and `v`, each decaying by 1 - lr * weight_decay where it decays; a TBB loop over
// fixed blocks of every parameter. Each element is updated on its own, so the thread count cannot
// change a result.
inline void apply_adamw(const AdamWUpdate& update, std::span<const ParameterState* const> params,
                        size_t m, size_t v, float lr, float weight_decay) {
  constexpr int64_t block = 1 << 14;  // enough work per task to outweigh TBB's cost of a task
  struct Span {
    float* p;
    const float* g;
    float* m;
    float* v;
    int64_t n;
    float decay;
  };
  std::vector<Span> spans;
  for (const ParameterState* s : params) {
    const Tensor& p = s->param.tensor;
    const float decay = s->param.decay ? 1.0f - lr * weight_decay : 1.0f;
    for (int64_t at = 0; at < p.numel(); at += block)
      spans.push_back({p.data() + at, s->grad.data() + at, s->state[m].data() + at,
                       s->state[v].data() + at, std::min(block, p.numel() - at), decay});
  }
  parallel_for(int64_t(spans.size()), block, [&](int64_t begin, int64_t end) {
    for (const Span& s : std::span(spans).subspan(size_t(begin), size_t(end - begin)))
      update.apply(s.p, s.g, s.m, s.v, s.n, s.decay);
  });
}

}  // namespace nanolab
