// Gradient clipping by the global norm (clip.hpp).
#include "train/clip.hpp"

#include <algorithm>
#include <cmath>

#include "runtime/kernels.hpp"

namespace nanolab::train_detail {
namespace {

// The sum of g[i]^2 in double, as 8 interleaved partial sums added at the end: a fixed order (the
// same on any thread count) that the compiler can vectorise, unlike one running sum, whose every
// addition waits for the one before.
double sum_of_squares(const float* g, int64_t n) {
  constexpr int lanes = 8;
  double acc[lanes] = {};
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes)
    for (int l = 0; l < lanes; ++l) acc[l] += double(g[i + l]) * double(g[i + l]);
  for (; i < n; ++i) acc[0] += double(g[i]) * double(g[i]);
  double sum = 0;
  for (double a : acc) sum += a;
  return sum;
}

}  // namespace

double GradientClipper::clip(const Parameters& params, double max_norm) {
  constexpr int64_t block = 1 << 14;
  blocks_.clear();
  for (const Parameter& p : params)
    for (int64_t at = 0, n = p.tensor.grad().defined() ? p.tensor.numel() : 0; at < n; at += block)
      blocks_.push_back({p.tensor.grad().data() + at, std::min(block, n - at)});
  partial_sums_.assign(blocks_.size(), 0.0);
  const auto n_blocks = int64_t(blocks_.size());
  kernels::parallel_for(n_blocks, block, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) partial_sums_[b] = sum_of_squares(blocks_[b].g, blocks_[b].n);
  });
  double sq = 0;
  for (double s : partial_sums_) sq += s;
  const double norm = std::sqrt(sq);
  if (max_norm > 0 && norm > max_norm && std::isfinite(norm)) {
    const float k = float(max_norm / (norm + 1e-6));
    kernels::parallel_for(n_blocks, block, [&](int64_t b0, int64_t b1) {
      const float scale = k;  // a local: the stores below cannot change it, so the loop is SIMD
      for (int64_t b = b0; b < b1; ++b) {
        float* g = blocks_[b].g;
        for (int64_t i = 0, n = blocks_[b].n; i < n; ++i) g[i] *= scale;
      }
    });
  }
  return norm;
}

}  // namespace nanolab::train_detail
