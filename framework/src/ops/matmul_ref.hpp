// Reference matmul and linear: plain loops over float or double, kept forever as the truth the
// oneDNN path is tested against. Layouts as in ops.hpp: c(bt, M, N) = op(a) · op(b).
#pragma once

#include <cstdint>

namespace nanolab::ref {

template <class T>
T at(const T* x, int64_t rows, int64_t cols, int64_t i, int64_t j, bool trans) {
  // element (i, j) of op(x), where x is stored (rows, cols) or, transposed, (cols, rows)
  return trans ? x[j * rows + i] : x[i * cols + j];
}

template <class T>
void matmul_fwd(const T* a, const T* b, T* c, int64_t batch, int64_t M, int64_t N, int64_t K,
                bool trans_a, bool trans_b) {
  for (int64_t bt = 0; bt < batch; ++bt) {
    const T* A = a + bt * M * K;
    const T* B = b + bt * K * N;
    T* C = c + bt * M * N;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        T s = 0;
        for (int64_t k = 0; k < K; ++k) s += at(A, M, K, i, k, trans_a) * at(B, K, N, k, j, trans_b);
        C[i * N + j] = s;
      }
  }
}

// diff_a and diff_b have the stored layouts of a and b.
template <class T>
void matmul_bwd(const T* a, const T* b, const T* diff_c, T* diff_a, T* diff_b, int64_t batch,
                int64_t M, int64_t N, int64_t K, bool trans_a, bool trans_b) {
  for (int64_t bt = 0; bt < batch; ++bt) {
    const T* A = a + bt * M * K;
    const T* B = b + bt * K * N;
    const T* dC = diff_c + bt * M * N;
    T* dA = diff_a + bt * M * K;
    T* dB = diff_b + bt * K * N;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t k = 0; k < K; ++k) {
        T s = 0;
        for (int64_t j = 0; j < N; ++j) s += dC[i * N + j] * at(B, K, N, k, j, trans_b);
        (trans_a ? dA[k * M + i] : dA[i * K + k]) = s;
      }
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j) {
        T s = 0;
        for (int64_t i = 0; i < M; ++i) s += at(A, M, K, i, k, trans_a) * dC[i * N + j];
        (trans_b ? dB[j * K + k] : dB[k * N + j]) = s;
      }
  }
}

// dst(R, N) = src(R, K) · weight(N, K)ᵀ + bias(N); bias may be null.
template <class T>
void linear_fwd(const T* src, const T* weight, const T* bias, T* dst, int64_t R, int64_t N,
                int64_t K) {
  for (int64_t r = 0; r < R; ++r)
    for (int64_t n = 0; n < N; ++n) {
      T s = bias ? bias[n] : T(0);
      for (int64_t k = 0; k < K; ++k) s += src[r * K + k] * weight[n * K + k];
      dst[r * N + n] = s;
    }
}

template <class T>
void linear_bwd(const T* src, const T* weight, const T* diff_dst, T* diff_src, T* diff_weight,
                T* diff_bias, int64_t R, int64_t N, int64_t K) {
  for (int64_t r = 0; r < R; ++r)
    for (int64_t k = 0; k < K; ++k) {
      T s = 0;
      for (int64_t n = 0; n < N; ++n) s += diff_dst[r * N + n] * weight[n * K + k];
      diff_src[r * K + k] = s;
    }
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t k = 0; k < K; ++k) {
      T s = 0;
      for (int64_t r = 0; r < R; ++r) s += diff_dst[r * N + n] * src[r * K + k];
      diff_weight[n * K + k] = s;
    }
    if (diff_bias) {
      T s = 0;
      for (int64_t r = 0; r < R; ++r) s += diff_dst[r * N + n];
      diff_bias[n] = s;
    }
  }
}

}  // namespace nanolab::ref
