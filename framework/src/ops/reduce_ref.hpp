// Reference sum and mean of all elements: plain loops over float or double, kept forever as the
// truth the oneDNN reduction (reduce.cpp) is tested against. dst and diff_dst are one element.
#pragma once

#include <cstdint>

namespace nanolab::ref {

template <class T>
void sum_fwd(const T* src, T* dst, int64_t n) {
  T s = 0;
  for (int64_t i = 0; i < n; ++i) s += src[i];
  dst[0] = s;
}

template <class T>
void sum_bwd(const T* diff_dst, T* diff_src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) diff_src[i] = diff_dst[0];
}

template <class T>
void mean_fwd(const T* src, T* dst, int64_t n) {
  sum_fwd(src, dst, n);
  dst[0] /= T(n);
}

template <class T>
void mean_bwd(const T* diff_dst, T* diff_src, int64_t n) {
  for (int64_t i = 0; i < n; ++i) diff_src[i] = diff_dst[0] / T(n);
}

}  // namespace nanolab::ref
