// optimizer `adamw`: Adam with decoupled weight decay (Loshchilov & Hutter), step for step the
// update of PyTorch's torch.optim.AdamW with bias correction:
//   p   <- p * (1 - lr * weight_decay)                  only where p.ndim() >= 2, as nanoGPT does
//   m   <- beta1 * m + (1 - beta1) * g
//   v   <- beta2 * v + (1 - beta2) * g^2
//   p   <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// where t counts the updates this state has made (the framework's AdamWUpdate, optimizer.hpp). The
// learning rate is not an option: the trainer passes it to every step (schedules live in the
// trainer). The update is a TBB loop over fixed blocks of every parameter; each element is updated
// on its own, so the thread count cannot change a result. Not AMSGrad, not a fused multi-tensor
// kernel.
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

// Elements per task: enough work to outweigh TBB's cost of a task, small enough that a large
// weight is shared between threads.
constexpr int64_t block = 1 << 14;

// State keys: "<parameter name>.exp_avg", "<parameter name>.exp_avg_sq" and "step".
constexpr std::string_view exp_avg_suffix = ".exp_avg", exp_avg_sq_suffix = ".exp_avg_sq";

// A float holds every integer up to 2^24 exactly: the most steps the state can record.
constexpr int64_t max_steps = int64_t(1) << 24;

struct Moments {
  Tensor exp_avg;     // shape of the parameter
  Tensor exp_avg_sq;  // shape of the parameter
};

class AdamW final : public Optimizer {
 public:
  explicit AdamW(const Options& options)
      : weight_decay_(float(options.get<double>("weight_decay"))),
        eps_(float(options.get<double>("eps"))) {
    // The schema checks each element against [0, 1]; the count and the open end are checked
    // here (beta = 1 would make the bias correction divide by zero).
    const auto& betas = options.get<std::vector<double>>("betas");
    if (betas.size() != 2 ||
        !std::all_of(betas.begin(), betas.end(), [](double b) { return b >= 0.0 && b < 1.0; }))
      throw ConfigError("adamw: betas = " + to_string(OptionValue(betas)) +
                        " must be two numbers in [0, 1); hint: nanoGPT uses [0.9, 0.95]");
    beta1_ = float(betas[0]);
    beta2_ = float(betas[1]);
  }

  void step(std::span<const Parameter> params, float lr, int64_t /*step*/) override {
    // Bias correction counts this state's own updates (PyTorch's rule), so a loaded state carries
    // its count with it and the trainer's step number is not needed.
    ++steps_;
    const AdamWUpdate update(lr, beta1_, beta2_, eps_, steps_);

    struct Span {
      float* p;
      const float* g;
      float* m;
      float* v;
      int64_t n;
      float decay;  // 1 - lr * weight_decay, or 1 for parameters with fewer than 2 dims
    };
    std::vector<Span> spans;
    for (const Parameter& param : params) {
      Tensor p = param.tensor;
      const Tensor& g = p.grad();
      if (!g.defined()) continue;  // a parameter that took no part in the loss (PyTorch skips it)
      Moments& s = moments_for(param);
      const float decay = p.ndim() >= 2 ? 1.0f - lr * weight_decay_ : 1.0f;
      for (int64_t at = 0; at < p.numel(); at += block)
        spans.push_back({p.data() + at, g.data() + at, s.exp_avg.data() + at,
                         s.exp_avg_sq.data() + at, std::min(block, p.numel() - at), decay});
    }
    parallel_for(int64_t(spans.size()), block, [&](int64_t begin, int64_t end) {
      for (const Span& s : std::span(spans).subspan(size_t(begin), size_t(end - begin)))
        update.apply(s.p, s.g, s.m, s.v, s.n, s.decay);
    });
  }

  StateDict state() const override {
    if (steps_ > max_steps)
      throw CheckpointError("adamw: the step count " + std::to_string(steps_) +
                            " is too large to store exactly (at most 2^24)");
    // The live moments, valid until the next step (optimizer.hpp).
    StateDict out{{"step", Tensor::full({1}, float(steps_))}};
    for (const auto& [name, s] : moments_) {
      out[name + std::string(exp_avg_suffix)] = s.exp_avg;
      out[name + std::string(exp_avg_sq_suffix)] = s.exp_avg_sq;
    }
    return out;
  }

  void load_state(const StateDict& state) override {
    std::map<std::string, Moments> moments;
    int64_t steps = -1;
    for (const auto& [key, t] : state) {
      if (key == "step") {
        const float v = t.numel() == 1 ? t.data()[0] : -1.0f;
        if (!(v >= 0.0f && v <= float(max_steps) && v == std::floor(v)))
          throw CheckpointError("adamw state: 'step' must be one whole number >= 0, got a tensor " +
                                t.shape().str());
        steps = int64_t(v);
      } else if (key.ends_with(exp_avg_sq_suffix)) {
        moments[key.substr(0, key.size() - exp_avg_sq_suffix.size())].exp_avg_sq = t.clone();
      } else if (key.ends_with(exp_avg_suffix)) {
        moments[key.substr(0, key.size() - exp_avg_suffix.size())].exp_avg = t.clone();
      } else {
        throw CheckpointError("adamw state: unexpected entry '" + key +
                              "' (expected 'step', '<param>.exp_avg', '<param>.exp_avg_sq')");
      }
    }
    for (const auto& [name, s] : moments)
      if (!s.exp_avg.defined() || !s.exp_avg_sq.defined() ||
          s.exp_avg.shape() != s.exp_avg_sq.shape())
        throw CheckpointError("adamw state: parameter '" + name +
                              "' needs both exp_avg and exp_avg_sq, of one shape");
    if (steps < 0 && !moments.empty())
      throw CheckpointError("adamw state: moments without a 'step' count");
    moments_ = std::move(moments);
    steps_ = std::max<int64_t>(steps, 0);
  }

 private:
  // The moments of `param`, zero on its first update; a loaded state must match its shape.
  Moments& moments_for(const Parameter& param) {
    auto [it, added] = moments_.try_emplace(param.name);
    Moments& s = it->second;
    const Shape& shape = param.tensor.shape();
    if (added) {
      s = {Tensor::zeros(shape), Tensor::zeros(shape)};
    } else if (s.exp_avg.shape() != shape) {
      throw CheckpointError("adamw state: parameter '" + param.name + "' has shape " + shape.str() +
                            " but its saved moments have " + s.exp_avg.shape().str());
    }
    return s;
  }

  float weight_decay_, eps_, beta1_ = 0, beta2_ = 0;
  int64_t steps_ = 0;
  std::map<std::string, Moments> moments_;  // by parameter name
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::optimizer;
  d.name = "adamw";
  d.version = "1.0.0";
  d.description = "Adam with decoupled weight decay on parameters of 2+ dims (PyTorch's AdamW)";
  // name, type, default, min, max (exclusive(v): an open end), choices, doc[, list length]
  d.options = {
      {"betas", OptionType::number_list, std::vector<double>{0.9, 0.999}, 0.0, exclusive(1.0), {},
       "decay rates of the first and second moment estimates: two numbers in [0, 1)", 2},
      {"eps", OptionType::number, 1e-8, exclusive(0.0), std::nullopt, {},
       "added to the root of the second moment; > 0: it keeps the update finite where the "
       "second moment is 0"},
      {"weight_decay", OptionType::number, 0.01, 0.0, std::nullopt, {},
       "decoupled decay: p -= lr * weight_decay * p, only on parameters of 2+ dims"},
  };
  d.factory = [](const Options& options) -> std::unique_ptr<Optimizer> {
    return std::make_unique<AdamW>(options);
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
