// Reference causal softmax: plain loops over float or double, kept forever as the truth the
// TBB path is tested against. Not fast, and not what training runs. Written as "mask, then the
// plain softmax" on purpose, so that it shares no trick with the fast path (which never touches
// the masked half).
//
// src, dst (BH, T, T) with BH every leading dim flattened (B * NH for attention). The element
// type is `Real` here because T is the time dim. Row i of each (T, T) matrix is
// softmax_j(scale * src[i, j]) over j <= i; dst[i, j] = 0 for j > i.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "ops/softmax_ref.hpp"

namespace nanolab::ref {

template <class Real>
void causal_softmax_fwd(const Real* src, Real* dst, int64_t BH, int64_t T, Real scale) {
  std::vector<Real> row(static_cast<size_t>(T));
  for (int64_t r = 0; r < BH * T; ++r) {
    const int64_t i = r % T;
    for (int64_t j = 0; j < T; ++j)
      row[j] = j <= i ? scale * src[r * T + j] : -std::numeric_limits<Real>::infinity();
    softmax_fwd(row.data(), dst + r * T, 1, T);
  }
}

// d/d src of the masked softmax: scale * dst * (diff_dst - <diff_dst, dst>), zero where masked
// (dst is zero there).
template <class Real>
void causal_softmax_bwd(const Real* dst, const Real* diff_dst, Real* diff_src, int64_t BH,
                        int64_t T, Real scale) {
  softmax_bwd(dst, diff_dst, diff_src, BH * T, T);
  for (int64_t k = 0; k < BH * T * T; ++k) diff_src[k] *= scale;
}

}  // namespace nanolab::ref
