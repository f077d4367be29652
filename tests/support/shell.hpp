// Test helpers: a shell command's stdout, a short Python program run on a file (python3 with its
// standard library only: json, struct), and the python3 that has given modules, for tests that
// read what the program wrote with another language's reader. A non-zero exit fails the calling
// test.
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

// The first python3 that has every one of `modules` (Debian's python3-h5py, python3-scipy...):
// PATH's, which may be a pyenv one without Debian's modules, then Debian's. "" when neither has
// them all, and then `missing` names those the last one lacks.
inline std::string python_with(const std::string& modules, std::string& missing) {
  for (const std::string candidate : {"python3", "/usr/bin/python3"}) {
    const std::string probe =
        shell(candidate + " -c 'import importlib.util as u; print(*[m for m in \"" + modules +
              "\".split() if u.find_spec(m) is None])' 2>/dev/null || echo python3");
    if (probe == "\n") return candidate;
    missing = probe.substr(0, probe.size() - 1);
  }
  return "";
}

}  // namespace nanolab::test
