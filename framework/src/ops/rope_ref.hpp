// Reference rotary position embedding: plain loops over float or double, kept forever as the truth
// the fast path is tested against. Computes each angle from its definition (no table).
//
// src, dst (R, T, HS): R every leading dim flattened, row t at position pos0 + t. For d < HS/2,
// with a = (pos0 + t) * base^(-2d/HS):
//   dst[d]        = src[d] cos a - src[d + HS/2] sin a
//   dst[d + HS/2] = src[d + HS/2] cos a + src[d] sin a
// The backward rotates diff_dst by -a (a rotation's inverse is its transpose).
#pragma once

#include <cmath>
#include <cstdint>

namespace nanolab::ref {

template <class Real>
void rope_apply(const Real* src, Real* dst, int64_t R, int64_t T, int64_t HS, int64_t pos0,
                Real base, Real sign) {
  const int64_t half = HS / 2;
  for (int64_t r = 0; r < R; ++r)
    for (int64_t t = 0; t < T; ++t)
      for (int64_t d = 0; d < half; ++d) {
        const Real a = Real(pos0 + t) * std::pow(base, -Real(2 * d) / Real(HS));
        const Real c = std::cos(a), s = sign * std::sin(a);
        const Real* x = src + (r * T + t) * HS;
        Real* y = dst + (r * T + t) * HS;
        y[d] = x[d] * c - x[d + half] * s;
        y[d + half] = x[d + half] * c + x[d] * s;
      }
}

template <class Real>
void rope_fwd(const Real* src, Real* dst, int64_t R, int64_t T, int64_t HS, int64_t pos0,
              Real base) {
  rope_apply(src, dst, R, T, HS, pos0, base, Real(1));
}

template <class Real>
void rope_bwd(const Real* diff_dst, Real* diff_src, int64_t R, int64_t T, int64_t HS, int64_t pos0,
              Real base) {
  rope_apply(diff_dst, diff_src, R, T, HS, pos0, base, Real(-1));
}

}  // namespace nanolab::ref
