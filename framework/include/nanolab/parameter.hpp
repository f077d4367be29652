// Parameter: a named trainable tensor, how the model initialises it, and what it is to an
// optimizer.
//
// Plugins that own weights (attention) return them as Parameters; the model initialises every
// parameter the same way from its seed (GPT-2's scheme) and the optimizer updates them. Names are
// dotted paths ("h.0.attn.c_attn.weight") that are stable across runs: optimizer state and
// checkpoints are keyed by them.
//
// `role` says what the tensor is in the network, for optimizers that treat groups apart (muon:
// Newton-Schulz on the matrices, AdamW on the rest). `decay` says whether weight decay applies to
// it. Made from a name and a tensor, a parameter of 2+ dims is a matrix that decays and one of
// fewer dims a vector that does not (nanoGPT's rule); the model marks its embeddings and its head,
// and the experiment's optimizer.no_decay turns decay off by name.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "nanolab/tensor.hpp"

namespace nanolab {

enum class Init {
  normal,               // N(0, 0.02^2)
  residual_projection,  // N(0, (0.02 / sqrt(2 n_layer))^2): projections into the residual stream
  zeros,
  ones,
};

enum class Role {
  embedding,  // a lookup table (wte, wpe)
  head,       // the output projection to the vocabulary (an untied lm_head)
  matrix,     // a weight of 2+ dims inside the blocks (attention, MLP)
  vector,     // fewer than 2 dims: biases, layer-norm gains
};

struct Parameter {
  Parameter() = default;
  Parameter(std::string name, Tensor tensor, Init init = Init::normal)
      : Parameter(std::move(name), std::move(tensor), init, Role::vector) {
    role = this->tensor.ndim() >= 2 ? Role::matrix : Role::vector;
    decay = role != Role::vector;
  }
  Parameter(std::string name, Tensor tensor, Init init, Role role)
      : name(std::move(name)), tensor(std::move(tensor)), init(init), role(role),
        decay(role != Role::vector) {}

  std::string name;
  Tensor tensor;  // requires grad
  Init init = Init::normal;
  Role role = Role::vector;
  bool decay = false;  // weight decay applies to it
};

using Parameters = std::vector<Parameter>;

}  // namespace nanolab
