// The trainer's Metrics (train/metrics_recorder.hpp): values are kept only while a step listens,
// the last value of a step wins, take() hands them over group by group and forgets them, a bad
// name is one PluginError naming who recorded it, and recording a name already seen allocates
// nothing (counted by this binary's operator new, on this thread, around the calls).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>
#include <vector>

#include "train/metrics_recorder.hpp"

namespace {
thread_local bool counting = false;
std::atomic<long> allocations{0};
}  // namespace

// Every allocation of the test binary goes through here; only those of a counting thread count.
void* operator new(std::size_t n) {
  if (counting) ++allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
// The nothrow forms too: a sanitizer's own would pair with the delete below and be reported.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  if (counting) ++allocations;
  return std::malloc(n ? n : 1);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace nanolab::train_detail {
namespace {

TEST(MetricsRecorder, KeepsValuesOnlyInAListeningStep) {
  MetricsRecorder recorder;
  Metrics& loss = recorder.group("loss");
  recorder.begin_step(false);
  EXPECT_FALSE(loss.enabled());
  loss.record("z_loss", 1.0);
  EXPECT_TRUE(recorder.take().empty());

  recorder.begin_step(true);
  EXPECT_TRUE(loss.enabled());
  loss.record("z_loss", 1.0);
  loss.record("z_loss", 0.25);  // the last value of the step wins
  recorder.group("train").record("grad_norm.h.0", 3.0);
  recorder.group("attention").record("entropy.h.1", 2.0);
  const std::vector<RecordedMetric> got = recorder.take();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].group, "loss");
  EXPECT_EQ(got[0].name, "z_loss");
  EXPECT_EQ(got[0].value, 0.25f);
  EXPECT_EQ(got[1].group, "attention");
  EXPECT_EQ(got[1].name, "entropy.h.1");
  EXPECT_EQ(got[1].value, 2.0f);
  EXPECT_EQ(got[2].group, "train");
  EXPECT_EQ(got[2].name, "grad_norm.h.0");
  EXPECT_EQ(got[2].value, 3.0f);
  // Taken values are gone; a name not recorded in a step is not handed over.
  EXPECT_TRUE(recorder.take().empty());
  loss.record("nll", 2.0);
  const std::vector<RecordedMetric> next = recorder.take();
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].name, "nll");
}

TEST(MetricsRecorder, ABadNameIsAPluginErrorNamingThePlugin) {
  MetricsRecorder recorder;
  MetricsGroup& loss = recorder.group("loss");
  loss.set_owner("loss plugin 'focal'");
  recorder.begin_step(true);
  const std::vector<std::string> bad_names = {"", "z loss", "a/b", "step", std::string(65, 'x'),
                                              "\xc3\xa9"};
  for (const std::string& bad : bad_names) {
    try {
      loss.record(bad, 1.0);
      ADD_FAILURE() << "'" << bad << "' was accepted";
    } catch (const PluginError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("loss plugin 'focal'"), std::string::npos) << what;
      EXPECT_NE(what.find("'" + bad + "'"), std::string::npos) << what;
    }
  }
  EXPECT_EQ(loss.names(), 0u);
  loss.record(std::string(64, 'x'), 1.0);  // at most 64 characters
  loss.record("a.b-c_D9", 1.0);
  EXPECT_EQ(loss.names(), 2u);
  EXPECT_THROW(recorder.group("schedule"), std::logic_error);
}

TEST(MetricsRecorder, RecordingANameAlreadySeenAllocatesNothing) {
  MetricsRecorder recorder;
  Metrics& train = recorder.group("train");
  Metrics& loss = recorder.group("loss");
  // Names longer than the short-string buffer, so that a copy of one would allocate.
  const std::string a = "grad_norm.h.0.attention_block", b = "update_ratio.h.0.attention_block";
  recorder.begin_step(true);
  train.record(a, 1.0);
  train.record(b, 2.0);
  loss.record("z_loss", 3.0);
  ASSERT_EQ(recorder.take().size(), 3u);
  allocations = 0;
  counting = true;
  for (int step = 0; step < 100; ++step) {
    recorder.begin_step(step % 10 == 0);
    train.record(a, double(step));
    train.record(b, double(step));
    loss.record("z_loss", double(step));
  }
  counting = false;
  EXPECT_EQ(allocations.load(), 0);
  const std::vector<RecordedMetric> got = recorder.take();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].value, 90.0f);  // the last listening step was 90
}

}  // namespace
}  // namespace nanolab::train_detail
