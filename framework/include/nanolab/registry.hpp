// The plugin registry: finds, checks and loads plugin libraries, once per process.
//
// Discovery order: the build's (or install's) plugin folder, found relative to libnanolab.so
// (<libdir>/nanolab/plugins); then each folder of NANOLAB_PLUGIN_PATH (':'-separated); then folders
// added with add_directories (an experiment's plugin_dirs). Every file in them ending in .so is
// read in a child process, the plugin probe: there it is checked (ELF header, size) before it is
// loaded, because a truncated library kills the process with SIGBUS inside dlopen; then its entry
// point is looked up and its ABI version checked before anything else. A file that fails any
// check, or crashes or hangs the probe, is a Problem (reported, not fatal to the others). Discovery
// runs no code of a library in this process: a plugin is loaded here when one is first made, so a
// run loads only the plugins it names. Two plugins of one kind and name are an error naming both
// files. Libraries are never unloaded.
#pragma once

#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "nanolab/plugin.hpp"

namespace nanolab {

// A plugin found by discovery. Its descriptor is what the probe read (kind, name, version,
// description, options) without the factory: Registry::make reaches that.
struct LoadedPlugin {
  const PluginDescriptor* descriptor;
  std::filesystem::path file;
  std::string sha256;  // of the library file, hex
};

struct PluginProblem {
  std::filesystem::path file;
  std::string message;  // one line: what is wrong and a hint
};

class Registry {
 public:
  // The process's registry, scanning the default folders on first use.
  static Registry& instance();

  // Scans more folders (each at most once). Throws PluginError on a duplicate kind + name.
  void add_directories(const std::vector<std::filesystem::path>& dirs);
  // Reads one more library file (once), outside the folders: a run's recorded plugin. Throws
  // PluginError on a duplicate kind + name; a file that fails a check is a Problem.
  void add_file(const std::filesystem::path& file);

  const std::vector<LoadedPlugin>& plugins() const { return plugins_; }
  const std::vector<PluginProblem>& problems() const { return problems_; }
  std::vector<const LoadedPlugin*> of_kind(PluginKind kind) const;
  // The folders scanned so far, in discovery order (canonical paths).
  const std::vector<std::filesystem::path>& directories() const;

  // The plugin of `kind` named `name`; ConfigError with did-you-mean over the plugins found, and
  // `where` (e.g. "model.attention.plugin") naming the key that asked for it. A file that could not
  // be read and is named `name`.so is a PluginError naming it and why.
  const LoadedPlugin& find(PluginKind kind, const std::string& name,
                           const std::string& where = "") const;

  // Validates `given` against the plugin's schema (ConfigError listing every problem, each named
  // `where`.option) and returns the complete options.
  static Options validate(const LoadedPlugin& plugin, const std::map<std::string, OptionValue>& given,
                          const std::string& where = "");

  // Validate, load the library into this process (once; PluginError naming the file if it changed
  // since it was probed), then the factory of kind K with the options and `args` (what the kind's
  // factory takes after them: an AttentionConfig, a ScheduleConfig); a factory that throws
  // anything but a nanolab::Error, or returns null, becomes a PluginError naming the file.
  template <PluginKind K, class... Args>
  std::unique_ptr<PluginInterface<K>> make(const std::string& name,
                                           const std::map<std::string, OptionValue>& given,
                                           const Args&... args) const {
    const LoadedPlugin& p = find(K, name);
    const Options options = validate(p, given);
    const PluginFactory<K>& factory = *load(p).template factory_of<K>();
    std::unique_ptr<PluginInterface<K>> made;
    call_factory(p, [&] {
      made = factory(options, args...);
      return made != nullptr;
    });
    return made;
  }

  Registry();  // an empty registry (tests); instance() is the one the program uses
  void scan(const std::filesystem::path& dir);

 private:
  void add(const std::vector<std::filesystem::path>& dirs,
           const std::vector<std::filesystem::path>& files);
  // Probes the files not read yet and adds each plugin or problem.
  void probe(const std::vector<std::filesystem::path>& files);
  // The library's own descriptor, loaded into this process on first use; its factory is the one
  // of its kind (the loader checked it).
  const PluginDescriptor& load(const LoadedPlugin& plugin) const;
  // Runs `make` (a factory call that says whether it made something) at the factories' boundary:
  // nanolab errors pass through, anything else and a null result become a PluginError.
  static void call_factory(const LoadedPlugin& plugin, const std::function<bool()>& make);

  std::deque<PluginDescriptor> described_;  // what the probe read; LoadedPlugin points here
  std::vector<LoadedPlugin> plugins_;
  std::vector<PluginProblem> problems_;
  std::vector<std::filesystem::path> scanned_;
  mutable std::mutex load_mutex_;
  mutable std::map<std::filesystem::path, const PluginDescriptor*> loaded_;
};

}  // namespace nanolab
