// Reference softmax over the last dim: plain loops over float or double, kept forever as the truth
// the oneDNN path is tested against. Not fast, and not what training runs.
//
// dst(R, N) = exp(src - max) / sum(exp(src - max)) per row; diff_src = dst * (diff_dst - <diff_dst, dst>).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace nanolab::ref {

template <class T>
void softmax_fwd(const T* src, T* dst, int64_t R, int64_t N) {
  for (int64_t r = 0; r < R; ++r) {
    const T* x = src + r * N;
    T* y = dst + r * N;
    T max = x[0];
    for (int64_t j = 1; j < N; ++j) max = std::max(max, x[j]);
    T sum = 0;
    for (int64_t j = 0; j < N; ++j) sum += y[j] = std::exp(x[j] - max);
    for (int64_t j = 0; j < N; ++j) y[j] /= sum;
  }
}

template <class T>
void softmax_bwd(const T* dst, const T* diff_dst, T* diff_src, int64_t R, int64_t N) {
  for (int64_t r = 0; r < R; ++r) {
    const T* y = dst + r * N;
    const T* dy = diff_dst + r * N;
    T dot = 0;
    for (int64_t j = 0; j < N; ++j) dot += dy[j] * y[j];
    for (int64_t j = 0; j < N; ++j) diff_src[r * N + j] = y[j] * (dy[j] - dot);
  }
}

}  // namespace nanolab::ref
