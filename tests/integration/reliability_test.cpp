// What survives what, end to end with the real program (docs/reliability.md lists each promise and
// the test that holds it): kill -9 at thirty moments of one run, some inside checkpoint writes,
// then resume; a full disk; writes failing at two dozen points (a file-size limit, an injected
// I/O error, a real tmpfs filled up), then resume; a checkpoint with a flipped byte; a sweep in
// which one run fails; a reader polling a run while it writes; a skipped non-finite step. Each test
// has a CTest timeout (tests/CMakeLists.txt); the unit tests of framework/src/store hold the same
// promises at the level of the run store and the checkpoint file.
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#include "nanolab/run_store.hpp"
#include "support/program.hpp"
#include "support/run_compare.hpp"
#include "support/temp_dir.hpp"

namespace nanolab::test {
namespace {

namespace fs = std::filesystem;

// A small GPT on synthetic:copy that checkpoints often, so that kills land in and around
// checkpoint writes.
std::string experiment(int64_t max_iters, int64_t checkpoint_interval) {
  return "[experiment]\nname = \"rel\"\nseed = 5\n"
         "[data]\ndataset = \"synthetic:copy\"\nblock_size = 16\nbatch_size = 8\n"
         "[model]\nn_layer = 2\nn_head = 2\nn_embd = 32\n"
         "[optimizer]\nlr = 3e-3\n"
         "[train]\nmax_iters = " + std::to_string(max_iters) +
         "\nwarmup_iters = 5\nlr_schedule = \"constant\"\neval_interval = 50\neval_iters = 2\n"
         "log_interval = 1\ncheckpoint_interval = " + std::to_string(checkpoint_interval) +
         "\nsample_tokens = 0\n";
}

struct Fixture {
  TempDir dir{"nanolab-reliability"};
  fs::path exp = dir.path() / "rel.toml";
  fs::path out = dir.path() / "runs";
  explicit Fixture(const std::string& toml) { std::ofstream(exp) << toml; }

