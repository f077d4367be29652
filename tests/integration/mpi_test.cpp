// The real program under `mpirun -np 2 --oversubscribe` (docs/scaling.md): data-parallel training
// equals one process with the batch of both ranks, a rank that dies fails the run and `resume` on
// the same world size finishes it (another world size is refused), and `--distribute runs`
// shares a sweep's runs between the ranks with one summary from rank 0, as a search shares its
// trials; SIGTERM to mpirun stops a search's running trials with checkpoints, and the search run
// again finishes them. Skipped, saying why, in a build without MPI.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "nanolab/run_store.hpp"
#include "support/program.hpp"
#include "support/run_compare.hpp"
#include "support/temp_dir.hpp"
#include "support/skip.hpp"

namespace nanolab::test {
namespace {

namespace fs = std::filesystem;

// Two ranks on a 2-core machine, whoever runs the tests (root in CI's container).
const std::vector<std::string> mpirun = {NANOLAB_TEST_MPIEXEC, "-np", "2", "--oversubscribe"};

std::map<std::string, std::string> env() {
  return {{"NANOLAB_PLUGIN_PATH", NANOLAB_TEST_INTEGRATION_PLUGIN_DIR},
          {"GIT_DIR", "/nonexistent/nanolab-mpi"},
          {"OMPI_ALLOW_RUN_AS_ROOT", "1"},
          {"OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1"}};
}

// A small GPT on synthetic:copy, every target counted, no dropout: the per-rank means then
// average to the mean over both ranks' rows.
std::string experiment(int64_t batch_size, int64_t max_iters) {
  return "[experiment]\nname = \"dp\"\nseed = 11\n"
         "[data]\ndataset = \"synthetic:copy\"\nblock_size = 16\nbatch_size = " +
         std::to_string(batch_size) +
         "\n[model]\nn_layer = 2\nn_head = 2\nn_embd = 32\ndropout = 0.0\n"
         "[optimizer]\nlr = 3e-3\n"
         "[train]\nmax_iters = " + std::to_string(max_iters) +
         "\nwarmup_iters = 5\neval_interval = 10\neval_iters = 2\nlog_interval = 1\n"
         "checkpoint_interval = 20\nsample_tokens = 0\n";
}

class Mpi : public ::testing::Test {
 protected:
  void SetUp() override {
    NANOLAB_NEEDS(!std::string(NANOLAB_TEST_MPIEXEC).empty(),
                  "this build has no MPI (CMake found no libopenmpi-dev; NANOLAB_MPI)");
  }
  fs::path write_experiment(const std::string& name, const std::string& toml) {
    const fs::path file = dir.path() / name;
    std::ofstream(file) << toml;
    return file;
  }
  Outcome run(const std::vector<std::string>& args, bool under_mpirun, const std::string& tag) {
    return Program(args, dir.path(), env(), tag, -1, under_mpirun ? mpirun : std::vector<std::string>{})
        .wait();
  }
  // 30 steps of batch_per_rank on 2 ranks (with `sets`), and of batch 8 in one process.
  std::pair<RunLog, RunLog> two_ranks_and_one_process_of_batch_eight(
      int64_t batch_per_rank, const std::vector<std::string>& sets) {
    const fs::path two = write_experiment("two.toml", experiment(batch_per_rank, 30));
    const fs::path one = write_experiment("one.toml", experiment(8, 30));
    std::vector<std::string> args = {"run", two.string(), "--out", out.string(), "--name", "two",
                                     "--quiet"};
    for (const std::string& s : sets) args.insert(args.end(), {"--set", s});
    const Outcome dp = run(args, true, "two");
    EXPECT_TRUE(dp.exited && dp.status == 0) << dp.err;
    const Outcome single = run(
        {"run", one.string(), "--out", out.string(), "--name", "one", "--quiet"}, false, "one");
    EXPECT_TRUE(single.exited && single.status == 0) << single.err;
    return {read_run(out / "dp" / "two" / "run.h5"), read_run(out / "dp" / "one" / "run.h5")};
  }
  TempDir dir{"nanolab-mpi"};
  fs::path out = dir.path() / "runs";
};

double relative(double a, double b) { return std::fabs(a - b) / std::max(std::fabs(b), 1e-12); }

// f32 sums taken in another order (two half batches, then the all-reduce) differ in the last
// bits, and 30 AdamW steps carry that on: measured 1e-7; held to 1e-5.
constexpr double tolerance = 1e-5;

// The same loss and gradient norm at every step, and the loss moved (not a tautology).
void expect_same_training(const RunLog& a, const RunLog& b) {
  ASSERT_EQ(a.train.size(), 30u);
  ASSERT_EQ(b.train.size(), 30u);
  for (size_t i = 0; i < a.train.size(); ++i) {
    EXPECT_LT(relative(a.train[i].loss, b.train[i].loss), tolerance) << "step " << i + 1;
    EXPECT_LT(relative(a.train[i].grad_norm, b.train[i].grad_norm), tolerance) << "step " << i + 1;
  }
  EXPECT_EQ(a.summary.at("tokens_seen"), b.summary.at("tokens_seen"));
  EXPECT_LT(a.train.back().loss, a.train.front().loss - 0.1);
}

TEST_F(Mpi, TwoRanksOfBatchFourTrainLikeOneProcessOfBatchEight) {
  const auto [a, b] = two_ranks_and_one_process_of_batch_eight(4, {});
  EXPECT_EQ(a.meta.at("world_size"), "2");
  EXPECT_EQ(b.meta.at("world_size"), "1");
  expect_same_training(a, b);
  ASSERT_EQ(a.val.size(), b.val.size());  // rank 0 evaluates on both ranks' rows
  for (size_t i = 0; i < a.val.size(); ++i)
    EXPECT_LT(relative(a.val[i].loss, b.val[i].loss), tolerance) << "eval " << i;
}

// Accumulation on each rank: 2 ranks x 2 micro-batches x batch 2 train on the rows of one
// process's batch of 8, with the loss divided by ranks x micro-batches.
TEST_F(Mpi, TwoRanksAccumulatingTwoMicroBatchesOfTwoTrainLikeOneProcessOfBatchEight) {
  const auto [a, b] = two_ranks_and_one_process_of_batch_eight(2, {"train.grad_accum_steps=2"});
  expect_same_training(a, b);
}

// The pid of rank `rank` among mpirun's children.
pid_t rank_pid(pid_t launcher, int rank) {
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const std::string name = entry.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string pid, comm, state;
    pid_t parent = 0;
    if (!(stat >> pid >> comm >> state >> parent) || parent != launcher) continue;
    std::ifstream environ(entry.path() / "environ");
    const std::string vars((std::istreambuf_iterator<char>(environ)), {});
    if (vars.find(std::string("OMPI_COMM_WORLD_RANK=") + std::to_string(rank) + '\0') !=
        std::string::npos)
      return pid_t(std::stol(name));
  }
  return -1;
}

TEST_F(Mpi, ARankThatDiesFailsTheRunAndResumeOnTwoRanksFinishesIt) {
  const fs::path exp = write_experiment("dp.toml", experiment(4, 400));
  const Outcome whole = run({"run", exp.string(), "--out", out.string(), "--name", "whole",
                             "--quiet"},
                            true, "whole");
  ASSERT_TRUE(whole.exited && whole.status == 0) << whole.err;

  Program job({"run", exp.string(), "--out", out.string(), "--name", "cut", "--quiet"},
              dir.path(), env(), "cut", -1, mpirun);
  const fs::path run_dir = out / "dp" / "cut";
  // Past the second checkpoint (step 40), then kill -9 rank 1.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  size_t rows = 0;
  while (rows < 50 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    try {
      rows = read_run(run_dir / "run.h5").train.size();
    } catch (const Error&) {
    }
  }
  ASSERT_GE(rows, 50u) << "the job did not get to step 50";
  const pid_t rank1 = rank_pid(job.pid(), 1);
  ASSERT_GT(rank1, 0) << "rank 1 not found among mpirun's children";
  kill(rank1, SIGKILL);
  const Outcome cut = job.wait();
  EXPECT_FALSE(cut.exited && cut.status == 0) << cut.err;
  EXPECT_NE(cut.err.find("rank 0 got signal"), std::string::npos) << cut.err;
  const RunLog failed = read_run(run_dir / "run.h5");
  EXPECT_EQ(failed.status, "failed");
  EXPECT_LT(failed.train.size(), 400u);

  // One process may not continue a run of two: its batches would change.
  const Outcome alone = run({"resume", run_dir.string(), "--quiet"}, false, "alone");
  EXPECT_TRUE(alone.exited);
  EXPECT_EQ(alone.status, 8) << alone.err;
  EXPECT_NE(alone.err.find("trained data-parallel on 2 rank(s), this resume has 1"),
            std::string::npos)
      << alone.err;

  const Outcome resumed = run({"resume", run_dir.string(), "--quiet"}, true, "resumed");
  ASSERT_TRUE(resumed.exited && resumed.status == 0) << resumed.err;
  const RunLog done = read_run(run_dir / "run.h5");
  const RunLog reference = read_run(out / "dp" / "whole" / "run.h5");
  EXPECT_EQ(done.status, "completed");
  expect_same_run(done, reference);
  expect_wall_time_continues(done);
}

TEST_F(Mpi, DistributeRunsSharesTheSweepAndRankZeroSummarises) {
  const fs::path exp = write_experiment(
      "sweep.toml", experiment(8, 30) +
                        "[sweep]\ncases = [{ \"optimizer.lr\" = 1e-3 },\n"
                        "  { \"loss.plugin\" = \"nan_after\", \"loss.calls\" = 10 },\n"
                        "  { \"optimizer.lr\" = 1e-2 }]\n");
  const Outcome o = run({"run", exp.string(), "--out", out.string(), "--quiet", "--distribute",
                         "runs"},
                        true, "sweep");
  EXPECT_TRUE(o.exited);
  EXPECT_EQ(o.status, 6) << "the sweep's exit status is its failure's\n" << o.err;
  const std::string failed = "loss.plugin=nan_after,calls=10";
  // Runs 1 and 3 on rank 0, run 2 on rank 1, which reports its failure itself.
  EXPECT_NE(o.err.find("rank 1: nanolab run: error in run " + failed), std::string::npos) << o.err;
  const size_t summary = o.err.find("sweep dp: 3 runs");
  ASSERT_NE(summary, std::string::npos) << o.err;
  for (const char* run : {"lr=0.001", "lr=0.01"}) {
    EXPECT_NE(o.err.find(std::string(run) + " ", summary), std::string::npos) << o.err;
    const RunLog log = read_run(out / "dp" / run / "run.h5");
    EXPECT_EQ(log.status, "completed");
    EXPECT_EQ(log.meta.at("world_size"), "1");  // each trained alone
  }
  EXPECT_NE(o.err.find(failed, summary), std::string::npos) << o.err;
  EXPECT_EQ(read_run(out / "dp" / failed / "run.h5").status, "failed");
}

// A random search on two ranks: rank 0 decides and trains a job in a worker process while rank 1
// trains another; each trial trains alone, to the result it has in one process (one thread in
// both, so the same arithmetic).
TEST_F(Mpi, ASearchSharesItsTrialsBetweenTheRanks) {
  const fs::path exp = write_experiment(
      "search.toml", experiment(8, 6) +
                         "[search]\nmethod = \"random\"\ntrials = 4\n[search.space]\n"
                         "\"optimizer.lr\" = { log_uniform = [1e-3, 1e-2] }\n");
  std::map<std::string, std::string> one_thread = env();
  one_thread["NANOLAB_THREADS"] = "1";
  const auto search = [&](const std::string& folder, bool under_mpirun) {
    const Outcome o = Program({"run", exp.string(), "--out", (dir.path() / folder).string()},
                              dir.path(), one_thread, folder, -1,
                              under_mpirun ? mpirun : std::vector<std::string>{})
                          .wait();
    EXPECT_TRUE(o.exited && o.status == 0) << o.err;
    return nlohmann::json::parse(read_file(dir.path() / folder / "dp" / "search.json"));
  };
  const nlohmann::json shared = search("ranks", true), alone = search("alone", false);
  ASSERT_EQ(alone["started"].size(), 4u);
  EXPECT_EQ(shared["started"], alone["started"]);
  // Two jobs at once: the second starts before the first ends.
  EXPECT_EQ(shared["decisions"][0], "start trial-1");
  EXPECT_EQ(shared["decisions"][1], "start trial-2");
  for (const auto& trial : shared["started"]) {
    const RunLog log = read_run(dir.path() / "ranks" / "dp" / trial["trial"] / "run.h5");
    EXPECT_EQ(log.status, "completed");
    EXPECT_EQ(log.meta.at("world_size"), "1");
    ASSERT_EQ(log.train.size(), 6u);
  }
}

// SIGTERM to mpirun while both ranks train a trial: each trial stops with a checkpoint
// (`interrupted`), search.json keeps them `running`, and the same command again resumes them and
// finishes the search, every step of every trial logged once and the trials started before the
// cut keeping their drawn values.
TEST_F(Mpi, SigtermStopsASearchOnBothRanksAndRunAgainFinishesIt) {
  std::string toml = experiment(8, 3000);
  toml.replace(toml.find("checkpoint_interval = 20"), 24, "checkpoint_interval = 50");
  toml.replace(toml.find("log_interval = 1"), 16, "log_interval = 10");
  const fs::path exp = write_experiment(
      "search.toml", toml + "[search]\nmethod = \"random\"\ntrials = 4\n[search.space]\n"
                            "\"optimizer.lr\" = { log_uniform = [1e-3, 1e-2] }\n");
  std::map<std::string, std::string> one_thread = env();
  one_thread["NANOLAB_THREADS"] = "1";
  const std::vector<std::string> args = {"run", exp.string(), "--out", out.string()};
  const fs::path folder = out / "dp";
  // Two trials running, each past its first checkpoint (step 50 of 3000).
  const auto trials_running = [&] {
    try {
      const nlohmann::json state = nlohmann::json::parse(read_file(folder / "search.json"));
      size_t ready = 0;
      for (const auto& trial : state["started"])
        if (trial["status"] == "running" &&
            fs::exists(folder / trial["trial"].get<std::string>() / "checkpoint.h5"))
          ++ready;
      return ready == 2;
    } catch (const std::exception&) {
      return false;  // search.json not written yet, or read while it is replaced
    }
  };
  {
    Program job(args, dir.path(), one_thread, "cut", -1, mpirun);
    ASSERT_TRUE(wait_until(trials_running, std::chrono::seconds(120)))
        << "two trials never ran at once";
    job.signal(SIGTERM);
    const Outcome cut = job.wait();
    EXPECT_FALSE(cut.exited && cut.status == 0) << cut.err;
  }
  const nlohmann::json stopped = nlohmann::json::parse(read_file(folder / "search.json"));
  size_t interrupted = 0;
  for (const auto& trial : stopped["started"]) {
    const RunLog log = read_run(folder / trial["trial"].get<std::string>() / "run.h5");
    if (trial["status"] == "running") {
      EXPECT_EQ(log.status, "interrupted") << trial.dump();
      EXPECT_LT(log.train.back().step, 3000) << trial.dump();
      ++interrupted;
    } else {
      EXPECT_EQ(trial["status"], "completed") << trial.dump();
    }
  }
  EXPECT_EQ(interrupted, 2u) << stopped.dump();

  const Outcome again = Program(args, dir.path(), one_thread, "again", -1, mpirun).wait();
  ASSERT_TRUE(again.exited && again.status == 0) << again.err;
  EXPECT_NE((again.out + again.err).find("resuming"), std::string::npos) << again.err;
  const nlohmann::json state = nlohmann::json::parse(read_file(folder / "search.json"));
  ASSERT_EQ(state["started"].size(), 4u);
  for (const auto& trial : state["started"]) {
    EXPECT_EQ(trial["status"], "completed") << trial.dump();
    const RunLog log = read_run(folder / trial["trial"].get<std::string>() / "run.h5");
    EXPECT_EQ(log.status, "completed");
    ASSERT_EQ(log.train.size(), 301u) << trial["trial"];  // steps 1, 10, 20, ... 3000, each once
    for (size_t i = 0; i < log.train.size(); ++i)
      EXPECT_EQ(log.train[i].step, i == 0 ? 1 : int64_t(10 * i)) << trial["trial"];
  }
  // The trials started before the cut kept their values.
  for (size_t t = 0; t < stopped["started"].size(); ++t)
    EXPECT_EQ(state["started"][t]["parameters"], stopped["started"][t]["parameters"]);
}

}  // namespace
}  // namespace nanolab::test
