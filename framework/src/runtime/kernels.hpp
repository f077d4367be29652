// Small TBB-parallel loops shared by the ops and the tensor code (copy, fill, axpy, ...).
// Internal. Loops below a size threshold run on the calling thread: for them the cost of waking
// TBB's workers is larger than the work.
#pragma once

#include <cstdint>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include "nanolab/runtime.hpp"

namespace nanolab::kernels {

// Elements below which a loop runs serially.
constexpr int64_t serial_below = 1 << 14;

// Runs f(begin, end) over [0, n) in parallel chunks of at least `grain` items, or serially when
// the whole range holds fewer than `serial_work` units of work (n * cost_per_item).
template <class F>
void parallel_for(int64_t n, int64_t cost_per_item, F&& f) {
  if (n <= 0) return;
  if (n * cost_per_item < serial_below) {
    f(int64_t(0), n);
    return;
  }
  runtime::init_threads();  // the thread policy (NANOLAB_THREADS) before TBB's first workers
  int64_t grain = std::max<int64_t>(1, serial_below / std::max<int64_t>(1, cost_per_item));
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, n, grain),
                    [&](const tbb::blocked_range<int64_t>& r) { f(r.begin(), r.end()); });
}

void copy(const float* src, float* dst, int64_t n);
void fill(float* dst, float value, int64_t n);
void add_inplace(float* dst, const float* src, int64_t n);  // dst += src
// dst(N) = column sums of src(R, N) (a bias gradient). Parallel over blocks of columns with the
// rows summed in order, so the result does not depend on the thread count.
void column_sum(const float* src, float* dst, int64_t R, int64_t N);

}  // namespace nanolab::kernels
