// The plugin loader (see loader.hpp). Boost.DLL 1.74 with BOOST_DLL_USE_STD_FS: a failed load is a
// std::system_error whose what() carries dlopen's text and whose error code means nothing, so the
// message is built from the path and what().
#include "plugin/loader.hpp"

#include <dlfcn.h>

#include <deque>
#include <mutex>
#include <system_error>
#include <utility>

#include <boost/dll/shared_library.hpp>

#include "plugin/elf_check.hpp"
#include "plugin/options_schema.hpp"
#include "runtime/library_dir.hpp"
#include "runtime/sha256.hpp"

namespace nanolab::plugin {
namespace {

constexpr const char* entry_point = "nanolab_plugin_v1";

[[noreturn]] void refuse(const std::filesystem::path& file, const std::string& why) {
  throw PluginError(file.string() + ": " + why);
}

// Never destroyed: a library must outlive every object it made, and those may live in statics
// whose destruction order we do not control.
boost::dll::shared_library& keep_loaded(boost::dll::shared_library library) {
  static auto* mutex = new std::mutex;
  static auto* libraries = new std::deque<boost::dll::shared_library>;
  std::lock_guard lock(*mutex);
  return libraries->emplace_back(std::move(library));
}

// Whether the descriptor's factory is a non-empty one of its own kind.
template <size_t... I>
bool factory_matches_kind(const PluginDescriptor& d, std::index_sequence<I...>) {
  return ((d.kind == PluginKind(I) && d.factory_of<PluginKind(I)>() != nullptr) || ...);
}

void check_descriptor(const std::filesystem::path& file, const PluginDescriptor& d) {
  const int kind = int(d.kind);
  if (kind < 0 || size_t(kind) >= plugin_kind_count)
    refuse(file, "its descriptor has an unknown kind (" + std::to_string(kind) + ")");
  const std::string label = std::string(to_string(d.kind)) + " '" + d.name + "'";
  if (d.name.empty() || d.name.find_first_of(" \t\n\"'=") != std::string::npos)
    refuse(file, "its descriptor has an invalid name '" + d.name +
                     "' (a plugin name is one word, used as a TOML value)");
  if (!factory_matches_kind(d, std::make_index_sequence<plugin_kind_count>()))
    refuse(file, label + " has no " + to_string(d.kind) + " factory in its descriptor");
  auto problems = schema_problems(d.options);
  if (!problems.empty()) refuse(file, label + " declares an invalid option: " + problems.front());
}

}  // namespace

LoadedPlugin load_plugin(const std::filesystem::path& file) {
  if (auto problem = elf_problem(file)) refuse(file, *problem);

  boost::dll::shared_library* library = nullptr;
  try {
    // RTLD_NOW: a plugin with an unresolved symbol fails here, not in the middle of a run.
    library = &keep_loaded(boost::dll::shared_library(
        file, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local));
  } catch (const std::system_error& e) {
    refuse(file, std::string("cannot be loaded: ") + e.what());
  }
  if (!library->has(entry_point))
    refuse(file, std::string("has no entry point ") + entry_point +
                     ": not a nanolab plugin (build it with nanolab_add_plugin and export its "
                     "descriptor with NANOLAB_PLUGIN)");

  const PluginDescriptor* descriptor = nullptr;
  try {
    descriptor = library->get_alias<PluginEntry>(entry_point)();
  } catch (const std::exception& e) {
    refuse(file, std::string("its entry point threw while describing the plugin: ") + e.what());
  } catch (...) {
    refuse(file, "its entry point threw a non-standard exception while describing the plugin");
  }
  if (!descriptor) refuse(file, std::string("its entry point ") + entry_point + " returned null");
  // abi_version is the first member and a plain int, so it can be read before trusting the rest.
  if (descriptor->abi_version != plugin_abi_version)
    refuse(file, "built for plugin ABI version " + std::to_string(descriptor->abi_version) +
                     ", this nanolab uses version " + std::to_string(plugin_abi_version) +
                     ": rebuild the plugin against this nanolab");
  check_descriptor(file, *descriptor);

  std::string sha256;
  try {
    sha256 = runtime::sha256_file_hex(file);
  } catch (const Error& e) {
    refuse(file, e.what());
  }
  return LoadedPlugin{descriptor, file, std::move(sha256)};
}

std::filesystem::path default_plugin_dir() {
  const std::filesystem::path lib = runtime::library_dir();
  return lib.empty() ? lib : lib / "nanolab" / "plugins";
}

}  // namespace nanolab::plugin
