// Helpers of the data tests: a byte-level test tokenizer, a scratch folder per test, environment
// variables set for one scope, and an ExperimentConfig with only the data keys filled. Not a
// tokenizer for real use: the `char` and `byte` plugins are.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "nanolab/data.hpp"
#include "nanolab/errors.hpp"

namespace nanolab::test {

// One id per byte (V = 256, id = byte value). Like the char plugin it learns which bytes the
// training text holds and refuses any other, so a val part with a byte train lacks cannot be
// encoded. Counts the encodes of more than one byte (the shard builds; open_dataset's one-byte
// probe for a newline prompt is not one).
class TestByteTokenizer final : public Tokenizer {
 public:
  void train(std::string_view text, int64_t) override {
    seen_.fill('0');
    for (unsigned char c : text) seen_[c] = '1';
  }
  std::vector<int32_t> encode(std::string_view text) const override {
    if (text.size() > 1) ++shard_encodes;
    std::vector<int32_t> ids;
    for (size_t i = 0; i < text.size(); ++i) {
      const auto c = static_cast<unsigned char>(text[i]);
      if (seen_[c] != '1')
        throw DataError("test tokenizer: byte " + std::to_string(c) + " at offset " + std::to_string(i) +
                        " was not in the training text");
      ids.push_back(c);
    }
    return ids;
  }
  std::string decode(std::span<const int32_t> ids) const override {
    std::string text;
    for (int32_t id : ids) text += char(id);
    return text;
  }
  int64_t vocab_size() const override { return 256; }
  std::string save() const override { return std::string(seen_.begin(), seen_.end()); }
  void load(std::string_view bytes) override { std::copy(bytes.begin(), bytes.end(), seen_.begin()); }

  mutable int shard_encodes = 0;

 private:
  std::array<char, 256> seen_{};
};

// A fresh, empty folder for one test, removed afterwards.
class ScratchDir {
 public:
  ScratchDir() {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("nanolab-data-" + std::to_string(::getpid()) + "-" + info->test_suite_name() + "-" + info->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// Sets (or, with nullopt, unsets) an environment variable until the end of the scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? ::setenv(name, value->c_str(), 1) : ::unsetenv(name);
  }
  ~ScopedEnv() { old_ ? ::setenv(name_, old_->c_str(), 1) : ::unsetenv(name_); }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

inline void write_file(const std::filesystem::path& file, const std::string& bytes) {
  std::filesystem::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << bytes;
}

inline ExperimentConfig data_config(const std::string& dataset, int64_t block_size) {
  ExperimentConfig config{};
  config.dataset = dataset;
  config.block_size = block_size;
  config.vocab_size = 0;
  config.batch_size = 4;
  return config;
}

// The message of the DataError that `f` throws; fails the test when it throws nothing else.
template <class F>
std::string data_error(F&& f) {
  try {
    f();
  } catch (const DataError& e) {
    EXPECT_EQ(e.code(), ExitCode::data);
    return e.what();
  }
  ADD_FAILURE() << "expected a DataError";
  return {};
}

}  // namespace nanolab::test
