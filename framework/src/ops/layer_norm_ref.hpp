// Reference layer normalisation: plain loops over float or double, kept forever as the truth the
// oneDNN path is tested against. Not fast, and not what training runs. The backward recomputes the
// row statistics from src rather than taking them saved, so that it depends on nothing but the
// op's definition.
//
// dst(R, C) = (src - mean) * rstd * weight(C) + bias(C), mean and the biased variance taken over
// each row of C, rstd = 1 / sqrt(var + eps). bias and diff_bias may be null (no shift).
#pragma once

#include <cmath>
#include <cstdint>

namespace nanolab::ref {

// mean and rstd of one row of C.
template <class T>
void layer_norm_stats(const T* x, int64_t C, T eps, T& mean, T& rstd) {
  T m = 0;
  for (int64_t c = 0; c < C; ++c) m += x[c];
  m /= T(C);
  T v = 0;
  for (int64_t c = 0; c < C; ++c) v += (x[c] - m) * (x[c] - m);
  v /= T(C);
  mean = m;
  rstd = T(1) / std::sqrt(v + eps);
}

template <class T>
void layer_norm_fwd(const T* src, const T* weight, const T* bias, T* dst, int64_t R, int64_t C,
                    T eps) {
  for (int64_t r = 0; r < R; ++r) {
    const T* x = src + r * C;
    T mean, rstd;
    layer_norm_stats(x, C, eps, mean, rstd);
    for (int64_t c = 0; c < C; ++c)
      dst[r * C + c] = (x[c] - mean) * rstd * weight[c] + (bias ? bias[c] : T(0));
  }
}

// With xhat = (src - mean) * rstd and g = diff_dst * weight (per row):
// diff_src = rstd * (g - mean_c(g) - xhat * mean_c(g * xhat)), diff_weight = sum_r diff_dst * xhat,
// diff_bias = sum_r diff_dst.
template <class T>
void layer_norm_bwd(const T* src, const T* weight, const T* diff_dst, T* diff_src, T* diff_weight,
                    T* diff_bias, int64_t R, int64_t C, T eps) {
  for (int64_t c = 0; c < C; ++c) {
    diff_weight[c] = 0;
    if (diff_bias) diff_bias[c] = 0;
  }
  for (int64_t r = 0; r < R; ++r) {
    const T* x = src + r * C;
    const T* dy = diff_dst + r * C;
    T mean, rstd;
    layer_norm_stats(x, C, eps, mean, rstd);
    T g_mean = 0, gx_mean = 0;
    for (int64_t c = 0; c < C; ++c) {
      const T xhat = (x[c] - mean) * rstd;
      g_mean += dy[c] * weight[c];
      gx_mean += dy[c] * weight[c] * xhat;
      diff_weight[c] += dy[c] * xhat;
      if (diff_bias) diff_bias[c] += dy[c];
    }
    g_mean /= T(C);
    gx_mean /= T(C);
    for (int64_t c = 0; c < C; ++c) {
      const T xhat = (x[c] - mean) * rstd;
      diff_src[r * C + c] = rstd * (dy[c] * weight[c] - g_mean - xhat * gx_mean);
    }
  }
}

}  // namespace nanolab::ref
