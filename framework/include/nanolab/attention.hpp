// Attention: the plugin interface for the causal self-attention of a transformer block.
//
// An attention plugin owns its parameters and computes dst(B, T, C) from src(B, T, C), where row t
// depends only on rows <= t (causal). `forward` is written with framework ops and gets its backward
// from autograd (or records a fused op with its own backward). The incremental path serves
// sampling: after reset_cache(B), each forward_cached(src(B, t, C)) appends t positions to the
// KV cache and returns their outputs, equal to the rows a full forward over everything seen so
// far would give. The cache never holds more than block_size positions; forward_cached is called
// under NoGrad.
#pragma once

#include <cstdint>

#include "nanolab/errors.hpp"
#include "nanolab/parameter.hpp"
#include "nanolab/tensor.hpp"

namespace nanolab {

// What the model tells an attention about its place (the values come from [model]).
struct AttentionConfig {
  int64_t n_embd;      // C
  int64_t n_head;      // NH; C % NH == 0 is checked by the framework
  int64_t block_size;  // the longest T
  bool bias;           // linear layers with bias
  float dropout;       // on the attention weights and the output projection, when training
  int64_t layer;       // index of the block, 0-based
  int64_t n_layer;
};

// Per-call state the model passes down.
struct ForwardContext {
  bool training = false;
  uint64_t dropout_seed = 0;  // distinct per call; a plugin derives its own seeds from it
};

class NANOLAB_VISIBLE Attention {
 public:
  virtual ~Attention() = default;
  // The trainable tensors, named relative to the attention ("c_attn.weight"); stable order.
  virtual Parameters parameters() = 0;
  // src (B, T, C) -> dst (B, T, C), causal, T <= block_size.
  virtual Tensor forward(const Tensor& src, const ForwardContext& ctx) = 0;
  // KV-cache path for sampling (see above).
  virtual void reset_cache(int64_t batch) = 0;
  virtual Tensor forward_cached(const Tensor& src) = 0;
};

}  // namespace nanolab
