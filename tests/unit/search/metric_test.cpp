// A search's metric read from a run's log at a rung (nanolab/search.hpp's metric_at), on logs
// built by hand: an evaluation's column at the rung itself, any other metric's last value logged
// by the rung, and what a run without it gets told.
#include <gtest/gtest.h>

#include <cmath>

#include "nanolab/errors.hpp"
#include "nanolab/search.hpp"

namespace nanolab {
namespace {

RunLog a_log() {
  RunLog log;
  log.experiment = "lr";
  log.run = "trial-2";
  log.val = {{50, 2.5f, 2.4f, NAN}, {200, 2.0f, 1.9f, NAN}};
  log.metrics["train/loss"] = {{10, 20, 30, 40, 50, 60}, {3.0f, 2.9f, 2.8f, 2.7f, 2.6f, 2.5f}};
  // Recorded at some logged steps only: NaN where it was not.
  log.metrics["loss/z_loss"] = {{10, 20, 30, 40}, {0.5f, NAN, 0.25f, NAN}};
  return log;
}

TEST(SearchMetric, AnEvaluationsColumnIsReadAtTheRungItself) {
  const RunLog log = a_log();
  EXPECT_EQ(search::metric_at(log, "val/loss", 200), 2.0);
  EXPECT_EQ(search::metric_at(log, "val/train_loss", 50), 2.4f);
  EXPECT_THROW(search::metric_at(log, "val/loss", 100), StorageError);
}

TEST(SearchMetric, AnyOtherMetricIsItsLastValueLoggedByTheRung) {
  const RunLog log = a_log();
  EXPECT_EQ(search::metric_at(log, "train/loss", 50), 2.6f);
  EXPECT_EQ(search::metric_at(log, "train/loss", 45), 2.7f);
  EXPECT_EQ(search::metric_at(log, "train/loss", 1000), 2.5f);
  EXPECT_EQ(search::metric_at(log, "loss/z_loss", 50), 0.25f) << "the NaN of step 40 is no value";
  EXPECT_EQ(search::metric_at(log, "loss/z_loss", 29), 0.5f);
}

TEST(SearchMetric, AMetricTheRunLacksIsAConfigErrorListingWhatItHas) {
  const RunLog log = a_log();
  try {
    search::metric_at(log, "loss/z_los", 50);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "search.metric: run lr/trial-2 has no metric 'loss/z_los' (did you mean "
              "'loss/z_loss'?)\n    hint: its metrics are loss/z_loss, train/loss; a plugin's "
              "appear once it records them");
  }
  try {
    search::metric_at(log, "train/loss", 5);
    FAIL() << "no error";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("logged no value of 'train/loss' by step 5"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace nanolab
