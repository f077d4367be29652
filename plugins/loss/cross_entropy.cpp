// loss `cross_entropy`: the mean negative log-likelihood of the targets under softmax(logits), on
// the framework's fused log-softmax + NLL op (ops::cross_entropy), which has its own backward.
// Targets of -1 are padding and take no part. With label_smoothing = e the target distribution is
// (1 - e) on the target plus e spread evenly over the vocabulary (PyTorch's definition). With
// z_loss = k > 0 it adds PaLM's auxiliary penalty on the log-partition function (Chowdhery et al.
// 2022), k * mean(logsumexp(logits)^2) over the same tokens, which keeps the softmax normaliser
// near 1 and the logits from drifting; the framework has no log-sum-exp op, so that term is a
// fused op of its own here, with the backward
//   d / d logits[v] = k * 2 * lse * softmax[v] / n_counted.
// Not a sampled or chunked softmax: the whole (B*T, V) logits are read.
//
// Records its terms (group "loss"), which add up to the loss: `nll`, the mean negative
// log-likelihood of the targets; `label_smoothing`, what smoothing adds to it (with
// label_smoothing > 0: one more pass over the logits, at logged steps only); `z_loss`, the
// penalty (with z_loss > 0).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "nanolab/autograd.hpp"
#include "nanolab/ops.hpp"
#include "nanolab/parallel.hpp"
#include "nanolab/plugin.hpp"

namespace {

using namespace nanolab;

constexpr int32_t ignore_index = -1;  // the Loss contract's padding id

// k * mean over the counted rows of lse(row)^2, as a one-element tensor differentiable in logits.
// ops::cross_entropy runs first and has already checked the shapes and targets.
Tensor z_loss_term(const Tensor& logits, std::span<const int32_t> targets, float k) {
  const int64_t R = logits.shape().rows(), V = logits.shape().last();
  const int64_t n_counted = std::count_if(targets.begin(), targets.end(),
                                          [](int32_t t) { return t != ignore_index; });
  Tensor lse = Tensor::empty({R});  // (R); 0 on ignored rows
  // Rows are independent; sums over V are taken in double (V is up to ~50k terms).
  parallel_for(R, 2 * V, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      if (targets[size_t(r)] == ignore_index) {
        lse.data()[r] = 0.0f;
        continue;
      }
      const float* x = logits.data() + r * V;
      const float mx = *std::max_element(x, x + V);
      double sum_exp = 0;
      for (int64_t v = 0; v < V; ++v) sum_exp += std::exp(double(x[v] - mx));
      lse.data()[r] = float(mx + std::log(sum_exp));
    }
  });
  // The mean in row order on one thread, so that the loss does not depend on the thread count.
  double total = 0;
  for (int64_t r = 0; r < R; ++r) total += double(lse.data()[r]) * lse.data()[r];
  Tensor dst = Tensor::full({}, n_counted ? float(k * total / double(n_counted)) : 0.0f);

  if (autograd::needs_grad({&logits})) {
    autograd::record(dst, {logits}, [logits, lse, k, n_counted, R, V](const Tensor& diff_dst) {
      Tensor diff_logits = Tensor::empty(logits.shape());  // (R, V)
      // No counted row: the term is the constant 0, and so is its gradient.
      const float g = n_counted ? diff_dst.item() * k * 2.0f / float(n_counted) : 0.0f;
      parallel_for(R, 2 * V, [&](int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const float* x = logits.data() + r * V;
          float* d = diff_logits.data() + r * V;
          // An ignored row has lse 0 here, which zeroes its gradient.
          const float lse_r = lse.data()[r], scale = g * lse_r;
          for (int64_t v = 0; v < V; ++v) d[v] = scale * std::exp(x[v] - lse_r);
        }
      });
      autograd::accumulate_grad(logits, std::move(diff_logits));
    });
  }
  return dst;
}

class CrossEntropy final : public Loss {
 public:
  explicit CrossEntropy(const Options& options)
      : label_smoothing_(float(options.get<double>("label_smoothing"))),
        z_loss_(float(options.get<double>("z_loss"))) {}

  Tensor forward(const Tensor& logits, std::span<const int32_t> targets,
                 Metrics& metrics) override {
    Tensor ce = ops::cross_entropy(logits, targets, ignore_index, label_smoothing_);
    if (metrics.enabled()) {
      float nll = ce.item();
      if (label_smoothing_ != 0.0f) {
        NoGrad no_grad;
        nll = ops::cross_entropy(logits, targets, ignore_index).item();
        metrics.record("label_smoothing", double(ce.item()) - double(nll));
      }
      metrics.record("nll", nll);
    }
    if (z_loss_ == 0.0f) return ce;
    Tensor z = z_loss_term(logits, targets, z_loss_);
    metrics.record("z_loss", z.item());
    return ops::add(ce, z);
  }

 private:
  float label_smoothing_, z_loss_;
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::loss;
  d.name = "cross_entropy";
  d.version = "1.1.0";
  d.description = "mean cross-entropy of softmax(logits) against the targets (fused op)";
  // name, type, default, min, max (exclusive(v): an open end), choices, doc[, list length]
  d.options = {
      {"label_smoothing", OptionType::number, 0.0, 0.0, 1.0, {},
       "mass taken from the target and spread evenly over the vocabulary, in [0, 1]"},
      {"z_loss", OptionType::number, 0.0, 0.0, std::nullopt, {},
       "coefficient of PaLM's z-loss, + z_loss * mean(logsumexp(logits)^2); 0 turns it off "
       "(PaLM uses 1e-4)"},
  };
  d.factory = [](const Options& options) -> std::unique_ptr<Loss> {
    return std::make_unique<CrossEntropy>(options);
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
