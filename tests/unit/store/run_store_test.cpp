// The run log: RunWriter -> run.h5 -> read_run round trips, flush timing, what survives kill -9
// (read back by read_run, h5dump and h5py), a reader beside a live writer, the run lock, resume
// truncation, a restart from step 0, and I/O errors reaching check().
//
// Values go through float32 storage unchanged, so every comparison is exact (no tolerance).
// Writers that must die or run beside the test are forked children (child.hpp).
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "nanolab/run_store.hpp"
#include "support/temp_dir.hpp"
#include "unit/store/child.hpp"
#include "support/skip.hpp"

namespace nanolab {
namespace {

using namespace std::chrono_literals;
using test::Child;
using test::read_file;
using test::TempDir;

constexpr auto never = std::chrono::hours(1);  // a flush interval that never comes in a test

RunWriter::Header header() {
  RunWriter::Header h;
  h.experiment = "quickstart";
  h.run = "seed-1";
  h.config_toml = "[model]\nn_layer = 2\nn_embd = 64 # C\n";
  h.meta = {{"command_line", "nanolab run experiments/quickstart.toml --set train.seed=1"},
            {"git_commit", "0123abc"},
            {"git_dirty", "true"},
            {"git_diff", std::string(100000, 'd')},  // bigger than an object header may hold
            {"threads", "2"}};
  h.plugins = {{"attention", "causal", "1.0.0", "/lib/attention_causal.so", std::string(64, 'a')},
               {"optimizer", "adamw", "1.2.0", "/lib/optimizer_adamw.so", std::string(64, 'b')}};
  h.tokenizer = std::string("char\0vocab\xff\x01", 13);
  return h;
}

TrainRow train_row(int64_t i) {
  return {i, 10.0f - 0.001f * float(i), 1e-3f * float(i % 7), 0.5f + float(i), 1000.0f + float(i),
          0.25f * float(i)};
}

ValRow val_row(int64_t i) {
  return {i * 100, 2.0f - 0.01f * float(i), 1.9f - 0.01f * float(i),
          i % 2 ? std::nanf("") : 0.1f * float(i)};
}

void expect_train_rows(const RunLog& log, size_t n) {
  ASSERT_EQ(log.train.size(), n);
  for (size_t i = 0; i < n; ++i) {
    const TrainRow want = train_row(int64_t(i));
    const TrainRow& got = log.train[i];
    ASSERT_EQ(got.step, want.step) << "row " << i;
    ASSERT_EQ(got.loss, want.loss) << "row " << i;
    ASSERT_EQ(got.lr, want.lr) << "row " << i;
    ASSERT_EQ(got.grad_norm, want.grad_norm) << "row " << i;
    ASSERT_EQ(got.tokens_per_s, want.tokens_per_s) << "row " << i;
    ASSERT_EQ(got.elapsed_s, want.elapsed_s) << "row " << i;
  }
}

void expect_val_rows(const RunLog& log, size_t n) {
  ASSERT_EQ(log.val.size(), n);
  for (size_t i = 0; i < n; ++i) {
    const ValRow want = val_row(int64_t(i));
    EXPECT_EQ(log.val[i].step, want.step);
    EXPECT_EQ(log.val[i].loss, want.loss);
    EXPECT_EQ(log.val[i].train_loss, want.train_loss);
    if (std::isnan(want.accuracy))
      EXPECT_TRUE(std::isnan(log.val[i].accuracy)) << "row " << i;
    else
      EXPECT_EQ(log.val[i].accuracy, want.accuracy);
  }
}

std::string this_host() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

// A pid that is certainly not running: a child that has exited and been reaped.
pid_t dead_pid() {
  Child child([](const auto&) {});
  child.wait();
  return child.pid();
}

// exit status of a shell command
int shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string quoted(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

// A child writer that flushes 200 train rows, 3 val rows and 2 samples, says so, queues 50 more
// train rows that it never flushes, and waits to be killed.
void kill_after_flushes(const std::filesystem::path& dir) {
  Child child([&](const auto& ready) {
    auto w = RunWriter::create(dir, header(), never);
    for (int64_t i = 0; i < 100; ++i) w->train(train_row(i));
    w->flush();
    for (int64_t i = 100; i < 200; ++i) w->train(train_row(i));
    for (int64_t i = 0; i < 3; ++i) w->val(val_row(i));
    w->sample(0, "First Citizen:");
    w->sample(100, "Before we proceed");
    w->flush();
    for (int64_t i = 200; i < 250; ++i) w->train(train_row(i));
    ready();
    pause();
  });
  ASSERT_TRUE(child.wait_ready());
  const int status = child.kill_and_wait();
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

TEST(RunStore, RoundTripsHeaderRowsSamplesAndSummary) {
  TempDir tmp;
  const auto dir = tmp.path() / "quickstart" / "seed-1";
  {
    auto w = RunWriter::create(dir, header(), never);
    EXPECT_TRUE(std::filesystem::exists(dir / "run.lock"));
    // 3000 rows span three 1024-row chunks.
    for (int64_t i = 0; i < 3000; ++i) w->train(train_row(i));
    for (int64_t i = 0; i < 5; ++i) w->val(val_row(i));
    w->sample(0, "");
    w->sample(100, "ROMEO:\nO, she doth teach the torches to burn bright — ünïcödé");
    w->finish("completed", {{"best_val_loss", 1.8765432101234}, {"params", 7.0e6}});
    w->check();
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "run.lock"));

  const RunLog log = read_run(dir / "run.h5");
  const RunWriter::Header h = header();
  EXPECT_EQ(log.status, "completed");
  EXPECT_EQ(log.experiment, "quickstart");
  EXPECT_EQ(log.run, "seed-1");
  const std::regex iso(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)");
  EXPECT_TRUE(std::regex_match(log.created, iso)) << log.created;
  EXPECT_TRUE(std::regex_match(log.finished, iso)) << log.finished;
  EXPECT_EQ(log.config_toml, h.config_toml);
  EXPECT_EQ(log.meta, h.meta);
  ASSERT_EQ(log.plugins.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(log.plugins[i].kind, h.plugins[i].kind);
    EXPECT_EQ(log.plugins[i].name, h.plugins[i].name);
    EXPECT_EQ(log.plugins[i].version, h.plugins[i].version);
    EXPECT_EQ(log.plugins[i].file, h.plugins[i].file);
    EXPECT_EQ(log.plugins[i].sha256, h.plugins[i].sha256);
  }
  EXPECT_EQ(log.tokenizer, h.tokenizer);
  expect_train_rows(log, 3000);
  expect_val_rows(log, 5);
  ASSERT_EQ(log.samples.size(), 2u);
  EXPECT_EQ(log.samples[0], (std::pair<int64_t, std::string>{0, ""}));
  EXPECT_EQ(log.samples[1].first, 100);
  EXPECT_EQ(log.samples[1].second,
            "ROMEO:\nO, she doth teach the torches to burn bright — ünïcödé");
  EXPECT_EQ(log.summary, (NumericAttrs{{"best_val_loss", 1.8765432101234}, {"params", 7.0e6}}));
}

TEST(RunStore, RowsQueuedBeforeDestructionAreWrittenAndTheRunIsMarkedFailed) {
  TempDir tmp;
  {
    auto w = RunWriter::create(tmp.path(), header(), never);
    for (int64_t i = 0; i < 500; ++i) w->train(train_row(i));
    w->sample(7, "last words");
  }  // no finish(): an exception unwinding the trainer
  const RunLog log = read_run(tmp.path() / "run.h5");
  EXPECT_EQ(log.status, "failed");
  EXPECT_FALSE(log.finished.empty());
  expect_train_rows(log, 500);
  ASSERT_EQ(log.samples.size(), 1u);
  EXPECT_EQ(log.samples[0].second, "last words");
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "run.lock"));
}

TEST(RunStore, RowsReachTheFileAfterTheFlushIntervalWithoutAnExplicitFlush) {
  TempDir tmp;
  const auto file = tmp.path() / "run.h5";
  auto w = RunWriter::create(tmp.path(), header(), 20ms);
  const auto created_size = std::filesystem::file_size(file);
  for (int64_t i = 0; i < 10; ++i) w->train(train_row(i));
  // Watched through the file size: opening the file with HDF5 in this process while the I/O
  // thread opens it could make the writer's open fail (one process may not hold a file open
  // read-only and read-write at once).
  ASSERT_TRUE(test::wait_until([&] { return std::filesystem::file_size(file) > created_size; },
                               10s));
  std::this_thread::sleep_for(50ms);  // the flush that grew the file has closed it again
  const RunLog log = read_run(file);
  w->check();
  EXPECT_EQ(log.status, "running");
  EXPECT_TRUE(log.finished.empty());
  expect_train_rows(log, 10);
}

TEST(RunStore, AReaderBesideALiveWriterSeesAGrowingConsistentPrefix) {
  TempDir tmp;
  constexpr int64_t rows = 20000;
  Child writer([&](const auto& ready) {
    auto w = RunWriter::create(tmp.path(), header(), 1ms);
    ready();
    for (int64_t i = 0; i < rows; ++i) {
      w->train(train_row(i));
      if (i % 200 == 0) {
        w->val(val_row(i / 200));
        // 100 pauses: the writing lasts at least 0.5 s, so that even on a loaded machine the
        // reader opens the file several times while it grows.
        std::this_thread::sleep_for(5ms);
      }
    }
    w->finish("completed", {});
  });
  ASSERT_TRUE(writer.wait_ready());
  size_t last = 0;
  std::set<size_t> seen;
  while (writer.running()) {
    const RunLog log = read_run(tmp.path() / "run.h5");
    ASSERT_GE(log.train.size(), last) << "the prefix shrank";
    last = log.train.size();
    seen.insert(last);
    expect_train_rows(log, last);
    expect_val_rows(log, log.val.size());
  }
  const int status = writer.wait();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  const RunLog log = read_run(tmp.path() / "run.h5");
  EXPECT_EQ(log.status, "completed");
  expect_train_rows(log, rows);
  expect_val_rows(log, rows / 200);
  // Otherwise the reader never overlapped the writer and this test proved nothing.
  EXPECT_GE(seen.size(), 3u) << "the reader saw only " << seen.size() << " distinct lengths";
}

TEST(RunStore, KillDashNineLeavesEveryFlushedRowReadableWithoutRepair) {
  TempDir tmp;
  kill_after_flushes(tmp.path());
  const auto file = tmp.path() / "run.h5";
  const RunLog log = read_run(file);
  EXPECT_EQ(log.status, "running");
  expect_train_rows(log, 200);  // the 50 queued after the last flush died with the process
  expect_val_rows(log, 3);
  ASSERT_EQ(log.samples.size(), 2u);
  EXPECT_EQ(log.samples[1], (std::pair<int64_t, std::string>{100, "Before we proceed"}));
  EXPECT_TRUE(std::filesystem::exists(tmp.path() / "run.lock"));  // it records who held the run

  NANOLAB_NEEDS(shell("command -v h5dump >/dev/null 2>&1") == 0,
                "h5dump not found (Debian package hdf5-tools); read_run was checked");
  EXPECT_EQ(shell("h5dump -H " + quoted(file) + " >/dev/null 2>&1"), 0);
  const std::string data = tmp.path() / "h5dump.txt";
  ASSERT_EQ(shell("h5dump -d /metrics/train/step " + quoted(file) + " >" + data + " 2>&1"), 0);
  EXPECT_NE(read_file(data).find("DATASPACE  SIMPLE { ( 200 ) / ( H5S_UNLIMITED ) }"),
            std::string::npos)
      << read_file(data);
}

TEST(RunStore, KillDashNineDuringFlushesLeavesAReadableFile) {
  // Kills land at different points of a flush cycle: the file must open every time, hold at
  // least the rows flushed before the child said so, and hold them whole.
  for (int round = 0; round < 10; ++round) {
    TempDir tmp;
    Child child([&](const auto& ready) {
      auto w = RunWriter::create(tmp.path(), header(), never);
      for (int64_t i = 0;; ++i) {
        w->train(train_row(i));
        if (i % 10 == 9) {
          w->flush();
          if (i == 99) ready();
        }
      }
    });
    ASSERT_TRUE(child.wait_ready());
    std::this_thread::sleep_for(std::chrono::microseconds(400 * round));
    child.kill_and_wait();
    const RunLog log = read_run(tmp.path() / "run.h5");
    EXPECT_EQ(log.status, "running");
    ASSERT_GE(log.train.size(), 100u) << "round " << round;
    expect_train_rows(log, log.train.size());
    if (shell("command -v h5dump >/dev/null 2>&1") == 0) {
      EXPECT_EQ(shell("h5dump -H " + quoted(tmp.path() / "run.h5") + " >/dev/null 2>&1"), 0)
          << "round " << round;
    }
  }
}

TEST(RunStore, H5pyReadsAKilledRun) {
  std::string python;
  for (const char* candidate : {"python3", "/usr/bin/python3"})
    if (shell(std::string(candidate) + " -c 'import h5py' >/dev/null 2>&1") == 0) {
      python = candidate;
      break;
    }
  NANOLAB_NEEDS(!python.empty(),
                "no python3 with h5py (Debian package python3-h5py); read_run and h5dump "
                "are checked by KillDashNineLeavesEveryFlushedRowReadableWithoutRepair");
  TempDir tmp;
  kill_after_flushes(tmp.path());
  const auto out = tmp.path() / "h5py.txt";
  const std::string script =
      "import h5py; f = h5py.File('" + (tmp.path() / "run.h5").string() + "', 'r'); "
      "print(f.attrs['status']); print(f['metrics/train/step'][:].tolist()[-1]); "
      "print(f['metrics/train/loss'][:].astype('<f4').tobytes().hex())";
  ASSERT_EQ(shell(python + " -c \"" + script + "\" >" + out.string() + " 2>&1"), 0)
      << read_file(out);
  std::string loss_hex;
  for (int64_t i = 0; i < 200; ++i) {
    const float loss = train_row(i).loss;
    unsigned char bytes[4];
    std::memcpy(bytes, &loss, 4);  // little-endian host, as '<f4'
    char hex[9];
    std::snprintf(hex, sizeof hex, "%02x%02x%02x%02x", bytes[0], bytes[1], bytes[2], bytes[3]);
    loss_hex += hex;
  }
  EXPECT_EQ(read_file(out), "running\n199\n" + loss_hex + "\n");
}

TEST(RunStore, ASecondWriterOnALiveRunGetsRunInUseAndChangesNothing) {
  TempDir tmp;
  auto first = RunWriter::create(tmp.path(), header(), never);
  for (int64_t i = 0; i < 10; ++i) first->train(train_row(i));
  first->flush();
  const std::string h5_before = read_file(tmp.path() / "run.h5");
  const std::string lock_before = read_file(tmp.path() / "run.lock");
  EXPECT_EQ(lock_before, std::to_string(getpid()) + " " + this_host() + "\n");

  try {
    RunWriter::create(tmp.path(), header(), never);
    FAIL() << "a second create() on a live run succeeded";
  } catch (const RunInUse& e) {
    EXPECT_EQ(e.code(), ExitCode::run_in_use);
    EXPECT_NE(std::string(e.what()).find(tmp.path().string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("process " + std::to_string(getpid())),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(RunWriter::reopen(tmp.path(), 5, never), RunInUse);
  EXPECT_EQ(read_file(tmp.path() / "run.h5"), h5_before);
  EXPECT_EQ(read_file(tmp.path() / "run.lock"), lock_before);
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(tmp.path()),
                          std::filesystem::directory_iterator()),
            2);  // run.h5 and run.lock: no stray lock candidate left behind
  first.reset();
  expect_train_rows(read_run(tmp.path() / "run.h5"), 10);
}

TEST(RunStore, CreateRefusesADirectoryThatHoldsAFinishedRun) {
  TempDir tmp;
  RunWriter::create(tmp.path(), header(), never)->finish("completed", {});
  const std::string before = read_file(tmp.path() / "run.h5");
  try {
    RunWriter::create(tmp.path(), header(), never);
    FAIL() << "create() over an existing run succeeded";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ExitCode::config);
    EXPECT_NE(std::string(e.what()).find("already holds a run; use `nanolab resume"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(read_file(tmp.path() / "run.h5"), before);
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "run.lock"));
}

TEST(RunStore, AStaleLockIsTakenOver) {
  TempDir tmp;
  const pid_t dead = dead_pid();
  std::ofstream(tmp.path() / "run.lock") << dead << ' ' << this_host() << '\n';
  testing::internal::CaptureStderr();
  auto w = RunWriter::create(tmp.path(), header(), never);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("left by process " + std::to_string(dead) + ", which is no longer running"),
            std::string::npos)
      << err;
  EXPECT_EQ(read_file(tmp.path() / "run.lock"),
            std::to_string(getpid()) + " " + this_host() + "\n");
}

TEST(RunStore, ALockFromAnotherHostIsNeverTakenOver) {
  TempDir tmp;
  std::ofstream(tmp.path() / "run.lock") << dead_pid() << " some-other-host\n";
  try {
    RunWriter::create(tmp.path(), header(), never);
    FAIL() << "a lock held on another host was taken over";
  } catch (const RunInUse& e) {
    EXPECT_NE(std::string(e.what()).find("on host some-other-host"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "run.h5"));
}

TEST(RunStore, ReopenAfterKillTakesTheStaleLockAndDropsRowsAfterTheStep) {
  TempDir tmp;
  kill_after_flushes(tmp.path());  // train steps 0..199, val steps 0, 100, 200, samples 0, 100
  testing::internal::CaptureStderr();
  {
    auto w = RunWriter::reopen(tmp.path(), 149, never);
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("no longer running"), std::string::npos) << err;
    const RunLog resumed = read_run(tmp.path() / "run.h5");
    EXPECT_EQ(resumed.status, "running");
    expect_train_rows(resumed, 150);
    expect_val_rows(resumed, 2);
    ASSERT_EQ(resumed.samples.size(), 2u);
    // The resumed trainer logs steps 150.. again, in the same positions.
    for (int64_t i = 150; i < 300; ++i) w->train(train_row(i));
    w->val(val_row(2));
    w->finish("completed", {{"wall_s", 12.5}});
  }
  const RunLog log = read_run(tmp.path() / "run.h5");
  EXPECT_EQ(log.status, "completed");
  expect_train_rows(log, 300);
  expect_val_rows(log, 3);
  EXPECT_EQ(log.summary, (NumericAttrs{{"wall_s", 12.5}}));
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "run.lock"));
}

