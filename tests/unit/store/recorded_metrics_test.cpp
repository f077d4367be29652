// The values recorded through Metrics in run.h5 (docs/run-format.md): each group of /metrics has a
// `step` column and one float32 column per name, a row for each logged step with a value of the
// group (group "train": the train rows themselves), NaN where a name was not recorded, across
// flushes; read_run gives each column's recorded points by "group/name"; a resume drops the rows
// after its step in every group, so that logging the same steps again gives the same file.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "nanolab/run_store.hpp"
#include "support/h5_file.hpp"
#include "support/run_compare.hpp"
#include "support/temp_dir.hpp"

namespace nanolab {
namespace {

constexpr auto never = std::chrono::hours(1);

RunWriter::Header header() {
  RunWriter::Header h;
  h.experiment = "metrics";
  h.run = "run";
  h.config_toml = "[train]\nmax_iters = 30\n";
  return h;
}

// Step i: loss/z_loss always, loss/nll on every third step, train/grad_norm.h.0 from step 10,
// attention/entropy.h.0 on even steps.
std::vector<RecordedMetric> recorded(int64_t i) {
  std::vector<RecordedMetric> r{{"loss", "z_loss", 0.5f * float(i)}};
  if (i % 3 == 0) r.push_back({"loss", "nll", 3.0f - 0.1f * float(i)});
  if (i >= 10) r.push_back({"train", "grad_norm.h.0", float(i) + 0.25f});
  if (i % 2 == 0) r.push_back({"attention", "entropy.h.0", 1.0f / float(i)});
  return r;
}

void log_steps(RunWriter& w, int64_t first, int64_t last) {
  for (int64_t i = first; i <= last; ++i) {
    w.train({i, 2.0f, 1e-3f, 1.0f, 100.0f, float(i)}, recorded(i));
    if (i == 12) w.flush();  // a name first seen after a flush: its earlier rows read NaN
  }
}

void expect_points(const RunLog& log, const std::string& name, const std::vector<int64_t>& steps,
                   float (*value)(int64_t)) {
  ASSERT_TRUE(log.metrics.count(name)) << name;
  const MetricSeries& s = log.metrics.at(name);
  EXPECT_EQ(s.steps, steps) << name;
  ASSERT_EQ(s.values.size(), steps.size()) << name;
  for (size_t i = 0; i < steps.size(); ++i) EXPECT_EQ(s.values[i], value(steps[i])) << name;
}

std::vector<int64_t> steps_where(bool (*keep)(int64_t)) {
  std::vector<int64_t> s;
  for (int64_t i = 1; i <= 30; ++i)
    if (keep(i)) s.push_back(i);
  return s;
}

void expect_recorded(const RunLog& log) {
  expect_points(log, "loss/z_loss", steps_where([](int64_t) { return true; }),
                [](int64_t i) { return 0.5f * float(i); });
  expect_points(log, "loss/nll", steps_where([](int64_t i) { return i % 3 == 0; }),
                [](int64_t i) { return 3.0f - 0.1f * float(i); });
  expect_points(log, "train/grad_norm.h.0", steps_where([](int64_t i) { return i >= 10; }),
                [](int64_t i) { return float(i) + 0.25f; });
  expect_points(log, "attention/entropy.h.0", steps_where([](int64_t i) { return i % 2 == 0; }),
                [](int64_t i) { return 1.0f / float(i); });
  // The train row's own columns are series too.
  expect_points(log, "train/elapsed_s", steps_where([](int64_t) { return true; }),
                [](int64_t i) { return float(i); });
  EXPECT_EQ(log.train.size(), 30u);
}

TEST(RecordedMetrics, LandInTheirGroupsWithTheirSteps) {
  test::TempDir tmp;
  {
    auto w = RunWriter::create(tmp.path(), header(), never);
    log_steps(*w, 1, 30);
    w->finish("completed", {});
  }
  expect_recorded(read_run(tmp.path() / "run.h5"));

  // The layout itself: one row per step with a value of the group, every column as long.
  test::H5File f((tmp.path() / "run.h5").string());
  EXPECT_EQ(f.read<int32_t>("metrics/loss/step").size(), 30u);
  const std::vector<float> nll = f.read<float>("metrics/loss/nll");
  ASSERT_EQ(nll.size(), 30u);
  EXPECT_TRUE(std::isnan(nll[0]));
  EXPECT_EQ(nll[2], 3.0f - 0.3f);
  const std::vector<int32_t> attention_steps = f.read<int32_t>("metrics/attention/step");
  EXPECT_EQ(attention_steps.size(), 15u);
  EXPECT_EQ(attention_steps.front(), 2);
  EXPECT_EQ(attention_steps.back(), 30);
  const std::vector<float> grad = f.read<float>("metrics/train/grad_norm.h.0");
  ASSERT_EQ(grad.size(), 30u);  // beside the train rows
  EXPECT_TRUE(std::isnan(grad[8]));
  EXPECT_EQ(grad[9], 10.25f);
}

TEST(RecordedMetrics, AResumeDropsTheRowsAfterItsStepInEveryGroup) {
  test::TempDir whole, resumed;
  {
    auto w = RunWriter::create(whole.path(), header(), never);
    log_steps(*w, 1, 30);
    w->finish("completed", {});
  }
  {
    auto w = RunWriter::create(resumed.path(), header(), never);
    log_steps(*w, 1, 30);  // as a run that went on past its checkpoint of step 15
  }
  {
    auto w = RunWriter::reopen(resumed.path(), 15, never);
    const RunLog cut = read_run(resumed.path() / "run.h5");
    EXPECT_EQ(cut.metrics.at("loss/z_loss").steps.back(), 15);
    EXPECT_EQ(cut.metrics.at("attention/entropy.h.0").steps.back(), 14);
    EXPECT_EQ(cut.metrics.at("train/grad_norm.h.0").steps.back(), 15);
    log_steps(*w, 16, 30);
    w->finish("completed", {});
  }
  const RunLog a = read_run(whole.path() / "run.h5"), b = read_run(resumed.path() / "run.h5");
  expect_recorded(b);
  test::expect_same_run(a, b);
  test::H5File f((resumed.path() / "run.h5").string());
  EXPECT_EQ(f.read<int32_t>("metrics/attention/step").size(), 15u);
  EXPECT_EQ(f.read<float>("metrics/loss/nll").size(), 30u);
}

}  // namespace
}  // namespace nanolab
