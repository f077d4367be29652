// attention `gqa`: grouped-query causal self-attention (Ainslie et al. 2023): NH query heads share
// n_kv_head key/value heads, each group of G = NH / n_kv_head consecutive query heads attending
// with one k/v head; n_kv_head = 1 is multi-query attention (Shazeer 2019), n_kv_head = NH is
// causal_mha. Projections: q_proj (C, C), k_proj and v_proj (n_kv_head*HS, C), c_proj (C, C), in
// the x·Wᵀ layout. Composed from framework ops, so autograd gives the backward, and without copying
// the shared k/v: the query heads of a group are adjacent in (B, NH, T, HS), so q viewed as
// (B, n_kv_head, G*T, HS) meets its k/v head in one batched matmul, and the scores viewed as
// (B, NH, T, T) take the causal softmax. The KV cache holds n_kv_head heads, G times smaller than
// causal_mha's, and attends with plain loops. Dropout as in causal_mha. Not a fused kernel: the
// (T, T) weights are materialised.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <tuple>
#include <vector>

#include "nanolab/autograd.hpp"
#include "nanolab/ops.hpp"
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

class Gqa final : public Attention {
 public:
  Gqa(const AttentionConfig& config, int64_t n_kv_head)
      : C_(config.n_embd),
        NH_(config.n_head),
        HS_(config.n_embd / config.n_head),
        NKV_(n_kv_head),
        G_(config.n_head / n_kv_head),
        block_size_(config.block_size),
        dropout_(config.dropout),
        q_proj_weight_(parameter({C_, C_})),
        k_proj_weight_(parameter({NKV_ * HS_, C_})),
        v_proj_weight_(parameter({NKV_ * HS_, C_})),
        c_proj_weight_(parameter({C_, C_})) {
    if (config.bias) {
      q_proj_bias_ = parameter({C_});
      k_proj_bias_ = parameter({NKV_ * HS_});
      v_proj_bias_ = parameter({NKV_ * HS_});
      c_proj_bias_ = parameter({C_});
    }
  }

  Parameters parameters() override {
    Parameters p;
    for (auto [name, weight, bias] : {std::tuple{"q_proj", q_proj_weight_, q_proj_bias_},
                                      std::tuple{"k_proj", k_proj_weight_, k_proj_bias_},
                                      std::tuple{"v_proj", v_proj_weight_, v_proj_bias_}}) {
      p.push_back({std::string(name) + ".weight", weight, Init::normal});
      if (bias.defined()) p.push_back({std::string(name) + ".bias", bias, Init::zeros});
    }
    p.push_back({"c_proj.weight", c_proj_weight_, Init::residual_projection});
    if (c_proj_bias_.defined()) p.push_back({"c_proj.bias", c_proj_bias_, Init::zeros});
    return p;
  }

  Tensor forward(const Tensor& src, const ForwardContext& ctx) override {
    check_src(src, block_size_, "forward");
    const int64_t B = src.size(0), T = src.size(1);
    // q (B, NH, T, HS) seen as (B, NKV, G*T, HS): row g*T + t of kv head h is query head h*G + g.
    Tensor q = ops::split_heads(ops::linear(src, q_proj_weight_, q_proj_bias_), NH_)
                   .view({B, NKV_, G_ * T, HS_});
    // k, v (B, NKV, T, HS)
    Tensor k = ops::split_heads(ops::linear(src, k_proj_weight_, k_proj_bias_), NKV_);
    Tensor v = ops::split_heads(ops::linear(src, v_proj_weight_, v_proj_bias_), NKV_);
    // (B, NKV, G*T, T) is (B, NH, T, T) in memory: the causal softmax sees square per-head blocks.
    Tensor att = ops::causal_softmax(ops::matmul(q, k, false, true).view({B, NH_, T, T}),
                                     softmax_scale());
    const bool drop = ctx.training && dropout_ > 0.0f;
    if (drop) att = ops::dropout(att, dropout_, derive_seed(ctx.dropout_seed, 0));
    // (B, NKV, G*T, HS) -> (B, NH, T, HS) -> (B, T, C)
    Tensor y = ops::merge_heads(
        ops::matmul(att.view({B, NKV_, G_ * T, T}), v).view({B, NH_, T, HS_}));
    Tensor dst = ops::linear(y, c_proj_weight_, c_proj_bias_);
    if (drop) dst = ops::dropout(dst, dropout_, derive_seed(ctx.dropout_seed, 1));
    return dst;
  }

  void reset_cache(int64_t batch) override {
    if (batch < 1)
      throw ShapeError("gqa: reset_cache needs a batch >= 1, got " + std::to_string(batch));
    // (B, NKV, block_size, HS) each
    k_cache_ = Tensor::zeros({batch, NKV_, block_size_, HS_});
    v_cache_ = Tensor::zeros({batch, NKV_, block_size_, HS_});
    cached_ = 0;
  }

