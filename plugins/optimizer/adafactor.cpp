// optimizer `adafactor`: Adafactor (Shazeer & Stern 2018) as Hugging Face transformers implements
// it with relative_step = False, warmup_init = False and no first moment (beta1 = None), at step t
// of this state, for a parameter p with gradient g:
//   lr_t  = lr * max(eps[1], RMS(p))           (scale_parameter; lr itself without it)
//   b2_t  = 1 - t^decay_rate
//   u     = g^2 + eps[0]
//   2+ dims, factored over the last two dims (R, N):
//     row <- b2_t * row + (1 - b2_t) * mean_N(u)        (..., R)
//     col <- b2_t * col + (1 - b2_t) * mean_R(u)        (..., N)
//     U   = g / sqrt(row / mean_R(row)) / sqrt(col)
//   fewer dims: v <- b2_t * v + (1 - b2_t) * u,  U = g / sqrt(v)
//   U    <- U / max(1, RMS(U) / clip_threshold)
//   p    <- p - weight_decay * lr_t * p - lr_t * U
// The factored moments hold R + N numbers for an (R, N) weight instead of R * N. Weight decay
// falls only on the parameters that decay (transformers decays all; nanolab's follow nanoGPT:
// parameter.hpp). Parameters are updated one after the other; within one, rows are TBB tasks and every
// sum is taken in a fixed order in double, so the thread count cannot change a result. Not the
// relative-step schedule (the trainer owns the learning rate) and not the beta1 momentum variant.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "nanolab/parallel.hpp"
#include "nanolab/plugin.hpp"

namespace {

using namespace nanolab;

// State (transformers' names): the factored second moment of parameters of 2+ dims, the full one
// of the others, and the count of updates.
bool factored(const Parameter& p) { return p.tensor.ndim() >= 2; }
bool unfactored(const Parameter& p) { return !factored(p); }
enum Tensors { exp_avg_sq_row, exp_avg_sq_col, exp_avg_sq };
enum Scalars { steps };

// A parameter seen as A matrices (R, N): its last two dims, or one row for a 1-D parameter.
struct Layout {
  int64_t A, R, N;
};

Layout layout_of(const Shape& s) {
  if (s.ndim() < 2) return {1, 1, s.numel()};
  return {s.numel() / (s[-2] * s[-1]), s[-2], s[-1]};
}

// sqrt(mean(x^2)) over n values: per-row sums in parallel, added in row order.
double rms(const float* x, int64_t rows, int64_t n_per_row) {
  std::vector<double> partial(static_cast<size_t>(rows));
  parallel_for(rows, n_per_row, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      double s = 0;
      for (const float* v = x + r * n_per_row; v < x + (r + 1) * n_per_row; ++v)
        s += double(*v) * *v;
      partial[size_t(r)] = s;
    }
  });
  double total = 0;
  for (double s : partial) total += s;
  return std::sqrt(total / double(rows * n_per_row));
}

class Adafactor final : public Optimizer {
 public:
  explicit Adafactor(const Options& options)
      : decay_rate_(options.get<double>("decay_rate")),
        clip_threshold_(options.get<double>("clip_threshold")),
        weight_decay_(options.get<double>("weight_decay")),
        scale_parameter_(options.get<bool>("scale_parameter")) {
    const auto& eps = options.get<std::vector<double>>("eps");
    // eps[0] = 0 would make a gradient of 0 divide 0 by 0.
    if (eps.size() != 2 || !(eps[0] > 0.0))
      throw ConfigError("adafactor: eps = " + to_string(OptionValue(eps)) +
                        " must be two numbers, the first > 0: added to g^2, and the floor of "
                        "RMS(p); hint: [1e-30, 1e-3]");
    eps1_ = eps[0];
    eps2_ = eps[1];
  }

  StateSpec state_spec() const override {
    return {{{"exp_avg_sq_row", state_shape::rows, 0.0f, factored},
             {"exp_avg_sq_col", state_shape::columns, 0.0f, factored},
             {"exp_avg_sq", state_shape::like_parameter, 0.0f, unfactored}},
            {"step"}};
  }

