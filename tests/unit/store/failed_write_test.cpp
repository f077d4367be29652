// A run log whose writes fail at any point of its life, one layer below the end-to-end tests of
// tests/integration/reliability_test.cpp: a file-size limit (a full disk that spares the test's
// own files) at sixty sizes, and an I/O error injected at each of the first writes of the run
// file's driver (NANOLAB_FAULT_WRITE, docs/run-format.md). Each time the file must stay readable,
// hold exactly the rows flushed before the failure (or, after a passing I/O error, the rows that
// the recording of the failure wrote), and say `failed` with the summary given; also when the
// write that fails is the run's last.
//
// Writers are forked children (child.hpp), so that the limit or the fault is theirs alone.
#include <sys/resource.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <gtest/gtest.h>

#include "nanolab/run_store.hpp"
#include "support/temp_dir.hpp"
#include "unit/store/child.hpp"

namespace nanolab {
namespace {

using test::Child;
using test::TempDir;
namespace fs = std::filesystem;

constexpr auto never = std::chrono::hours(1);  // no flush but the explicit ones
constexpr int64_t batches = 30, rows_per_batch = 40;

RunWriter::Header header() {
  RunWriter::Header h;
  h.experiment = "failures";
  h.run = "a";
  h.config_toml = "[model]\nn_layer = 2\n";
  h.meta = {{"command_line", "nanolab run failures.toml"}, {"git_diff", std::string(20000, 'd')}};
  h.tokenizer = "char";
  return h;
}

TrainRow train_row(int64_t i) {
  return {i, 10.0f - 0.001f * float(i), 1e-3f, 0.5f + float(i), 1000.0f, 0.25f * float(i)};
}

// What the trainer does: batches of rows, a validation row and a sample, each flushed; at the
// first failure the run is finished as failed. Tells the parent after the file is created and
// after each flush that succeeded.
void write_until_failure(const fs::path& dir, const std::function<void()>& ready) {
  auto w = RunWriter::create(dir, header(), never);
  ready();
  try {
    for (int64_t b = 0; b < batches; ++b) {
      for (int64_t i = 0; i < rows_per_batch; ++i) w->train(train_row(b * rows_per_batch + i));
      w->val({b, 2.0f, 2.5f, 0.5f});
      w->sample(b, "sample " + std::to_string(b) + ": " + std::string(500, 'x'));
      w->flush();
      ready();
    }
  } catch (const StorageError&) {
    // Records the failure; the error was reported by flush(), so finish() does not throw it again.
    w->finish("failed", {{"best_val_loss", 1.5}});
    return;
  }
  w->finish("completed", {{"best_val_loss", 1.25}});
}

struct Outcome {
  int flushed = -1;  // flushes that succeeded; -1: the file was never created
  int status = 0;    // the child's wait status
};

Outcome run_child(const fs::path& dir, long file_size_limit, const std::string& fault) {
  Child child([&](const auto& ready) {
    if (file_size_limit >= 0) {
      const rlimit limit{rlim_t(file_size_limit), rlim_t(file_size_limit)};
      setrlimit(RLIMIT_FSIZE, &limit);
      signal(SIGXFSZ, SIG_IGN);
    }
    if (!fault.empty()) setenv("NANOLAB_FAULT_WRITE", fault.c_str(), 1);
    write_until_failure(dir, ready);
  });
  Outcome o;
  while (child.wait_ready()) ++o.flushed;
  o.status = child.wait();
  return o;
}

// The run log a failure must leave, `rows` train rows long.
void expect_failed_log(const fs::path& dir, size_t rows) {
  const RunLog log = read_run(dir / "run.h5");
  EXPECT_EQ(log.status, "failed");
  EXPECT_NE(log.finished, "");
  EXPECT_EQ(log.summary, (NumericAttrs{{"best_val_loss", 1.5}}));
  ASSERT_EQ(log.train.size(), rows);
  for (size_t i = 0; i < rows; ++i) {
    ASSERT_EQ(log.train[i].step, int64_t(i));
    ASSERT_EQ(log.train[i].loss, train_row(int64_t(i)).loss) << "row " << i;
  }
  ASSERT_EQ(log.samples.size(), rows / rows_per_batch);
  ASSERT_EQ(log.val.size(), rows / rows_per_batch);
}

TEST(FailedWrite, AFileSizeLimitAtSixtySizesLeavesTheFlushedRowsAndStatusFailed) {
  TempDir tmp;
  const Outcome whole = run_child(tmp.path() / "whole", -1, "");
  ASSERT_TRUE(WIFEXITED(whole.status) && WEXITSTATUS(whole.status) == 0);
  ASSERT_EQ(whole.flushed, batches);
  const long size = long(fs::file_size(tmp.path() / "whole" / "run.h5"));
  int failures = 0;
  for (int i = 0; i < 60; ++i) {
    const long limit = size * i / 60;
    SCOPED_TRACE("file-size limit " + std::to_string(limit) + " of " + std::to_string(size));
    const fs::path dir = tmp.path() / ("limit" + std::to_string(i));
    const Outcome o = run_child(dir, limit, "");
    ASSERT_TRUE(WIFEXITED(o.status)) << "signal " << WTERMSIG(o.status);
    if (o.flushed < 0) {  // the header did not fit: create() failed and left nothing behind
      EXPECT_EQ(WEXITSTATUS(o.status), 1);
      EXPECT_FALSE(fs::exists(dir / "run.h5"));
      continue;
    }
    EXPECT_EQ(WEXITSTATUS(o.status), 0);  // finish("failed") recorded the failure without throwing
    ASSERT_LT(o.flushed, batches);
    ++failures;
    expect_failed_log(dir, size_t(o.flushed) * rows_per_batch);
  }
  EXPECT_GE(failures, 20);
}

TEST(FailedWrite, AnIOErrorAtEachOfTheFirstHundredWritesLeavesAReadableLogMarkedFailed) {
  TempDir tmp;
  int failures = 0;
  for (int n = 1; n <= 100; ++n) {
    SCOPED_TRACE("NANOLAB_FAULT_WRITE=" + std::to_string(n));
    const fs::path dir = tmp.path() / ("fault" + std::to_string(n));
    const Outcome o = run_child(dir, -1, std::to_string(n));
    ASSERT_TRUE(WIFEXITED(o.status)) << "signal " << WTERMSIG(o.status);
    if (o.flushed < 0) {
      EXPECT_EQ(WEXITSTATUS(o.status), 1);
      EXPECT_FALSE(fs::exists(dir / "run.h5"));
      continue;
    }
    EXPECT_EQ(WEXITSTATUS(o.status), 0);
    ASSERT_LT(o.flushed, batches);  // a run makes several hundred writes
    ++failures;
    // The error passed: recording the failure wrote the batch whose flush had failed.
    expect_failed_log(dir, size_t(o.flushed + 1) * rows_per_batch);
  }
  EXPECT_GE(failures, 80);
}

// The write that fails is the one carrying the ending: the run is recorded as failed either way;
// finish("failed") (the trainer reporting another error) adds no error of its own, and
// finish("completed") throws, since the last rows are lost.
TEST(FailedWrite, AFailureOfTheLastWriteIsRecordedAsFailedAndThrownOnlyForACompletedRun) {
  for (const std::string status : {"failed", "completed"}) {
    SCOPED_TRACE("finish(\"" + status + "\")");
    TempDir tmp;
    const fs::path dir = tmp.path() / "run";
    const auto message = tmp.path() / "message.txt";
    Child child([&](const auto&) {
      auto w = RunWriter::create(dir, header(), never);
      for (int64_t i = 0; i < rows_per_batch; ++i) w->train(train_row(i));
      w->val({0, 2.0f, 2.5f, 0.5f});
      w->sample(0, "sample");
      w->flush();
      // No byte more for the run file: the next write that grows it fails.
      const auto size = rlim_t(fs::file_size(dir / "run.h5"));
      const rlimit limit{size, size};
      setrlimit(RLIMIT_FSIZE, &limit);
      signal(SIGXFSZ, SIG_IGN);
      for (int64_t i = rows_per_batch; i < 2 * rows_per_batch; ++i) w->train(train_row(i));
      w->sample(1, std::string(5000, 'x'));
      try {
        w->finish(status, {{"best_val_loss", 1.5}});
      } catch (const StorageError& e) {
        std::ofstream(message) << e.what();
      }
    });
    ASSERT_TRUE(WIFEXITED(child.wait()));
    if (status == "failed")
      EXPECT_FALSE(fs::exists(message)) << test::read_file(message);
    else
      EXPECT_NE(test::read_file(message).find("File too large"), std::string::npos);
    expect_failed_log(dir, rows_per_batch);
  }
}

}  // namespace
}  // namespace nanolab
