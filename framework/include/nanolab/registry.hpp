// The plugin registry: finds, checks and loads plugin libraries, once per process.
//
// Discovery order: the build's (or install's) plugin folder, found relative to libnanolab.so
// (<libdir>/nanolab/plugins); then each folder of NANOLAB_PLUGIN_PATH (':'-separated); then folders
// added with add_directories (an experiment's plugin_dirs). Every file in them ending in .so is
// checked (ELF header, size) before it is loaded, because a truncated library kills the process
// with SIGBUS inside dlopen; then its entry point is looked up and its ABI version checked before
// anything else. A file that fails any check is a Problem (reported, not fatal to the others).
// Two plugins of one kind and name are an error naming both files. Libraries are never unloaded.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "nanolab/plugin.hpp"

namespace nanolab {

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

  const std::vector<LoadedPlugin>& plugins() const { return plugins_; }
  const std::vector<PluginProblem>& problems() const { return problems_; }
  std::vector<const LoadedPlugin*> of_kind(PluginKind kind) const;
  // The folders scanned so far, in discovery order (canonical paths).
  const std::vector<std::filesystem::path>& directories() const;

  // The plugin of `kind` named `name`; ConfigError with did-you-mean over the plugins found, and
  // `where` (e.g. "model.attention.plugin") naming the key that asked for it.
  const LoadedPlugin& find(PluginKind kind, const std::string& name,
                           const std::string& where = "") const;

  // Validates `given` against the plugin's schema (ConfigError listing every problem, each named
  // `where`.option) and returns the complete options.
  static Options validate(const LoadedPlugin& plugin, const std::map<std::string, OptionValue>& given,
                          const std::string& where = "");

  // Validate + factory; a factory that throws anything but a nanolab::Error becomes a
  // PluginError naming the file.
  std::unique_ptr<Attention> make_attention(const std::string& name,
                                            const std::map<std::string, OptionValue>& given,
                                            const AttentionConfig& config) const;
  std::unique_ptr<Optimizer> make_optimizer(const std::string& name,
                                            const std::map<std::string, OptionValue>& given) const;
  std::unique_ptr<Loss> make_loss(const std::string& name,
                                  const std::map<std::string, OptionValue>& given) const;
  std::unique_ptr<Tokenizer> make_tokenizer(const std::string& name,
                                            const std::map<std::string, OptionValue>& given) const;

  Registry();  // an empty registry (tests); instance() is the one the program uses
  void scan(const std::filesystem::path& dir);

 private:
  std::vector<LoadedPlugin> plugins_;
  std::vector<PluginProblem> problems_;
  std::vector<std::filesystem::path> scanned_;
};

}  // namespace nanolab
