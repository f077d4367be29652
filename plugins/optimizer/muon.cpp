// optimizer `muon`: MomentUm Orthogonalized by Newton-Schulz (Keller Jordan 2024), as his reference
// (the `muon` package's MuonWithAuxAdam, used by modded-nanogpt) applies it. Each 2-D weight of the
// transformer blocks (a "hidden" matrix, (rows, cols)) takes SGD momentum whose update is replaced
// by the nearest semi-orthogonal matrix:
//   m <- momentum * m + (1 - momentum) * g
//   u <- (1 - momentum) * g + momentum * m            (Nesterov; u = m without)
//   X <- u / (||u||_F + 1e-7), transposed when rows > cols
//   ns_steps times: A = X Xᵀ;  X <- a X + (b A + c A A) X,   (a, b, c) = (3.4445, -4.7750, 2.0315)
//   p <- p * (1 - lr * weight_decay) - lr * max(1, rows / cols)^0.5 * X (transposed back)
// The quintic Newton-Schulz iteration pushes every singular value of X towards 1 without an SVD;
// with these coefficients five steps leave them in [0.68, 1.21] rather than at 1 (faster than the
// convergent cubic, and as good for training, by the reference's measurements). Tensors of more
// than 2 dims are seen as (size(0), rest), as the reference does.
//
// The embeddings and the head (the model's wte, wpe and an untied lm_head, by their names,
// model.hpp) and every parameter with fewer than 2 dims take AdamW instead (the framework's
// AdamWUpdate) with options of their own: adamw_lr, adamw_betas, adamw_eps, adamw_weight_decay
// (decoupled, on 2-D parameters only). The AdamW group follows the schedule: at learning rate lr
// it steps with adamw_lr * lr / peak, where peak is optimizer.lr, which the framework passes in the
// option `lr` (optimizer.hpp).
//
// Runs in f32 where the reference uses bf16 for the iteration. The matrix products are oneDNN's
// (ops::matmul, on the calling thread, one matrix after the other: the largest, c_fc, is (4C, C));
// the AdamW group is a TBB loop over fixed blocks. Every element is summed in a fixed order, so the
// thread count of TBB cannot change a result. State: "step" (the AdamW group's update count),
// "<param>.momentum_buffer" (Muon), "<param>.exp_avg" and "<param>.exp_avg_sq" (AdamW).
// Not distributed (the reference shards the matrices over ranks) and not a fused kernel.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "nanolab/autograd.hpp"
#include "nanolab/ops.hpp"
#include "nanolab/parallel.hpp"
#include "nanolab/plugin.hpp"

