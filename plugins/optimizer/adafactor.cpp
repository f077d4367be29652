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
// falls only on parameters of 2+ dims (transformers decays all; nanolab's optimizers follow
// nanoGPT). Parameters are updated one after the other; within one, rows are TBB tasks and every
// sum is taken in a fixed order in double, so the thread count cannot change a result. Not the
// relative-step schedule (the trainer owns the learning rate) and not the beta1 momentum variant.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "nanolab/parallel.hpp"
#include "nanolab/plugin.hpp"

namespace {

using namespace nanolab;

// State keys: "<param>.exp_avg_sq_row", "<param>.exp_avg_sq_col" for factored parameters,
// "<param>.exp_avg_sq" for the others (transformers' names), and "step".
constexpr std::string_view row_suffix = ".exp_avg_sq_row", col_suffix = ".exp_avg_sq_col",
                           full_suffix = ".exp_avg_sq";

// A float holds every integer up to 2^24 exactly: the most steps the state can record.
constexpr int64_t max_steps = int64_t(1) << 24;

struct SecondMoment {
  Tensor row;   // the parameter's shape without its last dim: (..., R) of (..., R, N)
  Tensor col;   // without its last but one dim: (..., N) of (..., R, N)
  Tensor full;  // the parameter's shape, for parameters of fewer than 2 dims
};

// A parameter seen as A matrices (R, N): its last two dims, or one row for a 1-D parameter.
struct Layout {
  int64_t A, R, N;
};

Layout layout_of(const Shape& s) {
  if (s.ndim() < 2) return {1, 1, s.numel()};
  return {s.numel() / (s[-2] * s[-1]), s[-2], s[-1]};
}

// The shapes of the factored moments of a parameter of shape s (2+ dims), as transformers has them.
Shape row_shape(const Shape& s) { return Shape::of(s.data(), s.ndim() - 1); }
Shape col_shape(const Shape& s) {
  std::vector<int64_t> dims(s.data(), s.data() + s.ndim());
  dims.erase(dims.end() - 2);
  return Shape::of(dims.data(), int(dims.size()));
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

  void step(std::span<const Parameter> params, float lr, int64_t /*step*/) override {
    // b2_t counts this state's own updates, so a loaded state carries its count with it.
    ++steps_;
    const float beta2t = float(1.0 - std::pow(double(steps_), decay_rate_));
    const float eps1 = float(eps1_);
    for (const Parameter& param : params) {
      Tensor p = param.tensor;
      const Tensor& g = p.grad();
      if (!g.defined()) continue;  // a parameter that took no part in the loss (PyTorch skips it)
      const Layout l = layout_of(p.shape());
      const int64_t rows = l.A * l.R, N = l.N;
      SecondMoment& s = moments_for(param);
      const double lr_t = scale_parameter_ ? double(lr) * std::max(eps2_, rms(p.data(), rows, N))
                                           : double(lr);
      Tensor update = Tensor::empty(p.shape());  // U, (A, R, N)
      const float* gd = g.data();
      float* u = update.data();
      if (s.full.defined()) {
        float* v = s.full.data();
        parallel_for(rows, 4 * N, [&](int64_t begin, int64_t end) {
          for (int64_t i = begin * N; i < end * N; ++i) {
            v[i] = beta2t * v[i] + (1.0f - beta2t) * (gd[i] * gd[i] + eps1);
            u[i] = gd[i] / std::sqrt(v[i]);
          }
        });
      } else {
        float* row = s.row.data();
        float* col = s.col.data();
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
      const float decay = p.ndim() >= 2 ? float(1.0 - weight_decay_ * lr_t) : 1.0f;
      float* pd = p.data();
      parallel_for(rows, 2 * N, [&](int64_t begin, int64_t end) {
        for (int64_t i = begin * N; i < end * N; ++i) pd[i] = pd[i] * decay - step_size * u[i];
      });
    }
  }

  StateDict state() const override {
    if (steps_ > max_steps)
      throw CheckpointError("adafactor: the step count " + std::to_string(steps_) +
                            " is too large to store exactly (at most 2^24)");
    // The live moments, valid until the next step (optimizer.hpp).
    StateDict out{{"step", Tensor::full({1}, float(steps_))}};
    for (const auto& [name, s] : moments_) {
      if (s.full.defined()) {
        out[name + std::string(full_suffix)] = s.full;
      } else {
        out[name + std::string(row_suffix)] = s.row;
        out[name + std::string(col_suffix)] = s.col;
      }
    }
    return out;
  }

  void load_state(const StateDict& state) override {
    std::map<std::string, SecondMoment> moments;
    int64_t steps = -1;
    auto name_of = [](const std::string& key, std::string_view suffix) {
      return key.substr(0, key.size() - suffix.size());
    };
    for (const auto& [key, t] : state) {
      if (key == "step") {
        const float v = t.numel() == 1 ? t.data()[0] : -1.0f;
        if (!(v >= 0.0f && v <= float(max_steps) && v == std::floor(v)))
          throw CheckpointError(
              "adafactor state: 'step' must be one whole number >= 0, got a tensor " +
              t.shape().str());
        steps = int64_t(v);
      } else if (key.ends_with(row_suffix)) {
        moments[name_of(key, row_suffix)].row = t.clone();
      } else if (key.ends_with(col_suffix)) {
        moments[name_of(key, col_suffix)].col = t.clone();
      } else if (key.ends_with(full_suffix)) {
        moments[name_of(key, full_suffix)].full = t.clone();
      } else {
        throw CheckpointError("adafactor state: unexpected entry '" + key +
                              "' (expected 'step', '<param>.exp_avg_sq_row', "
                              "'<param>.exp_avg_sq_col', '<param>.exp_avg_sq')");
      }
    }
    for (const auto& [name, s] : moments)
      if (s.full.defined() == (s.row.defined() || s.col.defined()) ||
          s.row.defined() != s.col.defined())
        throw CheckpointError("adafactor state: parameter '" + name +
                              "' needs either exp_avg_sq_row and exp_avg_sq_col, or exp_avg_sq");
    if (steps < 0 && !moments.empty())
      throw CheckpointError("adafactor state: moments without a 'step' count");
    moments_ = std::move(moments);
    steps_ = std::max<int64_t>(steps, 0);
  }

 private:
  // The second moment of `param`, zero on its first update; a loaded one must match its layout.
  SecondMoment& moments_for(const Parameter& param) {
    auto [it, added] = moments_.try_emplace(param.name);
    SecondMoment& s = it->second;
    const Shape& shape = param.tensor.shape();
    const bool factored = shape.ndim() >= 2;
    if (added) {
      if (factored)
        s = {Tensor::zeros(row_shape(shape)), Tensor::zeros(col_shape(shape)), Tensor()};
      else
        s = {Tensor(), Tensor(), Tensor::zeros(shape)};
    } else if (factored ? !s.row.defined() || s.row.shape() != row_shape(shape) ||
                              s.col.shape() != col_shape(shape)
                        : !s.full.defined() || s.full.shape() != shape) {
      throw CheckpointError("adafactor state: the saved second moment of parameter '" +
                            param.name + "' does not fit its shape " + shape.str());
    }
    return s;
  }

  double decay_rate_, clip_threshold_, weight_decay_, eps1_ = 0, eps2_ = 0;
  bool scale_parameter_;
  int64_t steps_ = 0;
  std::map<std::string, SecondMoment> moments_;  // by parameter name
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
       "decoupled decay: p -= weight_decay * lr_t * p, only on parameters of 2+ dims"},
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
