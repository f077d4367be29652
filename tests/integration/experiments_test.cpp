// The experiments that ship reach the results the README states: the quickstart a val exact-match
// accuracy of at least 0.99, nanoGPT's baby configuration a val loss of at most 1.92 at step 2000
// (nanoGPT reports about 1.88; a PyTorch model of the same shape reached 1.90 on this machine).
// Each trains for real (about 40 s and 160 s on 2 cores); the Shakespeare one is skipped, with the
// file named, when $NANOLAB_DATA does not hold tiny Shakespeare. The Shakespeare one evaluates at
// its start and end only: evaluations draw from their own stream and leave the training as it is
// (the same train losses, checked), and its seven others took 37 % of the run (248 s in all).
#include <gtest/gtest.h>

#include <cstdlib>

#include "nanolab/run_store.hpp"
#include "support/program.hpp"
#include "support/temp_dir.hpp"
#include "support/skip.hpp"

namespace nanolab::test {
namespace {

namespace fs = std::filesystem;

RunLog train(const std::string& experiment, const TempDir& dir,
             const std::vector<std::string>& sets = {}) {
  const fs::path file = fs::path(NANOLAB_TEST_SOURCE_DIR) / "experiments" / (experiment + ".toml");
  std::vector<std::string> args = {"run",  file.string(), "--out", dir.path().string(),
                                   "--name", "run", "--quiet"};
  for (const auto& s : sets) args.insert(args.end(), {"--set", s});
  const Outcome o = run_program(args, dir.path());
  EXPECT_TRUE(o.exited && o.status == 0) << o.err;
  return read_run(dir.path() / experiment / "run" / "run.h5");
}

TEST(Experiments, QuickstartReachesItsStatedAccuracy) {
  TempDir dir;
  const RunLog log = train("quickstart", dir);
  ASSERT_FALSE(log.val.empty());
  EXPECT_EQ(log.val.back().step, 3000);
  EXPECT_GE(log.val.back().accuracy, 0.99f);
}

TEST(Experiments, ShakespeareCharBabyReachesValLoss192) {
  const char* data = std::getenv("NANOLAB_DATA");
  const fs::path input = fs::path(data ? data : "") / "tinyshakespeare" / "input.txt";
  NANOLAB_NEEDS(data && fs::exists(input),
                "needs " << input << " (set NANOLAB_DATA to the folder holding tinyshakespeare/)");
  TempDir dir;
  const RunLog log = train("shakespeare_char_baby", dir, {"train.eval_interval=2000"});
  ASSERT_FALSE(log.val.empty());
  EXPECT_EQ(log.val.back().step, 2000);
  EXPECT_LE(log.val.back().loss, 1.92f);
}

}  // namespace
}  // namespace nanolab::test
