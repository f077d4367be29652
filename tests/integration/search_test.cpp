// `nanolab run` of a search end to end, on a tiny ASHA search of synthetic:add that takes a few
// seconds: what search.json and the trials' run directories hold (pruned runs stop at their rung
// with a checkpoint, promoted ones continue from it: no step is trained twice; a finished search
// run again trains nothing, another search in its folder is refused), and kill -9 of the search,
// then `nanolab run` again, ending with the decisions and results of the search that was never
// stopped; a search of too few trials for its rungs still trains its best trial to max_iters, and
// `nanolab resume` of its folder continues it; a trial whose training fails does not stop the
// search. With --jobs 2: the trials and results of --jobs 1, never more than two jobs at once;
// SIGTERM and kill -9 of the search stop its workers, and `nanolab run` again completes every
// trial with no step trained twice.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/types.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <nlohmann/json.hpp>

#include "nanolab/run_store.hpp"
#include "support/program.hpp"
#include "support/temp_dir.hpp"

namespace nanolab::test {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

const std::string tiny_search = R"([experiment]
name = "s"
seed = 3
[data]
dataset = "synthetic:add"
block_size = 9
batch_size = 8
[model]
n_layer = 1
n_head = 2
n_embd = 16
[train]
max_iters = 27
warmup_iters = 2
min_lr = 1e-5
eval_interval = 1000
eval_iters = 2
log_interval = 1
checkpoint_interval = 1000
sample_tokens = 0
[search]
method = "asha"
trials = 9
min_iters = 3
reduction_factor = 3
[search.space]
"optimizer.lr" = { log_uniform = [1e-3, 3e-2] }
)";

struct SearchFixture {
  TempDir dir{"nanolab-search"};
  fs::path exp = dir.path() / "search.toml";
  SearchFixture() { std::ofstream(exp) << tiny_search; }
  std::vector<std::string> args(const std::string& out, const std::string& jobs = "") const {
    std::vector<std::string> a = {"run", exp.string(), "--out", (dir.path() / out).string()};
    if (!jobs.empty()) a.insert(a.end(), {"--jobs", jobs});
    return a;
  }
  fs::path folder(const std::string& out) const { return dir.path() / out / "s"; }
  Json state(const std::string& out) const {
    return Json::parse(read_file(folder(out) / "search.json"));
  }
};

