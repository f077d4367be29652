// Test helper: every difference between two run logs that a resumed (or otherwise equivalent) run
// must not have, as one line each: the status, the experiment, the configuration, each train row
// (step, loss, lr, grad_norm), each val row (step, loss, train loss, accuracy), every recorded
// metric of /metrics (its steps and values) but the train row's timings (tokens_per_s, elapsed_s),
// each sample, the tokenizer, the plugins, and every summary value but the two timings (wall_s,
// ms_per_iter), which no two runs share. Values are compared exactly: a resumed run on the same thread count is
// bit-identical (docs/training.md). tests/unit/store/run_compare_test.cpp holds that each field,
// changed alone, is reported.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "nanolab/run_store.hpp"

namespace nanolab::test {

// The columns of /metrics that measure time, not training.
inline const std::set<std::string>& metric_timings() {
  static const std::set<std::string> t{"train/tokens_per_s", "train/elapsed_s"};
  return t;
}

// The summary values that measure time, not training.
inline const std::set<std::string>& summary_timings() {
  static const std::set<std::string> t{"wall_s", "ms_per_iter"};
  return t;
}

inline std::vector<std::string> run_differences(const RunLog& a, const RunLog& b) {
  std::vector<std::string> d;
  auto differ = [&](const std::string& what, const auto& x, const auto& y) {
    std::ostringstream s;
    s.precision(9);
    s << what << ": " << x << " != " << y;
    d.push_back(s.str());
  };
  // Equal, or both NaN (accuracy is NaN where a task has none).
  auto same = [](double x, double y) { return x == y || (std::isnan(x) && std::isnan(y)); };
  if (a.status != b.status) differ("status", a.status, b.status);
  if (a.experiment != b.experiment) differ("experiment", a.experiment, b.experiment);
  if (a.config_toml != b.config_toml) d.push_back("the configurations differ");
  if (a.tokenizer != b.tokenizer) d.push_back("the tokenizers differ");
  if (a.train.size() != b.train.size()) differ("train rows", a.train.size(), b.train.size());
  for (size_t i = 0; i < std::min(a.train.size(), b.train.size()); ++i) {
    const TrainRow &x = a.train[i], &y = b.train[i];
    const std::string at = "train row " + std::to_string(i) + " ";
    if (x.step != y.step) differ(at + "step", x.step, y.step);
    if (!same(x.loss, y.loss)) differ(at + "loss", x.loss, y.loss);
    if (!same(x.lr, y.lr)) differ(at + "lr", x.lr, y.lr);
    if (!same(x.grad_norm, y.grad_norm)) differ(at + "grad_norm", x.grad_norm, y.grad_norm);
  }
  if (a.val.size() != b.val.size()) differ("val rows", a.val.size(), b.val.size());
  for (size_t i = 0; i < std::min(a.val.size(), b.val.size()); ++i) {
    const ValRow &x = a.val[i], &y = b.val[i];
    const std::string at = "val row " + std::to_string(i) + " ";
    if (x.step != y.step) differ(at + "step", x.step, y.step);
    if (!same(x.loss, y.loss)) differ(at + "loss", x.loss, y.loss);
    if (!same(x.train_loss, y.train_loss)) differ(at + "train_loss", x.train_loss, y.train_loss);
    if (!same(x.accuracy, y.accuracy)) differ(at + "accuracy", x.accuracy, y.accuracy);
  }
  for (const auto& [name, x] : a.metrics) {
    if (metric_timings().count(name)) continue;
    const auto y = b.metrics.find(name);
    if (y == b.metrics.end()) {
      d.push_back("metric " + name + " is in the first run only");
      continue;
    }
    if (x.steps != y->second.steps) differ("metric " + name + " steps", x.steps.size(),
                                           y->second.steps.size());
    for (size_t i = 0; i < std::min(x.values.size(), y->second.values.size()); ++i)
      if (!same(x.values[i], y->second.values[i]))
        differ("metric " + name + " at step " + std::to_string(x.steps[i]), x.values[i],
               y->second.values[i]);
  }
  for (const auto& [name, y] : b.metrics)
    if (!metric_timings().count(name) && !a.metrics.count(name))
      d.push_back("metric " + name + " is in the second run only");
  if (a.samples != b.samples) differ("samples", a.samples.size(), b.samples.size());
  if (a.plugins.size() != b.plugins.size()) differ("plugins", a.plugins.size(), b.plugins.size());
  for (size_t i = 0; i < std::min(a.plugins.size(), b.plugins.size()); ++i) {
    const PluginRecord &x = a.plugins[i], &y = b.plugins[i];
    if (x.kind != y.kind || x.name != y.name || x.version != y.version || x.sha256 != y.sha256)
      differ("plugin " + std::to_string(i), x.kind + " " + x.name, y.kind + " " + y.name);
  }
  for (const auto& [key, x] : a.summary) {
    if (summary_timings().count(key)) continue;
    const auto y = b.summary.find(key);
    if (y == b.summary.end())
      d.push_back("summary " + key + " is in the first run only");
    else if (!same(x, y->second))
      differ("summary " + key, x, y->second);
  }
  for (const auto& [key, y] : b.summary)
    if (!summary_timings().count(key) && !a.summary.count(key))
      d.push_back("summary " + key + " is in the second run only");
  return d;
}

// No difference; each one is listed.
inline void expect_same_run(const RunLog& a, const RunLog& b) {
  const std::vector<std::string> d = run_differences(a, b);
  std::string all;
  for (size_t i = 0; i < std::min<size_t>(d.size(), 20); ++i) all += "\n  " + d[i];
  EXPECT_TRUE(d.empty()) << d.size() << " difference(s):" << all;
}

// The run's elapsed time goes on across sessions: the train rows' elapsed_s never decreases and
// the summary's wall_s is at least the last row's.
inline void expect_wall_time_continues(const RunLog& run) {
  for (size_t i = 1; i < run.train.size(); ++i)
    EXPECT_GE(run.train[i].elapsed_s, run.train[i - 1].elapsed_s) << "step " << run.train[i].step;
  ASSERT_FALSE(run.train.empty());
  EXPECT_GE(run.summary.at("wall_s"), run.train.back().elapsed_s);
}

}  // namespace nanolab::test
