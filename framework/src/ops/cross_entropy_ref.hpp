// Reference cross-entropy: log-softmax and negative log-likelihood as separate plain loops over
// float or double, kept forever as the truth the fused TBB path (cross_entropy.cpp) is tested
// against. Targets are assumed valid here; the op checks them. logits (R, V), targets (R) with
// R = B*T rows; a row whose target is ignore_index counts for nothing. With label smoothing e the
// per-row loss is (1 - e) * nll + e * mean_v(-log p_v); the result is the mean over the counted
// rows, or 0 when no row counts.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace nanolab::ref {

// logp(V) = log softmax(x(V))
template <class T>
void log_softmax_row(const T* x, T* logp, int64_t V) {
  T mx = x[0];
  for (int64_t v = 1; v < V; ++v) mx = std::max(mx, x[v]);
  T s = 0;
  for (int64_t v = 0; v < V; ++v) s += std::exp(x[v] - mx);
  const T lse = mx + std::log(s);
  for (int64_t v = 0; v < V; ++v) logp[v] = x[v] - lse;
}

inline int64_t counted_rows(const int32_t* targets, int64_t R, int32_t ignore_index) {
  int64_t n = 0;
  for (int64_t r = 0; r < R; ++r) n += targets[r] != ignore_index;
  return n;
}

// loss(1)
template <class T>
void cross_entropy_fwd(const T* logits, const int32_t* targets, T* loss, int64_t R, int64_t V,
                       int32_t ignore_index, float label_smoothing) {
  const T e = T(label_smoothing);
  std::vector<T> logp(static_cast<size_t>(V));
  T total = 0;
  for (int64_t r = 0; r < R; ++r) {
    if (targets[r] == ignore_index) continue;
    log_softmax_row(logits + r * V, logp.data(), V);
    T mean_neg_logp = 0;
    for (int64_t v = 0; v < V; ++v) mean_neg_logp -= logp[v];
    mean_neg_logp /= T(V);
    total += (1 - e) * -logp[targets[r]] + e * mean_neg_logp;
  }
  const int64_t n = counted_rows(targets, R, ignore_index);
  loss[0] = n ? total / T(n) : T(0);
}

// diff_logits(R, V) from diff_loss(1)
template <class T>
void cross_entropy_bwd(const T* logits, const int32_t* targets, const T* diff_loss,
                       T* diff_logits, int64_t R, int64_t V, int32_t ignore_index,
                       float label_smoothing) {
  const T e = T(label_smoothing);
  const int64_t n = counted_rows(targets, R, ignore_index);
  std::vector<T> logp(static_cast<size_t>(V));
  for (int64_t r = 0; r < R; ++r) {
    T* d = diff_logits + r * V;
    if (targets[r] == ignore_index) {
      for (int64_t v = 0; v < V; ++v) d[v] = 0;
      continue;
    }
    log_softmax_row(logits + r * V, logp.data(), V);
    // d nll / dx_v = p_v - [v == target]; d mean_v(-log p_v) / dx_v = p_v - 1/V
    for (int64_t v = 0; v < V; ++v) {
      const T p = std::exp(logp[v]);
      const T nll_grad = p - T(v == targets[r]);
      const T smooth_grad = p - T(1) / T(V);
      d[v] = ((1 - e) * nll_grad + e * smooth_grad) * diff_loss[0] / T(n);
    }
  }
}

}  // namespace nanolab::ref
