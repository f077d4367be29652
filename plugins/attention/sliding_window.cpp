// attention `sliding_window`: causal multi-head self-attention in which position i attends only to
// the `window` positions (i - window, i] (Longformer's and Mistral's local attention), with the
// parameters, projections and dropout of causal_mha (c_attn (3C, C), c_proj (C, C)), so a window
// of block_size or more is causal_mha exactly. The framework's causal softmax has no window, so
// the masked softmax is a fused op here (window_softmax, own backward via autograd::record). The
// KV cache keeps every position up to block_size, as the Attention contract asks, and attends over
// the last `window` of them with plain loops. Not a rolling-buffer cache and not a banded kernel:
// the (T, T) weights are materialised and the masked part is computed as zeros.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "nanolab/autograd.hpp"
#include "nanolab/ops.hpp"
#include "nanolab/parallel.hpp"
#include "nanolab/plugin.hpp"

namespace {

using namespace nanolab;

// A seed for each dropout site, derived from the call's seed (splitmix64's finaliser) so the two
// masks of one call are unrelated to each other and to other layers' masks.
uint64_t derive_seed(uint64_t seed, uint64_t site) {
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (site + 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

Tensor parameter(const Shape& shape) { return Tensor::zeros(shape).set_requires_grad(); }

// Softmax over the last dim of scale * src with the sliding-window causal mask: src (..., T, T),
// row i attends to columns j in (i - window, i]; masked entries of dst are exactly 0. Rows are
// independent, so the thread count cannot change a result.
Tensor window_softmax(const Tensor& src, float scale, int64_t window) {
  const int64_t T = src.shape().last(), R = src.shape().rows();
  Tensor dst = Tensor::zeros(src.shape());
  parallel_for(R, 4 * std::min(T, window), [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t i = r % T, j0 = std::max<int64_t>(0, i - window + 1);
      const float* x = src.data() + r * T;
      float* y = dst.data() + r * T;
      float max = -INFINITY;
      for (int64_t j = j0; j <= i; ++j) max = std::max(max, scale * x[j]);
      float sum = 0.0f;
      for (int64_t j = j0; j <= i; ++j) sum += (y[j] = std::exp(scale * x[j] - max));
      const float inv_sum = 1.0f / sum;
      for (int64_t j = j0; j <= i; ++j) y[j] *= inv_sum;
    }
  });
  autograd::record(dst, {src}, [src, dst, scale, window, T, R](const Tensor& diff_dst) {
    // diff_src = scale * y * (diff_dst - sum_j diff_dst_j * y_j) inside the window, 0 outside.
    Tensor diff_src = Tensor::zeros(src.shape());
    parallel_for(R, 4 * std::min(T, window), [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const int64_t i = r % T, j0 = std::max<int64_t>(0, i - window + 1);
        const float* y = dst.data() + r * T;
        const float* dy = diff_dst.data() + r * T;
        float* dx = diff_src.data() + r * T;
        float dot = 0.0f;
        for (int64_t j = j0; j <= i; ++j) dot += dy[j] * y[j];
        for (int64_t j = j0; j <= i; ++j) dx[j] = scale * y[j] * (dy[j] - dot);
      }
    });
    autograd::accumulate_grad(src, std::move(diff_src));
  });
  return dst;
}

class SlidingWindow final : public Attention {
 public:
  SlidingWindow(const AttentionConfig& config, int64_t window)
      : C_(config.n_embd),
        NH_(config.n_head),
        HS_(config.n_embd / config.n_head),
        block_size_(config.block_size),
        window_(window),
        dropout_(config.dropout),
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
    check_src(src, block_size_, "forward");
    // (B, T, 3C) -> q, k, v (B, NH, T, HS)
    std::vector<Tensor> qkv = ops::chunk(ops::linear(src, c_attn_weight_, c_attn_bias_), 3);
    Tensor q = ops::split_heads(qkv[0], NH_);
    Tensor k = ops::split_heads(qkv[1], NH_);
    Tensor v = ops::split_heads(qkv[2], NH_);
    // (B, NH, T, T)
    Tensor att = window_softmax(ops::matmul(q, k, false, true), softmax_scale(), window_);
    const bool drop = ctx.training && dropout_ > 0.0f;
    if (drop) att = ops::dropout(att, dropout_, derive_seed(ctx.dropout_seed, 0));
    // (B, NH, T, HS) -> (B, T, C)
    Tensor y = ops::merge_heads(ops::matmul(att, v));
    Tensor dst = ops::linear(y, c_proj_weight_, c_proj_bias_);
    if (drop) dst = ops::dropout(dst, dropout_, derive_seed(ctx.dropout_seed, 1));
    return dst;
  }

  void reset_cache(int64_t batch) override {
    if (batch < 1)
      throw ShapeError("sliding_window: reset_cache needs a batch >= 1, got " +
                       std::to_string(batch));
    // (B, NH, block_size, HS) each
    k_cache_ = Tensor::zeros({batch, NH_, block_size_, HS_});
    v_cache_ = Tensor::zeros({batch, NH_, block_size_, HS_});
    cached_ = 0;
  }

