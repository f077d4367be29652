// The multi-head causal self-attention that the plugins `causal_mha`, `sliding_window`, `flash` and
// `linear` are made of (each plugin is one .cpp with its descriptor; this header is compiled into
// each, not a framework API; flash and linear replace the attention core between the projections,
// `attend`, and linear also the cached path, with `qkv` and `project` around its own state).
// GPT-2's layout: one linear makes q, k and v at once (c_attn, weight (3C, C) in
// the x·Wᵀ layout, the tensor GPT-2 checkpoints hold), the heads attend with the framework's
// masked softmax (causal, optionally a sliding window of the last `window` positions), and c_proj
// maps the merged heads back into the residual stream. Composed from framework ops, so autograd
// gives the backward; the core is ops::causal_attention on the packed q, k, v (no head copies),
// or with rope, which must rotate q and k first, chunk + split_heads + attend() + merge_heads.
// Dropout, when training, falls on the attention weights and on the output, as in nanoGPT.
// Honours every model.position: rope rotates q and k, alibi biases the softmax.
// With train.diagnostics, a logged step's forward also records the entropy of the attention
// weights (record_diagnostics: q and k are made again, without autograd).
// The KV-cache path for sampling is the framework's KvCache (plain loops over a few new positions
// at a time). Not a fused or flash-style attention: the (T, T) weights are materialised.
#pragma once

#include <cmath>
#include <tuple>
#include <vector>

#include "nanolab/autograd.hpp"
#include "nanolab/ops.hpp"
#include "nanolab/plugin.hpp"

namespace nanolab::plugins {

class MultiHeadAttention : public Attention {
 public:
  // How forward reaches the attention core: `packed`, attend_packed() on the qkv projection as
  // it is (attend() on split heads with rope, which rotates q and k first); `split`, always
  // attend() on split heads.
  enum class Core { packed, split };

  // window 0: every earlier position; w > 0: the last w positions, itself included.
  MultiHeadAttention(const char* plugin, const AttentionConfig& config, int64_t window,
                     Core core = Core::packed)
      : plugin_(plugin),
        window_(window),
        core_(core),
        C_(config.n_embd),
        NH_(config.n_head),
        HS_(config.n_embd / config.n_head),
        block_size_(config.block_size),
        dropout_(config.dropout),
        layer_(config.layer),
        position_(config.position, config.n_head),
        cache_(plugin, C_, NH_, HS_, block_size_),
        c_attn_weight_(parameter({3 * C_, C_})),
        c_proj_weight_(parameter({C_, C_})) {
    if (config.bias) {
      c_attn_bias_ = parameter({3 * C_});
      c_proj_bias_ = parameter({C_});
    }
  }

  Parameters parameters() override {
    Parameters p{{"c_attn.weight", c_attn_weight_, Init::normal}};
    if (c_attn_bias_.defined()) p.push_back({"c_attn.bias", c_attn_bias_, Init::zeros});
    p.push_back({"c_proj.weight", c_proj_weight_, Init::residual_projection});
    if (c_proj_bias_.defined()) p.push_back({"c_proj.bias", c_proj_bias_, Init::zeros});
    return p;
  }

  Tensor forward(const Tensor& src, const ForwardContext& ctx) override {
    check_attention_src(src, plugin_, "forward", C_, block_size_, block_size_);
    if (ctx.metrics->enabled()) record_diagnostics(src, *ctx.metrics);
    Tensor dst;
    if (core_ == Core::packed && position_.position() != Position::rope) {
      dst = c_proj(attend_packed(c_attn(src), ctx));
    } else {
      auto [q, k, v] = qkv(src, 0);
      dst = project(attend(q, k, v, ctx));
    }
    if (training_dropout(ctx))
      dst = ops::dropout(dst, dropout_, dropout_site_seed(ctx.dropout_seed, 1));
    return dst;
  }

  void reset_cache(int64_t batch) override { cache_.reset(batch); }

  Tensor forward_cached(const Tensor& src) override {
    NoGrad no_grad;
    auto qkv_at = [this](const Tensor& s, int64_t pos0) { return qkv(s, pos0); };
    auto [q, start] = cache_.add(src, qkv_at);
    return project(attend_cached(q, start));
  }

