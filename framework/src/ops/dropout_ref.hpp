// Reference inverted dropout: plain loops over float or double, kept forever as the truth the TBB
// path (dropout.cpp) is tested against. The mask comes from the one DropoutMask both share
// (dropout_mask.hpp); what this checks is the scaling, the indexing and the backward.
#pragma once

#include <cstdint>

#include "ops/dropout_mask.hpp"

namespace nanolab::ref {

// dst(n) = keep(i) ? src(i) / (1 - p) : 0
template <class T>
void dropout_fwd(const T* src, T* dst, int64_t n, float p, uint64_t seed) {
  const ops::DropoutMask mask(seed, p);
  const T scale = T(1) / (T(1) - T(p));
  for (int64_t i = 0; i < n; ++i) dst[i] = mask.keep(uint64_t(i)) ? src[i] * scale : T(0);
}

template <class T>
void dropout_bwd(const T* diff_dst, T* diff_src, int64_t n, float p, uint64_t seed) {
  dropout_fwd(diff_dst, diff_src, n, p, seed);  // the op is linear: its backward is itself
}

}  // namespace nanolab::ref
