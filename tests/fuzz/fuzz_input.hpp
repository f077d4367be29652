// Shared by the libFuzzer targets of tests/fuzz: one private temporary folder per fuzzing process
// (removed at exit) and a way to hand the fuzzer's bytes to an API that only takes a file path.
// Not a harness of its own: each target's LLVMFuzzerTestOneInput says what it checks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "support/temp_dir.hpp"

namespace nanolab::fuzz {

// Lives until exit, so that every input of a run reuses one folder (libFuzzer runs millions).
inline const std::filesystem::path& scratch_dir() {
  static const test::TempDir dir("nanolab-fuzz");
  return dir.path();
}

// Writes the input to scratch_dir()/name, replacing what the previous input left there.
inline std::filesystem::path write_input(const std::string& name, const uint8_t* data,
                                         size_t size) {
  const std::filesystem::path file = scratch_dir() / name;
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), std::streamsize(size));
  if (!out.flush()) {
    std::fprintf(stderr, "fuzz: cannot write %s\n", file.c_str());
    std::abort();
  }
  return file;
}

// A broken promise that no sanitizer would see (wrong text back, an id out of range): print it
// and abort, which libFuzzer reports as a crash and saves the input for.
[[noreturn]] inline void violated(const std::string& what) {
  std::fprintf(stderr, "fuzz: broken promise: %s\n", what.c_str());
  std::abort();
}

}  // namespace nanolab::fuzz
