// Reference split_heads and merge_heads: plain loops over float or double, kept forever as the
// truth the oneDNN reorders (heads.cpp) are tested against. C = NH * HS; channel c = h * HS + s.
// Each op is a permutation, so the backward of one is the forward of the other. The element type
// is `Scalar` here because T is the time dim.
#pragma once

#include <cstdint>

namespace nanolab::ref {

// dst(B, NH, T, HS) from src(B, T, C)
template <class Scalar>
void split_heads_fwd(const Scalar* src, Scalar* dst, int64_t B, int64_t T, int64_t NH, int64_t HS) {
  const int64_t C = NH * HS;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < NH; ++h)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t s = 0; s < HS; ++s)
          dst[((b * NH + h) * T + t) * HS + s] = src[(b * T + t) * C + h * HS + s];
}

// dst(B, T, C) from src(B, NH, T, HS)
template <class Scalar>
void merge_heads_fwd(const Scalar* src, Scalar* dst, int64_t B, int64_t T, int64_t NH, int64_t HS) {
  const int64_t C = NH * HS;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < NH; ++h)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t s = 0; s < HS; ++s)
          dst[(b * T + t) * C + h * HS + s] = src[((b * NH + h) * T + t) * HS + s];
}

// diff_src(B, T, C) from diff_dst(B, NH, T, HS)
template <class Scalar>
void split_heads_bwd(const Scalar* diff_dst, Scalar* diff_src, int64_t B, int64_t T, int64_t NH,
                     int64_t HS) {
  merge_heads_fwd(diff_dst, diff_src, B, T, NH, HS);
}

// diff_src(B, NH, T, HS) from diff_dst(B, T, C)
template <class Scalar>
void merge_heads_bwd(const Scalar* diff_dst, Scalar* diff_src, int64_t B, int64_t T, int64_t NH,
                     int64_t HS) {
  split_heads_fwd(diff_dst, diff_src, B, T, NH, HS);
}

}  // namespace nanolab::ref
