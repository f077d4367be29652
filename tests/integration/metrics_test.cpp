// Recorded metrics end to end (docs/run-format.md, /metrics/<group>/<name>): a real run records
// its loss plugin's terms at every logged step, and with train.diagnostics the gradient norm and
// update ratio of each layer and the attention entropy of each block; the values agree with the
// run's own train rows (the terms add up to the loss, the layers' gradient norms to the global
// norm). h5py and tools/runs_to_pandas.py read them; `nanolab compare` takes them by name in
// --metric, --sort and --where, and the report plots the --metric. A resumed run records what the
// uninterrupted run does.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "nanolab/run_store.hpp"
#include "support/program.hpp"
#include "support/run_compare.hpp"
#include "support/skip.hpp"
#include "support/temp_dir.hpp"

namespace nanolab::test {
namespace {

namespace fs = std::filesystem;

std::string experiment(int64_t max_iters, int64_t log_interval) {
  return "[experiment]\nname = \"m\"\nseed = 3\n"
         "[data]\ndataset = \"synthetic:copy\"\nblock_size = 16\nbatch_size = 8\n"
         "[model]\nn_layer = 2\nn_head = 2\nn_embd = 32\n"
         "[optimizer]\nlr = 3e-3\n"
         "[loss]\nplugin = \"cross_entropy\"\nz_loss = 1e-3\n"
         "[train]\nmax_iters = " + std::to_string(max_iters) +
         "\nwarmup_iters = 5\neval_interval = 20\neval_iters = 2\nlog_interval = " +
         std::to_string(log_interval) + "\ncheckpoint_interval = 20\nsample_tokens = 0\n";
}

struct Runs {
  TempDir dir{"nanolab-metrics"};
  fs::path exp = dir.path() / "m.toml";
  explicit Runs(const std::string& toml) { std::ofstream(exp) << toml; }
  std::vector<std::string> args(const std::string& name, const std::vector<std::string>& sets) {
    std::vector<std::string> a = {"run", exp.string(), "--out", (dir.path() / "runs").string(),
                                  "--name", name, "--quiet"};
    for (const auto& s : sets) a.insert(a.end(), {"--set", s});
    return a;
  }
  Outcome run(const std::string& name, const std::vector<std::string>& sets = {}) {
    return run_program(args(name, sets), dir.path());
  }
  fs::path run_dir(const std::string& name) const { return dir.path() / "runs" / "m" / name; }
  RunLog log(const std::string& name) const { return read_run(run_dir(name) / "run.h5"); }
  Outcome nanolab(std::vector<std::string> a) { return run_program(a, dir.path()); }
};

const MetricSeries& series(const RunLog& log, const std::string& name) {
  static const MetricSeries none;
  auto it = log.metrics.find(name);
  EXPECT_NE(it, log.metrics.end()) << "no metric " << name;
  return it == log.metrics.end() ? none : it->second;
}

std::vector<int64_t> steps_of(const RunLog& log) {
  std::vector<int64_t> s;
  for (const TrainRow& r : log.train) s.push_back(r.step);
  return s;
}

TEST(Metrics, LossTermsAreRecordedAtTheLoggedStepsAndAddUpToTheLoss) {
  Runs r(experiment(30, 10));
  const Outcome o = r.run("plain");
  ASSERT_TRUE(o.exited && o.status == 0) << o.err;
  const RunLog log = r.log("plain");
  EXPECT_EQ(steps_of(log), (std::vector<int64_t>{1, 10, 20, 30}));
  const MetricSeries &nll = series(log, "loss/nll"), &z = series(log, "loss/z_loss");
  EXPECT_EQ(nll.steps, steps_of(log));
  EXPECT_EQ(z.steps, steps_of(log));
  for (size_t i = 0; i < std::min(z.values.size(), log.train.size()); ++i) {
    // The row's loss is the f32 sum of the two terms.
    EXPECT_EQ(nll.values[i] + z.values[i], log.train[i].loss) << "step " << z.steps[i];
    EXPECT_GT(z.values[i], 0.0f);
  }
  // Without train.diagnostics: no per-layer metric, no attention group.
  EXPECT_EQ(log.metrics.count("train/grad_norm.h.0"), 0u);
  for (const auto& [name, s] : log.metrics) EXPECT_NE(name.rfind("attention/", 0), 0u) << name;
}

TEST(Metrics, DiagnosticsRecordEachLayersGradientNormUpdateRatioAndAttentionEntropy) {
  Runs r(experiment(20, 1));
  const Outcome o = r.run("diag", {"train.diagnostics=true"});
  ASSERT_TRUE(o.exited && o.status == 0) << o.err;
  const RunLog log = r.log("diag");
  ASSERT_EQ(log.train.size(), 20u);
  const std::vector<std::string> layers = {"wte", "wpe", "h.0", "h.1", "ln_f"};
  for (size_t i = 0; i < log.train.size(); ++i) {
    double sum_sq = 0;
    for (const auto& layer : layers) {
      const MetricSeries& g = series(log, "train/grad_norm." + layer);
      ASSERT_EQ(g.steps, steps_of(log)) << layer;
      sum_sq += double(g.values[i]) * g.values[i];
      const MetricSeries& u = series(log, "train/update_ratio." + layer);
      ASSERT_EQ(u.steps, steps_of(log)) << layer;
      // AdamW moves each weight by about lr per step: a small positive fraction of the layer.
      EXPECT_GT(u.values[i], 0.0f) << layer;
      EXPECT_LT(u.values[i], 1.0f) << layer;
    }
    // The layers partition the parameters: their norms make up the global norm of the row.
    EXPECT_NEAR(std::sqrt(sum_sq), log.train[i].grad_norm, 1e-5 * log.train[i].grad_norm)
        << "step " << log.train[i].step;
    for (const char* block : {"h.0", "h.1"}) {
      const MetricSeries& e = series(log, std::string("attention/entropy.") + block);
      ASSERT_EQ(e.steps, steps_of(log));
      // Row t of a causal attention sees t + 1 positions: 0 <= H <= mean_t log(t + 1).
      double bound = 0;
      for (int t = 1; t <= 16; ++t) bound += std::log(double(t)) / 16;
      EXPECT_GT(e.values[i], 0.0f) << block;
      EXPECT_LE(e.values[i], bound + 1e-6) << block;
    }
  }
}

// The python3 that has h5py and pandas (Debian's python3-h5py, python3-pandas), or "".
std::string python_with_pandas() {
  for (const std::string candidate : {"python3", "/usr/bin/python3"})
    if (std::system((candidate + " -c 'import h5py, pandas' >/dev/null 2>&1").c_str()) == 0)
      return candidate;
  return "";
}

TEST(Metrics, H5pyAndRunsToPandasReadThemByGroupAndName) {
  const std::string python3 = python_with_pandas();
  NANOLAB_NEEDS(!python3.empty(), "no python3 with h5py and pandas (apt-get install "
                                  "python3-h5py python3-pandas)");
  Runs r(experiment(20, 5));
  ASSERT_EQ(r.run("a", {"train.diagnostics=true"}).status, 0);
  const RunLog log = r.log("a");
  const fs::path out = r.dir.path() / "py.txt";
  // h5py: the layout of docs/run-format.md; runs_to_pandas: one row per logged step.
  const std::string script =
      "import sys, h5py; sys.path.insert(0, '" NANOLAB_TEST_SOURCE_DIR "/tools'); "
      "from runs_to_pandas import load_runs; "
      "f = h5py.File('" + (r.run_dir("a") / "run.h5").string() + "', 'r'); "
      "print(f['metrics/loss/step'][:].tolist()); "
      "print(f['metrics/loss/z_loss'][:].astype('<f4').tobytes().hex()); "
      "df = load_runs('" + (r.dir.path() / "runs").string() + "', 'loss'); "
      "print(df['step'].tolist()); print(df['z_loss'].astype('<f4').to_numpy().tobytes().hex()); "
      "a = load_runs('" + (r.dir.path() / "runs").string() + "', 'attention'); "
      "print(sorted(c for c in a.columns if c.startswith('entropy')))";
  const int status =
      std::system((python3 + " -c \"" + script + "\" >" + out.string() + " 2>&1").c_str());
  ASSERT_EQ(status, 0) << read_file(out);
  const MetricSeries& z = series(log, "loss/z_loss");
  std::string steps = "[", hex;
  for (size_t i = 0; i < z.steps.size(); ++i) {
    steps += (i ? ", " : "") + std::to_string(z.steps[i]);
    unsigned char b[4];
    std::memcpy(b, &z.values[i], 4);
    char h[9];
    std::snprintf(h, sizeof h, "%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
    hex += h;
  }
  steps += "]";
  EXPECT_EQ(steps, "[1, 5, 10, 15, 20]");
  EXPECT_EQ(read_file(out), steps + "\n" + hex + "\n" + steps + "\n" + hex + "\n" +
                                "['entropy.h.0', 'entropy.h.1']\n");
}

// Splits CSV output into cells (no quoted cells in these tables).
std::vector<std::vector<std::string>> csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::stringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    rows.emplace_back();
    std::stringstream cells(line);
    for (std::string c; std::getline(cells, c, ',');) rows.back().push_back(c);
  }
  return rows;
}

TEST(Metrics, CompareAndReportTakeARecordedMetricByName) {
  Runs r(experiment(20, 5));
  ASSERT_EQ(r.run("small", {"loss.z_loss=1e-4"}).status, 0);
  ASSERT_EQ(r.run("large", {"loss.z_loss=1e-2"}).status, 0);
  const RunLog small = r.log("small"), large = r.log("large");
  ASSERT_FALSE(series(small, "loss/z_loss").values.empty());
  ASSERT_FALSE(series(large, "loss/z_loss").values.empty());
  const float small_last = series(small, "loss/z_loss").values.back();
  const float large_last = series(large, "loss/z_loss").values.back();
  ASSERT_LT(small_last * 10, large_last);
  float small_best = small_last;
  for (float v : series(small, "loss/z_loss").values) small_best = std::min(small_best, v);
  const std::string runs = (r.dir.path() / "runs").string();

  // --metric: the best (least) value and its step; --sort by it, descending.
  Outcome o = r.nanolab({"compare", runs, "--metric", "loss/z_loss", "--sort=-best loss/z_loss",
                         "--format", "csv"});
  ASSERT_EQ(o.status, 0) << o.err;
  auto t = csv(o.out);
  ASSERT_EQ(t.size(), 3u) << o.out;
  EXPECT_EQ(t[1][0], "large");
  EXPECT_EQ(t[2][0], "small");
  const size_t best = size_t(std::find(t[0].begin(), t[0].end(), "best loss/z_loss") - t[0].begin());
  ASSERT_LT(best, t[0].size()) << o.out;
  EXPECT_NEAR(std::stod(t[2][best]), small_best, 1e-6 * small_best);

  // --sort by a metric that is not a column: a column of its last values.
  o = r.nanolab({"compare", runs, "--sort", "loss/z_loss", "--format", "csv"});
  ASSERT_EQ(o.status, 0) << o.err;
  t = csv(o.out);
  ASSERT_EQ(t.size(), 3u) << o.out;
  EXPECT_EQ(t[0].back(), "loss/z_loss");
  EXPECT_EQ(t[1][0], "small");
  EXPECT_NEAR(std::stod(t[1].back()), small_last, 1e-6 * small_last);
  EXPECT_NEAR(std::stod(t[2].back()), large_last, 1e-6 * large_last);

  // --where on a metric's last value.
  const std::string between = std::to_string(std::sqrt(double(small_last) * large_last));
  o = r.nanolab({"compare", runs, "--where", "loss/z_loss<" + between, "--format", "csv"});
  ASSERT_EQ(o.status, 0) << o.err;
  t = csv(o.out);
  ASSERT_EQ(t.size(), 2u) << o.out;
  EXPECT_EQ(t[1][0], "small");
  o = r.nanolab({"compare", runs, "--where", "loss/z_loss>=" + between, "--format", "csv"});
  ASSERT_EQ(o.status, 0) << o.err;
  t = csv(o.out);
  ASSERT_EQ(t.size(), 2u) << o.out;
  EXPECT_EQ(t[1][0], "large");

  // A metric no run has: exit 2 naming it and the ones there are.
  o = r.nanolab({"compare", runs, "--metric", "loss/focal_weight"});
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.err.find("loss/focal_weight"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("loss/z_loss"), std::string::npos) << o.err;
  o = r.nanolab({"compare", runs, "--metric", "z_loss"});
  EXPECT_EQ(o.status, 2);
  EXPECT_NE(o.err.find("group/name"), std::string::npos) << o.err;

  // The report holds the metric's curves, and compares the runs by it.
  const fs::path page = r.dir.path() / "report.html";
  o = r.nanolab({"report", runs, "-o", page.string(), "--metric", "loss/z_loss"});
  ASSERT_EQ(o.status, 0) << o.err;
  const std::string html = read_file(page);
  EXPECT_NE(html.find("\"loss/z_loss\":{\"x\":["), std::string::npos);
  EXPECT_NE(html.find("\"metric\":\"loss/z_loss\""), std::string::npos);
}

TEST(Metrics, AResumedRunRecordsWhatTheUninterruptedRunDoes) {
  Runs r(experiment(400, 1));
  const std::vector<std::string> sets = {"train.diagnostics=true"};
  ASSERT_EQ(r.run("whole", sets).status, 0);
  {
    Program p(r.args("cut", sets), r.dir.path(), {}, "cut");
    ASSERT_TRUE(wait_until([&] { return fs::exists(r.run_dir("cut") / "checkpoint.h5"); }));
    p.signal(SIGKILL);
    p.wait();
  }
  ASSERT_LT(r.log("cut").train.size(), 400u) << "the run ended before it was killed";
  const Outcome o = run_program({"resume", r.run_dir("cut").string(), "--quiet"}, r.dir.path());
  ASSERT_TRUE(o.exited && o.status == 0) << o.err;
  const RunLog resumed = r.log("cut"), whole = r.log("whole");
  // Every recorded metric is compared (tests/support/run_compare.hpp), the diagnostics included.
  ASSERT_EQ(series(whole, "attention/entropy.h.1").steps.size(), 400u);
  ASSERT_EQ(series(whole, "train/update_ratio.h.0").steps.size(), 400u);
  expect_same_run(resumed, whole);
}

}  // namespace
}  // namespace nanolab::test
