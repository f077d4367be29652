// Token shard datasets and `nanolab tokenizer encode --shards` end to end, through the real
// program:
// - a run on a folder of llm.c shards, killed with -9 after its first checkpoint and resumed,
//   ends equal to an uninterrupted run (batches are a pure function of seed and step); `sample`
//   decodes with the experiment's tokenizer;
// - a shard with a bad magic, and ids outside the tokenizer's vocabulary, exit 3 naming the file
//   and the byte offset, before a run directory is created;
// - encode --shards writes the same bytes on 1 and 2 threads, and the shards hold exactly the ids
//   `encode` prints for the whole text, read back by a Python reader written as llm.c's
//   (numpy.memmap: tools/reference/read_llmc_shards.py); its usage mistakes exit 2, and a shard
//   it cannot write leaves none of them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <map>
#include <fstream>
#include <sstream>

#include "nanolab/run_store.hpp"
#include "support/program.hpp"
#include "support/run_compare.hpp"
#include "support/skip.hpp"
#include "support/temp_dir.hpp"

namespace nanolab::test {
namespace {

namespace fs = std::filesystem;

// splitmix64 of (seed, i): the test's fixed pseudo-random numbers.
uint64_t mix(uint64_t seed, uint64_t i) {
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + i + 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// An llm.c shard (version 1) of `ids`, with `magic` in its header.
void write_llmc(const fs::path& file, const std::vector<uint16_t>& ids, int32_t magic = 20240520) {
  std::vector<int32_t> header(256, 0);
  header[0] = magic;
  header[1] = 1;
  header[2] = int32_t(ids.size());
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(header.data()), 1024);
  out.write(reinterpret_cast<const char*>(ids.data()), std::streamsize(ids.size() * 2));
}

// Ids of a text with some structure to learn: words of a small alphabet, fixed by `seed`.
std::vector<uint16_t> text_ids(uint64_t seed, size_t n) {
  std::vector<uint16_t> ids;
  for (size_t i = 0; ids.size() < n; ++i) {
    if (i % 9 == 8) {
      ids.push_back(uint16_t('\n'));
      continue;
    }
    ids.insert(ids.end(), 1 + mix(seed, i) % 4, uint16_t('a' + i % 5));
    ids.push_back(uint16_t(' '));
  }
  ids.resize(n);
  return ids;
}

struct Fixture {
  TempDir dir{"nanolab-shards"};
  fs::path shards = dir.path() / "shards";
  fs::path exp = dir.path() / "tiny.toml";
  fs::path out = dir.path() / "runs";