TEST(Search, AshaPrunesAtRungsAndContinuesPromotedTrialsFromTheirCheckpoints) {
  SearchFixture f;
  const Outcome o = run_program(f.args("whole"), f.dir.path());
  ASSERT_TRUE(o.exited && o.status == 0) << o.err;
  EXPECT_NE(o.err.find("search s: 9/9 trials:"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("steps of a full grid's 243"), std::string::npos) << o.err;
  const Json state = f.state("whole");
  EXPECT_EQ(state["rungs"], Json({3, 9, 27}));
  ASSERT_EQ(state["started"].size(), 9u);
  size_t pruned = 0, completed = 0;
  for (const Json& trial : state["started"]) {
    const std::string name = trial["trial"];
    const size_t rung = trial["rung"];
    const int64_t step = trial["step"];
    const RunLog log = read_run(f.folder("whole") / name / "run.h5");
    ASSERT_EQ(trial["results"].size(), rung + 1) << name;
    if (trial["status"] == "pruned") {
      ++pruned;
      EXPECT_EQ(log.status, "pruned") << name;
      EXPECT_EQ(log.summary.at("pruned_at_step"), double(step)) << name;
    } else {
      ASSERT_EQ(trial["status"], "completed") << name;
      ++completed;
      EXPECT_EQ(log.status, "completed") << name;
      EXPECT_EQ(step, 27);
    }
    // Every step once, up to the rung: promoted runs went on from their checkpoints.
    ASSERT_EQ(log.train.size(), size_t(step)) << name;
    for (size_t i = 0; i < log.train.size(); ++i) EXPECT_EQ(log.train[i].step, int64_t(i) + 1);
    // An evaluation at each rung reached, whose val loss is the trial's result there.
    for (size_t k = 0; k <= rung; ++k) {
      const int64_t at = state["rungs"][k];
      const auto row = std::find_if(log.val.begin(), log.val.end(),
                                    [&](const ValRow& r) { return r.step == at; });
      ASSERT_NE(row, log.val.end()) << name << " step " << at;
      EXPECT_FLOAT_EQ(row->loss, float(trial["results"][k].get<double>())) << name;
    }
  }
  // Of the 9 results of a rung, the 2 that were never in its top third stay there at least.
  EXPECT_GE(completed, 1u);
  EXPECT_GE(pruned, 4u);
  // A promotion is decided only from a rung's results: trial-1 waits for two more at step 3.
  EXPECT_EQ(state["decisions"][0], "start trial-1");
  EXPECT_EQ(state["decisions"][2], "start trial-2");

  // Run again: nothing is left to train. Another search in the folder is refused.
  const Outcome again = Program(f.args("whole"), f.dir.path(), {}, "again").wait();
  ASSERT_TRUE(again.exited && again.status == 0) << again.err;
  EXPECT_EQ(again.err.find("resuming"), std::string::npos) << again.err;
  EXPECT_EQ(f.state("whole"), state);
  std::vector<std::string> other = f.args("whole");
  other.insert(other.end(), {"--set", "train.warmup_iters=3"});
  const Outcome refused = Program(other, f.dir.path(), {}, "other").wait();
  EXPECT_TRUE(refused.exited && refused.status == 2) << refused.err;
  EXPECT_NE(refused.err.find("the folder holds another search"), std::string::npos) << refused.err;
  EXPECT_EQ(f.state("whole"), state);
}

TEST(Search, Kill9ThenRunAgainContinuesToTheDecisionsOfTheSearchThatNeverStopped) {
  SearchFixture f;
  const Outcome whole = run_program(f.args("whole"), f.dir.path());
  ASSERT_TRUE(whole.exited && whole.status == 0) << whole.err;
  {
    Program p(f.args("cut"), f.dir.path(), {}, "cut");
    // After its fifth decision the search trains trial-3 (start 1, result 1, start 2...).
    ASSERT_TRUE(wait_until([&] {
      try {
        return fs::exists(f.folder("cut") / "search.json") && f.state("cut")["decisions"].size() >= 5;
      } catch (const Json::exception&) {
        return false;  // search.json is written whole; never seen half
      }
    }));
    p.signal(SIGKILL);
    const Outcome o = p.wait();
    ASSERT_FALSE(o.exited) << "the search ended before it was killed";
  }
  ASSERT_LT(f.state("cut")["decisions"].size(), f.state("whole")["decisions"].size());
  const Outcome again = Program(f.args("cut"), f.dir.path(), {}, "again").wait();
  ASSERT_TRUE(again.exited && again.status == 0) << again.err;
  EXPECT_NE(again.err.find("continuing from"), std::string::npos) << again.err;
  const Json cut = f.state("cut"), uninterrupted = f.state("whole");
  EXPECT_EQ(cut["decisions"], uninterrupted["decisions"]);
  EXPECT_EQ(cut["started"], uninterrupted["started"]);
  for (const Json& trial : uninterrupted["started"]) {
    const std::string name = trial["trial"];
    const RunLog a = read_run(f.folder("whole") / name / "run.h5");
    const RunLog b = read_run(f.folder("cut") / name / "run.h5");
    EXPECT_EQ(b.status, a.status) << name;
    ASSERT_EQ(b.train.size(), a.train.size()) << name;
    for (size_t i = 0; i < a.train.size(); ++i) {
      EXPECT_EQ(b.train[i].step, a.train[i].step) << name;
      EXPECT_EQ(b.train[i].loss, a.train[i].loss) << name << " step " << a.train[i].step;
    }
  }
}

// 4 trials at reduction factor 3: the best of rung 0 goes on to step 9, where one result promotes
// none; the end rule takes it on to 27. Cut by kill -9 and continued by `nanolab resume FOLDER`,
// the search ends as the one that was never stopped.
TEST(Search, TooFewTrialsStillTrainTheBestToMaxItersAndResumeOfTheFolderContinues) {
  SearchFixture f;
  std::string text = tiny_search;
  text.replace(text.find("trials = 9"), 10, "trials = 4");
  std::ofstream(f.exp) << text;
  // With a --set, which the search's folder records for resume.
  const auto few = [&](const std::string& out) {
    std::vector<std::string> args = f.args(out);
    args.insert(args.end(), {"--set", "train.warmup_iters=3"});
    return args;
  };
  const Outcome whole = run_program(few("whole"), f.dir.path());
  ASSERT_TRUE(whole.exited && whole.status == 0) << whole.err;
  const Json state = f.state("whole");
  ASSERT_EQ(state["started"].size(), 4u);
  std::vector<Json> completed;
  for (const Json& trial : state["started"])
    if (trial["status"] == "completed") completed.push_back(trial);
  ASSERT_EQ(completed.size(), 1u) << state.dump(1);
  const std::string best = completed[0]["trial"];
  const std::string run = completed[0]["runs"][0];
  EXPECT_EQ(read_run(f.folder("whole") / run / "run.h5").train.size(), 27u);
  EXPECT_EQ(state["decisions"].back().get<std::string>().rfind(best + ": val/loss ", 0), 0u);
  const Json& end = state["decisions"][state["decisions"].size() - 2];
  EXPECT_EQ(end, "continue " + best + " from step 9 to 27 (every trial has started, none has "
                                      "reached 27)");

  {
    Program p(few("cut"), f.dir.path(), {}, "cut");
    ASSERT_TRUE(wait_until([&] {
      try {
        return fs::exists(f.folder("cut") / "search.json") &&
               f.state("cut")["decisions"].size() >= 7;
      } catch (const Json::exception&) {
        return false;
      }
    }));
    p.signal(SIGKILL);
    ASSERT_FALSE(p.wait().exited) << "the search ended before it was killed";
  }
  ASSERT_LT(f.state("cut")["decisions"].size(), state["decisions"].size());
  const std::string folder = (f.folder("cut")).string() + "/";
  const Outcome changed =
      run_program({"resume", folder, "--set", "train.max_iters=30"}, f.dir.path());
  EXPECT_TRUE(changed.exited && changed.status == 2) << changed.err;
  EXPECT_NE(changed.err.find("is a search, which continues as it was started"), std::string::npos)
      << changed.err;
  const Outcome resumed = run_program({"resume", folder}, f.dir.path());
  ASSERT_TRUE(resumed.exited && resumed.status == 0) << resumed.err;
  EXPECT_NE(resumed.err.find("continuing from"), std::string::npos) << resumed.err;
  EXPECT_EQ(f.state("cut")["decisions"], state["decisions"]);
  EXPECT_EQ(f.state("cut")["started"], state["started"]);

  fs::remove(f.exp);
  const Outcome gone = run_program({"resume", folder}, f.dir.path());
  EXPECT_TRUE(gone.exited && gone.status == 2) << gone.err;
  EXPECT_NE(gone.err.find("the search was started from " + fs::absolute(f.exp).string() +
                          ", which is gone"),
            std::string::npos)
      << gone.err;
}

// A search on a metric other than an evaluation's, train/loss: each result is the train loss
// logged at the rung.
TEST(Search, AnyMetricOfTheRunFilesRanksTheTrials) {
  SearchFixture f;
  std::string text = tiny_search;
  text.replace(text.find("trials = 9"), 10, "trials = 4\nmetric = \"train/loss\"");
  std::ofstream(f.exp) << text;
  const Outcome o = run_program(f.args("out"), f.dir.path());
  ASSERT_TRUE(o.exited && o.status == 0) << o.err;
  const Json state = f.state("out");
  ASSERT_EQ(state["started"].size(), 4u);
  for (const Json& trial : state["started"]) {
    const RunLog log = read_run(f.folder("out") / trial["runs"][0].get<std::string>() / "run.h5");
    for (size_t k = 0; k < trial["results"].size(); ++k) {
      const int64_t at = state["rungs"][k];
      ASSERT_GE(log.train.size(), size_t(at));
      EXPECT_EQ(log.train[size_t(at) - 1].step, at);
      EXPECT_FLOAT_EQ(log.train[size_t(at) - 1].loss, float(trial["results"][k].get<double>()))
          << trial["trial"] << " at step " << at;
    }
  }
  std::string wrong = tiny_search;
  wrong.replace(wrong.find("trials = 9"), 10, "trials = 2\nmetric = \"loss/z_los\"");
  std::ofstream(f.exp) << wrong;
  const Outcome refused = run_program(f.args("wrong"), f.dir.path());
  EXPECT_TRUE(refused.exited && refused.status == 2) << refused.err;
  EXPECT_NE(refused.err.find("has no metric 'loss/z_los'"), std::string::npos) << refused.err;
}

// A trial whose training fails (here a loss that turns NaN at its third call: exit 6 in a run)
// is listed as failed, with no result, and the search goes on and ends with exit 0.
TEST(Search, AFailedTrialIsTheWorstAndTheSearchGoesOn) {
  TempDir dir{"nanolab-search"};
  const fs::path exp = dir.path() / "failing.toml";
  std::ofstream(exp) << R"([experiment]
name = "f"
seed = 5
[data]
dataset = "synthetic:add"
block_size = 9
batch_size = 8
[model]
n_layer = 1
n_head = 2
n_embd = 16
[loss]
plugin = "nan_after"
[train]
max_iters = 4
warmup_iters = 1
min_lr = 1e-5
eval_iters = 1
sample_tokens = 0
[search]
method = "random"
trials = 4
[search.space]
"loss.calls" = { choice = [2, 1000] }
)";
  const Outcome o =
      run_program({"run", exp.string(), "--out", (dir.path() / "out").string()}, dir.path(),
                  {{"NANOLAB_PLUGIN_PATH", NANOLAB_TEST_INTEGRATION_PLUGIN_DIR}});
  ASSERT_TRUE(o.exited && o.status == 0) << o.err;
  const Json state = Json::parse(read_file(dir.path() / "out" / "f" / "search.json"));
  std::set<std::string> statuses;
  for (const Json& trial : state["started"]) {
    const bool fails = trial["parameters"]["loss.calls"] == "2";
    EXPECT_EQ(trial["status"], fails ? "failed" : "completed") << trial.dump();
    EXPECT_EQ(trial["results"][0].is_null(), fails) << trial.dump();
    statuses.insert(trial["status"].get<std::string>());
  }
  EXPECT_EQ(statuses, (std::set<std::string>{"completed", "failed"})) << "seed 5 draws both";
  EXPECT_NE(o.err.find("failed"), std::string::npos) << o.err;
}

