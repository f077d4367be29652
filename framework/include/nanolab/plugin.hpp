// The plugin ABI: what a plugin library exports and what the host reads first.
//
// A plugin is one .cpp file built with `nanolab_add_plugin(NAME SOURCES file.cpp)`. It describes
// itself with a PluginDescriptor and exports it with NANOLAB_PLUGIN(describe_function): one
// C-linkage entry point, `nanolab_plugin_v1`, through a Boost.DLL alias. The host reads
// `abi_version` (the first member, a plain int, so it can be read whatever else changed) before
// anything else and refuses a library built for another version, naming both numbers. Exactly one
// of the factories is set, the one of `kind`. Libraries stay loaded until the process exits.
//
// Plugins include only framework/include/nanolab; they throw nanolab errors (errors.hpp).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#define BOOST_DLL_USE_STD_FS
#include <boost/dll/alias.hpp>

#include "nanolab/attention.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/loss.hpp"
#include "nanolab/optimizer.hpp"
#include "nanolab/options.hpp"
#include "nanolab/tokenizer.hpp"

namespace nanolab {

// Bumped whenever an interface or the descriptor changes in a way old plugins cannot follow.
constexpr int plugin_abi_version = 2;

enum class PluginKind { attention, optimizer, loss, tokenizer };
const char* to_string(PluginKind kind);

struct PluginDescriptor {
  int abi_version = plugin_abi_version;  // first member, always
  PluginKind kind;
  std::string name;         // unique within its kind; what experiments name
  std::string version;      // the plugin's own version ("1.0.0")
  std::string description;  // one line
  std::vector<OptionSpec> options;

  std::function<std::unique_ptr<Attention>(const Options&, const AttentionConfig&)> make_attention;
  std::function<std::unique_ptr<Optimizer>(const Options&)> make_optimizer;
  std::function<std::unique_ptr<Loss>(const Options&)> make_loss;
  std::function<std::unique_ptr<Tokenizer>(const Options&)> make_tokenizer;
};

using PluginEntry = const PluginDescriptor*();

}  // namespace nanolab

// Exports `describe` (a function returning PluginDescriptor) as the library's entry point.
#define NANOLAB_PLUGIN(describe)                                          \
  extern "C" BOOST_SYMBOL_EXPORT const ::nanolab::PluginDescriptor*       \
  nanolab_plugin_v1_impl() {                                              \
    static const ::nanolab::PluginDescriptor descriptor = describe();     \
    return &descriptor;                                                   \
  }                                                                       \
  BOOST_DLL_ALIAS(nanolab_plugin_v1_impl, nanolab_plugin_v1)
