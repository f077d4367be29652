// embedding: a row lookup with a TBB loop (oneDNN has no gather). The backward scatters the rows
// of diff_dst back into a (V, C) gradient; ids repeat (the same token many times in a batch), so it
// runs in parallel over blocks of channels and, within a block, over the tokens in order: every
// element of the gradient is summed in the same order on any thread count, with no atomics. When
// the weight already has a gradient (a tied lm_head's, whose backward runs first) the rows are
// added into it in place: a (V, C) diff would be a second copy of it, zeroed and added whole, for
// the B*T rows that change.
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "nanolab/autograd.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/ops.hpp"
#include "ops/check.hpp"
#include "runtime/kernels.hpp"
#include "runtime/profile.hpp"

namespace nanolab::ops {
namespace {

void check_ids(std::span<const int32_t> ids, const Shape& ids_shape, int64_t V) {
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] < 0 || ids[i] >= V)
      throw DataError("embedding: id " + std::to_string(ids[i]) + " at position " +
                      std::to_string(i) + " of ids " + ids_shape.str() +
                      " is outside the vocabulary [0, V=" + std::to_string(V) + ")");
}

// dst(N, C) = weight(V, C)[ids(N)]
void embedding_fwd(const float* weight, const int32_t* ids, float* dst, int64_t N, int64_t C) {
  kernels::parallel_for(N, C, [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t)
      std::memcpy(dst + t * C, weight + int64_t(ids[t]) * C, size_t(C) * sizeof(float));
  });
}

// diff_weight(V, C) += diff_dst(N, C) row t into row ids[t], for t in order
void embedding_bwd_add(const int32_t* ids, const float* diff_dst, float* diff_weight, int64_t N,
                       int64_t C) {
  constexpr int64_t block = 16;
  kernels::parallel_for((C + block - 1) / block, N * block, [&](int64_t b, int64_t e) {
    const int64_t c0 = b * block, c1 = std::min(C, e * block);
    for (int64_t t = 0; t < N; ++t) {
      float* row = diff_weight + int64_t(ids[t]) * C;
      const float* d = diff_dst + t * C;
      for (int64_t c = c0; c < c1; ++c) row[c] += d[c];
    }
  });
}

}  // namespace

Tensor embedding(const Tensor& weight, std::span<const int32_t> ids, const Shape& ids_shape) {
  profile::Scope scope(profile::Kind::embedding);
  const Shape& w = weight.shape();
  require(w.ndim() == 2, "embedding", "weight (V, C)", w);
  require(ids_shape.ndim() < Shape::max_dims && ids_shape.numel() == int64_t(ids.size()),
          "embedding", "ids_shape of at most 3 dims with one element per id (ids_shape, ids)",
          ids_shape, Shape{int64_t(ids.size())});
  const int64_t V = w[0], C = w[1], N = int64_t(ids.size());
  check_ids(ids, ids_shape, V);

  int64_t dims[Shape::max_dims];
  for (int i = 0; i < ids_shape.ndim(); ++i) dims[i] = ids_shape[i];
  dims[ids_shape.ndim()] = C;
  Tensor dst = Tensor::empty(Shape::of(dims, ids_shape.ndim() + 1));  // (..., C)
  embedding_fwd(weight.data(), ids.data(), dst.data(), N, C);

  if (autograd::needs_grad({&weight})) {
    // The caller's ids may be gone by the time backward runs.
    std::vector<int32_t> saved_ids(ids.begin(), ids.end());
    auto backward = [weight, saved_ids = std::move(saved_ids), N, V, C](const Tensor& diff_dst) {
      if (const Tensor grad = autograd::accumulated_grad(weight); grad.defined()) {
        embedding_bwd_add(saved_ids.data(), diff_dst.data(), grad.data(), N, C);
        return;
      }
      Tensor diff_weight = Tensor::empty(weight.shape());  // (V, C)
      kernels::fill(diff_weight.data(), 0.0f, V * C);
      embedding_bwd_add(saved_ids.data(), diff_dst.data(), diff_weight.data(), N, C);
      autograd::accumulate_grad(weight, std::move(diff_weight));
    };
    autograd::record(dst, {weight}, std::move(backward));
  }
  return dst;
}

}  // namespace nanolab::ops
