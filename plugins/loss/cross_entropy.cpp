// loss `cross_entropy`: the mean negative log-likelihood of the targets under softmax(logits), on
// the framework's fused log-softmax + NLL op (ops::cross_entropy), which has its own backward.
// Targets of -1 are padding and take no part. With label_smoothing = e the target distribution is
// (1 - e) on the target plus e spread evenly over the vocabulary (PyTorch's definition). Not a
// sampled or chunked softmax: the whole (B*T, V) logits are read.
#include <cstdint>
#include <memory>
#include <span>

#include "nanolab/ops.hpp"
#include "nanolab/plugin.hpp"

namespace {

using namespace nanolab;

constexpr int32_t ignore_index = -1;  // the Loss contract's padding id

class CrossEntropy final : public Loss {
 public:
  explicit CrossEntropy(const Options& options)
      : label_smoothing_(float(options.get<double>("label_smoothing"))) {}

  Tensor forward(const Tensor& logits, std::span<const int32_t> targets) override {
    return ops::cross_entropy(logits, targets, ignore_index, label_smoothing_);
  }

 private:
  float label_smoothing_;
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::loss;
  d.name = "cross_entropy";
  d.version = "1.0.0";
  d.description = "mean cross-entropy of softmax(logits) against the targets (fused op)";
  // name, type, default, min, max (inclusive), choices, doc
  d.options = {
      {"label_smoothing", OptionType::number, 0.0, 0.0, 1.0, {},
       "mass taken from the target and spread evenly over the vocabulary, in [0, 1]"},
  };
  d.make_loss = [](const Options& options) -> std::unique_ptr<Loss> {
    return std::make_unique<CrossEntropy>(options);
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
