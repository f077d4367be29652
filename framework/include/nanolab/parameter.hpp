// Parameter: a named trainable tensor and how the model initialises it.
//
// Plugins that own weights (attention) return them as Parameters; the model initialises every
// parameter the same way from its seed (GPT-2's scheme) and the optimizer updates them. Names are
// dotted paths ("h.0.attn.c_attn.weight") that are stable across runs: optimizer state and
// checkpoints are keyed by them.
#pragma once

#include <string>
#include <vector>

#include "nanolab/tensor.hpp"

namespace nanolab {

enum class Init {
  normal,               // N(0, 0.02^2)
  residual_projection,  // N(0, (0.02 / sqrt(2 n_layer))^2): projections into the residual stream
  zeros,
  ones,
};

struct Parameter {
  std::string name;
  Tensor tensor;  // requires grad
  Init init = Init::normal;
};

using Parameters = std::vector<Parameter>;

}  // namespace nanolab
