// The plugin registry (registry.hpp): discovery through the plugin probe (probe.hpp), lookup by
// kind and name, option validation, loading on first use and the factories' boundary. A file that
// fails to load is recorded as a problem and the scan goes on, so one damaged file never hides
// the good plugins beside it. Two plugins of one kind and name are both kept and listed, with a
// problem naming both files, and asking for that name is an error: the registry never picks one
// of them silently.
#include "nanolab/registry.hpp"

#include <algorithm>
#include <cstdlib>

#include "nanolab/did_you_mean.hpp"
#include "plugin/loader.hpp"
#include "plugin/options_schema.hpp"
#include "plugin/probe.hpp"

namespace nanolab {
namespace {

std::filesystem::path canonical_or_absolute(const std::filesystem::path& p) {
  std::error_code ec;
  auto c = std::filesystem::weakly_canonical(p, ec);
  return ec ? std::filesystem::absolute(p) : c;
}

std::string label(const PluginDescriptor& d) {
  return std::string(to_string(d.kind)) + " '" + d.name + "'";
}

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::vector<std::string> split_path_list(const char* list) {
  std::vector<std::string> out;
  std::string item;
  for (const char* p = list; ; ++p) {
    if (*p == ':' || *p == '\0') {
      if (!item.empty()) out.push_back(item);
      item.clear();
      if (*p == '\0') break;
    } else {
      item += *p;
    }
  }
  return out;
}

}  // namespace

Registry::Registry() = default;

Registry& Registry::instance() {
  // Never destroyed, like the libraries its descriptors live in.
  static Registry* registry = [] {
    auto* r = new Registry;
    const auto builtin = plugin::default_plugin_dir();
    // A build or installation without plugins simply has no folder; folders the user names must
    // exist.
    if (!builtin.empty() && std::filesystem::is_directory(builtin)) r->scan(builtin);
    if (const char* env = std::getenv("NANOLAB_PLUGIN_PATH"))
      for (const auto& dir : split_path_list(env)) r->scan(dir);
    return r;
  }();
  return *registry;
}

void Registry::scan(const std::filesystem::path& dir) {
  const auto folder = canonical_or_absolute(dir);
  if (std::find(scanned_.begin(), scanned_.end(), folder) != scanned_.end()) return;
  scanned_.push_back(folder);

  std::error_code ec;
  std::vector<std::filesystem::path> files;
  for (std::filesystem::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec))
    if (std::error_code type_ec; it->path().extension() == ".so" && it->is_regular_file(type_ec))
      files.push_back(it->path());
  if (ec) {
    problems_.push_back({folder, "cannot read the plugin folder: " + ec.message()});
    return;
  }
  std::sort(files.begin(), files.end());  // a stable, documented order within a folder
  probe(files);
}

void Registry::probe(const std::vector<std::filesystem::path>& files) {
  std::vector<std::filesystem::path> fresh;
  for (const auto& path : files) {
    const auto file = canonical_or_absolute(path);
    auto same_file = [&](const auto& p) { return p.file == file; };
    if (std::none_of(plugins_.begin(), plugins_.end(), same_file) &&
        std::none_of(problems_.begin(), problems_.end(), same_file) &&
        std::find(fresh.begin(), fresh.end(), file) == fresh.end())
      fresh.push_back(file);
  }
  auto results = plugin::probe_plugins(fresh);
  for (size_t i = 0; i < fresh.size(); ++i) {
    const auto& file = fresh[i];
    auto& result = results[i];
    if (!result.descriptor) {
      // The loader's messages start with the file name; the problem keeps it apart.
      std::string message = result.problem;
      const std::string prefix = file.string() + ": ";
      if (message.rfind(prefix, 0) == 0) message.erase(0, prefix.size());
      problems_.push_back({file, message});
      continue;
    }
    const auto& d = described_.emplace_back(std::move(*result.descriptor));
    for (const auto& other : plugins_)
      if (other.descriptor->kind == d.kind && other.descriptor->name == d.name)
        problems_.push_back({file, label(d) + " is also defined by " + other.file.string() +
                                       ": remove or rename one of the two files"});
    plugins_.push_back({&d, file, std::move(result.sha256)});
  }
}

void Registry::add_directories(const std::vector<std::filesystem::path>& dirs) {
  add(dirs, {});
}

void Registry::add_file(const std::filesystem::path& file) { add({}, {file}); }