  Tensor forward_cached(const Tensor& src) override {
    if (!k_cache_.defined()) throw ShapeError("gqa: forward_cached before reset_cache");
    const int64_t B = k_cache_.size(0);
    check_src(src, block_size_ - cached_, "forward_cached");
    if (src.size(0) != B)
      throw ShapeError("gqa: forward_cached got a batch of " + std::to_string(src.size(0)) +
                       " after reset_cache(" + std::to_string(B) + ")");
    NoGrad no_grad;
    const int64_t t = src.size(1), L = block_size_, start = cached_;
    // q (B, NH, t, HS); k, v (B, NKV, t, HS)
    Tensor q = ops::split_heads(ops::linear(src, q_proj_weight_, q_proj_bias_), NH_);
    Tensor k = ops::split_heads(ops::linear(src, k_proj_weight_, k_proj_bias_), NKV_);
    Tensor v = ops::split_heads(ops::linear(src, v_proj_weight_, v_proj_bias_), NKV_);
    const int64_t rows = t * HS_;
    for (int64_t bh = 0; bh < B * NKV_; ++bh) {
      const int64_t at = (bh * L + start) * HS_;
      std::memcpy(k_cache_.data() + at, k.data() + bh * rows, rows * sizeof(float));
      std::memcpy(v_cache_.data() + at, v.data() + bh * rows, rows * sizeof(float));
    }
    cached_ += t;

    // y (B, NH, t, HS): query head h reads kv head h / G; new position i sits at absolute
    // position start + i and sees keys 0 .. start + i.
    Tensor y = Tensor::empty({B, NH_, t, HS_});
    const float scale = softmax_scale();
    std::vector<float> w(static_cast<size_t>(cached_));
    for (int64_t b = 0; b < B; ++b)
      for (int64_t h = 0; h < NH_; ++h) {
        const int64_t bh = b * NH_ + h, bkv = b * NKV_ + h / G_;
        const float* keys = k_cache_.data() + bkv * L * HS_;
        const float* values = v_cache_.data() + bkv * L * HS_;
        for (int64_t i = 0; i < t; ++i) {
          const float* qi = q.data() + (bh * t + i) * HS_;
          float* yi = y.data() + (bh * t + i) * HS_;
          const int64_t n = start + i + 1;
          float max = -INFINITY;
          for (int64_t j = 0; j < n; ++j) {
            float s = 0.0f;
            for (int64_t d = 0; d < HS_; ++d) s += qi[d] * keys[j * HS_ + d];
            w[j] = scale * s;
            max = std::max(max, w[j]);
          }
          float sum = 0.0f;
          for (int64_t j = 0; j < n; ++j) sum += (w[j] = std::exp(w[j] - max));
          const float inv_sum = 1.0f / sum;
          std::fill(yi, yi + HS_, 0.0f);
          for (int64_t j = 0; j < n; ++j)
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
          std::string("gqa: ") + what + " expects src (B, T, C=" + std::to_string(C_) +
          ") with 1 <= T <= " + std::to_string(max_t) +
          (max_t < block_size_
               ? " (what is left of block_size = " + std::to_string(block_size_) + " in the cache)"
               : " (block_size)") +
          ", got " + s.str());
  }

  int64_t C_, NH_, HS_, NKV_, G_, block_size_;
  float dropout_;
  Tensor q_proj_weight_;  // (C, C)
  Tensor k_proj_weight_;  // (NKV*HS, C)
  Tensor v_proj_weight_;  // (NKV*HS, C)
  Tensor c_proj_weight_;  // (C, C)
  Tensor q_proj_bias_;    // (C), or undefined without bias
  Tensor k_proj_bias_;    // (NKV*HS), or undefined without bias
  Tensor v_proj_bias_;    // (NKV*HS), or undefined without bias
  Tensor c_proj_bias_;    // (C), or undefined without bias
  Tensor k_cache_;        // (B, NKV, block_size, HS)
  Tensor v_cache_;        // (B, NKV, block_size, HS)
  int64_t cached_ = 0;    // positions held in the caches
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::attention;
  d.name = "gqa";
  d.version = "1.0.0";
  d.description =
      "grouped-query causal self-attention: n_head query heads share n_kv_head key/value heads "
      "(multi-query when 1)";
  // name, type, default, min, max (inclusive), choices, doc
  d.options = {
      {"n_kv_head", OptionType::integer, int64_t(1), 1.0, std::nullopt, {},
       "key/value heads, dividing n_head: 1 is multi-query, n_head is multi-head attention"},
  };
  d.make_attention = [](const Options& options, const AttentionConfig& config) {
    const int64_t n_kv_head = options.get<int64_t>("n_kv_head");
    if (config.n_head % n_kv_head != 0)
      throw ConfigError("gqa: n_kv_head = " + std::to_string(n_kv_head) +
                        " must divide n_head = " + std::to_string(config.n_head) +
                        "; hint: pick a divisor of n_head (1 is multi-query)");
    return std::make_unique<Gqa>(config, n_kv_head);
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
