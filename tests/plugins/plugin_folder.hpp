// Test helper: a temporary plugin folder, filled with copies of test plugins and damaged files,
// removed at the end of the test. Shared by the registry unit tests and the tests that run the
// real program (bad_plugins_test.cpp). The paths of the built test plugins come from the
// NANOLAB_TEST_*_PLUGIN_DIR definitions of tests/CMakeLists.txt.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

namespace nanolab::test {

inline std::filesystem::path fixture_plugin(const std::string& name) {
  return std::filesystem::path(NANOLAB_TEST_FIXTURE_PLUGIN_DIR) / (name + ".so");
}
inline std::filesystem::path bad_plugin(const std::string& name) {
  return std::filesystem::path(NANOLAB_TEST_BAD_PLUGIN_DIR) / (name + ".so");
}

class PluginFolder {
 public:
  PluginFolder() {
    std::string pattern = (std::filesystem::temp_directory_path() / "nanolab-plugins-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed");
    dir_ = pattern;
  }
  ~PluginFolder() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  PluginFolder(const PluginFolder&) = delete;
  PluginFolder& operator=(const PluginFolder&) = delete;

  const std::filesystem::path& path() const { return dir_; }

  std::filesystem::path add(const std::filesystem::path& library) {
    auto to = dir_ / library.filename();
    std::filesystem::copy_file(library, to);
    return to;
  }
  std::filesystem::path add_text(const std::string& file_name, const std::string& text) {
    auto to = dir_ / file_name;
    std::ofstream(to, std::ios::binary) << text;
    return to;
  }
  // A copy of `library` cut to `fraction` of its size, as an interrupted copy would leave it.
  std::filesystem::path add_truncated(const std::filesystem::path& library,
                                      const std::string& file_name, double fraction) {
    auto to = dir_ / file_name;
    std::filesystem::copy_file(library, to);
    std::filesystem::resize_file(to, uintmax_t(double(std::filesystem::file_size(to)) * fraction));
    return to;
  }

 private:
  std::filesystem::path dir_;
};

}  // namespace nanolab::test
