// Optimizer: the plugin interface for a parameter update rule.
//
// `step` updates every parameter from its .grad (which the trainer has filled, clipped and not
// zeroed) for learning rate `lr` at 1-based step `step`. A parameter whose .grad is undefined took
// no part in the loss and is left as it is. Parameters with fewer than 2 dims (biases, layer-norm
// gains) get no weight decay, as in nanoGPT: an optimizer applies its weight decay only where
// tensor.ndim() >= 2. The state (moments, step counts) is keyed by parameter name.
//
// `state()` returns all of the state as the optimizer holds it: the tensors are its live buffers,
// not copies (a copy of the moments would double the optimizer's memory at every checkpoint). They
// stay valid, and unchanged, until the next `step` or `load_state`; the caller reads them (the
// checkpoint writer writes them to disk) before that and never writes into them. `load_state`
// copies what it is given, so the map may be freed or changed afterwards; loading the state of one
// instance into a fresh one continues bit-identically.
//
// The learning rate passed to `step` is the schedule's value for that step. An optimizer that keeps
// learning rates of its own besides it (muon's `adamw_lr` for its AdamW group) scales them with the
// schedule by declaring an option named `lr`: the framework fills it with optimizer.lr, the
// schedule's peak, so that lr / options.get<double>("lr") is where the schedule stands. It is not
// an option the experiment sets separately: [optimizer] lr is the framework's key.
//
// Below the interface is what several optimizers share: the AdamW update.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <span>
#include <string>

#include "nanolab/errors.hpp"
#include "nanolab/parameter.hpp"

namespace nanolab {

using StateDict = std::map<std::string, Tensor>;

class NANOLAB_VISIBLE Optimizer {
 public:
  virtual ~Optimizer() = default;
  virtual void step(std::span<const Parameter> params, float lr, int64_t step) = 0;
  virtual StateDict state() const = 0;
  virtual void load_state(const StateDict& state) = 0;
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

}  // namespace nanolab
