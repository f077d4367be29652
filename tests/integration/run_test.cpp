// `nanolab run`, `resume` and `sample` end to end, on a tiny synthetic experiment that trains in
// about a second: what a run directory holds, determinism, exact resume after an interruption and
// after kill -9, the run lock, the exit codes of failures (configuration 2, data 3, numerics 6,
// run in use 75), each leaving nothing half-written, and the position encodings end to end. Then
// a checkpoint's identity (a checkpoint of another run or configuration is refused; files written
// before run ids still resume) and a resume of a run that never wrote a checkpoint (trained again
// from step 0).
#include <hdf5.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <fstream>

#include "nanolab/run_store.hpp"
#include "support/program.hpp"
#include "support/run_compare.hpp"
#include "support/temp_dir.hpp"

namespace nanolab::test {
namespace {

namespace fs = std::filesystem;

// A small GPT on synthetic:copy; `extra` is appended (later keys win within a table, so extra
// holds whole tables or `--set`s are used instead).
std::string tiny_experiment(int64_t max_iters = 60) {
  return "[experiment]\nname = \"tiny\"\nseed = 7\n"
         "[data]\ndataset = \"synthetic:copy\"\nblock_size = 16\nbatch_size = 8\n"
         "[model]\nn_layer = 2\nn_head = 2\nn_embd = 32\n"
         "[optimizer]\nlr = 3e-3\n"
         "[train]\nmax_iters = " + std::to_string(max_iters) +
         "\nwarmup_iters = 5\neval_interval = 20\neval_iters = 2\nlog_interval = 1\n"
         "checkpoint_interval = 20\nsample_tokens = 8\n";
}

struct Fixture {
  TempDir dir{"nanolab-run"};
  fs::path exp = dir.path() / "tiny.toml";
  fs::path out = dir.path() / "runs";
  explicit Fixture(const std::string& toml = tiny_experiment()) { std::ofstream(exp) << toml; }

