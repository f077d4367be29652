// Test fixture, loss `nan_after`: cross-entropy until its forward has been called `calls` times,
// then NaN (loss and gradients). The integration tests use it to inject a non-finite loss at a
// chosen step without a test hook in the trainer.
#include <cmath>
#include <limits>

#include "nanolab/ops.hpp"
#include "nanolab/plugin.hpp"

namespace {

using namespace nanolab;

class NanAfter final : public Loss {
 public:
  explicit NanAfter(const Options& o) : calls_(o.get<int64_t>("calls")) {}
  Tensor forward(const Tensor& logits, std::span<const int32_t> targets, Metrics&) override {
    Tensor loss = ops::cross_entropy(logits, targets);
    return ++seen_ > calls_ ? ops::scale(loss, std::numeric_limits<float>::quiet_NaN()) : loss;
  }

 private:
  int64_t calls_;
  int64_t seen_ = 0;
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::loss;
  d.name = "nan_after";
  d.version = "1.0.0";
  d.description = "test fixture: cross-entropy, then NaN after `calls` calls";
  d.options = {{.name = "calls", .type = OptionType::integer, .default_value = int64_t(5),
                .min = 0.0, .doc = "forward calls before the loss turns NaN"}};
  d.factory = [](const Options& o) { return std::make_unique<NanAfter>(o); };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
