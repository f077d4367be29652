// schedule `linear`: a straight line from lr at the end of the warmup to min_lr at decay_iters,
// min_lr after: lr(iter) = min_lr + (1 - ratio) * (lr - min_lr), ratio = (iter - warmup_iters) /
// (decay_iters - warmup_iters). A decay that ends inside the warmup leaves min_lr.
#include <memory>

#include "nanolab/plugin.hpp"

namespace {

using namespace nanolab;

class Linear final : public Schedule {
 public:
  explicit Linear(const ScheduleConfig& c) : c_(c) {}

  double learning_rate(int64_t iter) const override {
    if (iter > c_.decay_iters || c_.decay_iters <= c_.warmup_iters) return c_.min_lr;
    const double ratio =
        double(iter - c_.warmup_iters) / double(c_.decay_iters - c_.warmup_iters);
    const double coeff = 1.0 - ratio;
    return c_.min_lr + coeff * (c_.lr - c_.min_lr);
  }

 private:
  ScheduleConfig c_;
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::schedule;
  d.name = "linear";
  d.version = "1.0.0";
  d.description = "linear decay from lr to min_lr at lr_decay_iters";
  d.factory = [](const Options&, const ScheduleConfig& c) -> std::unique_ptr<Schedule> {
    return std::make_unique<Linear>(c);
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
