// optimizer `sgd`: stochastic gradient descent with momentum, Nesterov momentum and coupled (L2)
// weight decay, step for step the update of PyTorch's torch.optim.SGD without dampening:
//   g   <- g + weight_decay * p                     only where the parameter decays
//   buf <- momentum * buf + g, from buf = 0 (g on the first step)   (when momentum > 0)
//   g   <- g + momentum * buf if nesterov, else buf
//   p   <- p - lr * g
// The learning rate is not an option: the trainer passes it to every step. The update is a TBB
// loop (nanolab::parallel_for) over fixed blocks of every parameter; each element is updated on its own, so the thread
// count cannot change a result. Not a fused multi-tensor kernel.
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

class Sgd final : public Optimizer {
 public:
  explicit Sgd(const Options& options)
      : momentum_(float(options.get<double>("momentum"))),
        weight_decay_(float(options.get<double>("weight_decay"))),
        nesterov_(options.get<bool>("nesterov")) {}

  // The momentum buffer (PyTorch's name), only with momentum. It starts at 0: PyTorch's first
  // buffer, g, is momentum * 0 + g.
  StateSpec state_spec() const override {
    if (momentum_ > 0.0f) return {{{"momentum_buffer"}}, {}};
    return {};
  }

  void step(const OptimizerStep& ctx) override {
    struct Span {
      float* p;
      const float* g;
      float* buf;  // null without momentum
      int64_t n;
      float weight_decay;  // 0 for a parameter that does not decay
    };
    std::vector<Span> spans;
    for (const ParameterState& s : ctx.params) {
      const Tensor& p = s.param.tensor;
      float* buf = momentum_ > 0.0f ? s.state[0].data() : nullptr;
      const float wd = s.param.decay ? weight_decay_ : 0.0f;
      for (int64_t at = 0; at < p.numel(); at += block)
        spans.push_back({p.data() + at, s.grad.data() + at, buf ? buf + at : nullptr,
                         std::min(block, p.numel() - at), wd});
    }
    const float momentum = momentum_, lr = ctx.lr;
    const bool nesterov = nesterov_;
    parallel_for(int64_t(spans.size()), block, [&](int64_t begin, int64_t end) {
      for (const Span& s : std::span(spans).subspan(size_t(begin), size_t(end - begin)))
        for (int64_t j = 0; j < s.n; ++j) {
          float g = s.g[j] + s.weight_decay * s.p[j];
          if (s.buf) {
            const float b = s.buf[j] = momentum * s.buf[j] + g;
            g = nesterov ? g + momentum * b : b;
          }
          s.p[j] -= lr * g;
        }
    });
  }

 private:
  float momentum_, weight_decay_;
  bool nesterov_;
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::optimizer;
  d.name = "sgd";
  d.version = "1.0.0";
  d.description = "SGD with momentum, Nesterov and L2 weight decay";
  // name, type, default, min, max (exclusive(v): an open end), choices, doc[, list length]
  d.options = {
      {"momentum", OptionType::number, 0.0, 0.0, exclusive(1.0), {},
       "weight of the previous update in the momentum buffer, in [0, 1); 0 turns it off"},
      {"nesterov", OptionType::boolean, false, std::nullopt, std::nullopt, {},
       "Nesterov momentum (needs momentum > 0)"},
      {"weight_decay", OptionType::number, 0.0, 0.0, std::nullopt, {},
       "L2 penalty added to the gradient: g += weight_decay * p, on the parameters that decay"},
  };
  d.factory = [](const Options& options) -> std::unique_ptr<Optimizer> {
    if (options.get<bool>("nesterov") && options.get<double>("momentum") == 0.0)
      throw ConfigError("sgd: nesterov = true needs momentum > 0; hint: set momentum = 0.9");
    return std::make_unique<Sgd>(options);
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
