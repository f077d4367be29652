// Counter-based randomness: every random choice of a run (batch offsets, dropout masks, sampling)
// is a pure function of the run's seed and where it happens (step, micro-step, layer...), so a
// resumed run makes exactly the choices an uninterrupted one would, with no generator state to
// save. splitmix64 (Steele, Lea, Flood 2014) is the mixing function. Public, so that a plugin
// draws its random numbers (a dropout mask of its own) the same way.
#pragma once

#include <cstdint>

namespace nanolab::rng {

// splitmix64's increment: 2^64 / the golden ratio, odd.
constexpr uint64_t golden_gamma = 0x9e3779b97f4a7c15ull;

// splitmix64's finaliser: the bits of z mixed so that nearby inputs give unrelated outputs.
constexpr uint64_t finalize(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// The output of splitmix64 whose state was x: the i-th output of the stream keyed by k is
// splitmix64(k + i * golden_gamma).
constexpr uint64_t splitmix64(uint64_t x) { return finalize(x + golden_gamma); }

// A seed for the place `where` under `seed`.
constexpr uint64_t mix(uint64_t seed, uint64_t where) { return splitmix64(splitmix64(seed) ^ where); }

// Uniform in [0, 1) from 64 random bits.
constexpr double uniform(uint64_t bits) { return double(bits >> 11) * 0x1.0p-53; }

}  // namespace nanolab::rng