  Tensor forward_cached(const Tensor& src) override {
    if (!k_cache_.defined()) throw ShapeError("sliding_window: forward_cached before reset_cache");
    const int64_t B = k_cache_.size(0);
    check_src(src, block_size_ - cached_, "forward_cached");
    if (src.size(0) != B)
      throw ShapeError("sliding_window: forward_cached got a batch of " +
                       std::to_string(src.size(0)) + " after reset_cache(" + std::to_string(B) +
                       ")");
    NoGrad no_grad;
    const int64_t t = src.size(1), L = block_size_, start = cached_;
    std::vector<Tensor> qkv = ops::chunk(ops::linear(src, c_attn_weight_, c_attn_bias_), 3);
    // (B, NH, t, HS) each
    Tensor q = ops::split_heads(qkv[0], NH_);
    Tensor k = ops::split_heads(qkv[1], NH_);
    Tensor v = ops::split_heads(qkv[2], NH_);
    const int64_t rows = t * HS_;
    for (int64_t bh = 0; bh < B * NH_; ++bh) {
      const int64_t at = (bh * L + start) * HS_;
      std::memcpy(k_cache_.data() + at, k.data() + bh * rows, rows * sizeof(float));
      std::memcpy(v_cache_.data() + at, v.data() + bh * rows, rows * sizeof(float));
    }
    cached_ += t;

    // y (B, NH, t, HS): new position i sits at absolute position start + i and sees the keys
    // j0 .. start + i of its window.
    Tensor y = Tensor::empty({B, NH_, t, HS_});
    const float scale = softmax_scale();
    std::vector<float> w(static_cast<size_t>(cached_));
    for (int64_t bh = 0; bh < B * NH_; ++bh) {
      const float* keys = k_cache_.data() + bh * L * HS_;
      const float* values = v_cache_.data() + bh * L * HS_;
      for (int64_t i = 0; i < t; ++i) {
        const float* qi = q.data() + (bh * t + i) * HS_;
        float* yi = y.data() + (bh * t + i) * HS_;
        const int64_t n = start + i + 1, j0 = std::max<int64_t>(0, n - window_);
        float max = -INFINITY;
        for (int64_t j = j0; j < n; ++j) {
          float s = 0.0f;
          for (int64_t d = 0; d < HS_; ++d) s += qi[d] * keys[j * HS_ + d];
          w[j] = scale * s;
          max = std::max(max, w[j]);
        }
        float sum = 0.0f;
        for (int64_t j = j0; j < n; ++j) sum += (w[j] = std::exp(w[j] - max));
        const float inv_sum = 1.0f / sum;
        std::fill(yi, yi + HS_, 0.0f);
        for (int64_t j = j0; j < n; ++j)
          for (int64_t d = 0; d < HS_; ++d) yi[d] += w[j] * inv_sum * values[j * HS_ + d];
      }
    }
    return ops::linear(ops::merge_heads(y), c_proj_weight_, c_proj_bias_);
  }

 private:
  float softmax_scale() const { return 1.0f / std::sqrt(float(HS_)); }

  // src must be (B, T, C) with 1 <= T <= max_t.
  void check_src(const Tensor& src, int64_t max_t, const char* what) const {
    const Shape& s = src.shape();
    if (s.ndim() != 3 || s[2] != C_ || s[1] < 1 || s[1] > max_t)
      throw ShapeError(
          std::string("sliding_window: ") + what + " expects src (B, T, C=" + std::to_string(C_) +
          ") with 1 <= T <= " + std::to_string(max_t) +
          (max_t < block_size_
               ? " (what is left of block_size = " + std::to_string(block_size_) + " in the cache)"
               : " (block_size)") +
          ", got " + s.str());
  }

  int64_t C_, NH_, HS_, block_size_, window_;
  float dropout_;
  Tensor c_attn_weight_;  // (3C, C)
  Tensor c_attn_bias_;    // (3C), or undefined without bias
  Tensor c_proj_weight_;  // (C, C)
  Tensor c_proj_bias_;    // (C), or undefined without bias
  Tensor k_cache_;        // (B, NH, block_size, HS)
  Tensor v_cache_;        // (B, NH, block_size, HS)
  int64_t cached_ = 0;    // positions held in the caches
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::attention;
  d.name = "sliding_window";
  d.version = "1.0.0";
  d.description =
      "causal multi-head self-attention where each position sees only the last `window` "
      "positions, itself included (causal_mha's parameters)";
  // name, type, default, min, max (inclusive), choices, doc
  d.options = {
      {"window", OptionType::integer, int64_t(256), 1.0, std::nullopt, {},
       "positions each position attends to, itself included: j in (i - window, i]; "
       ">= block_size is causal_mha"},
  };
  d.make_attention = [](const Options& options, const AttentionConfig& config) {
    return std::make_unique<SlidingWindow>(config, options.get<int64_t>("window"));
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
