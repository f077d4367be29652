// Test helper: a temporary plugin folder, filled with copies of test plugins and damaged files,
// removed at the end of the test. Shared by the registry unit tests and the tests that run the
// real program (bad_plugins_test.cpp). The paths of the built test plugins come from the
// NANOLAB_TEST_*_PLUGIN_DIR definitions of tests/CMakeLists.txt.
#pragma once

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "support/temp_dir.hpp"

namespace nanolab::test {

inline std::filesystem::path fixture_plugin(const std::string& name) {
  return std::filesystem::path(NANOLAB_TEST_FIXTURE_PLUGIN_DIR) / (name + ".so");
}
inline std::filesystem::path bad_plugin(const std::string& name) {
  return std::filesystem::path(NANOLAB_TEST_BAD_PLUGIN_DIR) / (name + ".so");
}

class PluginFolder {
 public:
  const std::filesystem::path& path() const { return dir_.path(); }

  std::filesystem::path add(const std::filesystem::path& library) {
    auto to = path() / library.filename();
    std::filesystem::copy_file(library, to);
    return to;
  }
  std::filesystem::path add_text(const std::string& file_name, const std::string& text) {
    auto to = path() / file_name;
    std::ofstream(to, std::ios::binary) << text;
    return to;
  }
  // A copy of `library` cut to `fraction` of its size, as an interrupted copy would leave it.
  std::filesystem::path add_truncated(const std::filesystem::path& library,
                                      const std::string& file_name, double fraction) {
    auto to = path() / file_name;
    std::filesystem::copy_file(library, to);
    std::filesystem::resize_file(to, uintmax_t(double(std::filesystem::file_size(to)) * fraction));
    return to;
  }

 private:
  TempDir dir_{"nanolab-plugins"};
};

}  // namespace nanolab::test
