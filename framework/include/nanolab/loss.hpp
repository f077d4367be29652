// Loss: the plugin interface for the training objective.
//
// forward(logits (B, T, V), targets (B*T ids)) -> a one-element tensor, differentiable with
// respect to logits. Targets equal to -1 are ignored (padding).
#pragma once

#include <cstdint>
#include <span>

#include "nanolab/errors.hpp"
#include "nanolab/tensor.hpp"

namespace nanolab {

class NANOLAB_VISIBLE Loss {
 public:
  virtual ~Loss() = default;
  virtual Tensor forward(const Tensor& logits, std::span<const int32_t> targets) = 0;
};

}  // namespace nanolab
