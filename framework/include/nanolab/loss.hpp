// Loss: the plugin interface for the training objective.
//
// forward(logits (B, T, V), targets (B*T ids)) -> a one-element tensor, differentiable with
// respect to logits. Targets equal to -1 are ignored (padding). A loss made of several terms records
// each through `metrics` (the "loss" group: /metrics/loss/<name> in run.h5), computing a term's
// value for it only when metrics.enabled(); the trainer passes the Metrics of its logged steps,
// and every other caller none.
#pragma once

#include <cstdint>
#include <span>

#include "nanolab/errors.hpp"
#include "nanolab/metrics.hpp"
#include "nanolab/tensor.hpp"

namespace nanolab {

class NANOLAB_VISIBLE Loss {
 public:
  virtual ~Loss() = default;
  // The default argument belongs to this declaration: a call through Loss without `metrics`
  // records nothing. An override takes all three parameters.
  virtual Tensor forward(const Tensor& logits, std::span<const int32_t> targets,
                         Metrics& metrics = Metrics::none()) = 0;
};

}  // namespace nanolab
