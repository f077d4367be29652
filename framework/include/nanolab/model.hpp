// The GPT: nanoGPT's architecture with the attention taken from a plugin.
//
// wte (V, C) + wpe (block_size, C) -> dropout -> n_layer pre-LayerNorm blocks (wpe only for
// position = learned; rope and alibi act inside each attention, none has no position signal but
// the causal mask)
// [x + attn(ln_1(x)); x + mlp(ln_2(x)) with mlp = c_proj(gelu(c_fc(.))), 4C wide, dropout] ->
// ln_f -> lm_head, tied to wte. Biases on the linears and layer norms only with `bias`.
// Parameter names follow GPT-2's checkpoints ("wte.weight", "h.0.ln_1.weight",
// "h.0.attn.<the plugin's names>", "h.0.mlp.c_fc.weight", "ln_f.weight"). init() is GPT-2's: normal
// with std 0.02, residual projections (Init::residual_projection) scaled by 1/sqrt(2 n_layer),
// biases zero, layer-norm gains one; a pure function of the seed.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "nanolab/attention.hpp"
#include "nanolab/parameter.hpp"
#include "nanolab/tensor.hpp"

namespace nanolab {

struct GptConfig {
  int64_t vocab_size;  // V
  int64_t block_size;  // longest T
  int64_t n_layer;
  int64_t n_head;
  int64_t n_embd;      // C
  double dropout;
  bool bias;
  Position position = Position::learned;  // learned: the wpe table; otherwise none (see attention.hpp)
};

using AttentionFactory = std::function<std::unique_ptr<Attention>(const AttentionConfig&)>;

class Gpt {
 public:
  Gpt(const GptConfig& config, const AttentionFactory& make_attention);
  ~Gpt();
  Gpt(const Gpt&) = delete;
  Gpt& operator=(const Gpt&) = delete;

  const GptConfig& config() const { return config_; }
  // Every parameter once (the tied lm_head is wte), in a stable order.
  const Parameters& parameters() const { return params_; }
  // Turns weight decay on or off for parameters()[index] (optimizer.no_decay).
  void set_decay(size_t index, bool decay) { params_.at(index).decay = decay; }
  int64_t num_params() const;
  void init(uint64_t seed);

  // ids (B*T) -> logits (B, T, V). With ctx.training, dropout is applied.
  Tensor forward(std::span<const int32_t> ids, int64_t B, int64_t T, const ForwardContext& ctx);

  // Sampling with the attention plugins' KV caches: reset, then feed positions in order; returns
  // the logits (B, t, V) of the t new positions. The total stays <= block_size.
  void reset_cache(int64_t B);
  Tensor forward_cached(std::span<const int32_t> ids, int64_t B, int64_t t);

 private:
  struct Block;
  Tensor embed(std::span<const int32_t> ids, int64_t B, int64_t T, int64_t pos0,
               const ForwardContext& ctx);
  Tensor head(const Tensor& x);

  GptConfig config_;
  Tensor wte_, wpe_, ln_f_w_, ln_f_b_;
  std::vector<std::unique_ptr<Block>> blocks_;
  Parameters params_;
  std::vector<int32_t> positions_;  // scratch: position ids
  int64_t cache_len_ = 0;
};

}  // namespace nanolab