// The most jobs at once, from the decisions: a job starts with "start" or "promote" and ends with
// its result ("trial-N: ...").
size_t most_jobs_at_once(const Json& decisions) {
  size_t running = 0, most = 0;
  for (const Json& d : decisions) {
    const std::string text = d;
    if (text.rfind("start ", 0) == 0 || text.rfind("promote ", 0) == 0)
      most = std::max(most, ++running);
    else
      --running;
  }
  return most;
}

// Every trial's run trained each step once, from 1 to its rung: none twice, none skipped.
void expect_every_step_once(const SearchFixture& f, const std::string& out) {
  for (const Json& trial : f.state(out)["started"]) {
    const std::string name = trial["trial"];
    const RunLog log = read_run(f.folder(out) / name / "run.h5");
    EXPECT_EQ(log.status, trial["status"]) << name;
    ASSERT_EQ(log.train.size(), size_t(trial["step"].get<int64_t>())) << name;
    for (size_t i = 0; i < log.train.size(); ++i)
      EXPECT_EQ(log.train[i].step, int64_t(i) + 1) << name;
  }
}

// Random search, so that the trials do not depend on which ends first: --jobs 2 trains the same
// trials to the same results as --jobs 1 (one thread each, so the same arithmetic), two at a
// time, their output tagged.
TEST(SearchJobs, TwoAtATimeGiveTheTrialsAndResultsOfOneAtATime) {
  SearchFixture f;
  std::string text = tiny_search;
  text.replace(text.find("method = \"asha\""), 15, "method = \"random\"");
  text.replace(text.find("trials = 9"), 10, "trials = 4");
  text.replace(text.find("max_iters = 27"), 14, "max_iters = 6");
  text.erase(text.find("min_iters = 3"), text.find("[search.space]") - text.find("min_iters = 3"));
  std::ofstream(f.exp) << text;
  const std::map<std::string, std::string> one_thread = {{"NANOLAB_THREADS", "1"}};
  const Outcome one = Program(f.args("one"), f.dir.path(), one_thread, "one").wait();
  ASSERT_TRUE(one.exited && one.status == 0) << one.err;
  const Outcome two = Program(f.args("two", "2"), f.dir.path(), one_thread, "two").wait();
  ASSERT_TRUE(two.exited && two.status == 0) << two.err;
  const Json a = f.state("one"), b = f.state("two");
  ASSERT_EQ(a["started"].size(), 4u);
  EXPECT_EQ(b["started"], a["started"]);
  for (const Json& trial : b["started"]) EXPECT_EQ(trial["status"], "completed") << trial.dump();
  EXPECT_EQ(most_jobs_at_once(a["decisions"]), 1u) << a["decisions"].dump();
  EXPECT_EQ(most_jobs_at_once(b["decisions"]), 2u) << b["decisions"].dump();
  EXPECT_EQ(b["decisions"][0], "start trial-1");
  EXPECT_EQ(b["decisions"][1], "start trial-2");
  // A worker's lines behind its run's name; the search's own lines as with one job.
  EXPECT_NE(two.err.find("\n[trial-3] "), std::string::npos) << two.err;
  EXPECT_NE(two.err.find("search s: 4/4 trials: 4 completed"), std::string::npos) << two.err;
  expect_every_step_once(f, "two");
}