TEST(RunStore, ReopenClearsTheSummaryOfAnEarlierFinish) {
  TempDir tmp;
  {
    auto w = RunWriter::create(tmp.path(), header(), never);
    for (int64_t i = 0; i < 20; ++i) w->train(train_row(i));
    w->finish("interrupted", {{"wall_s", 3.0}});
  }
  RunWriter::reopen(tmp.path(), 9, never)->finish("completed", {{"params", 5.0}});
  const RunLog log = read_run(tmp.path() / "run.h5");
  expect_train_rows(log, 10);
  EXPECT_EQ(log.summary, (NumericAttrs{{"params", 5.0}}));
}

TEST(RunStore, RestartDropsEveryRowAndKeepsTheHeader) {
  TempDir tmp;
  kill_after_flushes(tmp.path());  // train steps 0..199, val steps 0, 100, 200, samples 0, 100
  const RunLog killed = read_run(tmp.path() / "run.h5");
  ASSERT_EQ(killed.train.size(), 200u);
  testing::internal::CaptureStderr();
  {
    auto w = RunWriter::restart(tmp.path(), never);
    testing::internal::GetCapturedStderr();
    EXPECT_EQ(w->run_id(), killed.run_id);
    const RunLog restarted = read_run(tmp.path() / "run.h5");
    EXPECT_EQ(restarted.status, "running");
    EXPECT_TRUE(restarted.train.empty());
    EXPECT_TRUE(restarted.val.empty());
    EXPECT_TRUE(restarted.samples.empty());
    // The run is trained again from step 0: its rows take the same positions.
    for (int64_t i = 0; i < 300; ++i) w->train(train_row(i));
    for (int64_t i = 0; i < 3; ++i) w->val(val_row(i));
    w->finish("completed", {{"wall_s", 2.5}});
  }
  const RunLog log = read_run(tmp.path() / "run.h5");
  EXPECT_EQ(log.status, "completed");
  expect_train_rows(log, 300);
  expect_val_rows(log, 3);
  EXPECT_TRUE(log.samples.empty());
  EXPECT_EQ(log.run_id, killed.run_id);
  EXPECT_EQ(log.created, killed.created);
  EXPECT_EQ(log.config_toml, header().config_toml);
  EXPECT_EQ(log.meta, header().meta);
  EXPECT_EQ(log.tokenizer, header().tokenizer);
  EXPECT_EQ(log.plugins.size(), 2u);
}