  void step(const OptimizerStep& ctx) override {
    // b2_t counts this state's own updates, so a loaded state carries its count with it.
    const int64_t t = ++ctx.scalars[steps];
    const float beta2t = float(1.0 - std::pow(double(t), decay_rate_));
    const float eps1 = float(eps1_);
    for (const ParameterState& s : ctx.params) {
      const Tensor& p = s.param.tensor;
      const Layout l = layout_of(p.shape());
      const int64_t rows = l.A * l.R, N = l.N;
      const double lr_t = scale_parameter_
                              ? double(ctx.lr) * std::max(eps2_, rms(p.data(), rows, N))
                              : double(ctx.lr);
      Tensor update = Tensor::empty(p.shape());  // U, (A, R, N)
      const float* gd = s.grad.data();
      float* u = update.data();
      if (!factored(s.param)) {
        float* v = s.state[exp_avg_sq].data();
        parallel_for(rows, 4 * N, [&](int64_t begin, int64_t end) {
          for (int64_t i = begin * N; i < end * N; ++i) {
            v[i] = beta2t * v[i] + (1.0f - beta2t) * (gd[i] * gd[i] + eps1);
            u[i] = gd[i] / std::sqrt(v[i]);
          }
        });
      } else {
        float* row = s.state[exp_avg_sq_row].data();
        float* col = s.state[exp_avg_sq_col].data();
        // row (A, R): mean over N of each row.
        parallel_for(rows, 2 * N, [&](int64_t begin, int64_t end) {
          for (int64_t r = begin; r < end; ++r) {
            double sum = 0;
            for (int64_t n = 0; n < N; ++n) sum += double(gd[r * N + n]) * gd[r * N + n] + eps1;
            row[r] = beta2t * row[r] + (1.0f - beta2t) * float(sum / double(N));
          }
        });
        // col (A, N): mean over R of each column, rows added in order.
        parallel_for(l.A * N, 2 * l.R, [&](int64_t begin, int64_t end) {
          for (int64_t an = begin; an < end; ++an) {
            const int64_t a = an / N, n = an % N;
            double sum = 0;
            for (int64_t r = 0; r < l.R; ++r) {
              const float x = gd[(a * l.R + r) * N + n];
              sum += double(x) * x + eps1;
            }
            col[an] = beta2t * col[an] + (1.0f - beta2t) * float(sum / double(l.R));
          }
        });
        std::vector<float> row_mean(static_cast<size_t>(l.A));  // (A)
        for (int64_t a = 0; a < l.A; ++a) {
          double sum = 0;
          for (int64_t r = 0; r < l.R; ++r) sum += row[a * l.R + r];
          row_mean[size_t(a)] = float(sum / double(l.R));
        }
        parallel_for(rows, 4 * N, [&](int64_t begin, int64_t end) {
          for (int64_t r = begin; r < end; ++r) {
            const int64_t a = r / l.R;
            const float r_factor = 1.0f / std::sqrt(row[r] / row_mean[size_t(a)]);
            for (int64_t n = 0; n < N; ++n)
              u[r * N + n] = gd[r * N + n] * r_factor / std::sqrt(col[a * N + n]);
          }
        });
      }
      const double clip = std::max(1.0, rms(u, rows, N) / clip_threshold_);
      const float step_size = float(lr_t / clip);
      const float decay = s.param.decay ? float(1.0 - weight_decay_ * lr_t) : 1.0f;
      float* pd = p.data();
      parallel_for(rows, 2 * N, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin * N; i < end * N; ++i) pd[i] = pd[i] * decay - step_size * u[i];
      });
    }
  }

 private:
  double decay_rate_, clip_threshold_, weight_decay_, eps1_ = 0, eps2_ = 0;
  bool scale_parameter_;
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::optimizer;
  d.name = "adafactor";
  d.version = "1.0.0";
  d.description =
      "Adafactor: factored second moments for 2+-dim parameters, update clipping, no momentum "
      "(transformers' Adafactor without relative step)";
  // name, type, default, min, max (exclusive(v): an open end), choices, doc[, list length]
  d.options = {
      {"eps", OptionType::number_list, std::vector<double>{1e-30, 1e-3}, 0.0, std::nullopt, {},
       "two numbers: added to g^2 in the second moment, and the floor of RMS(p) that scales lr",
       2},
      {"decay_rate", OptionType::number, -0.8, std::nullopt, exclusive(0.0), {},
       "exponent of the second-moment decay: beta2_t = 1 - t^decay_rate; < 0, or it never "
       "forgets"},
      {"clip_threshold", OptionType::number, 1.0, exclusive(0.0), std::nullopt, {},
       "the update is scaled down until its RMS is at most this; > 0"},
      {"weight_decay", OptionType::number, 0.0, 0.0, std::nullopt, {},
       "decoupled decay: p -= weight_decay * lr_t * p, on the parameters that decay"},
      {"scale_parameter", OptionType::boolean, true, std::nullopt, std::nullopt, {},
       "scale lr by max(eps[1], RMS(p)), the parameter's own size"},
  };
  d.factory = [](const Options& options) -> std::unique_ptr<Optimizer> {
    return std::make_unique<Adafactor>(options);
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
