// Test helpers: a shell command's stdout, and a short Python program run on a file (python3 with
// its standard library only: json, struct), for tests that read what the program wrote with
// another language's reader. A non-zero exit fails the calling test.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace nanolab::test {

inline std::string shell(const std::string& cmd) {
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  EXPECT_EQ(pclose(p), 0) << cmd;
  return out;
}

// `code` must not hold a single quote; the file is sys.argv[1].
inline std::string python(const std::string& code, const std::filesystem::path& input) {
  return shell("python3 -c '" + code + "' " + input.string());
}

}  // namespace nanolab::test
