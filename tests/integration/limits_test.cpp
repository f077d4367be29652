// The real program against inputs that used to escape the output folder, exhaust the memory or
// block: a run's name that is a path, a configuration too large for the machine, and paths that
// name a FIFO, a device, a folder or a huge file. Each exits with its documented status, one
// message, and nothing created; none may hang (a watchdog kills the program and fails the test).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "nanolab/input_file.hpp"
#include "support/program.hpp"
#include "support/temp_dir.hpp"

namespace nanolab::test {
namespace {

namespace fs = std::filesystem;

// A small GPT on synthetic:copy that trains in about a second.
const char* const tiny =
    "[experiment]\nname = \"tiny\"\n"
    "[data]\ndataset = \"synthetic:copy\"\nblock_size = 16\nbatch_size = 8\n"
    "[model]\nn_layer = 2\nn_head = 2\nn_embd = 32\n"
    "[train]\nmax_iters = 20\nwarmup_iters = 5\neval_interval = 20\neval_iters = 2\n"
    "checkpoint_interval = 20\nsample_tokens = 8\n";

// The program's outcome, or a failure after `limit` (it hung: a FIFO it waits on, say).
Outcome run_within(const std::vector<std::string>& args, const fs::path& scratch,
                   std::chrono::seconds limit = std::chrono::seconds(120)) {
  Program p(args, scratch, {{"XDG_CACHE_HOME", (scratch / "cache").string()}});
  const auto deadline = std::chrono::steady_clock::now() + limit;
  // Has it ended? WNOWAIT leaves it for wait() to collect.
  auto ended = [&] {
    siginfo_t info{};
    return waitid(P_PID, id_t(p.pid()), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid != 0;
  };
  // Polling only to enforce the safety net; the outcome is whatever the program reports.
  while (!ended() && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (!ended()) {
    ADD_FAILURE() << "nanolab " << args.front() << " was still running after " << limit.count()
                  << " s; killed";
    p.signal(SIGKILL);
  }
  return p.wait();
}

struct Scratch {
  TempDir dir{"nanolab-limits"};
  fs::path exp = dir.path() / "tiny.toml";
  fs::path out = dir.path() / "runs";
  Scratch() { std::ofstream(exp) << tiny; }

  fs::path fifo(const std::string& name) const {
    const fs::path p = dir.path() / name;
    if (mkfifo(p.c_str(), 0600) != 0) throw std::runtime_error("mkfifo " + p.string());
    return p;
  }
  // Everything in the scratch folder but the experiment, the program's output and the FIFOs.
  std::vector<std::string> created() const {
    std::vector<std::string> out;
    for (const auto& e : fs::recursive_directory_iterator(dir.path())) {
      const std::string name = e.path().filename();
      if (e.path() != exp && !name.ends_with(".out") && !name.ends_with(".err") &&
          !e.is_fifo() && !name.starts_with("keep"))
        out.push_back(fs::relative(e.path(), dir.path()));
    }
    return out;
  }
};

void expect_status(const Outcome& o, int status, const std::string& in_message) {
  EXPECT_TRUE(o.exited) << "killed by signal " << o.status << "\n" << o.err;
  EXPECT_EQ(o.status, status) << o.err;
  EXPECT_NE(o.err.find(in_message), std::string::npos) << "missing '" << in_message << "' in:\n"
                                                       << o.err;
}

// ---- run names -------------------------------------------------------------------------------

TEST(RunName, APathOrAnEmptyDotOrControlNameExits2AndCreatesNothing) {
  Scratch s;
  const fs::path outside = s.dir.path() / "escaped";
  const std::pair<std::string, std::string> names[] = {
      {"../../escaped", "holds a '/'"},
      {outside.string(), "holds a '/'"},
      {"", "is empty"},
      {".", "is '.'"},
      {"..", "is '..'"},
      {"a/../../escaped", "holds a '/'"},
      {"a\x01" "b", "control character 0x01"},
      {std::string(256, 'n'), "is 256 bytes long, more than the 255"},
  };
  for (const auto& [name, reason] : names) {
    const Outcome o = run_within({"run", s.exp.string(), "--out", s.out.string(), "--name", name},
                                 s.dir.path());
    expect_status(o, 2, reason);
    EXPECT_NE(o.err.find("--name "), std::string::npos) << o.err;
    EXPECT_EQ(s.created(), std::vector<std::string>{}) << "--name of " << name.size() << " bytes";
  }
}

TEST(RunName, ASweepWhoseNamesOutgrowAFolderNameExits2InCheckAndRun) {
  Scratch s;
  std::ofstream(s.exp, std::ios::app)
      << "[sweep]\n\"model.dropout\" = [0.123456789012345]\n"
      << "\"optimizer.lr\" = [0.00123456789012345]\n\"train.min_lr\" = [0.00012345678901234]\n"
      << "\"train.grad_clip\" = [1.23456789012345]\n"
      << "\"data.dataset\" = [\"synthetic:copy-0123456789012345678901234567890123456789\"]\n"
      << "\"train.log_interval\" = [1234567891]\n\"train.checkpoint_interval\" = [1234567891]\n"
      << "\"train.eval_interval\" = [1234567891]\n\"train.max_nonfinite_skips\" = [1234567891]\n"
      << "\"train.lr_decay_iters\" = [1234567891]\n";
  for (const std::string command : {"check", "run"}) {
    std::vector<std::string> args = {command, s.exp.string()};
    if (command == "run") args.insert(args.end(), {"--out", s.out.string()});
    expect_status(run_within(args, s.dir.path()), 2, "bytes long, more than the 255");
  }
  EXPECT_EQ(s.created(), std::vector<std::string>{});
}

// ---- memory ------------------------------------------------------------------------------------

TEST(Memory, HugeIntegerKeysExit2InCheckAndRunCreatingNothing) {
  Scratch s;
  const std::pair<std::string, std::string> sets[] = {
      {"model.n_layer=1000000000", "model.n_layer: must be [1, 4096]"},
      {"data.block_size=1000000000000", "data.block_size: must be [1, 1048576]"},
      {"model.vocab_size=1000000000000", "model.vocab_size: must be [0, 2147483647]"},
      {"data.batch_size=9223372036854775807", "data.batch_size: must be [1, 1048576]"},
      {"train.grad_accum_steps=1000000000000", "train.grad_accum_steps: must be [1, 4096]"},
      {"train.sample_tokens=1000000000000", "train.sample_tokens: must be [0, 1048576]"},
  };
  for (const auto& [set, message] : sets)
    for (const std::string command : {"check", "run"}) {
      std::vector<std::string> args = {command, s.exp.string(), "--set", set};
      if (command == "run") args.insert(args.end(), {"--out", s.out.string()});
      expect_status(run_within(args, s.dir.path()), 2, message);
    }
  EXPECT_EQ(s.created(), std::vector<std::string>{});
}

TEST(Memory, ARunThatCannotFitExits2WithTheEstimateAndTheMemoryAvailable) {
  Scratch s;
  // Inside every bound, and petabytes: 4096 blocks of width 65536.
  for (const std::string command : {"check", "run"}) {
    std::vector<std::string> args = {command, s.exp.string(), "--set", "model.n_layer=4096",
                                     "--set", "model.n_embd=65536", "--set", "model.n_head=4"};
    if (command == "run") args.insert(args.end(), {"--out", s.out.string()});
    const Outcome o = run_within(args, s.dir.path());
    // Named after the keys --set gives (docs/experiments.md#sweeps).
    expect_status(o, 2, "run tiny/n_embd=65536,n_head=4,n_layer=4096 needs about ");
    EXPECT_NE(o.err.find("TiB (parameters "), std::string::npos) << o.err;
    EXPECT_NE(o.err.find(" available ("), std::string::npos) << o.err;
    EXPECT_NE(o.err.find("NANOLAB_MEMORY_CHECK=off"), std::string::npos) << o.err;
  }
  EXPECT_EQ(s.created(), std::vector<std::string>{});
}

TEST(Memory, CheckPrintsTheEstimateOfEachRun) {
  Scratch s;
  const Outcome o = run_within({"check", s.exp.string()}, s.dir.path());
  expect_status(o, 0, "");
  EXPECT_NE(o.out.find("  run  needs about "), std::string::npos) << o.out;
  EXPECT_NE(o.out.find(" MiB (parameters "), std::string::npos) << o.out;
}

// ---- input files -------------------------------------------------------------------------------

TEST(InputFiles, AnIncludeThatIsADeviceAFifoAFolderOrHugeExits2AtOnce) {
  Scratch s;
  const fs::path fifo = s.fifo("keep-fifo.toml");
  const fs::path folder = s.dir.path() / "keep-folder";
  fs::create_directory(folder);
  const fs::path huge = s.dir.path() / "keep-huge.toml";
  std::ofstream(huge) << std::string(input_limit::experiment + 1, '#');
  const std::pair<std::string, std::string> includes[] = {
      {"/dev/zero", "cannot include '/dev/zero': a character device, not a regular file"},
      {fifo.string(), "': a FIFO, not a regular file"},
      {folder.string(), "': a directory, not a regular file"},
      {huge.string(), "': 1048577 bytes, more than the 1048576"},
  };
  for (const auto& [include, message] : includes) {
    const fs::path exp = s.dir.path() / "keep-including.toml";
    std::ofstream(exp) << "[experiment]\ninclude = [\"" << include << "\"]\n";
    expect_status(run_within({"check", exp.string()}, s.dir.path()), 2, message);
  }
  // The experiment file itself.
  expect_status(run_within({"check", fifo.string()}, s.dir.path()), 2,
                fifo.string() + ": a FIFO, not a regular file");
  expect_status(run_within({"run", "/dev/zero", "--out", s.out.string()}, s.dir.path()), 2,
                "/dev/zero: a character device, not a regular file");
  EXPECT_EQ(s.created(), std::vector<std::string>{});
}

TEST(InputFiles, ADatasetThatIsAFifoOrADeviceExits3CreatingNoRun) {
  Scratch s;
  const fs::path fifo = s.fifo("keep-text.txt");
  for (const std::string& dataset : {fifo.string(), std::string("/dev/zero")}) {
    const Outcome o =
        run_within({"run", s.exp.string(), "--out", s.out.string(), "--set",
                    "data.dataset=\"" + dataset + "\"", "--set", "data.tokenizer.plugin=char"},
                   s.dir.path());
    expect_status(o, 3, dataset + ": a ");
    EXPECT_FALSE(fs::exists(s.out)) << dataset;
  }
}

TEST(InputFiles, AWeightFileThatIsAFifoExits7) {
  Scratch s;
  const fs::path fifo = s.fifo("keep-model.bin");
  expect_status(run_within({"eval", fifo.string(), "--data", "tinyshakespeare"}, s.dir.path()), 7,
                fifo.string() + ": a FIFO, not a regular file");
  expect_status(run_within({"export", fifo.string(), "--format", "llmc", "-o",
                            (s.dir.path() / "keep-out.bin").string()},
                           s.dir.path()),
                7, fifo.string() + ": a FIFO, not a regular file");
}

TEST(InputFiles, TokenizerFilesAndTextsThatAreFifosExit3) {
  Scratch s;
  const fs::path tokenizer = s.fifo("keep-tok.model");
  const fs::path text = s.fifo("keep-text.txt");
  expect_status(
      run_within({"tokenizer", "encode", "--tokenizer", tokenizer.string(), "--text", "x"},
                 s.dir.path()),
      3, "cannot read '" + tokenizer.string() + "': a FIFO, not a regular file");
  expect_status(run_within({"tokenizer", "train", text.string(), "--vocab-size", "300", "-o",
                            (s.dir.path() / "keep-t.model").string()},
                           s.dir.path()),
                3, "cannot read '" + text.string() + "': a FIFO, not a regular file");
  // GPT-2's encoder.json, read by the bpe plugin.
  const fs::path gpt2 = s.dir.path() / "keep-gpt2";
  fs::create_directory(gpt2);
  if (mkfifo((gpt2 / "encoder.json").c_str(), 0600) != 0) FAIL() << "mkfifo";
  std::ofstream(gpt2 / "vocab.bpe") << "#version: 0.2\n";
  expect_status(run_within({"tokenizer", "encode", "--gpt2", gpt2.string(), "--text", "x"},
                           s.dir.path()),
                3, (gpt2 / "encoder.json").string() + ": a FIFO, not a regular file");
}

}  // namespace
}  // namespace nanolab::test
