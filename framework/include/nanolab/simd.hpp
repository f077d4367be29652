// Vector code for hand-written loops, the framework's ops and plugins' kernels alike.
//
// nanolab and its plugins are built for the x86-64 baseline (SSE2) so that they run on any x86-64
// machine; oneDNN picks its own instruction set at run time, but loops written here would stay
// SSE2. NANOLAB_SIMD_CLONES on a function compiles it three times, for the x86-64-v4 level
// (AVX-512 F/BW/CD/DQ/VL), v3 (AVX2, FMA) and the baseline, and the loader picks the best one the
// CPU has (GCC and clang target_clones, an ifunc; levels, not CPU models, so that any CPU with the
// units gets them). Helpers called from such a function are inlined into each clone. Each clone
// computes the same thing; results may differ in the last bit between clones where the compiler
// contracts a * b + c into an FMA.
//
// exp_approx is an exp that the compiler can vectorise (a call to libm's expf stops it):
// Cody-Waite reduction x = k ln2 + r and Cephes' degree-6 polynomial for exp(r), within 2 ulp of
// exp over the range it accepts. The sums below keep 8 interleaved partial sums: a fixed order
// (the same on any thread count and any clone) that vectorises, unlike one running sum.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NANOLAB_SIMD_CLONES \
  __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NANOLAB_SIMD_CLONES
#endif
// For the helpers of a NANOLAB_SIMD_CLONES function: inlined into each clone, so that they are
// compiled for its units.
#define NANOLAB_SIMD_INLINE inline __attribute__((always_inline))

namespace nanolab::simd {

constexpr int lanes = 8;

// exp(x) for x in [-87.3, 88.3] (inputs outside are clamped: exp(-87.3) is 1.2e-38, the smallest
// normal float's order, which is 0 for every sum it enters; softmaxes and cross-entropy only pass
// x <= 0, and lanes computed and then discarded stay finite).
NANOLAB_SIMD_INLINE float exp_approx(float x) {
  x = std::min(std::max(x, -87.3f), 88.3f);
  // k = round(x / ln2) by the 1.5 * 2^23 trick: adding it leaves k in the low mantissa bits.
  constexpr float shifter = 12582912.0f;
  const float kf = x * 1.44269504088896341f + shifter;
  const float k = kf - shifter;
  const int32_t ki = std::bit_cast<int32_t>(kf) - std::bit_cast<int32_t>(shifter);
  const float r = x - k * 0.693359375f - k * -2.12194440e-4f;  // ln2 split in two (Cephes)
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  return p * std::bit_cast<float>((ki + 127) << 23);  // * 2^k
}

// The largest of x[0..n), n >= 1.
NANOLAB_SIMD_INLINE float max_of(const float* x, int64_t n) {
  float m[lanes];
  for (int l = 0; l < lanes; ++l) m[l] = x[0];
  int64_t i = 0;
  for (; i + lanes <= n; i += lanes)
    for (int l = 0; l < lanes; ++l) m[l] = std::max(m[l], x[i + l]);
  for (; i < n; ++i) m[0] = std::max(m[0], x[i]);
  return *std::max_element(m, m + lanes);
}

}  // namespace nanolab::simd
