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
// The embeddings, the head and the vectors (every parameter whose role is not `matrix`,
// parameter.hpp) take AdamW instead (the framework's AdamWUpdate) with options of their own:
// adamw_lr, adamw_betas, adamw_eps, adamw_weight_decay (decoupled, on the parameters that decay).
// The AdamW group follows the schedule: at learning rate lr it steps with adamw_lr * lr / peak,
// where peak is optimizer.lr (the step's peak_lr, optimizer.hpp).
//
// Runs in f32 where the reference uses bf16 for the iteration. The matrix products are oneDNN's
// (ops::matmul, on the calling thread, one matrix after the other: the largest, c_fc, is (4C, C));
// the AdamW group is the framework's loop (apply_adamw, optimizer.hpp). Every element is summed in a fixed order, so the
// thread count of TBB cannot change a result.
// Not distributed (the reference shards the matrices over ranks) and not a fused kernel.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "nanolab/autograd.hpp"
#include "nanolab/ops.hpp"
#include "nanolab/plugin.hpp"

namespace {

using namespace nanolab;

// The quintic's coefficients, from the reference: they maximise the slope at 0 (a) while keeping
// every singular value in (0, 1] inside a band around 1.
constexpr float ns_a = 3.4445f, ns_b = -4.7750f, ns_c = 2.0315f;

// The parameters Muon updates; the others are the AdamW group.
bool is_hidden_matrix(const Parameter& p) { return p.role == Role::matrix; }
bool in_adamw_group(const Parameter& p) { return !is_hidden_matrix(p); }

// State: "momentum_buffer" of the hidden matrices, "exp_avg" and "exp_avg_sq" of the AdamW group,
// and "step", the AdamW group's count of updates.
enum Tensors { momentum_buffer, exp_avg, exp_avg_sq };
enum Scalars { adamw_steps };

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

class Muon final : public Optimizer {
 public:
  explicit Muon(const Options& o)
      : momentum_(float(o.get<double>("momentum"))),
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

  StateSpec state_spec() const override {
    return {{{"momentum_buffer", state_shape::like_parameter, 0.0f, is_hidden_matrix},
             {"exp_avg", state_shape::like_parameter, 0.0f, in_adamw_group},
             {"exp_avg_sq", state_shape::like_parameter, 0.0f, in_adamw_group}},
            {"step"}};
  }

  void step(const OptimizerStep& ctx) override {
    NoGrad no_grad;
    adamw_step(ctx, float(adamw_lr_ * double(ctx.lr) / ctx.peak_lr));
    for (const ParameterState& s : ctx.params)
      if (is_hidden_matrix(s.param)) muon_step(s, ctx.lr);
  }

 private:
  // The AdamW group at learning rate lr.
  void adamw_step(const OptimizerStep& ctx, float lr) {
    std::vector<const ParameterState*> group;
    for (const ParameterState& s : ctx.params)
      if (in_adamw_group(s.param)) group.push_back(&s);
    if (group.empty()) return;
    // Bias correction counts the group's own updates (PyTorch's rule), as adamw does.
    const AdamWUpdate update(lr, adamw_beta1_, adamw_beta2_, adamw_eps_,
                             ++ctx.scalars[adamw_steps]);
    apply_adamw(update, group, exp_avg, exp_avg_sq, lr, adamw_weight_decay_);
  }

  // One hidden matrix: momentum, Newton-Schulz, decay and update (see the top of the file).
  void muon_step(const ParameterState& s, float lr) {
    const Tensor& p = s.param.tensor;
    const int64_t rows = p.size(0), cols = p.numel() / rows;
    const float* g = s.grad.data();
    float* m = s.state[momentum_buffer].data();
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
    const float decay = s.param.decay ? 1.0f - lr * weight_decay_ : 1.0f;
    float* pd = p.data();
    for (int64_t i = 0; i < p.numel(); ++i) pd[i] = pd[i] * decay - step_size * od[i];
  }

  float momentum_;
  bool nesterov_;
  int64_t ns_steps_;
  float weight_decay_;
  double adamw_lr_;
  float adamw_beta1_ = 0, adamw_beta2_ = 0, adamw_eps_, adamw_weight_decay_;
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::optimizer;
  d.name = "muon";
  d.version = "1.0.0";
  d.description =
      "Muon: Nesterov momentum orthogonalised by Newton-Schulz on hidden matrices; AdamW on "
      "embeddings, head and vectors";
  // name, type, default, min, max (exclusive(v): an open end), choices, doc[, list length]
  d.options = {
      {"momentum", OptionType::number, 0.95, 0.0, exclusive(1.0), {},
       "momentum of the hidden matrices' updates, in [0, 1)"},
      {"nesterov", OptionType::boolean, true, {}, {}, {},
       "Nesterov momentum: orthogonalise (1 - momentum) g + momentum m instead of m"},
      {"ns_steps", OptionType::integer, int64_t(5), 1.0, std::nullopt, {},
       "Newton-Schulz iterations per update"},
      {"weight_decay", OptionType::number, 0.0, 0.0, std::nullopt, {},
       "decoupled decay of the hidden matrices: p -= lr * weight_decay * p"},
      {"adamw_lr", OptionType::number, 1e-3, 0.0, std::nullopt, {},
       "peak learning rate of the AdamW group (embeddings, head, vectors); it steps with "
       "adamw_lr * lr / optimizer.lr"},
      {"adamw_betas", OptionType::number_list, std::vector<double>{0.9, 0.95}, 0.0,
       exclusive(1.0), {}, "the AdamW group's moment decay rates: two numbers in [0, 1)", 2},
      {"adamw_eps", OptionType::number, 1e-10, exclusive(0.0), std::nullopt, {},
       "the AdamW group's eps, added to the root of the second moment; > 0"},
      {"adamw_weight_decay", OptionType::number, 0.0, 0.0, std::nullopt, {},
       "decoupled decay of the AdamW group's parameters that decay (the embeddings)"},
  };
  d.factory = [](const Options& o) -> std::unique_ptr<Optimizer> {
    return std::make_unique<Muon>(o);
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