TEST(RunStore, RestartOfARunThatHasACheckpointIsRunInUseAndChangesNothing) {
  // The run's own process wrote its checkpoint and ended between the caller's look for one and
  // the claim.
  TempDir tmp;
  {
    auto w = RunWriter::create(tmp.path(), header(), never);
    for (int64_t i = 0; i < 20; ++i) w->train(train_row(i));
    w->finish("completed", {{"wall_s", 3.0}});
  }
  write_checkpoint(tmp.path(), Checkpoint{});
  const std::string before = read_file(tmp.path() / "run.h5");
  try {
    RunWriter::restart(tmp.path(), never);
    FAIL() << "restart took a run that has a checkpoint";
  } catch (const RunInUse& e) {
    EXPECT_EQ(e.code(), ExitCode::run_in_use);
    EXPECT_NE(std::string(e.what()).find(tmp.path().string()), std::string::npos) << e.what();
  }
  EXPECT_TRUE(read_file(tmp.path() / "run.h5") == before) << "the refused restart changed run.h5";
  EXPECT_FALSE(std::filesystem::exists(tmp.path() / "run.lock"));
}

TEST(RunStore, ReadRunNamesAFileThatIsNotARun) {
  TempDir tmp;
  std::ofstream(tmp.path() / "junk.h5") << "not hdf5 at all";
  try {
    read_run(tmp.path() / "junk.h5");
    FAIL() << "read_run accepted junk";
  } catch (const StorageError& e) {
    EXPECT_EQ(e.code(), ExitCode::storage);
    EXPECT_NE(std::string(e.what()).find((tmp.path() / "junk.h5").string()), std::string::npos);
  }
  // A valid HDF5 file of another kind: a checkpoint.
  write_checkpoint(tmp.path(), Checkpoint{});
  try {
    read_run(tmp.path() / "checkpoint.h5");
    FAIL() << "read_run accepted a checkpoint";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("not a nanolab run"), std::string::npos) << e.what();
  }
  EXPECT_THROW(read_run(tmp.path() / "missing.h5"), StorageError);
}

