// A run's counters (train/counters.hpp) survive a checkpoint: every field saved with a distinct
// value comes back from restore, under its own name, and a checkpoint from before a counter
// existed restores it as 0 (or NaN for a value).
#include <gtest/gtest.h>

#include <cmath>
#include <type_traits>

#include "train/counters.hpp"

namespace nanolab {
namespace {

using train_detail::Counters;

TEST(Counters, EveryFieldRoundTripsThroughACheckpoint) {
  Counters c;
  c.step = 1001;
  // Distinct values: the field's position + 10, plus 0.5 for a double.
  const auto distinct = [](int i, auto field) {
    return decltype(field)(10 + i) + (std::is_same_v<decltype(field), double> ? 0.5 : 0.0);
  };
  int fields = 0;
  Counters::for_each_field(c, [&](const char*, auto& field) { field = distinct(++fields, field); });
  Checkpoint ck;
  c.save(ck);
  EXPECT_EQ(ck.step, 1001);
  EXPECT_EQ(int(ck.counters.size() + ck.values.size()), fields) << "two fields share a name";
  const Counters r = Counters::restore(ck);
  EXPECT_EQ(r.step, 1001);
  int i = 0;
  Counters::for_each_field(r, [&](const char* name, const auto& field) {
    ++i;
    EXPECT_EQ(field, distinct(i, field)) << name;
  });
  EXPECT_EQ(r.tokens_seen, 11);
  EXPECT_EQ(r.timed_steps, 20);
  EXPECT_EQ(r.pending_evaluation, 21);
}

TEST(Counters, ACheckpointWithoutACounterRestoresItAsZeroOrNaN) {
  Checkpoint ck;
  ck.step = 5;
  ck.counters["tokens_seen"] = 640;
  const Counters r = Counters::restore(ck);
  EXPECT_EQ(r.tokens_seen, 640);
  EXPECT_EQ(r.skipped_total, 0);
  EXPECT_TRUE(std::isnan(r.best_val_loss));
}

}  // namespace
}  // namespace nanolab