// The pids of the workers training now, from their runs' run.lock ("<pid> <host>").
std::vector<pid_t> worker_pids(const SearchFixture& f, const std::string& out) {
  std::vector<pid_t> pids;
  for (const auto& entry : fs::directory_iterator(f.folder(out))) {
    pid_t pid = 0;
    if (std::ifstream(entry.path() / "run.lock") >> pid) pids.push_back(pid);
  }
  return pids;
}

bool gone(const std::vector<pid_t>& pids) {
  return std::all_of(pids.begin(), pids.end(), [](pid_t p) { return kill(p, 0) != 0; });
}

// SIGTERM to the search while two jobs run: both workers stop (exit 130); kill -9 of the search
// started again while two jobs run: its workers do not outlive it. Then `nanolab run` completes
// every trial, each step trained once.
TEST(SearchJobs, SigtermAndKill9StopTheWorkersAndRunAgainCompletesEveryTrial) {
  SearchFixture f;
  std::string text = tiny_search;  // fewer jobs: 6 trials, rungs at 3 and 9
  text.replace(text.find("trials = 9"), 10, "trials = 6");
  text.replace(text.find("max_iters = 27"), 14, "max_iters = 9");
  std::ofstream(f.exp) << text;
  // Two jobs run once each has written its lock and the second has begun.
  const auto two_running = [&] {
    try {
      return fs::exists(f.folder("cut") / "search.json") && worker_pids(f, "cut").size() == 2;
    } catch (const std::exception&) {
      return false;  // a lock or a folder seen while it is made
    }
  };
  {
    Program p(f.args("cut", "2"), f.dir.path(), {}, "term");
    ASSERT_TRUE(wait_until(two_running));
    p.signal(SIGTERM);
    const Outcome o = p.wait();
    ASSERT_TRUE(o.exited && o.status == 130) << o.err;
    EXPECT_TRUE(worker_pids(f, "cut").empty()) << "a worker left its run locked";
  }
  {
    Program p(f.args("cut", "2"), f.dir.path(), {}, "kill");
    ASSERT_TRUE(wait_until(two_running));
    const std::vector<pid_t> workers = worker_pids(f, "cut");
    p.signal(SIGKILL);
    ASSERT_FALSE(p.wait().exited) << "the search ended before it was killed";
    EXPECT_TRUE(wait_until([&] { return gone(workers); }, std::chrono::seconds(10)))
        << "a worker outlived the search";
  }
  ASSERT_TRUE(wait_until([&] { return worker_pids(f, "cut").empty(); }, std::chrono::seconds(10)));
  const Outcome again = Program(f.args("cut", "2"), f.dir.path(), {}, "again").wait();
  ASSERT_TRUE(again.exited && again.status == 0) << again.err;
  EXPECT_NE(again.err.find("continuing from"), std::string::npos) << again.err;
  const Json state = f.state("cut");
  ASSERT_EQ(state["started"].size(), 6u);
  for (const Json& trial : state["started"])
    EXPECT_TRUE(trial["status"] == "completed" || trial["status"] == "pruned") << trial.dump();
  EXPECT_LE(most_jobs_at_once(state["decisions"]), 2u) << state["decisions"].dump();
  expect_every_step_once(f, "cut");
}

// --jobs takes a whole number from 1, and only for a search: exit 2 before anything is made.
TEST(SearchJobs, JobsBelowOneNotANumberOrWithoutASearchExit2) {
  SearchFixture f;
  for (const std::string jobs : {"0", "-1", "two", "1.5"}) {
    const Outcome o = Program(f.args("out", jobs), f.dir.path(), {}, "bad").wait();
    EXPECT_TRUE(o.exited && o.status == 2) << jobs << ": " << o.err;
    EXPECT_NE(o.err.find("--jobs \"" + jobs + "\": expected a whole number"), std::string::npos)
        << o.err;
  }
  std::string text = tiny_search;
  text.erase(text.find("[search]"));
  std::ofstream(f.exp) << text;
  const Outcome o = Program(f.args("out", "2"), f.dir.path(), {}, "sweep").wait();
  EXPECT_TRUE(o.exited && o.status == 2) << o.err;
  EXPECT_NE(o.err.find("has no [search]"), std::string::npos) << o.err;
  EXPECT_FALSE(fs::exists(f.dir.path() / "out"));
}

}  // namespace
}  // namespace nanolab::test
