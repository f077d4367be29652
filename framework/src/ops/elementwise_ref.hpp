// Reference add and scale: plain loops over float or double, kept forever as the truth the
// oneDNN path (elementwise.cpp) is tested against. add's b is broadcast over a's leading dims:
// a and dst are viewed as (R, N) and b as (N), where N = numel(b); R = 1 when the shapes are equal.
#pragma once

#include <cstdint>

namespace nanolab::ref {

template <class T>
void add_fwd(const T* a, const T* b, T* dst, int64_t R, int64_t N) {
  for (int64_t r = 0; r < R; ++r)
    for (int64_t n = 0; n < N; ++n) dst[r * N + n] = a[r * N + n] + b[n];
}

// diff_a (R, N) is diff_dst; diff_b (N) sums diff_dst over the broadcast rows.
template <class T>
void add_bwd(const T* diff_dst, T* diff_a, T* diff_b, int64_t R, int64_t N) {
  for (int64_t n = 0; n < N; ++n) diff_b[n] = 0;
  for (int64_t r = 0; r < R; ++r)
    for (int64_t n = 0; n < N; ++n) {
      diff_a[r * N + n] = diff_dst[r * N + n];
      diff_b[n] += diff_dst[r * N + n];
    }
}

template <class T>
void scale_fwd(const T* src, T* dst, int64_t n, T alpha) {
  for (int64_t i = 0; i < n; ++i) dst[i] = src[i] * alpha;
}

template <class T>
void scale_bwd(const T* diff_dst, T* diff_src, int64_t n, T alpha) {
  for (int64_t i = 0; i < n; ++i) diff_src[i] = diff_dst[i] * alpha;
}

}  // namespace nanolab::ref
