// optimizer `sgd`: stochastic gradient descent with momentum, Nesterov momentum and coupled (L2)
// weight decay, step for step the update of PyTorch's torch.optim.SGD without dampening:
//   g   <- g + weight_decay * p                     only where p.ndim() >= 2, as nanoGPT does
//   buf <- g on the first step, then momentum * buf + g        (when momentum > 0)
//   g   <- g + momentum * buf if nesterov, else buf
//   p   <- p - lr * g
// The learning rate is not an option: the trainer passes it to every step. The update is a TBB
// loop (nanolab::parallel_for) over fixed blocks of every parameter; each element is updated on its own, so the thread
// count cannot change a result. Not a fused multi-tensor kernel.
#include <algorithm>
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

// State keys: "<parameter name>.momentum_buffer" (PyTorch's name for it).
constexpr std::string_view buffer_suffix = ".momentum_buffer";

class Sgd final : public Optimizer {
 public:
  explicit Sgd(const Options& options)
      : momentum_(float(options.get<double>("momentum"))),
        weight_decay_(float(options.get<double>("weight_decay"))),
        nesterov_(options.get<bool>("nesterov")) {}

  void step(std::span<const Parameter> params, float lr, int64_t /*step*/) override {
    struct Span {
      float* p;
      const float* g;
      float* buf;  // null without momentum
      int64_t n;
      float weight_decay;  // 0 for parameters with fewer than 2 dims
      bool first;          // the buffer starts as the gradient
    };
    std::vector<Span> spans;
    for (const Parameter& param : params) {
      Tensor p = param.tensor;
      const Tensor& g = p.grad();
      if (!g.defined()) continue;  // a parameter that took no part in the loss (PyTorch skips it)
      float* buf = nullptr;
      bool first = false;
      if (momentum_ > 0.0f) {
        auto [it, added] = buffers_.try_emplace(param.name);
        if (added)
          it->second = Tensor::empty(p.shape());
        else if (it->second.shape() != p.shape())
          throw CheckpointError("sgd state: parameter '" + param.name + "' has shape " +
                                p.shape().str() + " but its saved momentum buffer has " +
                                it->second.shape().str());
        buf = it->second.data();
        first = added;
      }
      const float wd = p.ndim() >= 2 ? weight_decay_ : 0.0f;
      for (int64_t at = 0; at < p.numel(); at += block)
        spans.push_back({p.data() + at, g.data() + at, buf ? buf + at : nullptr,
                         std::min(block, p.numel() - at), wd, first});
    }
    const float momentum = momentum_;
    const bool nesterov = nesterov_;
    parallel_for(int64_t(spans.size()), block, [&](int64_t begin, int64_t end) {
      for (const Span& s : std::span(spans).subspan(size_t(begin), size_t(end - begin)))
        for (int64_t j = 0; j < s.n; ++j) {
          float g = s.g[j] + s.weight_decay * s.p[j];
          if (s.buf) {
            const float b = s.buf[j] = s.first ? g : momentum * s.buf[j] + g;
            g = nesterov ? g + momentum * b : b;
          }
          s.p[j] -= lr * g;
        }
    });
  }

  StateDict state() const override {
    // The live buffers, valid until the next step (optimizer.hpp).
    StateDict out;
    for (const auto& [name, buf] : buffers_) out[name + std::string(buffer_suffix)] = buf;
    return out;
  }

  void load_state(const StateDict& state) override {
    std::map<std::string, Tensor> buffers;
    for (const auto& [key, t] : state) {
      if (!key.ends_with(buffer_suffix))
        throw CheckpointError("sgd state: unexpected entry '" + key +
                              "' (expected '<param>.momentum_buffer')");
      buffers[key.substr(0, key.size() - buffer_suffix.size())] = t.clone();
    }
    buffers_ = std::move(buffers);
  }

 private:
  float momentum_, weight_decay_;
  bool nesterov_;
  std::map<std::string, Tensor> buffers_;  // momentum buffers by parameter name
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::optimizer;
  d.name = "sgd";
  d.version = "1.0.0";
  d.description = "SGD with momentum, Nesterov and L2 weight decay on parameters of 2+ dims";
  // name, type, default, min, max (exclusive(v): an open end), choices, doc[, list length]
  d.options = {
      {"momentum", OptionType::number, 0.0, 0.0, exclusive(1.0), {},
       "weight of the previous update in the momentum buffer, in [0, 1); 0 turns it off"},
      {"nesterov", OptionType::boolean, false, std::nullopt, std::nullopt, {},
       "Nesterov momentum (needs momentum > 0)"},
      {"weight_decay", OptionType::number, 0.0, 0.0, std::nullopt, {},
       "L2 penalty added to the gradient: g += weight_decay * p, only on params of 2+ dims"},
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
