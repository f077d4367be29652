// `nanolab run --profile` end to end, on a small synthetic experiment: the table on stdout has one
// row per op kind in the documented order, each row's phases add up to its total, the kinds that
// a GPT step certainly runs have time in the phases where they run, and the rows add up to the
// step time the trainer measured with its own clock (the summary's ms_per_iter in run.h5) within
// 5 %: the timers charge each moment to one kind only, so counting a nested op twice or losing
// the time between ops shows as a sum far from the step. Without the flag nothing is printed.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "nanolab/run_store.hpp"
#include "support/program.hpp"
#include "support/temp_dir.hpp"

namespace nanolab::test {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kinds = {"matmul/linear", "layer_norm", "gelu",
                                        "attention",     "softmax",    "cross_entropy",
                                        "optimizer",     "allreduce",  "embedding",
                                        "data",          "other"};

struct Row {
  double forward = 0, backward = 0, rest = 0, total = 0;
};

// The rows of the table, by name, in order; "-" in a cell is 0.
std::vector<std::pair<std::string, Row>> parse_table(const std::string& out) {
  std::vector<std::pair<std::string, Row>> rows;
  std::istringstream in(out);
  std::string line;
  bool in_table = false;
  while (std::getline(in, line)) {
    if (line.rfind("kind ", 0) == 0) {
      in_table = true;
      continue;
    }
    if (!in_table || line.rfind("measured step", 0) == 0) continue;
    // A kind name holds no space; the cells follow it.
    std::istringstream cells(line);
    std::string name, c[4];
    cells >> name >> c[0] >> c[1] >> c[2] >> c[3];
    auto num = [](const std::string& s) { return s == "-" ? 0.0 : std::stod(s); };
    rows.push_back({name, {num(c[0]), num(c[1]), num(c[2]), num(c[3])}});
  }
  return rows;
}

struct ProfiledRun : testing::Test {
  TempDir dir{"nanolab-op-timers"};
  fs::path exp = dir.path() / "tiny.toml";
  fs::path out = dir.path() / "runs";

  void SetUp() override {
    std::ofstream(exp) << "[experiment]\nname = \"tiny\"\nseed = 3\n"
                          "[data]\ndataset = \"synthetic:copy\"\nblock_size = 32\nbatch_size = 8\n"
                          "[model]\nn_layer = 2\nn_head = 2\nn_embd = 64\n"
                          "[train]\nmax_iters = 30\nwarmup_iters = 2\neval_interval = 30\n"
                          "eval_iters = 1\nlog_interval = 10\ncheckpoint_interval = 30\n"
                          "sample_tokens = 0\n";
  }
  Outcome run(const std::string& name, std::vector<std::string> extra) const {
    std::vector<std::string> args = {"run", exp.string(), "--out", out.string(), "--name", name};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_program(args, dir.path());
  }
};

TEST_F(ProfiledRun, PrintsOneRowPerOpKindAddingUpToTheMeasuredStep) {
  const Outcome o = run("p", {"--profile"});
  ASSERT_TRUE(o.exited && o.status == 0) << o.err;
  EXPECT_NE(o.out.find("profile: 30 steps"), std::string::npos) << o.out;
  const auto rows = parse_table(o.out);
  ASSERT_EQ(rows.size(), kinds.size() + 1) << o.out;  // the kinds, then "sum"
  std::map<std::string, Row> by_name;
  double sum = 0;
  for (size_t i = 0; i < kinds.size(); ++i) {
    const auto& [name, r] = rows[i];
    EXPECT_EQ(name, kinds[i]) << o.out;
    // Cells are rounded to 1 microsecond each.
    EXPECT_NEAR(r.forward + r.backward + r.rest, r.total, 0.003) << name;
    by_name[name] = r;
    sum += r.total;
  }
  EXPECT_EQ(rows.back().first, "sum");
  EXPECT_NEAR(rows.back().second.total, sum, 0.01);

  // Where each kind runs: the model's ops forward and backward, the loss forward and backward,
  // the update and the batch outside both passes.
  for (const char* k : {"matmul/linear", "layer_norm", "gelu", "attention", "softmax",
                        "cross_entropy", "embedding"}) {
    EXPECT_GT(by_name[k].forward, 0.0) << k;
    EXPECT_GT(by_name[k].backward, 0.0) << k;
    EXPECT_EQ(by_name[k].rest, 0.0) << k;
  }
  for (const char* k : {"optimizer", "data"}) {
    EXPECT_EQ(by_name[k].forward + by_name[k].backward, 0.0) << k;
    EXPECT_GT(by_name[k].rest, 0.0) << k;
  }

  const RunLog log = read_run(out / "tiny" / "p" / "run.h5");
  const double measured = log.summary.at("ms_per_iter");
  ASSERT_GT(measured, 0.0);
  EXPECT_NEAR(sum, measured, 0.05 * measured)
      << "the op kinds add up to " << sum << " ms per step, the trainer measured " << measured;
  // The interval lines go to stderr with the progress.
  EXPECT_NE(o.err.find("profile, ms/step: matmul/linear"), std::string::npos) << o.err;
}

TEST_F(ProfiledRun, PrintsNothingWithoutTheFlag) {
  const Outcome o = run("plain", {});
  ASSERT_TRUE(o.exited && o.status == 0) << o.err;
  EXPECT_EQ(o.out.find("profile:"), std::string::npos) << o.out;
  EXPECT_EQ(o.err.find("profile, ms/step"), std::string::npos) << o.err;
}

TEST_F(ProfiledRun, ResumeTakesTheFlag) {
  ASSERT_EQ(run("r", {"--quiet"}).status, 0);
  // The run is complete: resuming it runs no step, and the table says so.
  const Outcome o = run_program({"resume", (out / "tiny" / "r").string(), "--profile"}, dir.path());
  ASSERT_TRUE(o.exited && o.status == 0) << o.err;
  EXPECT_NE(o.out.find("profile: 0 steps"), std::string::npos) << o.out;
}

}  // namespace
}  // namespace nanolab::test