namespace {

using namespace nanolab;

// The quintic's coefficients, from the reference: they maximise the slope at 0 (a) while keeping
// every singular value in (0, 1] inside a band around 1.
constexpr float ns_a = 3.4445f, ns_b = -4.7750f, ns_c = 2.0315f;

// Elements per task of the AdamW loop (as in adamw).
constexpr int64_t block = 1 << 14;

// A float holds every integer up to 2^24 exactly: the most steps the state can record.
constexpr int64_t max_steps = int64_t(1) << 24;

constexpr std::string_view momentum_suffix = ".momentum_buffer", exp_avg_suffix = ".exp_avg",
                           exp_avg_sq_suffix = ".exp_avg_sq";

// True for the parameters Muon updates: 2+ dims and not an embedding or the head.
bool is_hidden_matrix(const Parameter& p) {
  if (p.tensor.ndim() < 2) return false;
  const std::string_view first = std::string_view(p.name).substr(0, p.name.find('.'));
  return first != "wte" && first != "wpe" && first != "lm_head";
}

// src (R, N) -> its transpose (N, R), as a new tensor.
Tensor transposed(const Tensor& src) {
  const int64_t R = src.size(0), N = src.size(1);
  Tensor dst = Tensor::empty({N, R});
  const float* s = src.data();
  float* d = dst.data();
  for (int64_t r = 0; r < R; ++r)
    for (int64_t n = 0; n < N; ++n) d[n * R + r] = s[r * N + n];
  return dst;
}

// The quintic Newton-Schulz iteration on u (rows, cols): about U Vᵀ of u's SVD, same shape.
Tensor newton_schulz(const Tensor& u, int64_t steps) {
  const bool wide = u.size(0) <= u.size(1);
  Tensor X = wide ? u.clone() : transposed(u);  // (r, c), r <= c
  float* x = X.data();
  const int64_t n = X.numel();
  double sq = 0;
  for (int64_t i = 0; i < n; ++i) sq += double(x[i]) * x[i];
  const float inv_norm = float(1.0 / (std::sqrt(sq) + 1e-7));
  for (int64_t i = 0; i < n; ++i) x[i] *= inv_norm;
  for (int64_t s = 0; s < steps; ++s) {
    const Tensor A = ops::matmul(X, X, false, true);  // (r, r)
    Tensor B = ops::matmul(A, A);                      // (r, r): A A, then b A + c A A
    const float* a = A.data();
    float* b = B.data();
    for (int64_t i = 0; i < B.numel(); ++i) b[i] = ns_b * a[i] + ns_c * b[i];
    const Tensor BX = ops::matmul(B, X);  // (r, c)
    const float* bx = BX.data();
    for (int64_t i = 0; i < n; ++i) x[i] = ns_a * x[i] + bx[i];
  }
  return wide ? X : transposed(X);
}

struct Moments {
  Tensor exp_avg;     // shape of the parameter
  Tensor exp_avg_sq;  // shape of the parameter
};

class Muon final : public Optimizer {
 public:
  explicit Muon(const Options& o)
      : peak_lr_(o.get<double>("lr")),
        momentum_(float(o.get<double>("momentum"))),
        nesterov_(o.get<bool>("nesterov")),
        ns_steps_(o.get<int64_t>("ns_steps")),
        weight_decay_(float(o.get<double>("weight_decay"))),
        adamw_lr_(o.get<double>("adamw_lr")),
        adamw_eps_(float(o.get<double>("adamw_eps"))),
        adamw_weight_decay_(float(o.get<double>("adamw_weight_decay"))) {
    const auto& betas = o.get<std::vector<double>>("adamw_betas");
    adamw_beta1_ = float(betas[0]);
    adamw_beta2_ = float(betas[1]);
  }

  void step(std::span<const Parameter> params, float lr, int64_t /*step*/) override {
    NoGrad no_grad;
    adamw_step(params, float(adamw_lr_ * double(lr) / peak_lr_));
    for (const Parameter& param : params)
      if (param.tensor.grad().defined() && is_hidden_matrix(param)) muon_step(param, lr);
  }

  StateDict state() const override {
    if (steps_ > max_steps)
      throw CheckpointError("muon: the step count " + std::to_string(steps_) +
                            " is too large to store exactly (at most 2^24)");
    // The live buffers, valid until the next step (optimizer.hpp).
    StateDict out{{"step", Tensor::full({1}, float(steps_))}};
    for (const auto& [name, m] : momentum_buffers_) out[name + std::string(momentum_suffix)] = m;
    for (const auto& [name, s] : moments_) {
      out[name + std::string(exp_avg_suffix)] = s.exp_avg;
      out[name + std::string(exp_avg_sq_suffix)] = s.exp_avg_sq;
    }
    return out;
  }