  std::vector<std::string> run_args(const std::string& name,
                                    const std::vector<std::string>& sets = {}) const {
    std::vector<std::string> a = {"run", exp.string(), "--out", out.string(), "--name", name,
                                  "--quiet"};
    for (const auto& s : sets) a.insert(a.end(), {"--set", s});
    return a;
  }
  fs::path run_dir(const std::string& name) const { return out / "rel" / name; }
  Outcome run(const std::string& name, const std::vector<std::string>& sets = {}) const {
    return run_program(run_args(name, sets), dir.path(), env());
  }
  // No git repository: run.h5 would otherwise hold the checkout's uncommitted diff, and its size
  // (which the full-disk test sets its limit against) would depend on the state of the checkout.
  static std::map<std::string, std::string> env() {
    return {{"NANOLAB_PLUGIN_PATH", NANOLAB_TEST_INTEGRATION_PLUGIN_DIR},
            {"GIT_DIR", "/nonexistent/nanolab-reliability"}};
  }
};

// Every train row of `part` equals the row of the same step of `whole`, and the steps run
// 1, 2, ... without a gap.
void expect_prefix_of(const RunLog& part, const RunLog& whole) {
  ASSERT_LE(part.train.size(), whole.train.size());
  for (size_t i = 0; i < part.train.size(); ++i) {
    ASSERT_EQ(part.train[i].step, int64_t(i + 1));
    ASSERT_EQ(part.train[i].loss, whole.train[i].loss) << "step " << i + 1;
    ASSERT_EQ(part.train[i].grad_norm, whole.train[i].grad_norm) << "step " << i + 1;
  }
  for (size_t i = 0; i < part.val.size(); ++i) {
    ASSERT_LT(i, whole.val.size());
    ASSERT_EQ(part.val[i].step, whole.val[i].step);
    ASSERT_EQ(part.val[i].loss, whole.val[i].loss) << "val step " << part.val[i].step;
  }
}

TEST(Reliability, KillDashNineAtThirtyMomentsThenResumeEqualsTheUninterruptedRun) {
  Fixture f(experiment(1500, 2));
  ASSERT_EQ(f.run("whole").status, 0);
  const RunLog whole = read_run(f.run_dir("whole") / "run.h5");
  const fs::path dir = f.run_dir("cut");
  const fs::path tmp = dir / "checkpoint.h5.tmp";

  std::mt19937 rng(11);
  std::uniform_int_distribution<int> delay_ms(30, 600);
  int kills = 0, inside_checkpoint_write = 0;
  for (; kills < 30; ++kills) {
    SCOPED_TRACE("kill " + std::to_string(kills + 1));
    std::vector<std::string> args =
        kills == 0 ? f.run_args("cut") : std::vector<std::string>{"resume", dir.string(), "--quiet"};
    const auto started = fs::file_time_type::clock::now();
    // A .tmp written by this process (a killed one may have left an older one behind).
    auto writing = [&] {
      std::error_code ec;
      const auto t = fs::last_write_time(tmp, ec);
      return !ec && t >= started;
    };
    Program p(args, f.dir.path(), Fixture::env(), "cut" + std::to_string(kills));
    if (kills == 0) {  // the first kill after the first checkpoint, so that there is one to resume
      ASSERT_TRUE(wait_until([&] { return fs::exists(dir / "checkpoint.h5"); }));
    }
    if (kills % 3 == 2) {
      // Every third kill aims at a checkpoint write: as soon as its .tmp appears.
      wait_until([&] { return writing() || !p.running(); }, std::chrono::seconds(20));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    }
    p.signal(SIGKILL);
    const Outcome o = p.wait();
    inside_checkpoint_write += writing();
    ASSERT_FALSE(o.exited && o.status != 0) << "exit " << o.status << ": " << o.err;
    if (o.exited) break;  // the run finished before this kill: nothing left to interrupt
    const RunLog cut = read_run(dir / "run.h5");  // opens without repair
    EXPECT_EQ(cut.status, "running");
    expect_prefix_of(cut, whole);
    // The last whole checkpoint loads, and it is not ahead of the rows that reached the file.
    const Checkpoint ck = read_checkpoint(dir);
    EXPECT_LE(ck.step, cut.train.empty() ? 0 : cut.train.back().step);
  }
  EXPECT_EQ(kills, 30) << "the run finished after " << kills << " kills: make it longer";
  EXPECT_GE(inside_checkpoint_write, 1) << "no kill landed inside a checkpoint write";
  std::fprintf(stderr, "%d kills, %d of them inside a checkpoint write\n", kills,
               inside_checkpoint_write);

  const Outcome r = run_program({"resume", dir.string(), "--quiet"}, f.dir.path(), Fixture::env());
  ASSERT_TRUE(r.exited && r.status == 0) << r.err;
  const RunLog resumed = read_run(dir / "run.h5");
  expect_same_run(resumed, whole);
  expect_wall_time_continues(resumed);
  EXPECT_FALSE(fs::exists(tmp));
}

TEST(Reliability, AFullDiskExits5NamingThePathAndKeepsWhatWasFlushed) {
  Fixture f(experiment(200, 100));
  ASSERT_EQ(f.run("whole").status, 0);
  const RunLog whole = read_run(f.run_dir("whole") / "run.h5");
  const auto checkpoint_bytes = fs::file_size(f.run_dir("whole") / "checkpoint.h5");
  // Room for the run file (its recorded metrics included), not for a checkpoint: the first
  // checkpoint write (step 100) fails.
  const long limit = long(checkpoint_bytes * 3 / 4);
  ASSERT_GT(uintmax_t(limit), fs::file_size(f.run_dir("whole") / "run.h5"));
  Program p(f.run_args("full"), f.dir.path(), Fixture::env(), "full", limit);
  const Outcome o = p.wait();
  EXPECT_TRUE(o.exited);
  EXPECT_EQ(o.status, 5) << o.err;
  EXPECT_NE(o.err.find(f.run_dir("full").string()), std::string::npos) << o.err;
  const RunLog log = read_run(f.run_dir("full") / "run.h5");
  EXPECT_EQ(log.status, "failed");
  ASSERT_GE(log.train.size(), 100u);  // every row up to the checkpoint step was flushed first
  expect_prefix_of(log, whole);
  // The checkpoint is whole or absent, never half; here it never fit.
  EXPECT_FALSE(fs::exists(f.run_dir("full") / "checkpoint.h5"));
  EXPECT_FALSE(fs::exists(f.run_dir("full") / "checkpoint.h5.tmp"));
}

// The runs of the write-failure tests: a model so small that its checkpoint (35 KB) is a fraction
// of run.h5 (from 200 KB after the first steps to 300 KB), so that a file-size limit can strike
// run.h5 at many sizes while every checkpoint still fits; an evaluation, a sample and a
// checkpoint every 5 steps, so that each flush grows the file by a few KB.
std::string small_experiment(int64_t max_iters = 120) {
  return "[experiment]\nname = \"rel\"\nseed = 5\n"
         "[data]\ndataset = \"synthetic:copy\"\nblock_size = 16\nbatch_size = 8\n"
         "[model]\nn_layer = 1\nn_head = 1\nn_embd = 8\n"
         "[optimizer]\nlr = 3e-3\n"
         "[train]\nmax_iters = " + std::to_string(max_iters) +
         "\nwarmup_iters = 5\nlr_schedule = \"constant\"\n"
         "eval_interval = 5\neval_iters = 2\nlog_interval = 1\ncheckpoint_interval = 5\n"
         "sample_tokens = 8\n";
}

// A python3 that has h5py (Debian: python3-h5py), or "".
std::string python_with_h5py() {
  for (const char* candidate : {"/usr/bin/python3", "python3"})
    if (std::system((std::string(candidate) + " -c 'import h5py' >/dev/null 2>&1").c_str()) == 0)
      return candidate;
  return "";
}

// What h5py sees of a run file after reading every dataset in it whole: "<status> <train rows>
// <their losses as little-endian float32 hex>", or h5py's error.
std::string h5py_view(const std::string& python, const fs::path& file, const fs::path& scratch) {
  const fs::path script = scratch / "view.py", out = scratch / "view.txt";
  std::ofstream(script) << "import sys, h5py\n"
                           "f = h5py.File(sys.argv[1], 'r')\n"
                           "f.visititems(lambda name, o: o[()] if isinstance(o, h5py.Dataset) "
                           "else None)\n"
                           "n = len(f['metrics/train/step'])\n"
                           "print(f.attrs['status'], n, "
                           "f['metrics/train/loss'][:n].astype('<f4').tobytes().hex())\n";
  std::system((python + " " + script.string() + " " + file.string() + " >" + out.string() +
               " 2>&1").c_str());
  return read_file(out);
}

std::string view_of(const RunLog& log) {
  std::string hex;
  for (const TrainRow& r : log.train) {
    unsigned char b[4];
    std::memcpy(b, &r.loss, 4);  // little-endian host, as '<f4'
    char text[9];
    std::snprintf(text, sizeof text, "%02x%02x%02x%02x", b[0], b[1], b[2], b[3]);
    hex += text;
  }
  return log.status + " " + std::to_string(log.train.size()) + " " + hex + "\n";
}

// Every deterministic metric of `a` equals `b`'s (timings are not).
void expect_same_metrics(const RunLog& a, const RunLog& b) {
  ASSERT_EQ(a.train.size(), b.train.size());
  for (size_t i = 0; i < a.train.size(); ++i) {
    ASSERT_EQ(a.train[i].step, b.train[i].step);
    ASSERT_EQ(a.train[i].loss, b.train[i].loss) << "step " << a.train[i].step;
    ASSERT_EQ(a.train[i].lr, b.train[i].lr) << "step " << a.train[i].step;
    ASSERT_EQ(a.train[i].grad_norm, b.train[i].grad_norm) << "step " << a.train[i].step;
  }
  ASSERT_EQ(a.val.size(), b.val.size());
  for (size_t i = 0; i < a.val.size(); ++i) {
    ASSERT_EQ(a.val[i].step, b.val[i].step);
    ASSERT_EQ(a.val[i].loss, b.val[i].loss) << "val step " << a.val[i].step;
    ASSERT_EQ(a.val[i].train_loss, b.val[i].train_loss) << "val step " << a.val[i].step;
    ASSERT_TRUE(a.val[i].accuracy == b.val[i].accuracy ||
                (std::isnan(a.val[i].accuracy) && std::isnan(b.val[i].accuracy)))
        << "val step " << a.val[i].step;
  }
}

// What a run whose writes failed must leave, once the space is back: exit 5 with one message,
// naming the run's file; a run.h5 that nanolab's reader and h5py read whole, `failed`, holding
// only rows equal to the uninterrupted run's and every row up to its checkpoint; then
// `nanolab resume` completes with the uninterrupted run's metrics. `resumed` counts the points
// that had a checkpoint to resume from (a failure before the first one leaves none).
void expect_failed_then_resumed(const Outcome& o, const fs::path& dir, const RunLog& whole,
                                const std::string& python, const fs::path& scratch,
                                int& resumed) {
  EXPECT_TRUE(o.exited) << "signal " << o.status;
  EXPECT_EQ(o.status, 5) << o.err;
  const fs::path file = dir / "run.h5";
  size_t messages = 0;
  for (size_t at = o.err.find(dir.string()); at != std::string::npos;
       at = o.err.find(dir.string(), at + 1))
    ++messages;
  EXPECT_EQ(messages, 1u) << o.err;
  EXPECT_NE(o.err.find("error: " + dir.string()), std::string::npos) << o.err;
  ASSERT_TRUE(fs::exists(file)) << o.err;
  const RunLog log = read_run(file);
  EXPECT_EQ(log.status, "failed");
  expect_prefix_of(log, whole);
  if (!python.empty()) {
    EXPECT_EQ(h5py_view(python, file, scratch), view_of(log));
  }
  if (!fs::exists(dir / "checkpoint.h5")) return;
  ASSERT_GE(int64_t(log.train.size()), read_checkpoint(dir).step);
  const Outcome r = run_program({"resume", dir.string(), "--quiet"}, scratch, Fixture::env());
  ASSERT_TRUE(r.exited && r.status == 0) << r.err;
  const RunLog done = read_run(file);
  EXPECT_EQ(done.status, "completed");
  expect_same_metrics(done, whole);
  EXPECT_FALSE(fs::exists(dir / "checkpoint.h5.tmp"));
  ++resumed;
}

TEST(Reliability, AFileSizeLimitAtTwentyFourPointsLeavesAFailedRunThatResumesToTheSameMetrics) {
  Fixture f(small_experiment());
  ASSERT_EQ(f.run("whole").status, 0);
  const RunLog whole = read_run(f.run_dir("whole") / "run.h5");
  const std::string python = python_with_h5py();
  if (python.empty()) std::fprintf(stderr, "no python3 with h5py: h5py's view not checked\n");
  // From a little past the first checkpoint's run file (a run of 5 steps) to the end.
  ASSERT_EQ(f.run("first", {"train.max_iters=5"}).status, 0);
  const auto low = long(fs::file_size(f.run_dir("first") / "run.h5")) + 4096;
  const auto high = long(fs::file_size(f.run_dir("whole") / "run.h5"));
  ASSERT_GT(high, low + 24 * 1024);
  ASSERT_LT(long(fs::file_size(f.run_dir("whole") / "checkpoint.h5")), low);
  int failed = 0, resumed = 0;
  for (int i = 0; i < 24; ++i) {
    const long limit = low + (high - low) * i / 24;
    SCOPED_TRACE("file-size limit " + std::to_string(limit));
    const std::string name = "limit" + std::to_string(i);
    Program p(f.run_args(name), f.dir.path(), Fixture::env(), name, limit);
    const Outcome o = p.wait();
    if (o.exited && o.status == 0) continue;  // the run file stayed below this limit
    ++failed;
    expect_failed_then_resumed(o, f.run_dir(name), whole, python, f.dir.path(), resumed);
  }
  std::fprintf(stderr, "%d failed runs, %d resumed\n", failed, resumed);
  EXPECT_GE(failed, 20);
  EXPECT_GE(resumed, 20);
}

TEST(Reliability, AnIOErrorInjectedAtTwentyFourWritesLeavesAFailedRunThatResumesToTheSameMetrics) {
  Fixture f(small_experiment());
  ASSERT_EQ(f.run("whole").status, 0);
  const RunLog whole = read_run(f.run_dir("whole") / "run.h5");
  const std::string python = python_with_h5py();
  int failed = 0, resumed = 0;
  // A run makes about 780 writes to run.h5, about 50 of them before its first checkpoint.
  for (int n = 60; n < 780; n += 30) {
    SCOPED_TRACE("NANOLAB_FAULT_WRITE=" + std::to_string(n));
    const std::string name = "fault" + std::to_string(n);
    auto env = Fixture::env();
    env["NANOLAB_FAULT_WRITE"] = std::to_string(n);
    const Outcome o = Program(f.run_args(name), f.dir.path(), env, name).wait();
    if (o.exited && o.status == 0) continue;  // the run made fewer writes
    ++failed;
    EXPECT_NE(o.err.find("Input/output error"), std::string::npos) << o.err;
    expect_failed_then_resumed(o, f.run_dir(name), whole, python, f.dir.path(), resumed);
  }
  std::fprintf(stderr, "%d failed runs, %d resumed\n", failed, resumed);
  EXPECT_GE(failed, 20);
  EXPECT_GE(resumed, 20);
}

// A tmpfs of 3 MB mounted for the test's lifetime (mount(2) needs CAP_SYS_ADMIN).
struct Tmpfs {
  fs::path dir;
  std::string error;
  explicit Tmpfs(fs::path at) : dir(std::move(at)) {
    fs::create_directories(dir);
    if (mount("tmpfs", dir.c_str(), "tmpfs", 0, "size=3m") != 0) error = std::strerror(errno);
  }
  ~Tmpfs() {
    if (error.empty()) umount2(dir.c_str(), MNT_DETACH);
  }
};

// Fills the file system of `dir` until a write fails; the file stays until the caller removes it.
void fill(const fs::path& filler) {
  std::FILE* out = std::fopen(filler.c_str(), "wb");
  if (!out) return;  // already full
  const std::vector<char> block(64 * 1024, 'x');
  while (std::fwrite(block.data(), 1, block.size(), out) == block.size() && std::fflush(out) == 0) {
  }
  std::setvbuf(out, nullptr, _IONBF, 0);  // the last bytes that fit, then give up
  while (std::fputc('x', out) != EOF) {
  }
  std::fclose(out);
}

TEST(Reliability, ATmpfsFilledAtTwentyRandomMomentsLeavesAFailedRunThatResumesToTheSameMetrics) {
  Fixture f(small_experiment(240));
  Tmpfs disk(f.dir.path() / "disk");
  if (!disk.error.empty())
    GTEST_SKIP() << "cannot mount a tmpfs (" << disk.error << "; needs root): the file-size "
                 << "limit and injected-error tests hold the same promise";
  ASSERT_EQ(f.run("whole").status, 0);
  const RunLog whole = read_run(f.run_dir("whole") / "run.h5");
  const auto whole_bytes = std::uintmax_t(fs::file_size(f.run_dir("whole") / "run.h5"));
  const std::string python = python_with_h5py();
  // The moments are points of the run's progress, not of the clock, so that the disk fills while
  // the run writes however fast the machine is: each when run.h5 has grown past a random
  // fraction of the way from its size at the first checkpoint to 90% of the whole run's.
  std::mt19937 rng(23);
  std::uniform_real_distribution<double> fraction(0.0, 1.0);
  int failed = 0, resumed = 0;
  for (int i = 0; i < 24 && failed < 20; ++i) {
    SCOPED_TRACE("moment " + std::to_string(i));
    const fs::path out = disk.dir / "runs", dir = out / "rel" / "cut";
    fs::remove_all(out);
    std::vector<std::string> args = f.run_args("cut");
    std::replace(args.begin(), args.end(), f.out.string(), out.string());
    Program p(args, f.dir.path(), Fixture::env(), "cut");
    auto run_bytes = [&] {
      std::error_code ec;
      const auto n = fs::file_size(dir / "run.h5", ec);
      return ec ? std::uintmax_t(0) : n;
    };
    // After the first checkpoint, so that there is one to resume from.
    wait_until([&] { return fs::exists(dir / "checkpoint.h5") || !p.running(); });
    const double first = double(run_bytes()), last = 0.9 * double(whole_bytes);
    const auto at = std::uintmax_t(first + fraction(rng) * std::max(0.0, last - first));
    wait_until([&] { return run_bytes() >= at || !p.running(); }, std::chrono::seconds(60));
    fill(disk.dir / "filler");
    const Outcome o = p.wait();
    fs::remove(disk.dir / "filler");
    if (o.exited && o.status == 0) continue;  // finished before the disk filled
    ++failed;
    EXPECT_NE(o.err.find("No space left on device"), std::string::npos) << o.err;
    expect_failed_then_resumed(o, dir, whole, python, f.dir.path(), resumed);
  }
  std::fprintf(stderr, "%d failed runs, %d resumed\n", failed, resumed);
  EXPECT_GE(failed, 20);
  EXPECT_GE(resumed, 20);
}

TEST(Reliability, ACheckpointWithAFlippedWeightByteExits7NamingTheFile) {
  Fixture f(experiment(40, 20));
  ASSERT_EQ(f.run("a").status, 0);
  const fs::path ck = f.run_dir("a") / "checkpoint.h5";
  // Find the bytes of one weight tensor in the file and flip one bit in its middle.
  const Checkpoint c = read_checkpoint(f.run_dir("a"));
  const Tensor& w = c.model.at("h.0.mlp.c_fc.weight");
  const std::string needle(reinterpret_cast<const char*>(w.data()), 64);
  std::string bytes = read_file(ck);
  const size_t at = bytes.find(needle);
  ASSERT_NE(at, std::string::npos) << "the weight's bytes are not stored contiguously";
  bytes[at + 33] ^= 0x10;
  std::ofstream(ck, std::ios::binary | std::ios::trunc) << bytes;

  const Outcome o = run_program({"resume", f.run_dir("a").string()}, f.dir.path(), Fixture::env());
  EXPECT_TRUE(o.exited);
  EXPECT_EQ(o.status, 7) << o.err;
  EXPECT_NE(o.err.find(ck.string()), std::string::npos) << o.err;
}

TEST(Reliability, ASweepWithAFailingRunCompletesTheOthersAndSaysSo) {
  Fixture f(experiment(30, 30) +
            "[sweep]\ncases = [{ \"loss.plugin\" = \"cross_entropy\" },\n"
            "         { \"loss.plugin\" = \"nan_after\", \"loss.calls\" = 10 },\n"
            "         { \"model.n_layer\" = 1 }]\n");
  const Outcome o =
      run_program({"run", f.exp.string(), "--out", f.out.string()}, f.dir.path(), Fixture::env());
  EXPECT_TRUE(o.exited);
  EXPECT_EQ(o.status, 6) << "the exit status is that of the failure\n" << o.err;
  const std::string failed = "loss.plugin=nan_after,calls=10";
  // Reported as it happens: before the next run starts, and again in the final summary.
  const size_t first = o.err.find(failed);
  ASSERT_NE(first, std::string::npos) << o.err;
  const size_t next = o.err.find("n_layer=1");
  ASSERT_NE(next, std::string::npos) << o.err;
  EXPECT_LT(first, next) << o.err;
  const size_t summary = o.err.rfind(failed);
  EXPECT_GT(summary, next) << o.err;
  EXPECT_NE(o.err.find("step 11", first), std::string::npos) << o.err;
  const fs::path runs = f.out / "rel";
  EXPECT_EQ(read_run(runs / "loss.plugin=cross_entropy" / "run.h5").status, "completed");
  EXPECT_EQ(read_run(runs / failed / "run.h5").status, "failed");
  EXPECT_EQ(read_run(runs / "n_layer=1" / "run.h5").status, "completed");
}

TEST(Reliability, CompareInALoopBesideAWritingRunSeesAGrowingRun) {
  Fixture f(experiment(1500, 500));
  Program writer(f.run_args("live"), f.dir.path(), Fixture::env(), "live");
  ASSERT_TRUE(wait_until([&] { return fs::exists(f.run_dir("live") / "run.h5"); }));
  double last_wall = -1;  // the last column, wall-clock seconds; -1 until rows have arrived
  int polls = 0, seen_growing = 0;
  while (writer.running() || polls == 0) {
    const Outcome c = run_program({"compare", f.run_dir("live").string(), "--format", "csv"},
                                  f.dir.path(), Fixture::env());
    ASSERT_TRUE(c.exited && c.status == 0) << c.err;
    ++polls;
    const size_t line = c.out.find('\n');
    ASSERT_NE(line, std::string::npos) << c.out;
    std::string row = c.out.substr(line + 1);
    row = row.substr(0, row.find('\n'));
    const size_t comma = row.find(',');  // after the run's name
    const std::string status = row.substr(comma + 1, row.find(',', comma + 1) - comma - 1);
    EXPECT_TRUE(status == "running" || status == "completed") << row;
    const std::string wall_text = row.substr(row.rfind(',') + 1);
    if (wall_text.empty()) {  // no row flushed yet, which cannot follow a poll that saw rows
      EXPECT_LT(last_wall, 0) << row;
      continue;
    }
    const double wall = std::stod(wall_text);
    EXPECT_GE(wall, last_wall) << row;
    seen_growing += status == "running" && wall > last_wall && last_wall >= 0;
    last_wall = wall;
  }
  const Outcome o = writer.wait();
  ASSERT_EQ(o.status, 0) << o.err;
  EXPECT_GE(seen_growing, 1) << "no two polls saw the running run grow (" << polls << " polls)";
  EXPECT_EQ(read_run(f.run_dir("live") / "run.h5").train.size(), 1500u);
}

TEST(Reliability, ASkippedNonFiniteStepLeavesTheParametersUnchanged) {
  // The constant schedule makes steps 1..25 identical whatever max_iters is.
  Fixture f(experiment(60, 1));
  ASSERT_EQ(f.run("clean", {"train.max_iters=25"}).status, 0);
  const Outcome o = f.run("skip", {"loss.plugin=nan_after", "loss.calls=25",
                                   "train.on_nonfinite=\"skip\"", "train.max_nonfinite_skips=3"});
  ASSERT_EQ(o.status, 6) << o.err;
  const Checkpoint clean = read_checkpoint(f.run_dir("clean"));
  const Checkpoint skipped = read_checkpoint(f.run_dir("skip"));
  ASSERT_EQ(clean.step, 25);
  ASSERT_EQ(skipped.step, 28);  // steps 26, 27, 28 were skipped; 29 was one too many
  for (const auto& [name, t] : clean.model)
    EXPECT_EQ(skipped.model.at(name).to_vector(), t.to_vector()) << name;
  for (const auto& [name, t] : clean.optimizer)
    EXPECT_EQ(skipped.optimizer.at(name).to_vector(), t.to_vector()) << name;
}

}  // namespace
}  // namespace nanolab::test
