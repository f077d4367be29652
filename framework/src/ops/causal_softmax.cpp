// causal_softmax: the attention softmax with the causal mask, as TBB-parallel loops over rows
// (oneDNN has no masked softmax). Row i of each (T, T) matrix touches only its unmasked part
// j <= i and writes exact zeros to the rest, so half the exps of a plain masked softmax are never
// computed. Not a fused attention: it sees only the (T, T) scores.
#include <algorithm>
#include <cmath>

#include "nanolab/autograd.hpp"
#include "nanolab/ops.hpp"
#include "ops/check.hpp"
#include "ops/kernels.hpp"

namespace nanolab::ops {
namespace {

// What the backward needs. `dst` shares the output's storage through its own handle: holding the
// output tensor itself would make it own the node that holds it, a cycle that is never freed.
struct CausalSoftmaxSaved {
  Tensor src;  // (..., T, T): only to receive its gradient
  Tensor dst;  // (..., T, T), seen as (BH, T, T)
  int64_t BH, T;
  float scale;
};

// dst(BH, T, T) = causal softmax of scale * src(BH, T, T). Rows are independent; each subtracts
// its own max before exp so large scores cannot overflow.
void causal_softmax_fwd(const float* src, float* dst, int64_t BH, int64_t T, float scale) {
  kernels::parallel_for(BH * T, T, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t i = r % T;
      const float* x = src + r * T;
      float* y = dst + r * T;
      float max = scale * x[0];
      for (int64_t j = 1; j <= i; ++j) max = std::max(max, scale * x[j]);
      float sum = 0.0f;
      for (int64_t j = 0; j <= i; ++j) {
        y[j] = std::exp(scale * x[j] - max);
        sum += y[j];
      }
      const float inv_sum = 1.0f / sum;
      for (int64_t j = 0; j <= i; ++j) y[j] *= inv_sum;
      std::fill(y + i + 1, y + T, 0.0f);
    }
  });
}

// diff_src = scale * dst * (diff_dst - <diff_dst, dst>) over j <= i, exactly 0 where masked.
void causal_softmax_bwd(const float* dst, const float* diff_dst, float* diff_src, int64_t BH,
                        int64_t T, float scale) {
  kernels::parallel_for(BH * T, T, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t i = r % T;
      const float* y = dst + r * T;
      const float* dy = diff_dst + r * T;
      float* dx = diff_src + r * T;
      float dot = 0.0f;
      for (int64_t j = 0; j <= i; ++j) dot += dy[j] * y[j];
      for (int64_t j = 0; j <= i; ++j) dx[j] = scale * y[j] * (dy[j] - dot);
      std::fill(dx + i + 1, dx + T, 0.0f);
    }
  });
}

}  // namespace

Tensor causal_softmax(const Tensor& src, float softmax_scale) {
  const Shape& s = src.shape();
  require(s.ndim() >= 2 && s[-1] == s[-2], "causal_softmax", "src (..., T, T)", s);
  const int64_t T = s.last();
  const int64_t BH = T == 0 ? 0 : s.numel() / (T * T);
  Tensor dst = Tensor::empty(s);  // (..., T, T)
  causal_softmax_fwd(src.data(), dst.data(), BH, T, softmax_scale);
  if (autograd::needs_grad({&src})) {
    // dst has no history yet, so view() records nothing: it only makes the second handle.
    CausalSoftmaxSaved saved{src, dst.view(s), BH, T, softmax_scale};
    autograd::record(dst, {src}, [saved](const Tensor& diff_dst) {
      Tensor diff_src = Tensor::empty(saved.src.shape());  // (..., T, T)
      causal_softmax_bwd(saved.dst.data(), diff_dst.data(), diff_src.data(), saved.BH, saved.T,
                         saved.scale);
      autograd::accumulate_grad(saved.src, std::move(diff_src));
    });
  }
  return dst;
}

}  // namespace nanolab::ops
