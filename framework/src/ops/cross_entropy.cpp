// Fused log-softmax + negative log-likelihood (with optional label smoothing) on TBB loops, one
// row per task: oneDNN has log-softmax but not the gather and the mean, and fusing them lets the
// loss read the (B*T, V) logits once and never write a (B*T, V) log-probability tensor. The
// forward keeps each row's log-sum-exp (CrossEntropySaved) so that the backward gets softmax as
// exp(x - lse) in one pass, without finding the row's maximum and sum again.
//
// Mean over the counted rows (target != ignore_index); when no row counts the loss is 0 and so is
// its gradient (a batch of padding only is no reason to stop a run with a non-finite loss).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "nanolab/autograd.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/ops.hpp"
#include "ops/check.hpp"
#include "runtime/kernels.hpp"
#include "nanolab/simd.hpp"
#include "runtime/profile.hpp"

namespace nanolab::ops {
namespace {

// What the backward needs, saved by the forward.
struct CrossEntropySaved {
  Tensor logits;                 // (R, V) as passed to the forward
  Tensor lse;                    // (R) log-sum-exp of each row; unset for ignored rows
  std::vector<int32_t> targets;  // (R)
  int64_t n_counted;             // rows whose target is not ignore_index
  int32_t ignore_index;
  float label_smoothing;
};

// Counts the rows that take part, and checks every other target is a class.
int64_t check_targets(std::span<const int32_t> targets, int64_t V, int32_t ignore_index) {
  int64_t n = 0;
  for (size_t r = 0; r < targets.size(); ++r) {
    if (targets[r] == ignore_index) continue;
    if (targets[r] < 0 || targets[r] >= V)
      throw DataError("cross_entropy: target " + std::to_string(targets[r]) + " at position " +
                      std::to_string(r) + " is outside [0, V=" + std::to_string(V) +
                      ") and is not ignore_index (" + std::to_string(ignore_index) + ")");
    ++n;
  }
  return n;
}

// sum_v exp(x[v] - mx), and sum_v x[v] into sum_x, in double over 8 partial sums each.
NANOLAB_SIMD_CLONES double sum_exp_and_x(const float* x, int64_t V, float mx, double& sum_x) {
  double se[simd::lanes] = {}, sx[simd::lanes] = {};
  int64_t v = 0;
  for (; v + simd::lanes <= V; v += simd::lanes)
    for (int l = 0; l < simd::lanes; ++l) {
      se[l] += double(simd::exp_approx(x[v + l] - mx));
      sx[l] += double(x[v + l]);
    }
  for (; v < V; ++v) {
    se[0] += double(simd::exp_approx(x[v] - mx));
    sx[0] += double(x[v]);
  }
  double sum_exp = 0;
  sum_x = 0;
  for (int l = 0; l < simd::lanes; ++l) {
    sum_exp += se[l];
    sum_x += sx[l];
  }
  return sum_exp;
}

// d(V) = (exp(x - lse) - uniform) * g.
NANOLAB_SIMD_CLONES void softmax_minus_uniform(const float* x, float lse, float uniform, float g,
                                               float* d, int64_t V) {
  for (int64_t v = 0; v < V; ++v) d[v] = (simd::exp_approx(x[v] - lse) - uniform) * g;
}

// row_loss(R) and lse(R) from logits(R, V). Sums are taken in double: V is up to ~50k terms.
void cross_entropy_fwd(const float* logits, const int32_t* targets, float* row_loss, float* lse,
                       int64_t R, int64_t V, int32_t ignore_index, float label_smoothing) {
  const double e = label_smoothing;
  kernels::parallel_for(R, 4 * V, [&](int64_t b, int64_t end) {
    for (int64_t r = b; r < end; ++r) {
      if (targets[r] == ignore_index) {
        row_loss[r] = 0.0f;
        continue;
      }
      const float* x = logits + r * V;
      const float mx = simd::max_of(x, V);
      double sum_x = 0;
      const double l = mx + std::log(sum_exp_and_x(x, V, mx, sum_x));
      lse[r] = float(l);
      // -log p_t = lse - x_t; mean_v(-log p_v) = lse - mean_v(x_v)
      row_loss[r] = float((1 - e) * (l - x[targets[r]]) + e * (l - sum_x / double(V)));
    }
  });
}

// diff_logits(R, V) = (softmax - (1-e) onehot(target) - e/V) * g, zero on ignored rows, where
// g = diff_loss / n_counted.
void cross_entropy_bwd(const CrossEntropySaved& s, float g, float* diff_logits, int64_t R,
                       int64_t V) {
  const float* logits = s.logits.data();
  const float* lse = s.lse.data();
  const float on_target = 1.0f - s.label_smoothing;
  const float uniform = s.label_smoothing / float(V);
  kernels::parallel_for(R, 2 * V, [&](int64_t b, int64_t end) {
    for (int64_t r = b; r < end; ++r) {
      float* d = diff_logits + r * V;
      const int32_t t = s.targets[r];
      if (t == s.ignore_index) {
        std::fill(d, d + V, 0.0f);
        continue;
      }
      const float* x = logits + r * V;
      softmax_minus_uniform(x, lse[r], uniform, g, d, V);
      d[t] -= on_target * g;
    }
  });
}

}  // namespace

Tensor cross_entropy(const Tensor& logits, std::span<const int32_t> targets, int32_t ignore_index,
                     float label_smoothing) {
  profile::Scope scope(profile::Kind::cross_entropy);
  const Shape& s = logits.shape();
  require(s.ndim() >= 1 && s.last() > 0 && s.rows() == int64_t(targets.size()), "cross_entropy",
          "logits (..., V) and one target per row (logits, targets)", s,
          Shape{int64_t(targets.size())});
  if (!(label_smoothing >= 0.0f && label_smoothing <= 1.0f))
    throw ConfigError("cross_entropy: label_smoothing = " + std::to_string(label_smoothing) +
                      " is outside [0, 1]");
  const int64_t R = s.rows(), V = s.last();
  const int64_t n_counted = check_targets(targets, V, ignore_index);

  Tensor row_loss = Tensor::empty({R});
  Tensor lse = Tensor::empty({R});
  cross_entropy_fwd(logits.data(), targets.data(), row_loss.data(), lse.data(), R, V,
                    ignore_index, label_smoothing);
  // The mean over rows in row order on one thread: R is B*T, small next to R*V, and a fixed
  // order keeps the loss independent of the thread count.
  double total = 0;
  for (int64_t r = 0; r < R; ++r) total += row_loss.data()[r];
  Tensor dst = Tensor::full({}, n_counted ? float(total / double(n_counted)) : 0.0f);

  if (autograd::needs_grad({&logits})) {
    CrossEntropySaved saved{logits, lse, std::vector<int32_t>(targets.begin(), targets.end()),
                            n_counted, ignore_index, label_smoothing};
    autograd::record(dst, {logits}, [saved = std::move(saved), R, V](const Tensor& diff_dst) {
      Tensor diff_logits = Tensor::empty(saved.logits.shape());
      const float g = saved.n_counted ? diff_dst.item() / float(saved.n_counted) : 0.0f;
      cross_entropy_bwd(saved, g, diff_logits.data(), R, V);
      autograd::accumulate_grad(saved.logits, std::move(diff_logits));
    });
  }
  return dst;
}

}  // namespace nanolab::ops