  std::vector<std::string> run_args(const std::string& name,
                                    const std::vector<std::string>& sets = {}) const {
    std::vector<std::string> a = {"run", exp.string(), "--out", out.string(), "--name", name};
    for (const auto& s : sets) a.insert(a.end(), {"--set", s});
    return a;
  }
  fs::path run_dir(const std::string& name) const { return out / "tiny" / name; }
  Outcome run(const std::string& name, const std::vector<std::string>& sets = {}) const {
    return run_program(run_args(name, sets), dir.path(), plugin_env());
  }
  static std::map<std::string, std::string> plugin_env() {
    return {{"NANOLAB_PLUGIN_PATH", NANOLAB_TEST_INTEGRATION_PLUGIN_DIR}};
  }
};

TEST(Run, WritesACompleteRunDirectory) {
  Fixture f;
  const Outcome o = f.run("a");
  ASSERT_TRUE(o.exited && o.status == 0) << o.err;
  const RunLog log = read_run(f.run_dir("a") / "run.h5");
  EXPECT_EQ(log.status, "completed");
  EXPECT_EQ(log.experiment, "tiny");
  EXPECT_EQ(log.run, "a");
  ASSERT_EQ(log.train.size(), 60u);  // log_interval 1
  EXPECT_EQ(log.train.front().step, 1);
  EXPECT_EQ(log.train.back().step, 60);
  ASSERT_EQ(log.val.size(), 4u);  // steps 0, 20, 40, 60
  EXPECT_EQ(log.val.back().step, 60);
  EXPECT_LT(log.val.back().loss, log.val.front().loss);
  EXPECT_FALSE(std::isnan(log.val.back().accuracy));
  EXPECT_EQ(log.samples.size(), 4u);
  EXPECT_NE(log.config_toml.find("n_embd = 32"), std::string::npos);
  EXPECT_EQ(log.meta.at("seed"), "7");
  EXPECT_FALSE(log.meta.at("git_commit").empty());
  ASSERT_EQ(log.plugins.size(), 5u);  // attention, optimizer, loss, tokenizer, schedule
  for (const auto& p : log.plugins) EXPECT_EQ(p.sha256.size(), 64u) << p.kind;
  EXPECT_GT(log.summary.at("params"), 0);
  EXPECT_EQ(log.summary.at("tokens_seen"), 60 * 8 * 16);
  EXPECT_TRUE(fs::exists(f.run_dir("a") / "checkpoint.h5"));
  EXPECT_FALSE(fs::exists(f.run_dir("a") / "run.lock"));
}

TEST(Run, SameSeedGivesIdenticalMetrics) {
  Fixture f;
  ASSERT_EQ(f.run("a").status, 0);
  ASSERT_EQ(f.run("b").status, 0);
  expect_same_run(read_run(f.run_dir("a") / "run.h5"), read_run(f.run_dir("b") / "run.h5"));
  ASSERT_EQ(f.run("c", {"experiment.seed=8"}).status, 0);
  EXPECT_NE(read_run(f.run_dir("a") / "run.h5").train.back().loss,
            read_run(f.run_dir("c") / "run.h5").train.back().loss);
}

// Interrupts a longer run after its first checkpoint with `sig`, resumes it, and compares every
// metric with an uninterrupted run.
void resume_equals_uninterrupted(int sig) {
  Fixture f(tiny_experiment(400));
  ASSERT_EQ(f.run("whole").status, 0);
  {
    Program p(f.run_args("cut"), f.dir.path(), Fixture::plugin_env(), "cut");
    ASSERT_TRUE(wait_until([&] { return fs::exists(f.run_dir("cut") / "checkpoint.h5"); }));
    p.signal(sig);
    const Outcome o = p.wait();
    if (sig == SIGKILL) {
      EXPECT_FALSE(o.exited);
    } else {
      EXPECT_TRUE(o.exited) << o.err;
      EXPECT_EQ(o.status, 130) << o.err;
    }
  }
  const RunLog cut = read_run(f.run_dir("cut") / "run.h5");  // opens without repair
  EXPECT_EQ(cut.status, sig == SIGKILL ? "running" : "interrupted");
  ASSERT_LT(cut.train.size(), 400u) << "the run ended before it was interrupted";
  const RunLog whole = read_run(f.run_dir("whole") / "run.h5");
  for (size_t i = 0; i < cut.train.size(); ++i)  // every flushed row equals the uninterrupted one
    EXPECT_EQ(cut.train[i].loss, whole.train[i].loss) << "step " << cut.train[i].step;

  const Outcome r = run_program({"resume", f.run_dir("cut").string()}, f.dir.path(),
                                Fixture::plugin_env());
  ASSERT_TRUE(r.exited && r.status == 0) << r.err;
  const RunLog resumed = read_run(f.run_dir("cut") / "run.h5");
  EXPECT_EQ(resumed.status, "completed");
  expect_same_run(resumed, whole);
  expect_wall_time_continues(resumed);
}

// `resume --set train.max_iters=N` extends a finished run: steps N1+1..N trained and recorded,
// run.h5's configuration and /meta saying how; with a constant lr it is the run of N steps, bit
// for bit. Any other key, and a length that is not past the checkpoint, are refused (exit 2)
// without changing the run.
TEST(Resume, SetMaxItersExtendsAFinishedRunAndRefusesOtherKeys) {
  Fixture f;
  const std::string constant = "train.lr_schedule=\"constant\"";
  ASSERT_EQ(f.run("short", {constant, "train.max_iters=6"}).status, 0);
  ASSERT_EQ(f.run("long", {constant, "train.max_iters=10"}).status, 0);
  auto resume = [&](const std::string& set) {
    return run_program({"resume", f.run_dir("short").string(), "--set", set, "--quiet"},
                       f.dir.path(), Fixture::plugin_env());
  };
  const fs::path before = f.dir.path() / "checkpoint-of-6.h5";
  fs::copy_file(f.run_dir("short") / "checkpoint.h5", before);
  const Outcome o = resume("train.max_iters=10");
  ASSERT_EQ(o.status, 0) << o.err;
  const RunLog extended = read_run(f.run_dir("short") / "run.h5");
  const RunLog whole = read_run(f.run_dir("long") / "run.h5");
  EXPECT_EQ(extended.status, "completed");
  ASSERT_EQ(extended.train.size(), 10u);
  for (size_t i = 0; i < 10; ++i) {
    EXPECT_EQ(extended.train[i].step, int64_t(i + 1));
    EXPECT_EQ(extended.train[i].loss, whole.train[i].loss) << "step " << i + 1;
    EXPECT_EQ(extended.train[i].lr, whole.train[i].lr) << "step " << i + 1;
  }
  // The evaluations of the longer run, and the one the shorter run made at its end.
  auto val_steps = [](const RunLog& log) {
    std::vector<int64_t> steps;
    for (const ValRow& v : log.val) steps.push_back(v.step);
    return steps;
  };
  EXPECT_EQ(val_steps(whole), (std::vector<int64_t>{0, 10}));
  EXPECT_EQ(val_steps(extended), (std::vector<int64_t>{0, 6, 10}));
  EXPECT_EQ(extended.val.back().loss, whole.val.back().loss);
  EXPECT_EQ(extended.config_toml, whole.config_toml);
  EXPECT_EQ(extended.meta.at("extensions"),
            "step 6: train.max_iters 6 -> 10 (nanolab resume " + f.run_dir("short").string() +
                " --set train.max_iters=10 --quiet)\n");
  EXPECT_EQ(read_checkpoint(f.run_dir("short")).step, 10);

  // Stopped (kill -9) after run.h5 took the new length and before the next checkpoint: the
  // checkpoint of the old length is still the run's own, and a plain resume goes on to 10 steps.
  fs::copy_file(before, f.run_dir("short") / "checkpoint.h5", fs::copy_options::overwrite_existing);
  const Outcome again = run_program({"resume", f.run_dir("short").string(), "--quiet"},
                                    f.dir.path(), Fixture::plugin_env());
  ASSERT_EQ(again.status, 0) << again.err;
  expect_same_run(read_run(f.run_dir("short") / "run.h5"), extended);

  for (const char* refused : {"model.n_layer=3", "train.max_iters=8", "train.max_iters=x"}) {
    const Outcome r = resume(refused);
    EXPECT_TRUE(r.exited && r.status == 2) << refused << ": " << r.err;
    EXPECT_EQ(read_run(f.run_dir("short") / "run.h5").train.size(), 10u) << refused;
  }
  EXPECT_NE(resume("model.n_layer=3").err.find(
                "--set model.n_layer: resume changes train.max_iters only"),
            std::string::npos);
  EXPECT_NE(resume("train.max_iters=8").err.find(
                "the run's checkpoint is at step 10; the run can only be extended past it"),
            std::string::npos);
}

TEST(Run, ResumeAfterSigtermEqualsUninterrupted) { resume_equals_uninterrupted(SIGTERM); }
TEST(Run, ResumeAfterKill9EqualsUninterrupted) { resume_equals_uninterrupted(SIGKILL); }

// A signal inside an evaluation (the first, at step 0, held there by the pause_on_cue attention
// while a file exists): the run stops within 2 s with exit 130, writes nothing of that evaluation,
// and its checkpoint carries the evaluation as pending, so `resume` runs it first and ends equal
// to an uninterrupted run.
TEST(Run, ASignalInsideAnEvaluationStopsWithinTwoSecondsAndResumeRunsItFirst) {
  Fixture f(tiny_experiment(400) + "[model.attention]\nplugin = \"pause_on_cue\"\n");
  const fs::path pause = f.dir.path() / "pause";
  const std::string pause_file = "model.attention.pause_file=\"" + pause.string() + "\"";
  ASSERT_EQ(f.run("whole", {pause_file}).status, 0);
  std::ofstream(pause) << "1";
  Program p(f.run_args("cut", {pause_file}), f.dir.path(), Fixture::plugin_env(), "cut");
  ASSERT_TRUE(wait_until([&] { return fs::exists(pause.string() + ".reached"); }));
  const auto signalled = std::chrono::steady_clock::now();
  p.signal(SIGINT);
  const Outcome o = p.wait();
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
  EXPECT_LT(took, 2.0);
  ASSERT_TRUE(o.exited) << o.err;
  EXPECT_EQ(o.status, 130) << o.err;
  EXPECT_NE(o.err.find("the evaluation of step"), std::string::npos) << o.err;
  const Checkpoint ck = read_checkpoint(f.run_dir("cut"));
  EXPECT_EQ(ck.step, 0);
  EXPECT_EQ(ck.counters.at("pending_evaluation"), 1);
  const RunLog cut = read_run(f.run_dir("cut") / "run.h5");
  EXPECT_EQ(cut.status, "interrupted");
  EXPECT_TRUE(cut.val.empty()) << "the interrupted evaluation left a row";
  EXPECT_TRUE(cut.samples.empty());
  EXPECT_TRUE(cut.train.empty());

  fs::remove(pause);
  const Outcome r = run_program({"resume", f.run_dir("cut").string()}, f.dir.path(),
                                Fixture::plugin_env());
  ASSERT_TRUE(r.exited && r.status == 0) << r.err;
  const RunLog resumed = read_run(f.run_dir("cut") / "run.h5");
  expect_same_run(resumed, read_run(f.run_dir("whole") / "run.h5"));
  expect_wall_time_continues(resumed);
  EXPECT_EQ(read_checkpoint(f.run_dir("cut")).counters.at("pending_evaluation"), 0);
}

// A signal inside a step that takes longer than 2 s (the first; each of its 4 blocks' attention
// held 1 s by pause_on_cue): the forward pass is cut at the next block (an interruption point),
// the step is dropped, the run stops within 2 s with exit 130 and a checkpoint of the state before
// it, and `resume` ends equal to an uninterrupted run. Without the cut the step would go on for
// 3 s more.
TEST(Run, ASignalInsideALongStepStopsWithinTwoSecondsAndResumeEqualsTheUninterruptedRun) {
  Fixture f(tiny_experiment(400) + "[model.attention]\nplugin = \"pause_on_cue\"\n"
                                   "pause_in = \"training\"\npause_ms = 1000\n");
  const fs::path pause = f.dir.path() / "pause";
  const std::vector<std::string> sets = {"model.n_layer=4",
                                         "model.attention.pause_file=\"" + pause.string() + "\""};
  ASSERT_EQ(f.run("whole", sets).status, 0);
  std::ofstream(pause) << "1";
  Program p(f.run_args("cut", sets), f.dir.path(), Fixture::plugin_env(), "cut");
  ASSERT_TRUE(wait_until([&] { return fs::exists(pause.string() + ".reached"); }));
  const auto signalled = std::chrono::steady_clock::now();
  p.signal(SIGTERM);
  const Outcome o = p.wait();
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
  EXPECT_LT(took, 2.0);
  ASSERT_TRUE(o.exited) << o.err;
  EXPECT_EQ(o.status, 130) << o.err;
  EXPECT_NE(o.err.find("was not finished"), std::string::npos) << o.err;
  EXPECT_EQ(read_checkpoint(f.run_dir("cut")).step, 0);
  const RunLog cut = read_run(f.run_dir("cut") / "run.h5");
  EXPECT_EQ(cut.status, "interrupted");
  EXPECT_TRUE(cut.train.empty()) << "the dropped step left a row";
  ASSERT_EQ(cut.val.size(), 1u);  // the evaluation of step 0, before the step

  fs::remove(pause);
  const Outcome r = run_program({"resume", f.run_dir("cut").string()}, f.dir.path(),
                                Fixture::plugin_env());
  ASSERT_TRUE(r.exited && r.status == 0) << r.err;
  const RunLog resumed = read_run(f.run_dir("cut") / "run.h5");
  expect_same_run(resumed, read_run(f.run_dir("whole") / "run.h5"));
  expect_wall_time_continues(resumed);
}

TEST(Run, SecondProcessOnTheSameRunExits75AndChangesNothing) {
  Fixture f(tiny_experiment(400));
  Program first(f.run_args("a"), f.dir.path(), Fixture::plugin_env(), "first");
  ASSERT_TRUE(wait_until([&] { return fs::exists(f.run_dir("a") / "run.h5"); }));
  const Outcome second = f.run("a");
  EXPECT_TRUE(second.exited);
  EXPECT_EQ(second.status, 75) << second.err;
  EXPECT_NE(second.err.find(f.run_dir("a").string()), std::string::npos) << second.err;
  const Outcome o = first.wait();
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_EQ(read_run(f.run_dir("a") / "run.h5").train.size(), 400u);
}

TEST(Run, NonFiniteLossExits6WithTheStepAndMarksTheRunFailed) {
  Fixture f;
  const Outcome o = f.run("nan", {"loss.plugin=nan_after", "loss.calls=25"});
  EXPECT_TRUE(o.exited);
  EXPECT_EQ(o.status, 6) << o.err;
  const size_t at = o.err.find("step 26");
  EXPECT_NE(at, std::string::npos) << o.err;
  EXPECT_EQ(o.err.find("step 26", at + 1), std::string::npos) << "one message, not two\n" << o.err;
  const RunLog log = read_run(f.run_dir("nan") / "run.h5");
  EXPECT_EQ(log.status, "failed");
  EXPECT_EQ(log.train.back().step, 25);
  // The checkpoint is the one of step 20: none is written after the failure.
  EXPECT_EQ(read_checkpoint(f.run_dir("nan")).step, 20);
}

TEST(Run, SkipModeSkipsNonFiniteStepsAndStopsAfterTheLimit) {
  Fixture f;
  const Outcome o = f.run("skip", {"loss.plugin=nan_after", "loss.calls=25",
                                   "train.on_nonfinite=\"skip\"", "train.max_nonfinite_skips=3"});
  EXPECT_EQ(o.status, 6) << o.err;
  for (const char* skipped : {"step 26:", "step 27:", "step 28:"})
    EXPECT_NE(o.err.find(std::string(skipped) + " the loss is nan; the update is skipped"),
              std::string::npos) << o.err;
  EXPECT_NE(o.err.find("step 29: the loss is nan for 4 steps in a row"), std::string::npos) << o.err;
  EXPECT_EQ(read_run(f.run_dir("skip") / "run.h5").status, "failed");
}

// `nanolab run` and `check` without --out, in the fixture's folder: runs go to runs/ there.
Outcome in_folder(const Fixture& f, const std::vector<std::string>& args, const std::string& tag) {
  return Program(args, f.dir.path(), Fixture::plugin_env(), tag, -1,
                 {"/bin/sh", "-c", "cd '" + f.dir.path().string() + "' && exec \"$0\" \"$@\""})
      .wait();
}

// A sweep run with one of its keys set from the command line is named after that value too: the
// same sweep with another --set value makes runs of its own instead of dying on the first one's
// folder, and `check` sees a run that `run` would refuse.
TEST(Run, SweepRunsOfAnotherSetValueDoNotCollideAndCheckSeesACollision) {
  Fixture f(tiny_experiment(6) + "[sweep]\n\"optimizer.lr\" = [1e-3, 3e-3]\nseeds = [1]\n");
  const auto runs = f.dir.path() / "runs" / "tiny";
  auto with_lr = [&](const std::string& command, const std::string& lr) {
    std::vector<std::string> args = {command, f.exp.string(), "--set", "optimizer.lr=" + lr};
    if (command == "run") args.push_back("--quiet");
    return in_folder(f, args, command + lr);
  };
  const Outcome first = with_lr("run", "1e-3");
  ASSERT_EQ(first.status, 0) << first.err;
  EXPECT_TRUE(fs::exists(runs / "lr=0.001,seed=1" / "run.h5"));
  const Outcome check = with_lr("check", "2e-3");
  EXPECT_EQ(check.status, 0) << check.err;
  EXPECT_NE(check.out.find("lr=0.002,seed=1"), std::string::npos) << check.out;
  const Outcome second = with_lr("run", "2e-3");
  ASSERT_EQ(second.status, 0) << second.err;
  EXPECT_EQ(read_run(runs / "lr=0.002,seed=1" / "run.h5").status, "completed");
  EXPECT_EQ(read_run(runs / "lr=0.001,seed=1" / "run.h5").status, "completed");

  // The same configuration again: check says what run would.
  const Outcome again = with_lr("check", "1e-3");
  EXPECT_EQ(again.status, 2) << again.err;
  EXPECT_NE(again.err.find((fs::path("runs") / "tiny" / "lr=0.001,seed=1" / "run.h5").string() +
                           ": the run directory already holds a run"),
            std::string::npos)
      << again.err;
  const Outcome refused = with_lr("run", "1e-3");
  EXPECT_EQ(refused.status, 2) << refused.err;
  EXPECT_NE(refused.err.find("already holds a run"), std::string::npos) << refused.err;
}

TEST(Run, ConfigurationErrorExits2AndCreatesNothing) {
  Fixture f;
  const Outcome o = f.run("bad", {"model.n_embd=33"});
  EXPECT_TRUE(o.exited);
  EXPECT_EQ(o.status, 2) << o.err;
  EXPECT_NE(o.err.find("n_embd"), std::string::npos) << o.err;
  EXPECT_FALSE(fs::exists(f.out));
}

TEST(Run, MissingDatasetFileExits3AndCreatesNothing) {
  Fixture f;
  auto env = Fixture::plugin_env();
  env["NANOLAB_DATA"] = (f.dir.path() / "no-data-here").string();
  env["XDG_CACHE_HOME"] = (f.dir.path() / "cache").string();
  const Outcome o = run_program(f.run_args("a", {"data.dataset=\"tinyshakespeare\""}),
                                f.dir.path(), env);
  EXPECT_TRUE(o.exited);
  EXPECT_EQ(o.status, 3) << o.err;
  EXPECT_NE(o.err.find("input.txt"), std::string::npos) << o.err;
  EXPECT_FALSE(fs::exists(f.run_dir("a")));
}

TEST(Run, ResumeFromATruncatedCheckpointExits7NamingTheFile) {
  Fixture f;
  ASSERT_EQ(f.run("a").status, 0);
  const fs::path ck = f.run_dir("a") / "checkpoint.h5";
  fs::resize_file(ck, fs::file_size(ck) / 2);
  const Outcome o = run_program({"resume", f.run_dir("a").string()}, f.dir.path(),
                                Fixture::plugin_env());
  EXPECT_TRUE(o.exited);
  EXPECT_EQ(o.status, 7) << o.err;
  EXPECT_NE(o.err.find(ck.string()), std::string::npos) << o.err;
  EXPECT_EQ(read_run(f.run_dir("a") / "run.h5").status, "completed");  // the log is untouched
}

TEST(Run, EveryPositionEncodingTrainsAndSamples) {
  Fixture f;
  ASSERT_EQ(f.run("learned").status, 0);
  const RunLog learned = read_run(f.run_dir("learned") / "run.h5");
  for (const std::string position : {"rope", "alibi", "none"}) {
    SCOPED_TRACE(position);
    for (const std::string attention : {"causal_mha", "flash"}) {
      const std::string name = position + "_" + attention;
      const Outcome o = f.run(name, {"model.position=\"" + position + "\"",
                                     "model.attention.plugin=\"" + attention + "\""});
      ASSERT_TRUE(o.exited && o.status == 0) << o.err;
      const RunLog log = read_run(f.run_dir(name) / "run.h5");
      EXPECT_NE(log.config_toml.find("position = \"" + position + "\""), std::string::npos);
      // Only the learned encoding has a table: wpe (block_size 16, n_embd 32).
      EXPECT_EQ(log.summary.at("params"), learned.summary.at("params") - 16 * 32);
      EXPECT_LT(log.val.back().loss, log.val.front().loss);
      // Sampling goes through the KV cache, where rope and alibi need the absolute positions.
      const Outcome sample = run_program({"sample", f.run_dir(name).string(), "--tokens", "20"},
                                         f.dir.path(), Fixture::plugin_env());
      EXPECT_EQ(sample.status, 0) << sample.err;
    }
  }
}

TEST(Sample, GeneratesTheRequestedNumberOfTokensReproducibly) {
  Fixture f;
  ASSERT_EQ(f.run("a").status, 0);
  const std::vector<std::string> args = {"sample", f.run_dir("a").string(), "--tokens", "12",
                                         "--seed", "3", "--top-k", "4"};
  const Outcome one = run_program(args, f.dir.path(), Fixture::plugin_env());
  const Outcome two = run_program(args, f.dir.path(), Fixture::plugin_env());
  ASSERT_EQ(one.status, 0) << one.err;
  EXPECT_FALSE(one.out.empty());
  EXPECT_EQ(one.out, two.out);
  const Outcome bad = run_program({"sample", f.run_dir("a").string(), "--temperature", "0"},
                                  f.dir.path(), Fixture::plugin_env());
  EXPECT_EQ(bad.status, 2) << bad.err;
  const Outcome prompt = run_program({"sample", f.run_dir("a").string(), "--prompt", "12"},
                                     f.dir.path(), Fixture::plugin_env());
  EXPECT_EQ(prompt.status, 2) << prompt.err;
  EXPECT_NE(prompt.err.find("synthetic:copy"), std::string::npos) << prompt.err;
  // A question as the task writes it (7 digits and '>' at block_size 16): the sample is the
  // question, then the answer in the task's characters, one a token, ending at the end of the
  // answer ('.') when the model draws it, else after --tokens.
  const Outcome question =
      run_program({"sample", f.run_dir("a").string(), "--prompt", "1234567>", "--tokens", "40"},
                  f.dir.path(), Fixture::plugin_env());
  ASSERT_EQ(question.status, 0) << question.err;
  ASSERT_EQ(question.out.rfind("1234567>", 0), 0u) << question.out;
  const std::string answer = question.out.substr(8, question.out.size() - 9);  // no '\n'
  EXPECT_EQ(answer.find_first_not_of("0123456789+=>._"), std::string::npos) << answer;
  const size_t end = answer.find('.');
  EXPECT_TRUE(end == std::string::npos ? answer.size() == 40 : end + 1 == answer.size()) << answer;
}

// ---- A checkpoint belongs to its run ----------------------------------------------------------

Outcome resume_program(const Fixture& f, const std::string& name) {
  return run_program({"resume", f.run_dir(name).string()}, f.dir.path(), Fixture::plugin_env());
}

TEST(Resume, ACheckpointOfAnotherRunExits7NamingBothAndChangesNothing) {
  Fixture f;
  ASSERT_EQ(f.run("a").status, 0);
  ASSERT_EQ(f.run("b").status, 0);  // the same configuration: only the run ids tell them apart
  ASSERT_EQ(f.run("c", {"model.n_layer=1"}).status, 0);
  const fs::path run_h5 = f.run_dir("a") / "run.h5", ck = f.run_dir("a") / "checkpoint.h5";
  const RunLog a = read_run(run_h5);
  const std::string before = read_file(run_h5);
  ASSERT_EQ(a.run_id.size(), 32u);

  fs::copy_file(f.run_dir("b") / "checkpoint.h5", ck, fs::copy_options::overwrite_existing);
  const std::string b_id = read_checkpoint(f.run_dir("b")).run_id;
  ASSERT_EQ(b_id, read_run(f.run_dir("b") / "run.h5").run_id);
  ASSERT_NE(b_id, a.run_id);
  Outcome o = resume_program(f, "a");
  EXPECT_TRUE(o.exited);
  EXPECT_EQ(o.status, 7) << o.err;
  for (const std::string& s : {ck.string(), run_h5.string(), a.run_id, b_id})
    EXPECT_NE(o.err.find(s), std::string::npos) << s << "\n" << o.err;
  EXPECT_NE(o.err.find("belongs to another run:"), std::string::npos) << o.err;
  EXPECT_TRUE(read_file(run_h5) == before) << "a refused resume changed the run file";
  EXPECT_FALSE(fs::exists(f.run_dir("a") / "run.lock"));

  fs::copy_file(f.run_dir("c") / "checkpoint.h5", ck, fs::copy_options::overwrite_existing);
  const RunLog c = read_run(f.run_dir("c") / "run.h5");
  o = resume_program(f, "a");
  EXPECT_EQ(o.status, 7) << o.err;
  EXPECT_NE(o.err.find("belongs to another run and another configuration"), std::string::npos)
      << o.err;
  for (const std::string& s : {c.run_id, config_sha256(c.config_toml), a.run_id,
                               config_sha256(a.config_toml)})
    EXPECT_NE(o.err.find(s), std::string::npos) << s << "\n" << o.err;
  EXPECT_NE(config_sha256(c.config_toml), config_sha256(a.config_toml));
  EXPECT_TRUE(read_file(run_h5) == before) << "a refused resume changed the run file";
  EXPECT_EQ(read_run(run_h5).status, "completed");
}

// Deletes the root attributes `names` of an HDF5 file that has them.
void delete_root_attrs(const fs::path& file, const std::vector<std::string>& names) {
  const hid_t h = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(h, 0) << file;
  for (const auto& name : names) EXPECT_GE(H5Adelete(h, name.c_str()), 0) << name;
  H5Fclose(h);
}

TEST(Resume, ARunAndCheckpointWithoutRunIdsResumeWithANoteAndEqualTheUninterruptedRun) {
  Fixture f(tiny_experiment(400));
  ASSERT_EQ(f.run("whole").status, 0);
  {
    Program p(f.run_args("cut"), f.dir.path(), Fixture::plugin_env(), "cut");
    ASSERT_TRUE(wait_until([&] { return fs::exists(f.run_dir("cut") / "checkpoint.h5"); }));
    p.signal(SIGTERM);
    ASSERT_EQ(p.wait().status, 130);
  }
  // What a nanolab from before run ids left: no run_id, no config_sha256, in either file (a
  // checkpoint without a run_id has the sha256 such a nanolab gave it).
  const fs::path dir = f.run_dir("cut");
  delete_root_attrs(dir / "run.h5", {"run_id", "config_sha256"});
  Checkpoint ck = read_checkpoint(dir);
  ASSERT_EQ(ck.run_id.size(), 32u);
  ck.run_id.clear();
  write_checkpoint(dir, ck);
  delete_root_attrs(dir / "checkpoint.h5", {"config_sha256"});

  const Outcome r = resume_program(f, "cut");
  ASSERT_TRUE(r.exited && r.status == 0) << r.err;
  EXPECT_NE(r.err.find("written before run ids"), std::string::npos) << r.err;
  const RunLog resumed = read_run(dir / "run.h5");
  EXPECT_EQ(resumed.status, "completed");
  EXPECT_EQ(resumed.run_id, "");  // a run keeps the identity it was created with: none
  EXPECT_EQ(read_checkpoint(dir).run_id, "");
  expect_same_run(resumed, read_run(f.run_dir("whole") / "run.h5"));
}

// tests/fixtures/legacy_run: run.h5 and checkpoint.h5 of a run completed by the nanolab of just
// before run ids (`nanolab run legacy.toml --name run`, 1 layer of n_embd 8 on synthetic:copy,
// max_iters 4).
TEST(Resume, ARunWrittenBeforeRunIdsStillResumes) {
  Fixture f;
  const fs::path dir = f.out / "legacy" / "run";
  fs::create_directories(dir);
  for (const char* file : {"run.h5", "checkpoint.h5"})
    fs::copy_file(fs::path(NANOLAB_TEST_SOURCE_DIR) / "tests/fixtures/legacy_run" / file,
                  dir / file);
  const Checkpoint ck = read_checkpoint(dir);  // its sha256 holds without a run_id
  EXPECT_EQ(ck.run_id, "");
  EXPECT_EQ(ck.step, 4);
  EXPECT_EQ(read_run(dir / "run.h5").run_id, "");
  const Outcome o =
      run_program({"resume", dir.string()}, f.dir.path(), Fixture::plugin_env());
  ASSERT_TRUE(o.exited && o.status == 0) << o.err;
  EXPECT_NE(o.err.find("written before run ids"), std::string::npos) << o.err;
  const RunLog log = read_run(dir / "run.h5");
  EXPECT_EQ(log.status, "completed");
  ASSERT_EQ(log.train.size(), 4u);
  EXPECT_EQ(log.train.back().step, 4);
}

// ---- No dead end before the first checkpoint --------------------------------------------------

// The run log of a live run once it holds at least one train row (false while it cannot be read).
bool has_rows(const fs::path& run_h5) {
  try {
    return !read_run(run_h5).train.empty();
  } catch (const StorageError&) {
    return false;
  }
}

// The keys of a run that checkpoints only at its end (step 400) and cannot finish while `pause`
// exists: each block's attention (pause_on_cue) sleeps 20 ms in every training forward, so 400
// steps take at least 16 s, and a test acts on the run before its first checkpoint whatever the
// machine's load, then removes the file. Without the file the run is the tiny one as it is.
std::vector<std::string> held_while(const fs::path& pause) {
  return {"train.checkpoint_interval=1000", "model.attention.plugin=pause_on_cue",
          "model.attention.pause_in=training", "model.attention.pause_ms=20",
          "model.attention.pause_file=\"" + pause.string() + "\""};
}

TEST(Resume, AfterKill9BeforeTheFirstCheckpointStartsAgainAndEqualsTheUninterruptedRun) {
  Fixture f(tiny_experiment(400));
  const fs::path pause = f.dir.path() / "pause";
  ASSERT_EQ(f.run("whole", held_while(pause)).status, 0);
  const fs::path dir = f.run_dir("cut");
  {
    std::ofstream(pause) << "1";
    Program p(f.run_args("cut", held_while(pause)), f.dir.path(), Fixture::plugin_env(), "cut");
    ASSERT_TRUE(wait_until([&] { return has_rows(dir / "run.h5"); }));
    p.signal(SIGKILL);
    EXPECT_FALSE(p.wait().exited);
    fs::remove(pause);
  }
  const RunLog cut = read_run(dir / "run.h5");
  ASSERT_FALSE(fs::exists(dir / "checkpoint.h5")) << "the run checkpointed before it was killed";
  ASSERT_FALSE(cut.train.empty());
  ASSERT_LT(cut.train.size(), 400u);
  EXPECT_EQ(cut.status, "running");

  const Outcome r = resume_program(f, "cut");
  ASSERT_TRUE(r.exited && r.status == 0) << r.err;
  EXPECT_NE(r.err.find("training the run again from step 0"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("are replaced"), std::string::npos) << r.err;
  const RunLog resumed = read_run(dir / "run.h5");
  EXPECT_EQ(resumed.status, "completed");
  EXPECT_EQ(resumed.run_id, cut.run_id);
  EXPECT_EQ(resumed.created, cut.created);
  const RunLog whole = read_run(f.run_dir("whole") / "run.h5");
  ASSERT_EQ(resumed.train.size(), 400u);
  EXPECT_EQ(resumed.train.front().step, 1);
  expect_same_run(resumed, whole);
  const Checkpoint ck = read_checkpoint(dir);
  EXPECT_EQ(ck.step, 400);
  EXPECT_EQ(ck.run_id, cut.run_id);
}

TEST(Resume, OfALiveRunBeforeItsFirstCheckpointExits75AndChangesNothing) {
  Fixture f(tiny_experiment(400));
  const fs::path dir = f.run_dir("a"), pause = f.dir.path() / "pause";
  std::ofstream(pause) << "1";
  Program first(f.run_args("a", held_while(pause)), f.dir.path(), Fixture::plugin_env(), "a");
  ASSERT_TRUE(wait_until([&] { return has_rows(dir / "run.h5"); }));
  const Outcome second = resume_program(f, "a");
  EXPECT_TRUE(second.exited);
  EXPECT_EQ(second.status, 75) << second.err;
  EXPECT_NE(second.err.find(dir.string()), std::string::npos) << second.err;
  fs::remove(pause);
  const Outcome o = first.wait();
  ASSERT_EQ(o.status, 0) << o.err;
  const RunLog log = read_run(dir / "run.h5");
  EXPECT_EQ(log.status, "completed");
  ASSERT_EQ(log.train.size(), 400u);
  EXPECT_EQ(log.train.front().step, 1);
  EXPECT_EQ(log.val.front().step, 0);
}

TEST(Resume, ADamagedRunWithoutACheckpointExits5NamingItAndChangesNothing) {
  Fixture f;
  ASSERT_EQ(f.run("a").status, 0);
  const fs::path dir = f.run_dir("a"), run_h5 = dir / "run.h5";
  fs::remove(dir / "checkpoint.h5");
  fs::resize_file(run_h5, fs::file_size(run_h5) / 2);
  const std::string damaged = read_file(run_h5);
  const Outcome o = resume_program(f, "a");
  EXPECT_TRUE(o.exited);
  EXPECT_EQ(o.status, 5) << o.err;
  EXPECT_NE(o.err.find(run_h5.string()), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("hint: without a checkpoint.h5"), std::string::npos) << o.err;
  EXPECT_TRUE(read_file(run_h5) == damaged) << "the damaged run file was changed";
  EXPECT_FALSE(fs::exists(dir / "checkpoint.h5"));
  EXPECT_FALSE(fs::exists(dir / "run.lock"));

  // A folder that holds neither file is not a run.
  const Outcome none = run_program({"resume", f.dir.path().string()}, f.dir.path(),
                                   Fixture::plugin_env());
  EXPECT_EQ(none.status, 7) << none.err;
  EXPECT_NE(none.err.find("not a run directory"), std::string::npos) << none.err;
}

}  // namespace
}  // namespace nanolab::test
