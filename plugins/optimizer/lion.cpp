// optimizer `lion`: EvoLved Sign Momentum (Chen et al. 2023, "Symbolic Discovery of Optimization
// Algorithms"), step for step the update of the authors' reference (lion-pytorch):
//   p   <- p * (1 - lr * weight_decay)                  only where the parameter decays
//   c   <- beta1 * m + (1 - beta1) * g
//   p   <- p - lr * sign(c)                             sign(0) = 0
//   m   <- beta2 * m + (1 - beta2) * g
// Every element moves by exactly lr (or 0), so Lion wants a learning rate 3-10x smaller than
// AdamW's and a weight decay as much larger. The only state is m; there is no bias correction and
// so no step count. The update is a TBB loop over fixed blocks of every
// parameter; each element is updated on its own, so the thread count cannot change a result.
// Not a fused multi-tensor kernel.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "nanolab/parallel.hpp"
#include "nanolab/plugin.hpp"

namespace {

using namespace nanolab;

// Elements per task: enough work to outweigh TBB's cost of a task, small enough that a large
// weight is shared between threads.
constexpr int64_t block = 1 << 14;

class Lion final : public Optimizer {
 public:
  explicit Lion(const Options& options)
      : weight_decay_(float(options.get<double>("weight_decay"))) {
    // The schema holds betas to two numbers in [0, 1).
    const auto& betas = options.get<std::vector<double>>("betas");
    beta1_ = float(betas[0]);
    beta2_ = float(betas[1]);
  }

  // m, by lion-pytorch's name.
  StateSpec state_spec() const override { return {{{"exp_avg"}}, {}}; }

  void step(const OptimizerStep& ctx) override {
    struct Span {
      float* p;
      const float* g;
      float* m;
      int64_t n;
      float decay;  // 1 - lr * weight_decay, or 1 for a parameter that does not decay
    };
    std::vector<Span> spans;
    const float lr = ctx.lr;
    for (const ParameterState& s : ctx.params) {
      const Tensor& p = s.param.tensor;
      const float decay = s.param.decay ? 1.0f - lr * weight_decay_ : 1.0f;
      for (int64_t at = 0; at < p.numel(); at += block)
        spans.push_back({p.data() + at, s.grad.data() + at, s.state[0].data() + at,
                         std::min(block, p.numel() - at), decay});
    }
    const float beta1 = beta1_, beta2 = beta2_;
    parallel_for(int64_t(spans.size()), block, [&](int64_t begin, int64_t end) {
      for (const Span& s : std::span(spans).subspan(size_t(begin), size_t(end - begin)))
        for (int64_t j = 0; j < s.n; ++j) {
          const float g = s.g[j];
          const float c = beta1 * s.m[j] + (1.0f - beta1) * g;
          const float sign = float(c > 0.0f) - float(c < 0.0f);
          s.p[j] = s.p[j] * s.decay - lr * sign;
          s.m[j] = beta2 * s.m[j] + (1.0f - beta2) * g;
        }
    });
  }

 private:
  float weight_decay_, beta1_ = 0, beta2_ = 0;
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::optimizer;
  d.name = "lion";
  d.version = "1.0.0";
  d.description =
      "Lion: sign of interpolated momentum, decoupled weight decay";
  // name, type, default, min, max (exclusive(v): an open end), choices, doc[, list length]
  d.options = {
      {"betas", OptionType::number_list, std::vector<double>{0.9, 0.99}, 0.0, exclusive(1.0), {},
       "beta1 mixes m and g for the update, beta2 is m's decay: two numbers in [0, 1)", 2},
      {"weight_decay", OptionType::number, 0.0, 0.0, std::nullopt, {},
       "decoupled decay: p -= lr * weight_decay * p, on the parameters that decay"},
  };
  d.factory = [](const Options& options) -> std::unique_ptr<Optimizer> {
    return std::make_unique<Lion>(options);
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
