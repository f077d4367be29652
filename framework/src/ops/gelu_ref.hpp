// Reference GELU: plain loops over float or double, kept forever as the truth the oneDNN path is
// tested against. Not fast, and not what training runs.
//
// erf form (exact):  gelu(x) = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)).
// tanh form (GPT-2): gelu(x) = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
#pragma once

#include <cmath>
#include <cstdint>

namespace nanolab::ref {

template <class T>
struct GeluConstants {
  static constexpr T sqrt_2_over_pi = T(0.79788456080286535588);  // sqrt(2 / pi)
  static constexpr T inv_sqrt_2 = T(0.70710678118654752440);      // 1 / sqrt(2)
  static constexpr T inv_sqrt_2pi = T(0.39894228040143267794);    // 1 / sqrt(2 pi)
  static constexpr T cubic = T(0.044715);
};

// `tanh_form` picks the approximation; false is the exact erf form.
template <class T>
void gelu_fwd(const T* src, T* dst, int64_t n, bool tanh_form) {
  using K = GeluConstants<T>;
  for (int64_t i = 0; i < n; ++i) {
    const T x = src[i];
    dst[i] = tanh_form ? T(0.5) * x * (T(1) + std::tanh(K::sqrt_2_over_pi * (x + K::cubic * x * x * x)))
                       : T(0.5) * x * (T(1) + std::erf(x * K::inv_sqrt_2));
  }
}

template <class T>
void gelu_bwd(const T* src, const T* diff_dst, T* diff_src, int64_t n, bool tanh_form) {
  using K = GeluConstants<T>;
  for (int64_t i = 0; i < n; ++i) {
    const T x = src[i];
    T d;
    if (tanh_form) {
      const T t = std::tanh(K::sqrt_2_over_pi * (x + K::cubic * x * x * x));
      d = T(0.5) * (T(1) + t) +
          T(0.5) * x * (T(1) - t * t) * K::sqrt_2_over_pi * (T(1) + T(3) * K::cubic * x * x);
    } else {
      // Phi(x) + x * phi(x), phi the standard normal density
      d = T(0.5) * (T(1) + std::erf(x * K::inv_sqrt_2)) + x * K::inv_sqrt_2pi * std::exp(-x * x / 2);
    }
    diff_src[i] = diff_dst[i] * d;
  }
}

}  // namespace nanolab::ref