  void load_state(const StateDict& state) override {
    std::map<std::string, Tensor> buffers;
    std::map<std::string, Moments> moments;
    int64_t steps = -1;
    auto name_of = [](const std::string& key, std::string_view suffix) {
      return key.substr(0, key.size() - suffix.size());
    };
    for (const auto& [key, t] : state) {
      if (key == "step") {
        const float v = t.numel() == 1 ? t.data()[0] : -1.0f;
        if (!(v >= 0.0f && v <= float(max_steps) && v == std::floor(v)))
          throw CheckpointError("muon state: 'step' must be one whole number >= 0, got a tensor " +
                                t.shape().str());
        steps = int64_t(v);
      } else if (key.ends_with(momentum_suffix)) {
        buffers[name_of(key, momentum_suffix)] = t.clone();
      } else if (key.ends_with(exp_avg_sq_suffix)) {
        moments[name_of(key, exp_avg_sq_suffix)].exp_avg_sq = t.clone();
      } else if (key.ends_with(exp_avg_suffix)) {
        moments[name_of(key, exp_avg_suffix)].exp_avg = t.clone();
      } else {
        throw CheckpointError("muon state: unexpected entry '" + key +
                              "' (expected 'step', '<param>.momentum_buffer', '<param>.exp_avg', "
                              "'<param>.exp_avg_sq')");
      }
    }
    for (const auto& [name, s] : moments)
      if (!s.exp_avg.defined() || !s.exp_avg_sq.defined() ||
          s.exp_avg.shape() != s.exp_avg_sq.shape())
        throw CheckpointError("muon state: parameter '" + name +
                              "' needs both exp_avg and exp_avg_sq, of one shape");
    if (steps < 0 && !moments.empty())
      throw CheckpointError("muon state: AdamW moments without a 'step' count");
    momentum_buffers_ = std::move(buffers);
    moments_ = std::move(moments);
    steps_ = std::max<int64_t>(steps, 0);
  }

 private:
  // The AdamW group at learning rate lr, in parallel over fixed blocks.
  void adamw_step(std::span<const Parameter> params, float lr) {
    struct Span {
      float* p;
      const float* g;
      float* m;
      float* v;
      int64_t n;
      float decay;  // 1 - lr * adamw_weight_decay, or 1 for parameters with fewer than 2 dims
    };
    std::vector<Span> spans;
    for (const Parameter& param : params) {
      const Tensor& p = param.tensor;
      const Tensor& g = p.grad();
      if (!g.defined() || is_hidden_matrix(param)) continue;
      Moments& s = moments_for(param);
      const float decay = p.ndim() >= 2 ? 1.0f - lr * adamw_weight_decay_ : 1.0f;
      for (int64_t at = 0; at < p.numel(); at += block)
        spans.push_back({p.data() + at, g.data() + at, s.exp_avg.data() + at,
                         s.exp_avg_sq.data() + at, std::min(block, p.numel() - at), decay});
    }
    if (spans.empty()) return;
    // Bias correction counts the group's own updates (PyTorch's rule), as adamw does.
    ++steps_;
    const AdamWUpdate update(lr, adamw_beta1_, adamw_beta2_, adamw_eps_, steps_);
    parallel_for(int64_t(spans.size()), block, [&](int64_t begin, int64_t end) {
      for (const Span& s : std::span(spans).subspan(size_t(begin), size_t(end - begin)))
        update.apply(s.p, s.g, s.m, s.v, s.n, s.decay);
    });
  }

  // One hidden matrix: momentum, Newton-Schulz, decay and update (see the top of the file).
  void muon_step(const Parameter& param, float lr) {
    const Tensor& p = param.tensor;
    const int64_t rows = p.size(0), cols = p.numel() / rows;
    const float* g = p.grad().data();
    float* m = momentum_buffer_for(param).data();
    Tensor u = Tensor::empty({rows, cols});
    float* ud = u.data();
    for (int64_t i = 0; i < p.numel(); ++i) {
      m[i] = momentum_ * m[i] + (1.0f - momentum_) * g[i];
      ud[i] = nesterov_ ? (1.0f - momentum_) * g[i] + momentum_ * m[i] : m[i];
    }
    const Tensor o = newton_schulz(u, ns_steps_);
    const float* od = o.data();
    const float step_size =
        lr * float(std::sqrt(std::max(1.0, double(rows) / double(cols))));
    const float decay = 1.0f - lr * weight_decay_;
    float* pd = p.data();
    for (int64_t i = 0; i < p.numel(); ++i) pd[i] = pd[i] * decay - step_size * od[i];
  }

