// Shared by the config tests: a fresh temporary folder per test to write experiment files into,
// and the message of the ConfigError an action throws. Not a fixture for anything but TOML files.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include "nanolab/errors.hpp"

namespace nanolab::config_test {

class ConfigFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = std::filesystem::temp_directory_path() /
           ("nanolab_config_" + std::to_string(getpid()) + "_" + info->test_suite_name() + "_" +
            info->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `text` to <dir>/<name> (creating folders) and returns the path.
  std::filesystem::path write(const std::string& name, const std::string& text) {
    const auto path = dir_ / name;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
    return path;
  }

  std::filesystem::path dir_;
};

// The message of the ConfigError `action` throws; a test failure if it throws none.
inline std::string config_error(const std::function<void()>& action) {
  try {
    action();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.code(), ExitCode::config);
    return e.what();
  }
  ADD_FAILURE() << "expected a ConfigError";
  return "";
}

}  // namespace nanolab::config_test
