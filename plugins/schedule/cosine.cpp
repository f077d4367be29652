// schedule `cosine`: nanoGPT's cosine decay from lr at the end of the warmup to min_lr at
// decay_iters, min_lr after: lr(iter) = min_lr + (1 + cos(pi * ratio)) / 2 * (lr - min_lr),
// ratio = (iter - warmup_iters) / (decay_iters - warmup_iters). A decay that ends inside the
// warmup leaves min_lr.
#include <cmath>
#include <memory>
#include <numbers>

#include "nanolab/plugin.hpp"

namespace {

using namespace nanolab;

class Cosine final : public Schedule {
 public:
  explicit Cosine(const ScheduleConfig& c) : c_(c) {}

  double learning_rate(int64_t iter) const override {
    if (iter > c_.decay_iters || c_.decay_iters <= c_.warmup_iters) return c_.min_lr;
    const double ratio =
        double(iter - c_.warmup_iters) / double(c_.decay_iters - c_.warmup_iters);
    const double coeff = 0.5 * (1.0 + std::cos(std::numbers::pi * ratio));
    return c_.min_lr + coeff * (c_.lr - c_.min_lr);
  }

 private:
  ScheduleConfig c_;
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::schedule;
  d.name = "cosine";
  d.version = "1.0.0";
  d.description = "cosine decay from lr to min_lr at lr_decay_iters (nanoGPT's get_lr)";
  d.factory = [](const Options&, const ScheduleConfig& c) -> std::unique_ptr<Schedule> {
    return std::make_unique<Cosine>(c);
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