  // The momentum of a hidden matrix, zero on its first update; a loaded one must match its shape.
  Tensor& momentum_buffer_for(const Parameter& param) {
    auto [it, added] = momentum_buffers_.try_emplace(param.name);
    const Shape& shape = param.tensor.shape();
    if (added)
      it->second = Tensor::zeros(shape);
    else if (it->second.shape() != shape)
      throw CheckpointError("muon state: parameter '" + param.name + "' has shape " + shape.str() +
                            " but its saved momentum_buffer has " + it->second.shape().str());
    return it->second;
  }

  // The AdamW moments of `param`, zero on its first update; loaded ones must match its shape.
  Moments& moments_for(const Parameter& param) {
    auto [it, added] = moments_.try_emplace(param.name);
    Moments& s = it->second;
    const Shape& shape = param.tensor.shape();
    if (added)
      s = {Tensor::zeros(shape), Tensor::zeros(shape)};
    else if (s.exp_avg.shape() != shape)
      throw CheckpointError("muon state: parameter '" + param.name + "' has shape " + shape.str() +
                            " but its saved moments have " + s.exp_avg.shape().str());
    return s;
  }

  double peak_lr_;
  float momentum_;
  bool nesterov_;
  int64_t ns_steps_;
  float weight_decay_;
  double adamw_lr_;
  float adamw_beta1_ = 0, adamw_beta2_ = 0, adamw_eps_, adamw_weight_decay_;
  int64_t steps_ = 0;                                // updates of the AdamW group
  std::map<std::string, Tensor> momentum_buffers_;   // hidden matrices, by parameter name
  std::map<std::string, Moments> moments_;           // the AdamW group, by parameter name
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::optimizer;
  d.name = "muon";
  d.version = "1.0.0";
  d.description =
      "Muon: Nesterov momentum orthogonalised by Newton-Schulz on hidden matrices; AdamW on "
      "embeddings, head and 1-D parameters";
  // name, type, default, min, max (exclusive(v): an open end), choices, doc[, list length]
  d.options = {
      {"lr", OptionType::number, 0.02, exclusive(0.0), std::nullopt, {},
       "the schedule's peak learning rate: optimizer.lr, filled in by the framework (not set "
       "here); the AdamW group steps with adamw_lr * (current lr) / lr"},
      {"momentum", OptionType::number, 0.95, 0.0, exclusive(1.0), {},
       "momentum of the hidden matrices' updates, in [0, 1)"},
      {"nesterov", OptionType::boolean, true, {}, {}, {},
       "Nesterov momentum: orthogonalise (1 - momentum) g + momentum m instead of m"},
      {"ns_steps", OptionType::integer, int64_t(5), 1.0, std::nullopt, {},
       "Newton-Schulz iterations per update"},
      {"weight_decay", OptionType::number, 0.0, 0.0, std::nullopt, {},
       "decoupled decay of the hidden matrices: p -= lr * weight_decay * p"},
      {"adamw_lr", OptionType::number, 1e-3, 0.0, std::nullopt, {},
       "peak learning rate of the AdamW group (embeddings, head, parameters of < 2 dims)"},
      {"adamw_betas", OptionType::number_list, std::vector<double>{0.9, 0.95}, 0.0,
       exclusive(1.0), {}, "the AdamW group's moment decay rates: two numbers in [0, 1)", 2},
      {"adamw_eps", OptionType::number, 1e-10, exclusive(0.0), std::nullopt, {},
       "the AdamW group's eps, added to the root of the second moment; > 0"},
      {"adamw_weight_decay", OptionType::number, 0.0, 0.0, std::nullopt, {},
       "decoupled decay of the AdamW group's parameters of 2+ dims (the embeddings)"},
  };
  d.factory = [](const Options& o) -> std::unique_ptr<Optimizer> {
    return std::make_unique<Muon>(o);
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
