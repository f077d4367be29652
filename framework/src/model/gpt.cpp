// The GPT of model.hpp, built from framework ops and attention plugins.
#include <cmath>
#include <random>
#include <string>

#include "nanolab/autograd.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/interrupt.hpp"
#include "nanolab/model.hpp"
#include "nanolab/ops.hpp"
#include "runtime/profile.hpp"
#include "nanolab/rng.hpp"

namespace nanolab {
namespace {

Tensor parameter(const Shape& shape) { return Tensor::zeros(shape).set_requires_grad(); }

// Seeds for the dropout sites of one forward pass: distinct per (call, layer, site).
enum class Site : uint64_t { embedding, attention, mlp };
uint64_t dropout_seed(const ForwardContext& ctx, int64_t layer, Site site) {
  return rng::mix(ctx.dropout_seed, uint64_t(layer) * 4 + uint64_t(site));
}

// The attention plugin's forward, timed under its own kind by `nanolab run --profile`.
Tensor attend(Attention& attn, const Tensor& src, const ForwardContext& ctx) {
  profile::Scope scope(profile::Kind::attention);
  return attn.forward(src, ctx);
}

}  // namespace

struct Gpt::Block {
  Tensor ln_1_w, ln_1_b, ln_2_w, ln_2_b;
  Tensor c_fc_w, c_fc_b, c_proj_w, c_proj_b;  // MLP: C -> 4C -> C
  std::unique_ptr<Attention> attn;
};

Gpt::Gpt(const GptConfig& c, const AttentionFactory& make_attention) : config_(c) {
  const int64_t C = c.n_embd;
  if (c.vocab_size < 1 || c.block_size < 1 || c.n_layer < 1 || c.n_head < 1 || C % c.n_head != 0)
    throw ConfigError("model: invalid shape (vocab_size " + std::to_string(c.vocab_size) +
                      ", block_size " + std::to_string(c.block_size) + ", n_layer " +
                      std::to_string(c.n_layer) + ", n_embd " + std::to_string(C) + ", n_head " +
                      std::to_string(c.n_head) + ")");
  // Roles by shape (matrix, vector: parameter.hpp) but for the embeddings; wte is the head too.
  auto add = [this](const std::string& name, Tensor t, Init init) {
    params_.push_back({name, t, init});
  };
  wte_ = parameter({c.vocab_size, C});
  params_.push_back({"wte.weight", wte_, Init::normal, Role::embedding});
  if (c.position == Position::learned)
    params_.push_back(
        {"wpe.weight", wpe_ = parameter({c.block_size, C}), Init::normal, Role::embedding});
  for (int64_t l = 0; l < c.n_layer; ++l) {
    auto b = std::make_unique<Block>();
    const std::string h = "h." + std::to_string(l) + ".";
    b->ln_1_w = parameter({C});
    add(h + "ln_1.weight", b->ln_1_w, Init::ones);
    if (c.bias) add(h + "ln_1.bias", b->ln_1_b = parameter({C}), Init::zeros);
    b->attn = make_attention(
        {C, c.n_head, c.block_size, c.bias, float(c.dropout), l, c.n_layer, c.position});
    if (!b->attn) throw PluginError("model: the attention factory returned nothing");
    for (Parameter p : b->attn->parameters()) {  // with the roles and decay the plugin gave
      p.name = h + "attn." + p.name;
      params_.push_back(std::move(p));
    }
    b->ln_2_w = parameter({C});
    add(h + "ln_2.weight", b->ln_2_w, Init::ones);
    if (c.bias) add(h + "ln_2.bias", b->ln_2_b = parameter({C}), Init::zeros);
    b->c_fc_w = parameter({4 * C, C});
    add(h + "mlp.c_fc.weight", b->c_fc_w, Init::normal);
    if (c.bias) add(h + "mlp.c_fc.bias", b->c_fc_b = parameter({4 * C}), Init::zeros);
    b->c_proj_w = parameter({C, 4 * C});
    add(h + "mlp.c_proj.weight", b->c_proj_w, Init::residual_projection);
    if (c.bias) add(h + "mlp.c_proj.bias", b->c_proj_b = parameter({C}), Init::zeros);
    blocks_.push_back(std::move(b));
  }
  ln_f_w_ = parameter({C});
  add("ln_f.weight", ln_f_w_, Init::ones);
  if (c.bias) add("ln_f.bias", ln_f_b_ = parameter({C}), Init::zeros);
}

Gpt::~Gpt() = default;

int64_t Gpt::num_params() const {
  int64_t n = 0;
  for (const Parameter& p : params_) n += p.tensor.numel();
  return n;
}

void Gpt::init(uint64_t seed) {
  std::mt19937_64 gen(seed);
  const float std_residual = 0.02f / std::sqrt(2.0f * float(config_.n_layer));
  for (Parameter& p : params_) {
    float* w = p.tensor.data();
    const int64_t n = p.tensor.numel();
    switch (p.init) {
      case Init::zeros: std::fill(w, w + n, 0.0f); break;
      case Init::ones: std::fill(w, w + n, 1.0f); break;
      case Init::normal:
      case Init::residual_projection: {
        std::normal_distribution<float> dist(0.0f, p.init == Init::normal ? 0.02f : std_residual);
        for (int64_t i = 0; i < n; ++i) w[i] = dist(gen);
        break;
      }
    }
  }
}

Tensor Gpt::embed(std::span<const int32_t> ids, int64_t B, int64_t T, int64_t pos0,
                  const ForwardContext& ctx) {
  if (int64_t(ids.size()) != B * T)
    throw ShapeError("gpt: " + std::to_string(ids.size()) + " ids for B=" + std::to_string(B) +
                     ", T=" + std::to_string(T));
  if (pos0 + T > config_.block_size)
    throw ShapeError("gpt: sequence of " + std::to_string(pos0 + T) +
                     " positions is longer than block_size " + std::to_string(config_.block_size));
  Tensor x = ops::embedding(wte_, ids, {B, T});
  if (wpe_.defined()) {  // position = learned; the others act inside attention, or not at all
    positions_.resize(size_t(T));
    for (int64_t t = 0; t < T; ++t) positions_[size_t(t)] = int32_t(pos0 + t);
    x = ops::add(x, ops::embedding(wpe_, positions_, {T}));
  }
  if (ctx.training && config_.dropout > 0)
    x = ops::dropout(x, float(config_.dropout), dropout_seed(ctx, 0, Site::embedding));
  return x;  // B,T,C
}

Tensor Gpt::head(const Tensor& x) {
  return ops::linear(ops::layer_norm(x, ln_f_w_, ln_f_b_), wte_);  // B,T,V
}

Tensor Gpt::forward(std::span<const int32_t> ids, int64_t B, int64_t T, const ForwardContext& ctx) {
  Tensor x = embed(ids, B, T, 0, ctx);
  for (size_t l = 0; l < blocks_.size(); ++l) {
    interruption_point();  // a forward longer than a signal may wait is cut between blocks
    Block& b = *blocks_[l];
    ForwardContext attn_ctx = ctx;
    attn_ctx.dropout_seed = dropout_seed(ctx, int64_t(l), Site::attention);
    x = ops::add(x, attend(*b.attn, ops::layer_norm(x, b.ln_1_w, b.ln_1_b), attn_ctx));
    Tensor h = ops::gelu(ops::linear(ops::layer_norm(x, b.ln_2_w, b.ln_2_b), b.c_fc_w, b.c_fc_b));
    h = ops::linear(h, b.c_proj_w, b.c_proj_b);
    if (ctx.training && config_.dropout > 0)
      h = ops::dropout(h, float(config_.dropout), dropout_seed(ctx, int64_t(l), Site::mlp));
    x = ops::add(x, h);
  }
  return head(x);
}

void Gpt::reset_cache(int64_t B) {
  for (auto& b : blocks_) b->attn->reset_cache(B);
  cache_len_ = 0;
}

Tensor Gpt::forward_cached(std::span<const int32_t> ids, int64_t B, int64_t t) {
  NoGrad no_grad;
  Tensor x = embed(ids, B, t, cache_len_, ForwardContext{});
  for (auto& bp : blocks_) {
    Block& b = *bp;
    x = ops::add(x, b.attn->forward_cached(ops::layer_norm(x, b.ln_1_w, b.ln_1_b)));
    Tensor h = ops::gelu(ops::linear(ops::layer_norm(x, b.ln_2_w, b.ln_2_b), b.c_fc_w, b.c_fc_b));
    x = ops::add(x, ops::linear(h, b.c_proj_w, b.c_proj_b));
  }
  cache_len_ += t;
  return head(x);
}

}  // namespace nanolab
