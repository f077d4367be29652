// loss `focal`: the focal loss of Lin et al. 2017 ("Focal Loss for Dense Object Detection") over
// the vocabulary: the mean, over the tokens whose target is not -1, of
//   -(1 - p_t)^gamma * log p_t,     p_t = softmax(logits)[target]
// which down-weights the tokens the model already predicts well. gamma = 0 is cross-entropy.
// The framework's ops have no per-token gather of log-probabilities, so this is one fused op with
// its own backward (autograd::record): it reads the (B*T, V) logits once per pass and keeps only a
// log-sum-exp and a coefficient per token. With l = log p_t and f(l) = -(1 - e^l)^gamma * l,
//   d loss / d logits[v] = f'(l) * (onehot(target)[v] - softmax[v]) / n_counted,
//   f'(l) = -(1 - p_t)^gamma + gamma * (1 - p_t)^(gamma - 1) * p_t * l.
// Not the alpha-balanced variant (no per-class weights).
//
// Records its terms (group "loss"): `nll`, the mean of -log p_t (the cross-entropy the focusing
// reweights), and `focal_weight`, the mean of (1 - p_t)^gamma over the same tokens.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "nanolab/autograd.hpp"
#include "nanolab/parallel.hpp"
#include "nanolab/plugin.hpp"

namespace {

using namespace nanolab;

constexpr int32_t ignore_index = -1;  // the Loss contract's padding id

// What the backward needs, saved by the forward.
struct FocalSaved {
  Tensor logits;                 // (R, V) as passed to the forward, R = B*T
  Tensor lse;                    // (R) log-sum-exp of each counted row
  Tensor dloss_dlogp;            // (R) f'(log p_t) of each counted row
  std::vector<int32_t> targets;  // (R)
  int64_t n_counted;
};

class Focal final : public Loss {
 public:
  explicit Focal(const Options& options) : gamma_(options.get<double>("gamma")) {}

  Tensor forward(const Tensor& logits, std::span<const int32_t> targets,
                 Metrics& metrics) override {
    const Shape& s = logits.shape();
    if (s.ndim() < 1 || s.last() < 1 || s.rows() != int64_t(targets.size()))
      throw ShapeError("focal: expects logits (..., V) and one target per row, got logits " +
                       s.str() + " and " + std::to_string(targets.size()) + " targets");
    const int64_t R = s.rows(), V = s.last();
    int64_t n_counted = 0;
    for (size_t r = 0; r < targets.size(); ++r) {
      if (targets[r] == ignore_index) continue;
      if (targets[r] < 0 || targets[r] >= V)
        throw DataError("focal: target " + std::to_string(targets[r]) + " at position " +
                        std::to_string(r) + " is outside [0, V=" + std::to_string(V) +
                        ") and is not -1 (padding)");
      ++n_counted;
    }

    Tensor row_loss = Tensor::empty({R}), lse = Tensor::empty({R}), coef = Tensor::empty({R});
    // (R) -log p_t and (1 - p_t)^gamma of each counted row, for the metrics of a logged step.
    const bool recording = metrics.enabled();
    std::vector<double> row_nll(recording ? size_t(R) : 0), row_weight(row_nll.size());
    const float* x_all = logits.data();
    const double gamma = gamma_;
    // Rows are independent; sums over V are taken in double (V is up to ~50k terms).
    parallel_for(R, 4 * V, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const int32_t t = targets[size_t(r)];
        if (t == ignore_index) {
          row_loss.data()[r] = lse.data()[r] = coef.data()[r] = 0.0f;
          if (recording) row_nll[size_t(r)] = row_weight[size_t(r)] = 0.0;
          continue;
        }
        const float* x = x_all + r * V;
        const float mx = *std::max_element(x, x + V);
        double sum_exp = 0;
        for (int64_t v = 0; v < V; ++v) sum_exp += std::exp(double(x[v] - mx));
        const double l = mx + std::log(sum_exp);
        const double logp = double(x[t]) - l;
        const double p = std::exp(logp);
        const double q = -std::expm1(logp);  // 1 - p_t without cancellation near p_t = 1
        const double weight = std::pow(q, gamma);
        row_loss.data()[r] = float(-weight * logp);
        if (recording) {
          row_nll[size_t(r)] = -logp;
          row_weight[size_t(r)] = weight;
        }
        // gamma * q^(gamma-1) * p * l tends to 0 as q -> 0 (l ~ -q), but 0 * inf is NaN at q = 0.
        const double focusing = q > 0.0 ? gamma * std::pow(q, gamma - 1.0) * p * logp : 0.0;
        lse.data()[r] = float(l);
        coef.data()[r] = float(-weight + focusing);
      }
    });
    // The mean in row order on one thread, so that the loss does not depend on the thread count.
    double total = 0;
    for (int64_t r = 0; r < R; ++r) total += row_loss.data()[r];
    Tensor dst = Tensor::full({}, n_counted ? float(total / double(n_counted)) : 0.0f);
    if (recording && n_counted) {
      double nll = 0, weight = 0;
      for (int64_t r = 0; r < R; ++r) nll += row_nll[size_t(r)], weight += row_weight[size_t(r)];
      metrics.record("nll", nll / double(n_counted));
      metrics.record("focal_weight", weight / double(n_counted));
    }

    if (autograd::needs_grad({&logits})) {
      FocalSaved saved{logits, lse, coef, std::vector<int32_t>(targets.begin(), targets.end()),
                       n_counted};
      autograd::record(dst, {logits}, [saved = std::move(saved), R, V](const Tensor& diff_dst) {
        Tensor diff_logits = Tensor::empty(saved.logits.shape());  // (R, V)
        // No counted row: the loss is the constant 0, and so is its gradient.
        const float g = saved.n_counted ? diff_dst.item() / float(saved.n_counted) : 0.0f;
        parallel_for(R, 2 * V, [&](int64_t begin, int64_t end) {
          for (int64_t r = begin; r < end; ++r) {
            float* d = diff_logits.data() + r * V;
            const int32_t t = saved.targets[size_t(r)];
            if (t == ignore_index) {
              std::fill(d, d + V, 0.0f);
              continue;
            }
            const float* x = saved.logits.data() + r * V;
            const float lse_r = saved.lse.data()[r], scale = g * saved.dloss_dlogp.data()[r];
            for (int64_t v = 0; v < V; ++v) d[v] = -std::exp(x[v] - lse_r) * scale;
            d[t] += scale;
          }
        });
        autograd::accumulate_grad(saved.logits, std::move(diff_logits));
      });
    }
    return dst;
  }

 private:
  double gamma_;
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::loss;
  d.name = "focal";
  d.version = "1.0.0";
  d.description = "focal loss: mean of -(1 - p_t)^gamma log p_t over the targets (fused op)";
  // name, type, default, min, max (exclusive(v): an open end), choices, doc[, list length]
  d.options = {
      {"gamma", OptionType::number, 2.0, 0.0, std::nullopt, {},
       "focusing exponent >= 0: larger down-weights well-predicted tokens more; 0 is "
       "cross-entropy"},
  };
  d.factory = [](const Options& options) -> std::unique_ptr<Loss> {
    return std::make_unique<Focal>(options);
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
