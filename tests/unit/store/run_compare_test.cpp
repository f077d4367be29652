// The comparison that the resume tests use (tests/support/run_compare.hpp) misses nothing: a run
// log equals itself, and each field that a resumed run must restore, changed alone in a copy
// (every summary value but the two timings, each column of a train or val row, a sample, the
// status, the configuration, the tokenizer, a plugin's hash), is reported as a difference.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "support/run_compare.hpp"

namespace nanolab::test {
namespace {

RunLog a_run() {
  RunLog r;
  r.status = "completed";
  r.experiment = "tiny";
  r.run = "a";
  r.config_toml = "[model]\nn_layer = 2\n";
  r.tokenizer = "tokenizer bytes";
  r.plugins = {{"optimizer", "adamw", "1", "/lib/adamw.so", std::string(64, 'a')}};
  r.train = {{1, 2.5f, 1e-3f, 0.9f, 1000.0f, 0.1f}, {2, 2.4f, 1e-3f, 0.8f, 1100.0f, 0.2f}};
  r.val = {{0, 2.6f, 2.6f, 0.0f}, {2, 2.3f, 2.35f, 0.25f}};
  r.samples = {{0, "abc"}, {2, "abd"}};
  r.metrics = {{"loss/z_loss", {{1, 2}, {0.5f, 0.4f}}},
               {"train/elapsed_s", {{1, 2}, {0.1f, 0.2f}}},
               {"train/tokens_per_s", {{1, 2}, {1000.0f, 1100.0f}}}};
  r.summary = {{"params", 1234},          {"best_val_loss", 2.3}, {"best_val_step", 2},
               {"final_train_loss", 2.4}, {"tokens_seen", 256},   {"nonfinite_skipped", 0},
               {"best_val_accuracy", 0.25}, {"wall_s", 3.5},      {"ms_per_iter", 12}};
  return r;
}

TEST(RunCompare, ARunEqualsItselfWhateverItsTimings) {
  const RunLog a = a_run();
  RunLog b = a_run();
  b.summary["wall_s"] = 99;
  b.summary["ms_per_iter"] = 1;
  b.train[1].tokens_per_s = 5;
  b.train[1].elapsed_s = 50;
  b.metrics["train/tokens_per_s"].values[1] = 5;
  b.metrics["train/elapsed_s"].values[1] = 50;
  b.run += "-resumed";  // the run's name may differ
  EXPECT_TRUE(run_differences(a, b).empty());
}

TEST(RunCompare, EveryRestoredFieldChangedAloneIsADifference) {
  std::vector<std::pair<std::string, std::function<void(RunLog&)>>> changes = {
      {"status", [](RunLog& r) { r.status = "interrupted"; }},
      {"experiment", [](RunLog& r) { r.experiment = "other"; }},
      {"config", [](RunLog& r) { r.config_toml += "#"; }},
      {"tokenizer", [](RunLog& r) { r.tokenizer += "x"; }},
      {"plugin hash", [](RunLog& r) { r.plugins[0].sha256[0] = 'b'; }},
      {"train step", [](RunLog& r) { r.train[1].step = 3; }},
      {"train loss", [](RunLog& r) { r.train[1].loss = std::nextafter(2.4f, 3.0f); }},
      {"train lr", [](RunLog& r) { r.train[0].lr = 2e-3f; }},
      {"train grad_norm", [](RunLog& r) { r.train[0].grad_norm = 0.91f; }},
      {"a train row more", [](RunLog& r) { r.train.push_back(r.train.back()); }},
      {"val step", [](RunLog& r) { r.val[1].step = 3; }},
      {"val loss", [](RunLog& r) { r.val[1].loss = 2.31f; }},
      {"val train_loss", [](RunLog& r) { r.val[1].train_loss = 2.36f; }},
      {"val accuracy", [](RunLog& r) { r.val[1].accuracy = NAN; }},
      {"a val row less", [](RunLog& r) { r.val.pop_back(); }},
      {"sample text", [](RunLog& r) { r.samples[1].second = "abe"; }},
      {"sample step", [](RunLog& r) { r.samples[1].first = 3; }},
      {"metric value", [](RunLog& r) { r.metrics["loss/z_loss"].values[1] = 0.41f; }},
      {"metric step", [](RunLog& r) { r.metrics["loss/z_loss"].steps[1] = 3; }},
      {"a metric point less", [](RunLog& r) {
         r.metrics["loss/z_loss"].steps.pop_back();
         r.metrics["loss/z_loss"].values.pop_back();
       }},
      {"a metric more", [](RunLog& r) { r.metrics["loss/nll"] = {{1}, {2.0f}}; }},
  };
  for (const auto& [key, value] : a_run().summary) {
    if (summary_timings().count(key)) continue;
    changes.push_back({"summary " + key, [key = key](RunLog& r) { r.summary[key] += 1; }});
    changes.push_back({"summary " + key + " missing", [key = key](RunLog& r) { r.summary.erase(key); }});
  }
  EXPECT_EQ(changes.size(), 21u + 2 * 7u);
  for (const auto& [what, change] : changes) {
    RunLog b = a_run();
    change(b);
    EXPECT_FALSE(run_differences(a_run(), b).empty()) << what << " changed unnoticed";
    EXPECT_FALSE(run_differences(b, a_run()).empty()) << what << " changed unnoticed (swapped)";
  }
}

}  // namespace
}  // namespace nanolab::test
