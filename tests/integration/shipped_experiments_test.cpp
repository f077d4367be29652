// Every experiment file in experiments/ passes `nanolab check` (its keys, plugins and options, and
// its sweep), with the number of runs its header comment states for the sweeps. Validation needs
// no data files, so this runs everywhere in seconds; the slow tests (experiments_test.cpp) train
// two of them for real.
#include <gtest/gtest.h>

#include <map>

#include "support/program.hpp"
#include "support/temp_dir.hpp"

namespace nanolab::test {
namespace {

namespace fs = std::filesystem;

TEST(ShippedExperiments, EveryOnePassesCheckWithItsStatedRuns) {
  const std::map<std::string, int> sweeps = {
      {"attention_sweep", 21}, {"optimizer_lr_search", 21}, {"optimizer_sweep", 15},
      {"lr_search_asha", 3}};
  TempDir dir;
  int files = 0;
  for (const auto& entry : fs::directory_iterator(fs::path(NANOLAB_TEST_SOURCE_DIR) / "experiments")) {
    if (entry.path().extension() != ".toml") continue;
    ++files;
    const std::string name = entry.path().stem();
    const Outcome o = run_program({"check", entry.path().string()}, dir.path());
    EXPECT_TRUE(o.exited && o.status == 0) << name << ":\n" << o.err;
    const auto sweep = sweeps.find(name);
    const int runs = sweep == sweeps.end() ? 1 : sweep->second;
    EXPECT_NE(o.out.find(", " + std::to_string(runs) + (runs == 1 ? " run" : " runs")),
              std::string::npos)
        << name << ":\n" << o.out;
  }
  EXPECT_GE(files, 8);
}

}  // namespace
}  // namespace nanolab::test
