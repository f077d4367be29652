// optimizer `adamw`: Adam with decoupled weight decay (Loshchilov & Hutter), step for step the
// update of PyTorch's torch.optim.AdamW with bias correction:
//   p   <- p * (1 - lr * weight_decay)                  only where the parameter decays
//   m   <- beta1 * m + (1 - beta1) * g
//   v   <- beta2 * v + (1 - beta2) * g^2
//   p   <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// where t counts the updates this state has made (the framework's AdamWUpdate, optimizer.hpp). The
// learning rate is not an option: the trainer passes it to every step (schedules live in the
// trainer). The update is the framework's loop (apply_adamw, optimizer.hpp): each element is
// updated on its own, so the thread count cannot change a result. Not AMSGrad, not a fused
// multi-tensor kernel.
#include <cstdint>
#include <vector>

#include "nanolab/plugin.hpp"

namespace {

using namespace nanolab;

// State (PyTorch's names): the moments of every parameter, and the count of updates.
enum Tensors { exp_avg, exp_avg_sq };
enum Scalars { steps };

class AdamW final : public Optimizer {
 public:
  explicit AdamW(const Options& options)
      : weight_decay_(float(options.get<double>("weight_decay"))),
        eps_(float(options.get<double>("eps"))) {
    // The schema holds betas to two numbers in [0, 1).
    const auto& betas = options.get<std::vector<double>>("betas");
    beta1_ = float(betas[0]);
    beta2_ = float(betas[1]);
  }

  StateSpec state_spec() const override { return {{{"exp_avg"}, {"exp_avg_sq"}}, {"step"}}; }

  void step(const OptimizerStep& ctx) override {
    // Bias correction counts this state's own updates (PyTorch's rule), so a loaded state carries
    // its count with it.
    const AdamWUpdate update(ctx.lr, beta1_, beta2_, eps_, ++ctx.scalars[steps]);
    std::vector<const ParameterState*> params;
    for (const ParameterState& s : ctx.params) params.push_back(&s);
    apply_adamw(update, params, exp_avg, exp_avg_sq, ctx.lr, weight_decay_);
  }

 private:
  float weight_decay_, eps_, beta1_ = 0, beta2_ = 0;
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::optimizer;
  d.name = "adamw";
  d.version = "1.0.0";
  d.description = "Adam with decoupled weight decay (PyTorch's AdamW)";
  // name, type, default, min, max (exclusive(v): an open end), choices, doc[, list length]
  d.options = {
      {"betas", OptionType::number_list, std::vector<double>{0.9, 0.999}, 0.0, exclusive(1.0), {},
       "decay rates of the first and second moment estimates: two numbers in [0, 1)", 2},
      {"eps", OptionType::number, 1e-8, exclusive(0.0), std::nullopt, {},
       "added to the root of the second moment; > 0: it keeps the update finite where the "
       "second moment is 0"},
      {"weight_decay", OptionType::number, 0.01, 0.0, std::nullopt, {},
       "decoupled decay: p -= lr * weight_decay * p, on the parameters that decay"},
  };
  d.factory = [](const Options& options) -> std::unique_ptr<Optimizer> {
    return std::make_unique<AdamW>(options);
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