void Registry::add(const std::vector<std::filesystem::path>& dirs,
                   const std::vector<std::filesystem::path>& files) {
  const size_t first_new = plugins_.size();
  for (const auto& dir : dirs) scan(dir);
  probe(files);
  for (size_t i = first_new; i < plugins_.size(); ++i)
    for (size_t j = 0; j < i; ++j)
      if (plugins_[j].descriptor->kind == plugins_[i].descriptor->kind &&
          plugins_[j].descriptor->name == plugins_[i].descriptor->name)
        throw PluginError(label(*plugins_[i].descriptor) + " is defined by both " +
                          plugins_[j].file.string() + " and " + plugins_[i].file.string() +
                          ": remove or rename one of the two files");
}

const std::vector<std::filesystem::path>& Registry::directories() const { return scanned_; }

std::vector<const LoadedPlugin*> Registry::of_kind(PluginKind kind) const {
  std::vector<const LoadedPlugin*> out;
  for (const auto& p : plugins_)
    if (p.descriptor->kind == kind) out.push_back(&p);
  return out;
}

const LoadedPlugin& Registry::find(PluginKind kind, const std::string& name,
                                   const std::string& where) const {
  std::vector<const LoadedPlugin*> matches;
  std::vector<std::string> names;
  for (const auto* p : of_kind(kind)) {
    if (p->descriptor->name == name) matches.push_back(p);
    names.push_back(p->descriptor->name);
  }
  const std::string key = where.empty() ? "" : where + ": ";
  if (matches.size() > 1)
    throw PluginError(key + to_string(kind) + " '" + name + "' is defined by both " +
                      matches[0]->file.string() + " and " + matches[1]->file.string() +
                      ": remove or rename one of the two files");
  if (matches.size() == 1) return *matches.front();
  // A plugin's library is named after it (nanolab_add_plugin): the file the experiment most likely
  // means could not be read.
  for (const auto& problem : problems_)
    if (problem.file.extension() == ".so" && problem.file.stem() == name)
      throw PluginError(key + to_string(kind) + " '" + name + "': " + problem.file.string() + ": " +
                        problem.message);

  std::vector<std::string> folders;
  for (const auto& d : scanned_) folders.push_back(d.string());
  std::string message = key + "no " + to_string(kind) + " plugin named '" + name + "'" +
                        did_you_mean_hint(name, names) + "; " +
                        (names.empty() ? "none found" : "found: " + join(names, ", ")) +
                        " (searched " + (folders.empty() ? "no folder" : join(folders, ", ")) +
                        "; more with NANOLAB_PLUGIN_PATH)";
  if (!problems_.empty())
    message += "; " + std::to_string(problems_.size()) +
               " plugin file(s) could not be loaded: run `nanolab plugins` to see why";
  throw ConfigError(message);
}

const PluginDescriptor& Registry::load(const LoadedPlugin& plugin) const {
  std::lock_guard lock(load_mutex_);
  if (auto it = loaded_.find(plugin.file); it != loaded_.end()) return *it->second;
  const LoadedPlugin here = plugin::load_plugin(plugin.file);
  if (here.sha256 != plugin.sha256)
    throw PluginError(plugin.file.string() + ": changed since it was probed (sha256 " +
                      plugin.sha256 + ", now " + here.sha256 +
                      "): replace plugin files only while no nanolab runs");
  return *loaded_.emplace(plugin.file, here.descriptor).first->second;
}

Options Registry::validate(const LoadedPlugin& plugin,
                           const std::map<std::string, OptionValue>& given,
                           const std::string& where) {
  std::map<std::string, OptionValue> complete;
  const auto problems = plugin::check_options(plugin.descriptor->options, given, complete);
  if (problems.empty()) return Options(std::move(complete));
  const std::string prefix = where.empty() ? "" : where + ".";
  std::vector<std::string> lines;
  for (const auto& p : problems) lines.push_back(prefix + p.option + ": " + p.message);
  throw ConfigError("invalid options for " + label(*plugin.descriptor) + " (" +
                    plugin.file.string() + "):\n  " + join(lines, "\n  "));
}

void Registry::call_factory(const LoadedPlugin& plugin, const std::function<bool()>& make) {
  const std::string who = plugin.file.string() + ": the factory of " + label(*plugin.descriptor);
  bool made = false;
  try {
    made = make();
  } catch (const Error&) {
    throw;  // a plugin may refuse its options with a ConfigError
  } catch (const std::exception& e) {
    throw PluginError(who + " threw: " + e.what());
  } catch (...) {
    throw PluginError(who + " threw a non-standard exception");
  }
  if (!made) throw PluginError(who + " returned null");
}

}  // namespace nanolab
