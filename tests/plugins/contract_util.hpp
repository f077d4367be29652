// Shared pieces of the plugin contract suites (contract_*.cpp): the names of every plugin of a
// kind that the registry finds, a readable test name for each, and seeded random tensors. Each
// suite is parametrized over plugin_names(kind), so a plugin added later is tested without
// editing a suite, and each suite also has a plain test that fails when its kind has no plugin.
// Not a fixture library: the contracts themselves live in the suites.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "nanolab/registry.hpp"

namespace nanolab::contract {

// Distinct names of the plugins of `kind`, sorted. Called while GoogleTest registers the
// parametrized tests; a registry that cannot even be built yields no names, and the suite's
// HasPlugins test then fails with the reason.
inline std::vector<std::string> plugin_names(PluginKind kind) {
  std::vector<std::string> names;
  try {
    for (const LoadedPlugin* p : Registry::instance().of_kind(kind))
      names.push_back(p->descriptor->name);
  } catch (const std::exception&) {
    return {};
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

// The failure message of a HasPlugins test: where the registry looked and what went wrong there.
inline std::string registry_report() {
  std::string out = "plugins found:";
  for (const LoadedPlugin& p : Registry::instance().plugins())
    out += std::string("\n  ") + to_string(p.descriptor->kind) + " " + p.descriptor->name + " (" +
           p.file.string() + ")";
  for (const PluginProblem& p : Registry::instance().problems())
    out += "\n  problem: " + p.file.string() + ": " + p.message;
  return out;
}

// Test names may hold only letters, digits and '_'.
inline std::string test_name(const testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  for (char& c : name)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return name;
}

// The optimizer plugin `name` with the state the framework keeps for it, for `params`, made for a
// schedule whose peak (optimizer.lr) is peak_lr.
inline std::unique_ptr<StatefulOptimizer> stateful_optimizer(
    const std::string& name, const std::map<std::string, OptionValue>& given,
    const Parameters& params, double peak_lr) {
  return std::make_unique<StatefulOptimizer>(Registry::instance().make<PluginKind::optimizer>(name, given),
                                             params, peak_lr);
}

inline std::vector<float> randn(int64_t n, float std, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, std);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = normal(rng);
  return v;
}

inline Tensor randn(const Shape& shape, float std, std::mt19937& rng) {
  return Tensor::from(randn(shape.numel(), std, rng), shape);
}

}  // namespace nanolab::contract
