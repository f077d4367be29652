// `nanolab tokenizer train|encode|decode` end to end, and experiments/shakespeare_bpe.toml cut to a
// few iterations: the real program, its files, stdout and exit codes.
// - train with the GPT-4 pattern to vocab 512 writes, through -o NAME.model, exactly the .model
//   file minbpe's algorithm wrote for the same text (tests/fixtures/bpe_minbpe_gpt4_512.model);
// - encode then decode gives the text back byte for byte, from nanolab's format and from the .model;
// - malformed, truncated and missing tokenizer files are data errors (exit 3) naming the file;
//   usage mistakes are configuration errors (exit 2) that write nothing;
// - with GPT-2's files tiny Shakespeare counts 338,025 tokens, and GPT-2's vocabulary is refused as
//   a .model (minbpe numbers bytes differently); the experiment completes and its run file holds
//   the trained 1024-token tokenizer. These need $NANOLAB_DATA and skip naming the missing file.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "nanolab/registry.hpp"
#include "nanolab/run_store.hpp"
#include "support/program.hpp"
#include "support/temp_dir.hpp"
#include "support/skip.hpp"

namespace nanolab::test {
namespace {

namespace fs = std::filesystem;

const fs::path fixtures = fs::path(NANOLAB_TEST_SOURCE_DIR) / "tests" / "fixtures";
const fs::path corpus = fixtures / "bpe_corpus.txt";

std::vector<std::string> split_words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

// $NANOLAB_DATA/<file>, or an empty path with the reason for a skip.
std::pair<fs::path, std::string> data_file(const std::string& file) {
  const char* data = std::getenv("NANOLAB_DATA");
  if (!data) return {{}, "needs NANOLAB_DATA (the folder holding gpt2/ and tinyshakespeare/)"};
  const fs::path p = fs::path(data) / file;
  if (!fs::exists(p)) return {{}, "needs " + p.string()};
  return {p, ""};
}

TEST(TokenizerCli, TrainWritesMinbpesModelFileByteForByte) {
  TempDir dir;
  const fs::path model = dir.path() / "gpt4_512.model";
  const Outcome o = run_program({"tokenizer", "train", corpus.string(), "--vocab-size", "512",
                                 "--pattern", "gpt4", "-o", model.string()},
                                dir.path());
  ASSERT_TRUE(o.exited && o.status == 0) << o.err;
  EXPECT_EQ(read_file(model), read_file(fixtures / "bpe_minbpe_gpt4_512.model"));
  EXPECT_NE(o.err.find("trained in"), std::string::npos) << o.err;  // timing goes to stderr
  EXPECT_EQ(o.out, "");
}

TEST(TokenizerCli, EncodeThenDecodeGivesTheTextBack) {
  TempDir dir;
  const fs::path own = dir.path() / "t.tok", model = dir.path() / "t.model";
  for (const fs::path& file : {own, model}) {
    const Outcome o = run_program({"tokenizer", "train", corpus.string(), "--vocab-size", "400",
                                   "--pattern", "gpt4", "-o", file.string()},
                                  dir.path());
    ASSERT_TRUE(o.exited && o.status == 0) << o.err;
  }
  EXPECT_EQ(read_file(own).rfind("nanolab-tokenizer bpe 1\n", 0), 0u);
  EXPECT_EQ(read_file(model).rfind("minbpe v1\n", 0), 0u);

  const Outcome enc = run_program({"tokenizer", "encode", "--tokenizer", own.string(), corpus.string()},
                                  dir.path());
  ASSERT_TRUE(enc.exited && enc.status == 0) << enc.err;
  const std::vector<std::string> ids = split_words(enc.out);
  // 144 merges cannot squeeze 1,828 bytes below a few hundred tokens, nor leave it at one per byte.
  ASSERT_GT(ids.size(), 300u);
  ASSERT_LT(ids.size(), 1828u);
  // The same tokenizer read from the .model encodes alike.
  const Outcome enc_model =
      run_program({"tokenizer", "encode", "--tokenizer", model.string(), corpus.string()}, dir.path());
  ASSERT_TRUE(enc_model.exited && enc_model.status == 0) << enc_model.err;
  EXPECT_EQ(enc_model.out, enc.out);

  const Outcome count = run_program(
      {"tokenizer", "encode", "--tokenizer", own.string(), "--count", corpus.string()}, dir.path());
  ASSERT_TRUE(count.exited && count.status == 0) << count.err;
  EXPECT_EQ(count.out, std::to_string(ids.size()) + "\n");

  std::vector<std::string> decode_args = {"tokenizer", "decode", "--tokenizer", model.string()};
  decode_args.insert(decode_args.end(), ids.begin(), ids.end());
  const Outcome dec = run_program(decode_args, dir.path());
  ASSERT_TRUE(dec.exited && dec.status == 0) << dec.err;
  EXPECT_EQ(dec.out, read_file(corpus));  // byte for byte: no newline added

  const Outcome text = run_program(
      {"tokenizer", "encode", "--tokenizer", own.string(), "--text", "the the the"}, dir.path());
  ASSERT_TRUE(text.exited && text.status == 0) << text.err;
  EXPECT_FALSE(split_words(text.out).empty());
}

TEST(TokenizerCli, UnreadableTokenizerFilesAreDataErrorsNamingTheFile) {
  TempDir dir;
  const std::string model = read_file(fixtures / "bpe_minbpe_gpt4_512.model");
  const fs::path cut = dir.path() / "cut.model", garbage = dir.path() / "garbage.tok",
                 unknown_id = dir.path() / "unknown_id.model", missing = dir.path() / "missing.tok";
  std::ofstream(cut, std::ios::binary) << model.substr(0, model.size() - 3);  // inside a merge line
  std::ofstream(garbage, std::ios::binary) << "not a tokenizer\n";
  // A merge of id 300 before 300 exists: well-formed lines, impossible content.
  std::ofstream(unknown_id, std::ios::binary) << model.substr(0, model.find("\n0\n") + 3) << "300 1\n";
  for (const fs::path& file : {cut, garbage, unknown_id, missing, dir.path()}) {
    SCOPED_TRACE(file.string());
    const Outcome o =
        run_program({"tokenizer", "encode", "--tokenizer", file.string(), "--text", "x"}, dir.path());
    ASSERT_TRUE(o.exited) << "killed by signal " << o.status;
    EXPECT_EQ(o.status, 3) << o.err;
    std::string quoted = "'";  // not "'" + ...: GCC 12 warns falsely on that (-Wrestrict)
    quoted += file.string();
    quoted += "'";
    EXPECT_NE(o.err.find(quoted), std::string::npos) << o.err;
    EXPECT_EQ(o.out, "");
  }
  const Outcome bad_id = run_program(
      {"tokenizer", "decode", "--tokenizer", (fixtures / "bpe_minbpe_gpt4_512.model").string(), "7",
       "512"},
      dir.path());
  EXPECT_TRUE(bad_id.exited && bad_id.status == 3) << bad_id.err;
  EXPECT_NE(bad_id.err.find("id 512"), std::string::npos) << bad_id.err;
}

TEST(TokenizerCli, TrainingOnAnEmptyTextExits3AndWritesNothing) {
  TempDir dir;
  const fs::path empty = dir.path() / "empty.txt", model = dir.path() / "t.model";
  std::ofstream(empty).close();
  const Outcome o = run_program({"tokenizer", "train", empty.string(), "--vocab-size", "300", "-o",
                                 model.string()},
                                dir.path());
  ASSERT_TRUE(o.exited) << "killed by signal " << o.status;
  EXPECT_EQ(o.status, 3) << o.err;
  const std::string expected =
      std::string("'").append(empty.string()).append("' is empty: there is no text to train the "
                                                      "tokenizer on");
  EXPECT_NE(o.err.find(expected), std::string::npos)
      << o.err;
  EXPECT_FALSE(fs::exists(model));
}

TEST(TokenizerCli, UsageMistakesAreConfigErrorsThatWriteNothing) {
  TempDir dir;
  const fs::path out = dir.path() / "out.model";
  const std::string text = corpus.string(), tok = (fixtures / "bpe_minbpe_gpt4_512.model").string();
  const std::vector<std::vector<std::string>> mistakes = {
      {"tokenizer"},
      {"tokenizer", "split", text},
      {"tokenizer", "train", text, "-o", out.string()},                         // no --vocab-size
      {"tokenizer", "train", text, "--vocab-size", "1e9x", "-o", out.string()},
      {"tokenizer", "train", text, "--vocab-size", "100", "-o", out.string()},  // below 256
      {"tokenizer", "train", text, "--vocab-size", "300", "--plugin", "char", "-o", out.string()},
      {"tokenizer", "train", text, "--vocab-size", "300", "--plugin", "bep", "-o", out.string()},
      {"tokenizer", "train", text, "--vocab-size", "300", "--option", "on_special=maybe", "-o",
       out.string()},
      {"tokenizer", "train", text, "--vocab-size", "300", "--option", "special_tokens=<|a b|>", "-o",
       out.string()},  // minbpe splits special token lines on whitespace
      {"tokenizer", "encode", "--text", "x"},                                // no tokenizer
      {"tokenizer", "encode", "--tokenizer", tok, "--gpt2", dir.path().string(), "--text", "x"},
      {"tokenizer", "encode", "--tokenizer", tok},                           // no text
      {"tokenizer", "encode", "--tokenizer", tok, "--colour", "--text", "x"},
  };
  for (const auto& args : mistakes) {
    std::string line;
    for (const auto& a : args) line += a + " ";
    SCOPED_TRACE(line);
    const Outcome o = run_program(args, dir.path());
    ASSERT_TRUE(o.exited) << "killed by signal " << o.status;
    EXPECT_EQ(o.status, 2) << o.err;
    EXPECT_NE(o.err.find("error"), std::string::npos) << o.err;
    EXPECT_FALSE(fs::exists(out));
  }
}

TEST(TokenizerCli, Gpt2EncodesTinyShakespeareTo338025Tokens) {
  const auto [input, why] = data_file("tinyshakespeare/input.txt");
  NANOLAB_NEEDS(!input.empty(), why);
  const auto [encoder, why_gpt2] = data_file("gpt2/encoder.json");
  NANOLAB_NEEDS(!encoder.empty(), why_gpt2);
  TempDir dir;
  const std::string gpt2 = encoder.parent_path().string();
  const Outcome o =
      run_program({"tokenizer", "encode", "--gpt2", gpt2, "--count", input.string()}, dir.path());
  ASSERT_TRUE(o.exited && o.status == 0) << o.err;
  EXPECT_EQ(o.out, "338025\n");  // tiktoken's count for the same file

  const Outcome eot = run_program({"tokenizer", "encode", "--gpt2", gpt2, "--option",
                                   "on_special=allow", "--text", "Hello world<|endoftext|>"},
                                  dir.path());
  ASSERT_TRUE(eot.exited && eot.status == 0) << eot.err;
  EXPECT_EQ(eot.out, "15496 995 50256\n");

  // GPT-2 numbers byte 0 as id 188: minbpe's format cannot say that, so no file is written.
  const fs::path model = dir.path() / "gpt2.model";
  const Outcome refused = run_program(
      {"tokenizer", "train", input.string(), "--vocab-size", "50257", "--option",
       "encoder_json=" + encoder.string(), "--option", "vocab_bpe=" + gpt2 + "/vocab.bpe", "-o",
       model.string()},
      dir.path());
  EXPECT_TRUE(refused.exited && refused.status == 2) << refused.err;
  EXPECT_NE(refused.err.find("minbpe"), std::string::npos) << refused.err;
  EXPECT_FALSE(fs::exists(model));
}

// The shipped BPE experiment, cut to 4 iterations (about 3 s): it completes, and its run file
// holds the tokenizer trained on the train split, which loads back with 1024 tokens.
TEST(TokenizerCli, ShakespeareBpeExperimentStoresItsTokenizer) {
  const auto [input, why] = data_file("tinyshakespeare/input.txt");
  NANOLAB_NEEDS(!input.empty(), why);
  TempDir dir;
  const fs::path exp = fs::path(NANOLAB_TEST_SOURCE_DIR) / "experiments" / "shakespeare_bpe.toml";
  const Outcome o = run_program(
      {"run", exp.string(), "--out", (dir.path() / "runs").string(), "--name", "run", "--quiet",
       "--set", "train.max_iters=4", "--set", "train.eval_interval=2", "--set", "train.eval_iters=2", "--set",
       "train.warmup_iters=1", "--set", "train.lr_decay_iters=4", "--set",
       "train.checkpoint_interval=4"},
      dir.path(), {{"XDG_CACHE_HOME", (dir.path() / "cache").string()}});
  ASSERT_TRUE(o.exited && o.status == 0) << o.err;
  const RunLog log = read_run(dir.path() / "runs" / "shakespeare_bpe" / "run" / "run.h5");
  EXPECT_EQ(log.status, "completed");
  ASSERT_EQ(log.tokenizer.rfind("nanolab-tokenizer bpe 1\n", 0), 0u);
  auto tok = Registry::instance().make<PluginKind::tokenizer>("bpe", {});
  tok->load(log.tokenizer);
  EXPECT_EQ(tok->vocab_size(), 1024);
  const std::string line = "First Citizen:\nBefore we proceed any further, hear me speak.\n";
  const std::vector<int32_t> ids = tok->encode(line);
  EXPECT_LT(ids.size(), line.size() / 2);  // trained on Shakespeare, it merges his opening line
  EXPECT_EQ(tok->decode(ids), line);
}

}  // namespace
}  // namespace nanolab::test
