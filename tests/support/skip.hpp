// Test helper: the two reasons a test may not run, each said the same way everywhere.
// - NANOLAB_NEEDS(present, why): a tool or data file the test needs (the shared datasets, MPI,
//   Chromium, h5py, h5dump). Outside CI the test is skipped with `why`. In CI (CI=true), where
//   tools/install-deps.sh installs every tool and .ci/run sets NANOLAB_DATA, a missing one means a
//   broken path, so the test fails instead.
// - NANOLAB_SKIP_ON_ONE_THREAD(): a test that compares a result on one thread with the result on
//   all of them; with one thread in all it would compare a run with itself and prove nothing.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

#include "nanolab/runtime.hpp"

namespace nanolab::test {

inline bool in_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

}  // namespace nanolab::test

#define NANOLAB_NEEDS(present, why)                                                         \
  if (present) {                                                                            \
  } else if (::nanolab::test::in_ci())                                                      \
    GTEST_FAIL() << "CI=true, where every tool and data file is installed, but: " << why;  \
  else                                                                                      \
    GTEST_SKIP() << why

#define NANOLAB_SKIP_ON_ONE_THREAD()                                                          \
  if (::nanolab::runtime::num_threads() < 2)                                                  \
  GTEST_SKIP() << "needs a second thread, and there is only one (NANOLAB_THREADS or the "     \
                  "machine): the one-thread result would be compared with itself"