 protected:
  // The diagnostics of a logged step (ForwardContext::metrics): the mean entropy of the softmax
  // weights that the core forms.
  virtual void record_diagnostics(const Tensor& src, Metrics& metrics) {
    NoGrad no_grad;
    auto [q, k, v] = qkv(src, 0);
    record_attention_entropy(metrics, layer_, q, k, softmax_scale(), mask());
  }
  // The core on the packed heads: qkv (B, T, 3C) as c_attn makes it -> y (B, T, C) with the
  // heads merged, with dropout site 0 on the weights when training. Here ops::causal_attention,
  // which materialises the weights (B, NH, T, T) and copies no head.
  virtual Tensor attend_packed(const Tensor& qkv, const ForwardContext& ctx) {
    return ops::causal_attention(qkv, NH_, softmax_scale(), mask(),
                                 training_dropout(ctx) ? dropout_ : 0.0f,
                                 dropout_site_seed(ctx.dropout_seed, 0));
  }
  // The same core on split heads: q, k, v (B, NH, T, HS) -> y (B, NH, T, HS). Here the scores and
  // weights are materialised: (B, NH, T, T).
  virtual Tensor attend(const Tensor& q, const Tensor& k, const Tensor& v,
                        const ForwardContext& ctx) {
    Tensor att = ops::causal_softmax(ops::matmul(q, k, false, true), softmax_scale(), mask());
    if (training_dropout(ctx))
      att = ops::dropout(att, dropout_, dropout_site_seed(ctx.dropout_seed, 0));
    return ops::matmul(att, v);
  }
  // The cached core: q (B, NH, t, HS) of positions start.., whose k and v were just appended to
  // cache(), -> y (B, NH, t, HS).
  virtual Tensor attend_cached(const Tensor& q, int64_t start) {
    (void)start;
    return cache_.attend(q, softmax_scale(), mask());
  }

  bool training_dropout(const ForwardContext& ctx) const { return ctx.training && dropout_ > 0.0f; }
  float softmax_scale() const { return 1.0f / std::sqrt(float(HS_)); }
  ops::AttentionMask mask() const { return {window_, position_.alibi_slopes()}; }
  const KvCache& cache() const { return cache_; }
  int64_t n_embd() const { return C_; }
  int64_t n_head() const { return NH_; }
  int64_t head_size() const { return HS_; }
  float dropout() const { return dropout_; }
  int64_t block_size() const { return block_size_; }

  // src (B, T, C) at positions pos0.. -> q, k, v (B, NH, T, HS), q and k rotated for rope.
  std::tuple<Tensor, Tensor, Tensor> qkv(const Tensor& src, int64_t pos0) const {
    std::vector<Tensor> parts = ops::chunk(c_attn(src), 3);
    return {position_.rotate(ops::split_heads(parts[0], NH_), pos0),
            position_.rotate(ops::split_heads(parts[1], NH_), pos0),
            ops::split_heads(parts[2], NH_)};
  }
  // y (B, NH, T, HS) -> dst (B, T, C): the heads merged and c_proj, without dropout.
  Tensor project(const Tensor& y) const { return c_proj(ops::merge_heads(y)); }
  // The two projections: src (B, T, C) -> qkv (B, T, 3C), and merged heads (B, T, C) -> dst.
  Tensor c_attn(const Tensor& src) const { return ops::linear(src, c_attn_weight_, c_attn_bias_); }
  Tensor c_proj(const Tensor& y) const { return ops::linear(y, c_proj_weight_, c_proj_bias_); }

 private:
  static Tensor parameter(const Shape& shape) { return Tensor::zeros(shape).set_requires_grad(); }

  const char* plugin_;
  int64_t window_;
  Core core_;
  int64_t C_, NH_, HS_, block_size_;
  float dropout_;
  int64_t layer_;
  PositionEncoding position_;
  KvCache cache_;
  Tensor c_attn_weight_;  // (3C, C)
  Tensor c_attn_bias_;    // (3C), or undefined without bias
  Tensor c_proj_weight_;  // (C, C)
  Tensor c_proj_bias_;    // (C), or undefined without bias
};

}  // namespace nanolab::plugins
