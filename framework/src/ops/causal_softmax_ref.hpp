// Reference causal softmax: plain loops over float or double, kept forever as the truth the
// TBB path is tested against. Not fast, and not what training runs. Written as "mask, then the
// plain softmax" on purpose, so that it shares no trick with the fast path (which never touches
// the masked half).
//
// src, dst (BH, T, T) with BH every leading dim flattened (B * NH for attention). The element
// type is `Real` here because T is the time dim. Row i of each (T, T) matrix is
// softmax_j(scale * src[i, j] - slope * (i - j)) over the visible j (j <= i, and j > i - window
// when window > 0); dst[i, j] = 0 elsewhere. Matrix bh has the slope slopes[bh % NH], or 0 when
// there are no slopes.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "ops/softmax_ref.hpp"

namespace nanolab::ref {

template <class Real>
void causal_softmax_fwd(const Real* src, Real* dst, int64_t BH, int64_t T, Real scale,
                        int64_t window = 0, const std::vector<float>& slopes = {}) {
  std::vector<Real> row(static_cast<size_t>(T));
  for (int64_t r = 0; r < BH * T; ++r) {
    const int64_t i = r % T;
    const Real slope = slopes.empty() ? Real(0) : Real(slopes[size_t((r / T) % slopes.size())]);
    for (int64_t j = 0; j < T; ++j) {
      const bool visible = j <= i && (window == 0 || j > i - window);
      row[j] = visible ? scale * src[r * T + j] - slope * Real(i - j)
                       : -std::numeric_limits<Real>::infinity();
    }
    softmax_fwd(row.data(), dst + r * T, 1, T);
  }
}

// d/d src of the masked softmax: scale * dst * (diff_dst - <diff_dst, dst>), zero where masked
// (dst is zero there); the same for every window and slope, which only shape dst.
template <class Real>
void causal_softmax_bwd(const Real* dst, const Real* diff_dst, Real* diff_src, int64_t BH,
                        int64_t T, Real scale) {
  softmax_bwd(dst, diff_dst, diff_src, BH * T, T);
  for (int64_t k = 0; k < BH * T * T; ++k) diff_src[k] *= scale;
}

}  // namespace nanolab::ref
