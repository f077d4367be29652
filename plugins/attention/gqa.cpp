// attention `gqa`: grouped-query causal self-attention (Ainslie et al. 2023): NH query heads share
// n_kv_head key/value heads, each group of G = NH / n_kv_head consecutive query heads attending
// with one k/v head; n_kv_head = 1 is multi-query attention (Shazeer 2019), n_kv_head = NH is
// causal_mha. Projections: q_proj (C, C), k_proj and v_proj (n_kv_head*HS, C), c_proj (C, C), in
// the x·Wᵀ layout. Composed from framework ops, so autograd gives the backward, and without copying
// the shared k/v: the query heads of a group are adjacent in (B, NH, T, HS), so q viewed as
// (B, n_kv_head, G*T, HS) meets its k/v head in one batched matmul, and the scores viewed as
// (B, NH, T, T) take the causal softmax. The KV cache holds n_kv_head heads, G times smaller than
// causal_mha's (the framework's KvCache, with plain loops). Dropout and every model.position as in
// causal_mha. Not a fused kernel: the (T, T) weights are materialised.
#include <cmath>
#include <string>
#include <tuple>
#include <vector>

#include "nanolab/autograd.hpp"
#include "nanolab/ops.hpp"
#include "nanolab/plugin.hpp"

namespace {

using namespace nanolab;

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
        layer_(config.layer),
        position_(config.position, config.n_head),
        cache_("gqa", C_, NKV_, HS_, block_size_),
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
    check_attention_src(src, "gqa", "forward", C_, block_size_, block_size_);
    const int64_t B = src.size(0), T = src.size(1);
    auto [q, k, v] = qkv(src, 0);
    record_attention_entropy(*ctx.metrics, layer_, q, k, softmax_scale(),
                             {0, position_.alibi_slopes()});
    // q (B, NH, T, HS) seen as (B, NKV, G*T, HS): row g*T + t of kv head h is query head h*G + g.
    // (B, NKV, G*T, T) is (B, NH, T, T) in memory: the causal softmax sees square per-head blocks.
    Tensor att = ops::causal_softmax(
        ops::matmul(q.view({B, NKV_, G_ * T, HS_}), k, false, true).view({B, NH_, T, T}),
        softmax_scale(), {0, position_.alibi_slopes()});
    const bool drop = ctx.training && dropout_ > 0.0f;
    if (drop) att = ops::dropout(att, dropout_, dropout_site_seed(ctx.dropout_seed, 0));
    // (B, NKV, G*T, HS) -> (B, NH, T, HS) -> (B, T, C)
    Tensor y = ops::merge_heads(
        ops::matmul(att.view({B, NKV_, G_ * T, T}), v).view({B, NH_, T, HS_}));
    Tensor dst = ops::linear(y, c_proj_weight_, c_proj_bias_);
    if (drop) dst = ops::dropout(dst, dropout_, dropout_site_seed(ctx.dropout_seed, 1));
    return dst;
  }

  void reset_cache(int64_t batch) override { cache_.reset(batch); }

  Tensor forward_cached(const Tensor& src) override {
    NoGrad no_grad;
    auto qkv_at = [this](const Tensor& s, int64_t pos0) { return qkv(s, pos0); };
    Tensor q = cache_.add(src, qkv_at).first;
    Tensor y = cache_.attend(q, softmax_scale(), {0, position_.alibi_slopes()});
    return ops::linear(ops::merge_heads(y), c_proj_weight_, c_proj_bias_);
  }

 private:
  float softmax_scale() const { return 1.0f / std::sqrt(float(HS_)); }

  // src (B, T, C) at positions pos0.. -> q (B, NH, T, HS), k and v (B, NKV, T, HS); q and k
  // rotated for rope.
  std::tuple<Tensor, Tensor, Tensor> qkv(const Tensor& src, int64_t pos0) const {
    return {
        position_.rotate(ops::split_heads(ops::linear(src, q_proj_weight_, q_proj_bias_), NH_),
                         pos0),
        position_.rotate(ops::split_heads(ops::linear(src, k_proj_weight_, k_proj_bias_), NKV_),
                         pos0),
        ops::split_heads(ops::linear(src, v_proj_weight_, v_proj_bias_), NKV_)};
  }

  int64_t C_, NH_, HS_, NKV_, G_, block_size_;
  float dropout_;
  int64_t layer_;
  PositionEncoding position_;
  KvCache cache_;
  Tensor q_proj_weight_;  // (C, C)
  Tensor k_proj_weight_;  // (NKV*HS, C)
  Tensor v_proj_weight_;  // (NKV*HS, C)
  Tensor c_proj_weight_;  // (C, C)
  Tensor q_proj_bias_;    // (C), or undefined without bias
  Tensor k_proj_bias_;    // (NKV*HS), or undefined without bias
  Tensor v_proj_bias_;    // (NKV*HS), or undefined without bias
  Tensor c_proj_bias_;    // (C), or undefined without bias
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::attention;
  d.name = "gqa";
  d.version = "1.1.0";
  d.description =
      "grouped-query causal self-attention: n_head query heads share n_kv_head key/value heads "
      "(multi-query when 1)";
  // name, type, default, min, max (exclusive(v): an open end), choices, doc[, list length]
  d.options = {
      {"n_kv_head", OptionType::integer, int64_t(1), 1.0, std::nullopt, {},
       "key/value heads, dividing n_head: 1 is multi-query, n_head is multi-head attention"},
  };
  d.factory = [](const Options& options, const AttentionConfig& config) {
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
