// SIGINT and SIGTERM stop the real program within 2 s wherever it is, with exit status 130 and one
// message (docs/cli.md): while it samples 10^8 tokens, trains a tokenizer to a large vocabulary,
// evaluates a model over millions of tokens, or sets a run up (its dataset's tokenizer training),
// before the run has a directory. Each test waits for a sign that the program is inside that phase
// (a line on stderr, a file, or handlers installed and CPU time spent), sends the signal and times
// the end from it. The training loop's own stop (step finished, checkpoint, `interrupted`) is held
// by Run.ResumeAfterSigtermEqualsUninterrupted (run_test.cpp); the reading loop of compare and
// report by LoadRuns.ASignalStopsItBetweenTwoFiles (tests/unit/report).
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <random>
#include <sstream>

#include "support/program.hpp"
#include "support/temp_dir.hpp"

namespace nanolab::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// The fields of /proc/PID/stat after the command name: [0] the state, [11] utime, [12] stime.
std::vector<std::string> proc_stat(pid_t pid) {
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  std::vector<std::string> fields;
  const size_t end_of_name = stat.rfind(')');
  if (end_of_name == std::string::npos) return fields;
  std::istringstream in(stat.substr(end_of_name + 1));
  for (std::string f; in >> f;) fields.push_back(f);
  return fields;
}

// Whether the process has ended (a zombie not yet reaped by Program::wait, or gone).
bool ended(pid_t pid) {
  const auto f = proc_stat(pid);
  return f.empty() || f[0] == "Z";
}

// Seconds of CPU the process has used.
double cpu_seconds(pid_t pid) {
  const auto f = proc_stat(pid);
  if (f.size() < 13) return 0;
  return double(std::stoll(f[11]) + std::stoll(f[12])) / double(sysconf(_SC_CLK_TCK));
}

// Whether the process catches `sig` (its handler is installed): /proc/PID/status, SigCgt.
bool catches(pid_t pid, int sig) {
  std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(in, line);)
    if (line.rfind("SigCgt:", 0) == 0)
      return (std::stoull(line.substr(7), nullptr, 16) >> (sig - 1)) & 1;
  return false;
}

// Sends `sig` and expects the program to end within 2 s of it, exit 130, with `message` as the
// last line of its stderr. Returns the outcome (empty if it did not end).
Outcome expect_stops(Program& p, int sig, const std::string& message) {
  const auto sent = std::chrono::steady_clock::now();
  p.signal(sig);
  // The safety net is long; the promise is measured.
  const bool done = wait_until([&] { return ended(p.pid()); }, 60s);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count();
  EXPECT_TRUE(done) << "still running 60 s after the signal";
  if (!done) return {};
  EXPECT_LT(seconds, 2.0) << "ended " << seconds << " s after the signal";
  Outcome o = p.wait();
  EXPECT_TRUE(o.exited) << "killed by signal " << o.status << "\n" << o.err;
  EXPECT_EQ(o.status, 130) << o.err;
  // One message, the last line.
  EXPECT_EQ(o.err.find("interrupted"), o.err.rfind("interrupted")) << o.err;
  EXPECT_GE(o.err.size(), message.size() + 1) << o.err;
  if (o.err.size() > message.size()) {
    EXPECT_EQ(o.err.substr(o.err.size() - message.size() - 1), message + "\n") << o.err;
  }
  return o;
}

// HOME: the shard cache under the test's folder.
std::map<std::string, std::string> env_in(const fs::path& dir) {
  return {{"HOME", dir.string()}, {"NANOLAB_THREADS", "2"}};
}

// Text of random lowercase words separated by spaces and newlines: many distinct chunks, so that
// a BPE's training to a large vocabulary takes long.
std::string random_words(size_t bytes, unsigned seed) {
  std::mt19937 gen(seed);
  std::string text;
  text.reserve(bytes);
  while (text.size() < bytes) {
    const int n = 2 + int(gen() % 9);
    for (int i = 0; i < n; ++i) text += char('a' + gen() % 26);
    text += gen() % 12 == 0 ? '\n' : ' ';
  }
  return text;
}

TEST(Interrupt, SampleOfAHundredMillionTokensStopsWithin2sExit130) {
  TempDir dir{"nanolab-interrupt"};
  // A text dataset: a synthetic task's sample would stop at the end of its answer.
  const fs::path text = dir.path() / "words.txt", exp = dir.path() / "tiny.toml";
  std::ofstream(text) << random_words(64 << 10, 2);
  std::ofstream(exp)
      << "[experiment]\nname = \"tiny\"\n"
         "[data]\ndataset = \"" + text.string() + "\"\ntokenizer = { plugin = \"char\" }\n"
         "block_size = 16\nbatch_size = 4\n"
         "[model]\nn_layer = 1\nn_head = 2\nn_embd = 16\n"
         "[train]\nmax_iters = 4\nwarmup_iters = 1\neval_interval = 4\neval_iters = 1\n";
  const Outcome trained = run_program(
      {"run", exp.string(), "--out", (dir.path() / "runs").string(), "--name", "r", "--quiet"},
      dir.path(), env_in(dir.path()));
  ASSERT_TRUE(trained.exited && trained.status == 0) << trained.err;
  for (int sig : {SIGINT, SIGTERM}) {
    Program p({"sample", (dir.path() / "runs" / "tiny" / "r").string(), "--tokens", "100000000"},
              dir.path(), env_in(dir.path()), "sample");
    // Handlers installed and a second of CPU spent: the checkpoint is read (milliseconds), so it
    // is drawing tokens.
    ASSERT_TRUE(wait_until(
        [&] { return ended(p.pid()) || (catches(p.pid(), sig) && cpu_seconds(p.pid()) > 1.0); }));
    ASSERT_FALSE(ended(p.pid())) << p.wait().err;
    const Outcome o = expect_stops(
        p, sig,
        std::string("nanolab sample: interrupted by ") + (sig == SIGINT ? "SIGINT" : "SIGTERM"));
    EXPECT_EQ(o.out, "") << "no text cut short";
  }
}

