// schedule `wsd` (warmup-stable-decay, Hägele et al. 2024): lr after the warmup, then a linear
// decay to min_lr over the last D = round(decay_frac * E) (at least 1) of the E = decay_iters
// iterations: iterations E - D .. E - 1 take lr - k (lr - min_lr) / D for k = 1 .. D, so the last
// one (E - 1) is at min_lr exactly; min_lr after. A decay that starts inside the warmup goes on
// from where the warmup leaves it.
#include <algorithm>
#include <cmath>
#include <memory>

#include "nanolab/plugin.hpp"

namespace {

using namespace nanolab;

class Wsd final : public Schedule {
 public:
  Wsd(const ScheduleConfig& c, double decay_frac)
      : c_(c), D_(std::max<int64_t>(1, std::llround(decay_frac * double(c.decay_iters)))) {}

  double learning_rate(int64_t iter) const override {
    const int64_t k = iter - (c_.decay_iters - D_) + 1;  // 1 at the first decaying iteration
    if (k <= 0) return c_.lr;
    if (k >= D_) return c_.min_lr;
    return c_.lr - double(k) * (c_.lr - c_.min_lr) / double(D_);
  }

 private:
  ScheduleConfig c_;
  int64_t D_;  // the iterations of the decay
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::schedule;
  d.name = "wsd";
  d.version = "1.0.0";
  d.description =
      "warmup-stable-decay: lr, then linear to min_lr over the last decay_frac of lr_decay_iters";
  d.options = {
      {"decay_frac", OptionType::number, 0.2, exclusive(0.0), 1.0, {},
       "the share of the iterations up to lr_decay_iters that decay to min_lr"},
  };
  d.factory = [](const Options& o, const ScheduleConfig& c) -> std::unique_ptr<Schedule> {
    return std::make_unique<Wsd>(c, o.get<double>("decay_frac"));
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
