// schedule `constant`: lr after the warmup, for ever (min_lr and decay_iters are not used).
#include <memory>

#include "nanolab/plugin.hpp"

namespace {

using namespace nanolab;

class Constant final : public Schedule {
 public:
  explicit Constant(const ScheduleConfig& c) : lr_(c.lr) {}

  double learning_rate(int64_t) const override { return lr_; }

 private:
  double lr_;
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::schedule;
  d.name = "constant";
  d.version = "1.0.0";
  d.description = "lr after the warmup, no decay";
  d.factory = [](const Options&, const ScheduleConfig& c) -> std::unique_ptr<Schedule> {
    return std::make_unique<Constant>(c);
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