TEST(RunStore, AnIoErrorReachesCheckAsStorageErrorNamingTheFile) {
  TempDir tmp;
  const auto message = tmp.path() / "message.txt";
  Child child([&](const auto&) {
    // A file-size limit makes writes fail with EFBIG the way a full disk fails with ENOSPC.
    rlimit limit{1 << 20, 1 << 20};  // room for the header, not for 100,000 rows (2.8 MB)
    setrlimit(RLIMIT_FSIZE, &limit);
    signal(SIGXFSZ, SIG_IGN);
    auto w = RunWriter::create(tmp.path() / "run", header(), never);
    for (int64_t i = 0; i < 100000; ++i) w->train(train_row(i));
    try {
      w->flush();
    } catch (const StorageError& e) {
      std::ofstream(message) << int(e.code()) << '\n' << e.what();
      // The error stays: the trainer's next check() fails too.
      try {
        w->check();
      } catch (const StorageError&) {
        return;
      }
    }
    throw std::runtime_error("no StorageError from flush() and check()");
  });
  const int status = child.wait();
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_file(message);
  const std::string text = read_file(message);
  EXPECT_EQ(text.substr(0, 2), "5\n");
  EXPECT_NE(text.find((tmp.path() / "run" / "run.h5").string()), std::string::npos) << text;
  EXPECT_NE(text.find("could not write to disk: file write failed: File too large (errno 27)"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace nanolab
