// Reference chunk: src (R, n*C) -> n outputs (R, C), as plain loops over float or double.
#pragma once

#include <cstdint>

namespace nanolab::ref {

// dst[i] (R, C) = columns [i*C, (i+1)*C) of src (R, n*C).
template <class T>
void chunk_fwd(const T* src, T* const* dst, int64_t R, int64_t n, int64_t C) {
  for (int64_t r = 0; r < R; ++r)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < C; ++c) dst[i][r * C + c] = src[r * n * C + i * C + c];
}

template <class T>
void chunk_bwd(const T* const* diff_dst, T* diff_src, int64_t R, int64_t n, int64_t C) {
  for (int64_t r = 0; r < R; ++r)
    for (int64_t i = 0; i < n; ++i)
      for (int64_t c = 0; c < C; ++c)
        diff_src[r * n * C + i * C + c] = diff_dst[i] ? diff_dst[i][r * C + c] : T(0);
}

}  // namespace nanolab::ref
