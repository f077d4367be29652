// TBB-parallel copy, fill and accumulate. See kernels.hpp.
#include "runtime/kernels.hpp"

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

void column_sum(const float* src, float* dst, int64_t R, int64_t N) {
  constexpr int64_t block = 16;
  parallel_for((N + block - 1) / block, R * block, [&](int64_t b, int64_t e) {
    for (int64_t n0 = b * block; n0 < std::min(N, e * block); n0 += block) {
      const int64_t n1 = std::min(N, n0 + block);
      float acc[block] = {};
      for (int64_t r = 0; r < R; ++r)
        for (int64_t n = n0; n < n1; ++n) acc[n - n0] += src[r * N + n];
      for (int64_t n = n0; n < n1; ++n) dst[n] = acc[n - n0];
    }
  });
}

}  // namespace nanolab::kernels
