// Counter-based randomness: every random choice of a run (batch offsets, dropout masks, sampling)
// is a pure function of the run's seed and where it happens (step, micro-step, layer...), so a
// resumed run makes exactly the choices an uninterrupted one would, with no generator state to
// save. splitmix64 (Steele, Lea, Flood 2014) is the mixing function.
#pragma once

#include <cstdint>

namespace nanolab::rng {

constexpr uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// A seed for the place `where` under `seed`.
constexpr uint64_t mix(uint64_t seed, uint64_t where) { return splitmix64(splitmix64(seed) ^ where); }

// Uniform in [0, 1) from 64 random bits.
constexpr double uniform(uint64_t bits) { return double(bits >> 11) * 0x1.0p-53; }

}  // namespace nanolab::rng
