// Gradient clipping by the global norm, as torch.nn.utils.clip_grad_norm_: the L2 norm over every
// parameter's gradient taken together; when it is above max_norm (> 0) and finite, every gradient
// is scaled by max_norm / (norm + 1e-6). Both passes run in parallel over fixed blocks of every
// gradient and the partial sums are added in block order (each block's as 8 interleaved lanes),
// so the norm does not depend on the thread count. A parameter without a gradient counts as zero.
#pragma once

#include <cstdint>
#include <vector>

#include "nanolab/parameter.hpp"

namespace nanolab::train_detail {

class GradientClipper {
 public:
  // Returns the global norm before clipping; clips the gradients in place. max_norm <= 0: off.
  double clip(const Parameters& params, double max_norm);

 private:
  struct Block {
    float* g;
    int64_t n;
  };
  std::vector<Block> blocks_;  // scratch, kept to reuse its memory from step to step
  std::vector<double> partial_sums_;
};

}  // namespace nanolab::train_detail
