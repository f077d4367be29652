// The dropout mask: whether element i of a tensor is kept, as a pure function of (seed, i).
//
// Shared by the fast dropout (dropout.cpp) and its reference (dropout_ref.hpp) so that the two can
// never disagree, and by the backward, which recomputes the mask instead of storing it. The hash
// is splitmix64 used as a counter-based generator: element i gets the i-th output of the
// splitmix64 stream keyed by the (pre-mixed) seed, so the mask does not depend on how the
// elements are split between threads. Not a general-purpose RNG: callers that need two different
// masks (two layers, two steps) pass two different seeds.
#pragma once

#include <cstdint>

#include "nanolab/rng.hpp"

namespace nanolab::ops {

class DropoutMask {
 public:
  // p in [0, 1): the probability that an element is dropped.
  DropoutMask(uint64_t seed, float p)
      // Mixing the seed first keeps seeds s and s + 0x9E37... from giving shifted copies of one
      // stream. The threshold is compared against a full 64-bit hash, so P(keep) = 1 - p up to
      // 2^-64, and comparing integers leaves no float rounding for two callers to disagree on.
      : key_(rng::splitmix64(seed)), threshold_(static_cast<uint64_t>(double(p) * 0x1p64)) {}

  bool keep(uint64_t i) const { return rng::splitmix64(key_ + i * rng::golden_gamma) >= threshold_; }

 private:
  uint64_t key_;
  uint64_t threshold_;
};

// dst[i] = keep(i) ? src[i] * scale : 0 for the elements b <= i < e (dropout.cpp, compiled per
// vector unit); src may be dst.
void dropout_range(const float* src, float* dst, int64_t b, int64_t e, DropoutMask mask,
                   float scale);

}  // namespace nanolab::ops
