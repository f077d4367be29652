// Reference embedding lookup: plain loops over float or double, kept forever as the truth the
// TBB path (embedding.cpp) is tested against. Ids are assumed valid here; the op checks them.
// N is the number of ids (B*T for a batch of token ids).
#pragma once

#include <cstdint>

namespace nanolab::ref {

// dst(N, C) = weight(V, C)[ids(N)]
template <class T>
void embedding_fwd(const T* weight, const int32_t* ids, T* dst, int64_t N, int64_t C) {
  for (int64_t t = 0; t < N; ++t)
    for (int64_t c = 0; c < C; ++c) dst[t * C + c] = weight[int64_t(ids[t]) * C + c];
}

// diff_weight(V, C) += the rows of diff_dst(N, C), row t into row ids[t], added in token order
// (the order the fast path keeps, so that the two agree bit for bit).
template <class T>
void embedding_bwd_add(const int32_t* ids, const T* diff_dst, T* diff_weight, int64_t N,
                       int64_t C) {
  for (int64_t t = 0; t < N; ++t)
    for (int64_t c = 0; c < C; ++c) diff_weight[int64_t(ids[t]) * C + c] += diff_dst[t * C + c];
}

// diff_weight(V, C): row v is the sum of diff_dst(N, C) over the positions t with ids[t] == v.
template <class T>
void embedding_bwd(const int32_t* ids, const T* diff_dst, T* diff_weight, int64_t N, int64_t V,
                   int64_t C) {
  for (int64_t i = 0; i < V * C; ++i) diff_weight[i] = 0;
  embedding_bwd_add(ids, diff_dst, diff_weight, N, C);
}

}  // namespace nanolab::ref
