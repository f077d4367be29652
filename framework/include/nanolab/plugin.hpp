// The plugin ABI: what a plugin library exports and what the host reads first, and the table of
// plugin kinds.
//
// A plugin is one .cpp file built with `nanolab_add_plugin(NAME SOURCES file.cpp)`. It describes
// itself with a PluginDescriptor and exports it with NANOLAB_PLUGIN(describe_function): one
// C-linkage entry point, `nanolab_plugin_v1`, through a Boost.DLL alias. The host reads
// `abi_version` (the first member, a plain int, so it can be read whatever else changed) before
// anything else and refuses a library built for another version, naming both numbers. The
// descriptor's factory is the one of its `kind`. Libraries stay loaded until the process exits.
//
// A kind of plugin is one header with its interface (attention.hpp, schedule.hpp, ...) and one
// registration here: its enumerator in PluginKind and its PluginKindTraits entry (the name
// experiments and `nanolab plugins` use, the interface, the factory's signature). The descriptor,
// the loader's checks, the probe, Registry::make and `nanolab plugins` read this table; none of
// them lists the kinds. Each kind has a contract suite, tests/plugins/contract_<kind>*.cpp.
//
// Plugins include only framework/include/nanolab; they throw nanolab errors (errors.hpp).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#define BOOST_DLL_USE_STD_FS
#include <boost/dll/alias.hpp>

#include "nanolab/attention.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/loss.hpp"
#include "nanolab/optimizer.hpp"
#include "nanolab/options.hpp"
#include "nanolab/schedule.hpp"
#include "nanolab/tokenizer.hpp"

namespace nanolab {

// Bumped whenever an interface or the descriptor changes in a way old plugins cannot follow.
// 2: the descriptor holds one factory (a variant over the kinds); the schedule kind; option
// schemas with open bounds and string lists; optimizer state declared
// by the plugin and kept by the framework, and the optimizer step context.
constexpr int plugin_abi_version = 2;

// The kinds, in the order of the factory variant below. `count` is not a kind: a new kind goes
// before it, with its PluginKindTraits entry.
enum class PluginKind { attention, optimizer, loss, tokenizer, schedule, count };
inline constexpr size_t plugin_kind_count = size_t(PluginKind::count);

template <PluginKind K>
struct PluginKindTraits;

template <>
struct PluginKindTraits<PluginKind::attention> {
  static constexpr const char* name = "attention";
  using Interface = Attention;
  using Factory = std::function<std::unique_ptr<Attention>(const Options&, const AttentionConfig&)>;
};
template <>
struct PluginKindTraits<PluginKind::optimizer> {
  static constexpr const char* name = "optimizer";
  using Interface = Optimizer;
  using Factory = std::function<std::unique_ptr<Optimizer>(const Options&)>;
};
template <>
struct PluginKindTraits<PluginKind::loss> {
  static constexpr const char* name = "loss";
  using Interface = Loss;
  using Factory = std::function<std::unique_ptr<Loss>(const Options&)>;
};
template <>
struct PluginKindTraits<PluginKind::tokenizer> {
  static constexpr const char* name = "tokenizer";
  using Interface = Tokenizer;
  using Factory = std::function<std::unique_ptr<Tokenizer>(const Options&)>;
};
template <>
struct PluginKindTraits<PluginKind::schedule> {
  static constexpr const char* name = "schedule";
  using Interface = Schedule;
  using Factory = std::function<std::unique_ptr<Schedule>(const Options&, const ScheduleConfig&)>;
};

template <PluginKind K>
using PluginInterface = typename PluginKindTraits<K>::Interface;
template <PluginKind K>
using PluginFactory = typename PluginKindTraits<K>::Factory;

namespace plugin_detail {
template <size_t... I>
std::variant<PluginFactory<PluginKind(I)>...> factory_variant(std::index_sequence<I...>);
template <size_t... I>
constexpr const char* kind_name(PluginKind kind, std::index_sequence<I...>) {
  const char* names[] = {PluginKindTraits<PluginKind(I)>::name...};
  return size_t(kind) < sizeof...(I) ? names[size_t(kind)] : "unknown";
}
}  // namespace plugin_detail

// One factory of each kind; alternative i is the factory of PluginKind(i). A lambda assigned to
// it becomes the alternative its signature and return type fit.
using AnyPluginFactory =
    decltype(plugin_detail::factory_variant(std::make_index_sequence<plugin_kind_count>()));

// "attention", "schedule", ...: the kind as experiments and `nanolab plugins` write it.
constexpr const char* to_string(PluginKind kind) {
  return plugin_detail::kind_name(kind, std::make_index_sequence<plugin_kind_count>());
}

struct PluginDescriptor {
  int abi_version = plugin_abi_version;  // first member, always
  PluginKind kind;
  std::string name;         // unique within its kind; what experiments name
  std::string version;      // the plugin's own version ("1.0.0")
  std::string description;  // one line
  std::vector<OptionSpec> options;
  AnyPluginFactory factory;  // set to the factory of `kind`

  // The factory of `kind` K, or null when another kind's (or none) is set.
  template <PluginKind K>
  const PluginFactory<K>* factory_of() const {
    const auto* f = std::get_if<size_t(K)>(&factory);
    return f && *f ? f : nullptr;
  }
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