  explicit Fixture(int64_t max_iters) {
    fs::create_directories(shards);
    write_llmc(shards / "tiny_val_000000.bin", text_ids(1, 3000));
    write_llmc(shards / "tiny_train_000001.bin", text_ids(2, 20000));
    write_llmc(shards / "tiny_train_000002.bin", text_ids(3, 7000));
    std::ofstream(exp) << "[experiment]\nname = \"tiny\"\nseed = 7\n"
                          "[data]\ndataset = \"" + shards.string() + "\"\ntokenizer = { plugin = \"byte\" }\n"
                          "block_size = 16\nbatch_size = 8\n"
                          "[model]\nn_layer = 2\nn_head = 2\nn_embd = 32\n"
                          "[optimizer]\nlr = 3e-3\n"
                          "[train]\nmax_iters = " + std::to_string(max_iters) +
                          "\nwarmup_iters = 5\neval_interval = 20\neval_iters = 2\nlog_interval = 1\n"
                          "checkpoint_interval = 20\nsample_tokens = 8\n";
  }
  std::vector<std::string> run_args(const std::string& name) const {
    return {"run", exp.string(), "--out", out.string(), "--name", name};
  }
  fs::path run_dir(const std::string& name) const { return out / "tiny" / name; }
};

TEST(Shards, ResumeAfterKill9OnAShardFolderEqualsTheUninterruptedRun) {
  Fixture f(400);
  const Outcome whole = run_program(f.run_args("whole"), f.dir.path());
  ASSERT_TRUE(whole.exited && whole.status == 0) << whole.err;
  const RunLog whole_log = read_run(f.run_dir("whole") / "run.h5");
  EXPECT_LT(whole_log.val.back().loss, whole_log.val.front().loss);
  EXPECT_NE(whole_log.meta.at("dataset").find("train 27000 tokens in 2 files, val 3000 tokens"),
            std::string::npos)
      << whole_log.meta.at("dataset");
  {
    Program p(f.run_args("cut"), f.dir.path(), {}, "cut");
    ASSERT_TRUE(wait_until([&] { return fs::exists(f.run_dir("cut") / "checkpoint.h5"); }));
    p.signal(SIGKILL);
    EXPECT_FALSE(p.wait().exited);
  }
  ASSERT_LT(read_run(f.run_dir("cut") / "run.h5").train.size(), 400u)
      << "the run ended before it was killed";
  const Outcome r = run_program({"resume", f.run_dir("cut").string()}, f.dir.path());
  ASSERT_TRUE(r.exited && r.status == 0) << r.err;
  const RunLog resumed = read_run(f.run_dir("cut") / "run.h5");
  EXPECT_EQ(resumed.status, "completed");
  expect_same_run(resumed, whole_log);

  const Outcome s = run_program({"sample", f.run_dir("whole").string(), "--tokens", "20"}, f.dir.path());
  ASSERT_TRUE(s.exited && s.status == 0) << s.err;
  EXPECT_EQ(s.out.size(), 1u + 20u + 1u) << s.out;  // the "\n" prompt, 20 bytes, a newline
}

TEST(Shards, ABadHeaderOrAnIdOutsideTheVocabularyExits3NamingFileAndOffsetAndCreatesNothing) {
  Fixture f(10);
  const fs::path bad = f.shards / "tiny_train_000002.bin";
  write_llmc(bad, text_ids(3, 7000), 20240521);
  Outcome o = run_program(f.run_args("a"), f.dir.path());
  ASSERT_TRUE(o.exited) << o.err;
  EXPECT_EQ(o.status, 3) << o.err;
  EXPECT_NE(o.err.find(bad.string() + ": at byte offset 0: magic 20240521, expected llm.c's 20240520"),
            std::string::npos)
      << o.err;
  EXPECT_FALSE(fs::exists(f.run_dir("a"))) << "a data error created the run directory";

  auto ids = text_ids(3, 7000);
  ids[100] = 300;  // the byte tokenizer has 256 ids
  write_llmc(bad, ids);
  o = run_program(f.run_args("a"), f.dir.path());
  ASSERT_TRUE(o.exited) << o.err;
  EXPECT_EQ(o.status, 3) << o.err;
  EXPECT_NE(o.err.find(bad.string() + ": at byte offset 1224: token id 300 is outside the "
                                      "vocabulary of the byte tokenizer (256 ids)"),
            std::string::npos)
      << o.err;
  EXPECT_FALSE(fs::exists(f.run_dir("a")));
}

// The first python3 with numpy: PATH's (it may be a pyenv one), then Debian's; "" if none.
std::string python_with_numpy(const fs::path& scratch) {
  for (const std::string candidate : {"python3", "/usr/bin/python3"}) {
    const fs::path probe = scratch / "probe";
    const std::string cmd = candidate + " -c 'import numpy' > " + probe.string() + " 2>&1";
    if (std::system(cmd.c_str()) == 0) return candidate;
  }
  return "";
}

std::vector<fs::path> shard_files(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  return files;
}

TEST(Shards, EncodeShardsIsTheSameOnOneAndTwoThreadsAndHoldsTheTextsIds) {
  TempDir dir;
  // 2.5 MB of words and lines: three pieces of about 1 MiB.
  const fs::path text = dir.path() / "corpus.txt";
  {
    std::ofstream out(text, std::ios::binary);
    for (size_t i = 0, size = 0; size < 2'500'000; ++i) {
      const std::string word(1 + mix(5, i) % 6, char('a' + mix(6, i) % 26));
      out << (i % 11 == 10 ? '\n' : ' ') << word;
      size += 1 + word.size();
    }
  }
  const fs::path tok = dir.path() / "tok";
  ASSERT_EQ(run_program({"tokenizer", "train", text.string(), "--vocab-size", "400", "-o", tok.string()},
                        dir.path())
                .status,
            0);
  std::map<int, std::vector<fs::path>> files;
  for (int threads : {1, 2}) {
    const fs::path out = dir.path() / ("t" + std::to_string(threads));
    const Outcome o = run_program({"tokenizer", "encode", "--tokenizer", tok.string(), "--shards",
                                   out.string(), "--shard-tokens", "300000", text.string()},
                                  dir.path(), {{"NANOLAB_THREADS", std::to_string(threads)}});
    ASSERT_TRUE(o.exited && o.status == 0) << o.err;
    EXPECT_NE(o.err.find("encoding " + text.string() + ": 2.5 / 2.5 MB"), std::string::npos) << o.err;
    EXPECT_NE(o.err.find("shards to " + out.string()), std::string::npos) << o.err;
    files[threads] = shard_files(out);
  }
  ASSERT_GE(files[1].size(), 3u);
  ASSERT_EQ(files[1].size(), files[2].size());
  for (size_t i = 0; i < files[1].size(); ++i) {
    EXPECT_EQ(files[1][i].filename(), files[2][i].filename());
    EXPECT_EQ(read_file(files[1][i]), read_file(files[2][i])) << files[1][i].filename();
  }
  EXPECT_EQ(files[1].back().filename(), "corpus_val_000000.bin");  // sorted: train before val

  const Outcome whole = run_program({"tokenizer", "encode", "--tokenizer", tok.string(), text.string()},
                                    dir.path());
  ASSERT_EQ(whole.status, 0) << whole.err;
  const std::string python = python_with_numpy(dir.path());
  NANOLAB_NEEDS(!python.empty(), "needs python3 with numpy (apt-get install python3-numpy)");
  // val first, then train in name order: the order of the text.
  std::string cmd = python + " " NANOLAB_TEST_SOURCE_DIR "/tools/reference/read_llmc_shards.py " +
                    files[1].back().string();
  for (size_t i = 0; i + 1 < files[1].size(); ++i) cmd += " " + files[1][i].string();
  const fs::path read_back = dir.path() / "ids.txt";
  ASSERT_EQ(std::system((cmd + " > " + read_back.string()).c_str()), 0) << cmd;
  EXPECT_EQ(read_file(read_back), whole.out);
}

TEST(Shards, EncodeShardsUsageMistakesExit2AndWriteNothing) {
  TempDir dir;
  const fs::path text = dir.path() / "t.txt", tok = dir.path() / "tok";
  std::ofstream(text) << "some text to encode\nand more of it\n";
  ASSERT_EQ(run_program({"tokenizer", "train", text.string(), "--vocab-size", "260", "-o", tok.string()},
                        dir.path())
                .status,
            0);
  const std::string out = (dir.path() / "out").string();
  const std::vector<std::vector<std::string>> mistakes = {
      {"--shards", out, "--shard-tokens", "0", text.string()},
      {"--shards", out, "--shard-tokens", "2147483648", text.string()},
      {"--shards", out, "--val-tokens", "1.5", text.string()},
      {"--shards", out, "--count", text.string()},
      {"--shards", out, "--text", "abc"},
      {"--shards", out, "--prefix", "a/b", text.string()},
      {"--val-tokens", "10", text.string()},
      {"--shards", out, "--val-tokens", "1000", text.string()},  // leaves no train token
  };
  for (const auto& m : mistakes) {
    std::vector<std::string> args = {"tokenizer", "encode", "--tokenizer", tok.string()};
    args.insert(args.end(), m.begin(), m.end());
    const Outcome o = run_program(args, dir.path());
    EXPECT_TRUE(o.exited && o.status == 2) << m[1] << ": " << o.err;
    EXPECT_FALSE(fs::exists(out) && !fs::is_empty(out)) << m[1];
  }
  // Shards of the same name already there: refused, the old ones untouched.
  const std::vector<std::string> ok = {"tokenizer", "encode", "--tokenizer", tok.string(),
                                       "--shards", out, "--val-tokens", "5", text.string()};
  ASSERT_EQ(run_program(ok, dir.path()).status, 0);
  const std::string before = read_file(fs::path(out) / "t_train_000001.bin");
  const Outcome again = run_program(ok, dir.path());
  EXPECT_EQ(again.status, 2) << again.err;
  EXPECT_NE(again.err.find("already holds t_"), std::string::npos) << again.err;
  EXPECT_EQ(read_file(fs::path(out) / "t_train_000001.bin"), before);
}

// A disk that refuses the train shard after the val shard was written (a file size limit between
// their sizes): exit 5, and the folder holds neither shard nor a temporary file.
TEST(Shards, EncodeShardsThatFailsToWriteAShardLeavesNone) {
  TempDir dir;
  const fs::path text = dir.path() / "t.txt", tok = dir.path() / "tok", out = dir.path() / "out";
  {
    std::ofstream f(text);
    for (int i = 0; i < 20000; ++i) f << char('a' + mix(7, uint64_t(i)) % 26) << (i % 9 ? "" : " ");
  }
  ASSERT_EQ(run_program({"tokenizer", "train", text.string(), "--vocab-size", "257", "-o", tok.string()},
                        dir.path())
                .status,
            0);
  // About 19,800 ids: a val shard of 1,024 + 4,000 bytes, a train shard of about 32 KB.
  Program p({"tokenizer", "encode", "--tokenizer", tok.string(), "--shards", out.string(),
             "--val-tokens", "2000", text.string()},
            dir.path(), {}, "encode", 16 * 1024);
  const Outcome o = p.wait();
  ASSERT_TRUE(o.exited) << o.err;
  EXPECT_EQ(o.status, 5) << o.err;
  EXPECT_NE(o.err.find("t_train_000001.bin"), std::string::npos) << o.err;
  ASSERT_TRUE(fs::is_directory(out));
  EXPECT_TRUE(fs::is_empty(out)) << shard_files(out).front();
}

}  // namespace
}  // namespace nanolab::test
