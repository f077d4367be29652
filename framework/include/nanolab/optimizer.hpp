// Optimizer: the plugin interface for a parameter update rule.
//
// `step` updates every parameter from its .grad (which the trainer has filled, clipped and not
// zeroed) for learning rate `lr` at 1-based step `step`. Parameters with fewer than 2 dims (biases,
// layer-norm gains) get no weight decay, as in nanoGPT: an optimizer applies its weight decay only
// where tensor.ndim() >= 2. The state (moments, step counts) is keyed by parameter name; `state()`
// returns all of it and `load_state` of that map into a fresh instance continues bit-identically.
#pragma once

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

}  // namespace nanolab
