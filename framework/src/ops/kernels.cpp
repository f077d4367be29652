// TBB-parallel copy, fill and accumulate. See kernels.hpp.
#include "ops/kernels.hpp"

#include <algorithm>
#include <cstring>

namespace nanolab::kernels {

void copy(const float* src, float* dst, int64_t n) {
  parallel_for(n, 1, [&](int64_t b, int64_t e) { std::memcpy(dst + b, src + b, (e - b) * sizeof(float)); });
}

void fill(float* dst, float value, int64_t n) {
  parallel_for(n, 1, [&](int64_t b, int64_t e) { std::fill(dst + b, dst + e, value); });
}

void add_inplace(float* dst, const float* src, int64_t n) {
  parallel_for(n, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) dst[i] += src[i];
  });
}

}  // namespace nanolab::kernels
