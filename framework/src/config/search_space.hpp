// The sampler of [search.space] (search.cpp): the value of one key in one trial. Trial t's value
// of a key is a pure function of experiment.seed, t and the key's name (rng.hpp's splitmix64), so
// the same file gives the same trials on every machine, and adding a key to the space leaves the
// values the other keys draw as they were.
#pragma once

#include <cstdint>
#include <string>

namespace nanolab::config {

enum class Distribution { uniform, log_uniform, int_uniform, choice };

// A uniform number in [0, 1): trial `trial`'s draw for `key` under `seed`.
double search_draw(uint64_t seed, int64_t trial, const std::string& key);

// The value a draw `u` in [0, 1) gives: uniform, low + u (high - low), in [low, high);
// log_uniform, the same between the logarithms (as many values in each decade), in [low, high);
// int_uniform, an integer of [low, high], both ends included, each as likely; choice, the index
// of an element, an integer of [0, high] with high = elements - 1 (low is 0).
double search_value(Distribution distribution, double low, double high, double u);

}  // namespace nanolab::config
