// `nanolab plugins new` (scaffold.hpp): checks the kind and name, fills in the skeleton and writes
// NAME/NAME.cpp and NAME/CMakeLists.txt under --dir (default: the current folder), refusing a
// folder that already exists so that nothing is overwritten.
#include "scaffold.hpp"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "nanolab/errors.hpp"
#include "nanolab/plugin.hpp"

namespace nanolab::cli {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view skeleton_suffix = ".cpp.in";

const ScaffoldFile* find_file(std::string_view name) {
  for (const ScaffoldFile& f : scaffold_files)
    if (f.name == name) return &f;
  return nullptr;
}

// The kinds of the plugin kind table (plugin.hpp), each of which has a skeleton.
std::string kinds() {
  std::string out;
  for (size_t k = 0; k < plugin_kind_count; ++k)
    out += (out.empty() ? "" : ", ") + std::string(to_string(PluginKind(k)));
  return out;
}

// A plugin name is what experiments write and the library's file name: a lower-case letter, then
// lower-case letters, digits and '_'.
void check_name(const std::string& name) {
  bool ok = !name.empty() && name.size() <= 64 && std::islower(static_cast<unsigned char>(name[0]));
  for (char c : name)
    ok = ok && (std::islower(static_cast<unsigned char>(c)) ||
                std::isdigit(static_cast<unsigned char>(c)) || c == '_');
  if (!ok)
    throw ConfigError("name '" + name +
                      "' is not a plugin name: expected a lower-case letter, then lower-case "
                      "letters, digits and '_' (at most 64); hint: my_attention");
}

// snake_case -> CamelCase, the class name: my_attention -> MyAttention.
std::string class_name(const std::string& name) {
  std::string out;
  bool upper = true;
  for (char c : name) {
    if (c == '_') {
      upper = true;
      continue;
    }
    out += upper ? char(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return out;
}

std::string fill(std::string_view text, const std::string& kind, const std::string& name) {
  std::string out(text);
  for (const auto& [key, value] :
       {std::pair<std::string, std::string>{"@NAME@", name}, {"@Name@", class_name(name)},
        {"@KIND@", kind}})
    for (size_t at = out.find(key); at != std::string::npos; at = out.find(key, at + value.size()))
      out.replace(at, key.size(), value);
  return out;
}

void write(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) throw StorageError("cannot write " + path.string());
}

}  // namespace

int plugins_new(const std::string& kind, const std::string& name, const fs::path& parent) {
  bool known = false;
  for (size_t k = 0; k < plugin_kind_count; ++k) known = known || kind == to_string(PluginKind(k));
  if (!known) throw ConfigError("no plugin kind '" + kind + "'; expected one of " + kinds());
  const ScaffoldFile* skeleton = find_file(kind + std::string(skeleton_suffix));
  if (!skeleton)  // every kind of the table has tools/nanolab/scaffold/<kind>.cpp.in
    throw std::logic_error("no skeleton for the plugin kind '" + kind + "' in this build");
  check_name(name);
  const ScaffoldFile* cmake = find_file("CMakeLists.txt.in");

  const fs::path dir = parent / name;
  std::error_code ec;
  const bool exists = fs::exists(dir, ec);
  if (ec) throw StorageError("cannot look at " + dir.string() + ": " + ec.message());
  if (exists)
    throw ConfigError("" + dir.string() +
                      " already exists; nothing was written (hint: another --dir or NAME)");
  if (!fs::create_directories(dir, ec) || ec)
    throw StorageError("cannot create " + dir.string() + ": " +
                       (ec ? ec.message() : "unknown error"));
  write(dir / (name + ".cpp"), fill(skeleton->text, kind, name));
  write(dir / "CMakeLists.txt", fill(cmake->text, kind, name));
  std::printf(
      "wrote %s/{%s.cpp, CMakeLists.txt}: the %s plugin '%s'\n"
      "build:  cmake -S %s -B %s/build -Dnanolab_DIR=<nanolab build or <prefix>/lib/cmake/nanolab> "
      "&& cmake --build %s/build\n"
      "test:   ctest --test-dir %s/build     (nanolab's %s contract suite on it)\n"
      "use:    NANOLAB_PLUGIN_PATH=%s/build nanolab plugins show %s\n",
      dir.c_str(), name.c_str(), kind.c_str(), name.c_str(), dir.c_str(), dir.c_str(),
      dir.c_str(), dir.c_str(), kind.c_str(), dir.c_str(), name.c_str());
  return 0;
}

}  // namespace nanolab::cli