TEST(Interrupt, TokenizerTrainingToALargeVocabStopsWithin2sExit130) {
  TempDir dir{"nanolab-interrupt"};
  const fs::path text = dir.path() / "words.txt";
  std::ofstream(text) << random_words(4 << 20, 1);
  const fs::path out = dir.path() / "words.tok";
  Program p({"tokenizer", "train", text.string(), "--vocab-size", "60000", "-o", out.string()},
            dir.path(), env_in(dir.path()), "tokenizer");
  ASSERT_TRUE(wait_until([&] {
    return ended(p.pid()) ||
           read_file(dir.path() / "tokenizer.err").find("training bpe") != std::string::npos;
  }));
  ASSERT_FALSE(ended(p.pid())) << p.wait().err;
  const Outcome o = expect_stops(p, SIGINT, "nanolab tokenizer: interrupted by SIGINT");
  EXPECT_EQ(o.err.find("trained in"), std::string::npos) << "it finished before the signal:\n"
                                                         << o.err;
  // Nothing written, not even the temporary file.
  for (const auto& entry : fs::directory_iterator(dir.path()))
    EXPECT_EQ(entry.path().filename().string().find("words.tok"), std::string::npos)
        << entry.path();
}

TEST(Interrupt, EvalOverMillionsOfTokensStopsWithin2sExit130) {
  TempDir dir{"nanolab-interrupt"};
  // Random letters: GPT-2's small fixture model (block 16, vocab 96) with the char tokenizer.
  std::mt19937 gen(2);
  std::string letters(16 << 20, 'a');
  for (char& c : letters) c = char('a' + gen() % 26);
  const fs::path text = dir.path() / "letters.txt";
  std::ofstream(text) << letters;
  const fs::path model =
      fs::path(NANOLAB_TEST_SOURCE_DIR) / "tests" / "fixtures" / "gpt2" / "gpt2.bin";
  Program p({"eval", model.string(), "--data", text.string(), "--split", "train", "--set",
             "data.batch_size=1"},
            dir.path(), env_in(dir.path()), "eval");
  // The val shard is the last file of the set-up: then it evaluates (the train split, 15M tokens).
  const fs::path shards = dir.path() / ".cache" / "nanolab" / "shards";
  ASSERT_TRUE(wait_until([&] {
    std::error_code ec;
    if (ended(p.pid())) return true;
    if (!fs::is_directory(shards, ec)) return false;
    for (const auto& d : fs::directory_iterator(shards, ec))
      if (fs::exists(d.path() / "val.bin", ec)) return true;
    return false;
  }));
  ASSERT_FALSE(ended(p.pid())) << p.wait().err;
  const Outcome o = expect_stops(p, SIGTERM, "nanolab eval: interrupted by SIGTERM");
  EXPECT_EQ(o.out, "") << "no result from a part of the split";
}

TEST(Interrupt, ASignalDuringARunsSetUpStopsItBeforeItsDirectoryExists) {
  TempDir dir{"nanolab-interrupt"};
  const fs::path text = dir.path() / "words.txt";
  std::ofstream(text) << random_words(4 << 20, 3);
  const fs::path exp = dir.path() / "bpe.toml";
  std::ofstream(exp) << "[experiment]\nname = \"bpe\"\n"
                        "[data]\ndataset = \""
                     << text.string()
                     << "\"\nblock_size = 16\nbatch_size = 4\n"
                        "vocab_size = 60000\ntokenizer = { plugin = \"bpe\" }\n"
                        "[model]\nn_layer = 1\nn_head = 2\nn_embd = 16\n"
                        "[train]\nmax_iters = 4\nwarmup_iters = 1\n";
  const fs::path out = dir.path() / "runs";
  Program p({"run", exp.string(), "--out", out.string()}, dir.path(), env_in(dir.path()), "run");
  // Handlers installed and a second of CPU spent: reading 4 MB takes milliseconds, the tokenizer's
  // training to 60000 tokens far longer.
  ASSERT_TRUE(wait_until(
      [&] { return ended(p.pid()) || (catches(p.pid(), SIGINT) && cpu_seconds(p.pid()) > 1.0); }));
  ASSERT_FALSE(ended(p.pid())) << p.wait().err;
  expect_stops(p, SIGINT, "nanolab run: interrupted by SIGINT");
  EXPECT_FALSE(fs::exists(out / "bpe")) << "the run was created: the set-up had ended";
}

}  // namespace
}  // namespace nanolab::test
