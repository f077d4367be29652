// Inverted dropout with a TBB loop. The mask is never stored: it is a pure function of (seed,
// element index) (dropout_mask.hpp), so the backward recomputes it and any split of the elements
// between threads gives the same result.
#include <string>

#include "nanolab/autograd.hpp"
#include "nanolab/ops.hpp"
#include "ops/check.hpp"
#include "ops/dropout_mask.hpp"
#include "runtime/kernels.hpp"
#include "nanolab/simd.hpp"

namespace nanolab::ops {

// With AVX-512 the mask's 64-bit hash runs 8 elements at a time.
NANOLAB_SIMD_CLONES void dropout_range(const float* src, float* dst, int64_t b, int64_t e,
                                       DropoutMask mask, float scale) {
  for (int64_t i = b; i < e; ++i) dst[i] = mask.keep(uint64_t(i)) ? src[i] * scale : 0.0f;
}

namespace {

// dst(n) = keep(i) ? src(i) / (1 - p) : 0; also the backward, with diff_dst and diff_src.
void dropout_fast(const float* src, float* dst, int64_t n, float p, uint64_t seed) {
  const DropoutMask mask(seed, p);
  const float scale = 1.0f / (1.0f - p);
  kernels::parallel_for(n, 4, [&](int64_t b, int64_t e) { dropout_range(src, dst, b, e, mask, scale); });
}

}  // namespace

Tensor dropout(const Tensor& src, float p, uint64_t seed) {
  require_dropout_p("dropout", p);
  if (p == 0.0f) return src;
  Tensor dst = Tensor::empty(src.shape());
  dropout_fast(src.data(), dst.data(), src.numel(), p, seed);

  autograd::record(dst, {src}, [src, p, seed](const Tensor& diff_dst) {
    Tensor diff_src = Tensor::empty(src.shape());
    dropout_fast(diff_dst.data(), diff_src.data(), src.numel(), p, seed);
    autograd::accumulate_grad(src, std::move(diff_src));
  });
  return dst;
}

}  // namespace nanolab::ops
