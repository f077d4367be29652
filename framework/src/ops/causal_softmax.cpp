// causal_softmax: the attention softmax with the causal mask (optionally a sliding window and
// ALiBi's distance bias), as TBB-parallel loops over rows (oneDNN has no masked softmax). Row i of
// each (T, T) matrix touches only its unmasked part j0 <= j <= i and writes exact zeros to the
// rest, so the exps of the masked part are never computed. ALiBi's bias is a constant of the
// scores, so the backward is the same with and without it. Not a fused attention: it sees only
// the (T, T) scores.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "nanolab/autograd.hpp"
#include "nanolab/ops.hpp"
#include "ops/causal_softmax.hpp"
#include "ops/check.hpp"
#include "ops/dropout_mask.hpp"
#include "runtime/kernels.hpp"
#include "nanolab/simd.hpp"
#include "runtime/profile.hpp"

namespace nanolab::ops {
namespace {

// What the backward needs. `dst` shares the output's storage through its own handle: holding the
// output tensor itself would make it own the node that holds it, a cycle that is never freed.
struct CausalSoftmaxSaved {
  Tensor src;  // (..., T, T): only to receive its gradient
  Tensor dst;  // (..., T, T), seen as (BH, T, T)
  CausalGeometry g;
};

// One row y[j0..i] = softmax_j(scale * x[j] - slope * (i - j)); y elsewhere untouched.
NANOLAB_SIMD_CLONES void softmax_row(const float* x, float* y, int64_t i, int64_t j0, float scale,
                                     float slope) {
  const int64_t n = i - j0 + 1;
  const float* xs = x + j0;
  float* ys = y + j0;
  for (int64_t j = 0; j < n; ++j) ys[j] = scale * xs[j] - slope * float(n - 1 - j);  // i - j
  const float max = simd::max_of(ys, n);
  float sum[simd::lanes] = {};
  int64_t j = 0;
  for (; j + simd::lanes <= n; j += simd::lanes)
    for (int l = 0; l < simd::lanes; ++l) sum[l] += ys[j + l] = simd::exp_approx(ys[j + l] - max);
  for (; j < n; ++j) sum[0] += ys[j] = simd::exp_approx(ys[j] - max);
  float total = 0.0f;
  for (float v : sum) total += v;
  const float inv_sum = 1.0f / total;
  for (j = 0; j < n; ++j) ys[j] *= inv_sum;
}

// The backward of one row: dx[j0..i] = scale * y * (dy - <dy, y>).
NANOLAB_SIMD_CLONES void softmax_row_bwd(const float* y, const float* dy, float* dx, int64_t j0,
                                         int64_t i, float scale) {
  float dot[simd::lanes] = {};
  int64_t j = j0;
  for (; j + simd::lanes <= i + 1; j += simd::lanes)
    for (int l = 0; l < simd::lanes; ++l) dot[l] += dy[j + l] * y[j + l];
  for (; j <= i; ++j) dot[0] += dy[j] * y[j];
  float d = 0.0f;
  for (float v : dot) d += v;
  for (j = j0; j <= i; ++j) dx[j] = scale * y[j] * (dy[j] - d);
}

}  // namespace

void causal_softmax_fwd(const float* src, float* dst, const CausalGeometry& g,
                        const WeightsDropout& drop, float* dropped) {
  const int64_t T = g.T;
  const int64_t NH = int64_t(g.slopes.size());
  const DropoutMask mask(drop.seed, drop.p);
  const float keep_scale = 1.0f / (1.0f - drop.p);
  kernels::parallel_for(g.BH * T, T, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t i = r % T, j0 = g.first(i);
      const float slope = NH > 0 ? g.slopes[size_t((r / T) % NH)] : 0.0f;
      float* y = dst + r * T;
      softmax_row(src + r * T, y, i, j0, g.scale, slope);
      std::fill(y, y + j0, 0.0f);
      std::fill(y + i + 1, y + T, 0.0f);
      if (drop.p > 0.0f) {
        float* yd = dropped + r * T;
        dropout_range(dst, dropped, r * T + j0, r * T + i + 1, mask, keep_scale);
        std::fill(yd, yd + j0, 0.0f);
        std::fill(yd + i + 1, yd + T, 0.0f);
      }
    }
  });
}

void causal_softmax_bwd(const float* dst, const float* diff_dst, float* diff_src,
                        const CausalGeometry& g, const WeightsDropout& drop) {
  const int64_t T = g.T;
  const DropoutMask mask(drop.seed, drop.p);
  const float keep_scale = 1.0f / (1.0f - drop.p);
  kernels::parallel_for(g.BH * T, T, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t i = r % T, j0 = g.first(i);
      float* dx = diff_src + r * T;
      const float* dy = diff_dst + r * T;
      if (drop.p > 0.0f) {  // the dropout's backward is itself, into diff_src's visible part
        dropout_range(diff_dst, diff_src, r * T + j0, r * T + i + 1, mask, keep_scale);
        dy = dx;
      }
      softmax_row_bwd(dst + r * T, dy, dx, j0, i, g.scale);
      std::fill(dx, dx + j0, 0.0f);
      std::fill(dx + i + 1, dx + T, 0.0f);
    }
  });
}

Tensor causal_softmax(const Tensor& src, float softmax_scale, const AttentionMask& mask) {
  profile::Scope scope(profile::Kind::softmax);
  const Shape& s = src.shape();
  require(s.ndim() >= 2 && s[-1] == s[-2], "causal_softmax", "src (..., T, T)", s);
  const int64_t NH = int64_t(mask.alibi_slopes.size());
  if (NH > 0)
    require(s.ndim() >= 3 && s[-3] == NH, "causal_softmax",
            "src (..., NH, T, T) with NH = " + std::to_string(NH) + " ALiBi slopes", s);
  require_window("causal_softmax", mask.window);
  const int64_t T = s.last();
  CausalGeometry g{T == 0 ? 0 : s.numel() / (T * T), T, mask.window, softmax_scale,
                   {mask.alibi_slopes.begin(), mask.alibi_slopes.end()}};
  Tensor dst = Tensor::empty(s);  // (..., T, T)
  causal_softmax_fwd(src.data(), dst.data(), g);
  if (autograd::needs_grad({&src})) {
    // dst has no history yet, so view() records nothing: it only makes the second handle.
    g.slopes.clear();  // the backward does not see the bias
    CausalSoftmaxSaved saved{src, dst.view(s), std::move(g)};
    autograd::record(dst, {src}, [saved](const Tensor& diff_dst) {
      Tensor diff_src = Tensor::empty(saved.src.shape());  // (..., T, T)
      causal_softmax_bwd(saved.dst.data(), diff_dst.data(), diff_src.data(), saved.g);
      autograd::accumulate_grad(saved.src, std::move(diff_src));
    });
  }
  return dst;
}

}  // namespace nanolab::ops
