// Token shard datasets: nanoGPT's train.bin/val.bin, llm.c shards (versions 1 and 2), a single
// .bin file split 90/10 and a folder of shards read as one sequence in name order; batches at the
// documented offsets; each header error (magic, version, token count, a cut header, an odd raw
// file) and an id outside the vocabulary (at start and deep in a file, found by a batch) as a
// DataError naming the file and the byte offset; encode_shards' files read back as the text's ids.
// Ids are integers: every comparison is exact.
#include <gtest/gtest.h>

#include <cstring>

#include "nanolab/encode_shards.hpp"
#include "data/shard_dataset.hpp"
#include "data/text_dataset.hpp"
#include "data/token_files.hpp"
#include "data_test_util.hpp"
#include "nanolab/rng.hpp"

namespace nanolab::test {
namespace {

using data::ShardDataset;
namespace fs = std::filesystem;

// A tokenizer of `V` ids that decodes id i as "<i>"; encode is one id per byte.
class VocabTokenizer final : public Tokenizer {
 public:
  explicit VocabTokenizer(int64_t V) : V_(V) {}
  void train(std::string_view, int64_t) override { ADD_FAILURE() << "a shard dataset trained"; }
  std::vector<int32_t> encode(std::string_view text) const override {
    return std::vector<int32_t>(text.begin(), text.end());
  }
  std::string decode(std::span<const int32_t> ids) const override {
    std::string s;
    for (int32_t id : ids) {
      s += '<';
      s += std::to_string(id);
      s += '>';
    }
    return s;
  }
  int64_t vocab_size() const override { return V_; }
  std::string save() const override { return {}; }
  void load(std::string_view) override {}

 private:
  int64_t V_;
};

// `n` ids in [0, V), fixed by `seed`.
std::vector<int32_t> random_ids(uint64_t seed, size_t n, int64_t V) {
  std::vector<int32_t> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = int32_t(rng::mix(seed, i) % uint64_t(V));
  return ids;
}

std::string raw_uint16(const std::vector<int32_t>& ids) {
  std::string bytes(ids.size() * 2, '\0');
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto v = uint16_t(ids[i]);
    std::memcpy(&bytes[i * 2], &v, 2);
  }
  return bytes;
}

// An llm.c shard: header (magic, version, count) then the ids as uint16 (version 1) or uint32.
std::string llmc_bytes(const std::vector<int32_t>& ids, int32_t version = 1,
                       int32_t magic = 20240520, int64_t count = -1) {
  std::vector<int32_t> header(256, 0);
  header[0] = magic;
  header[1] = version;
  header[2] = int32_t(count < 0 ? int64_t(ids.size()) : count);
  std::string bytes(reinterpret_cast<const char*>(header.data()), 1024);
  if (version == 2)
    bytes.append(reinterpret_cast<const char*>(ids.data()), ids.size() * 4);
  else
    bytes += raw_uint16(ids);
  return bytes;
}

std::unique_ptr<ShardDataset> open_shards(const fs::path& path, const Tokenizer& tok,
                                          int64_t block_size = 8) {
  return std::make_unique<ShardDataset>(path.string(), path, 0.9,
                                        data_config(path.string(), block_size), tok);
}

std::vector<int32_t> read_all(const ShardDataset& ds, Split split) {
  std::vector<int32_t> ids(size_t(ds.tokens(split)));
  ds.read(split, 0, int64_t(ids.size()), ids.data());
  return ids;
}

// Every row of a batch is tokens[o, o+T) with targets one later, o = batch_offset(seed, row).
void expect_rows_at_documented_offsets(const ShardDataset& ds, Split split,
                                       const std::vector<int32_t>& tokens) {
  const int64_t B = 6, T = 8, n = int64_t(tokens.size());
  Batch batch;
  ds.batch(split, 1234, B, T, batch);
  for (int64_t b = 0; b < B; ++b) {
    const uint64_t o = data::batch_offset(1234, b, n, T);
    for (int64_t t = 0; t < T; ++t) {
      ASSERT_EQ(batch.ids[size_t(b * T + t)], tokens[o + t]) << "row " << b << " t " << t;
      ASSERT_EQ(batch.targets[size_t(b * T + t)], tokens[o + t + 1]) << "row " << b << " t " << t;
    }
  }
}

TEST(ShardDataset, ReadsANanoGptFolderOfRawUint16Ids) {
  ScratchDir dir;
  const auto train = random_ids(1, 3000, 50257), val = random_ids(2, 500, 50257);
  write_file(dir / "owt" / "train.bin", raw_uint16(train));
  write_file(dir / "owt" / "val.bin", raw_uint16(val));
  write_file(dir / "owt" / "meta.pkl", "not tokens");  // other files are ignored
  VocabTokenizer tok(50257);
  auto dataset = open_dataset(data_config((dir / "owt").string(), 8), tok);
  auto* ds = dynamic_cast<ShardDataset*>(dataset.get());
  ASSERT_NE(ds, nullptr);
  EXPECT_EQ(read_all(*ds, Split::train), train);
  EXPECT_EQ(read_all(*ds, Split::val), val);
  EXPECT_EQ(ds->vocab_size(), 50257);
  EXPECT_FALSE(ds->has_accuracy());
  expect_rows_at_documented_offsets(*ds, Split::train, train);
  expect_rows_at_documented_offsets(*ds, Split::val, val);
  EXPECT_EQ(ds->decode(std::vector<int32_t>{7, 50256}), "<7><50256>");
  EXPECT_NE(ds->description().find("train 3000 tokens in 1 file, val 500 tokens in 1 file"),
            std::string::npos)
      << ds->description();
}

TEST(ShardDataset, SplitsOneLlmcShardNinetyTen) {
  ScratchDir dir;
  const auto ids = random_ids(3, 1000, 50257);
  write_file(dir / "fineweb_train_000001.bin", llmc_bytes(ids));
  VocabTokenizer tok(50257);
  auto dataset = open_dataset(data_config((dir / "fineweb_train_000001.bin").string(), 8), tok);
  auto* ds = dynamic_cast<ShardDataset*>(dataset.get());
  ASSERT_NE(ds, nullptr);
  EXPECT_EQ(read_all(*ds, Split::train), std::vector<int32_t>(ids.begin(), ids.begin() + 900));
  EXPECT_EQ(read_all(*ds, Split::val), std::vector<int32_t>(ids.begin() + 900, ids.end()));
}

TEST(ShardDataset, ReadsLlmcVersion2Uint32Ids) {
  ScratchDir dir;
  const auto train = random_ids(4, 400, 128256), val = random_ids(5, 100, 128256);
  write_file(dir / "l3" / "x_train_000001.bin", llmc_bytes(train, 2));
  write_file(dir / "l3" / "x_val_000000.bin", llmc_bytes(val, 2));
  VocabTokenizer tok(128256);
  auto ds = open_shards(dir / "l3", tok);
  EXPECT_EQ(read_all(*ds, Split::train), train);
  EXPECT_EQ(read_all(*ds, Split::val), val);
}

// Three train shards written out of name order: one sequence in name order, rows that cross a
// shard boundary included.
TEST(ShardDataset, AFolderOfShardsIsOneSequenceInNameOrder) {
  ScratchDir dir;
  const auto a = random_ids(6, 37, 50257), b = random_ids(7, 5, 50257), c = random_ids(8, 60, 50257);
  const auto val = random_ids(9, 50, 50257);
  write_file(dir / "fw" / "fineweb_train_000003.bin", llmc_bytes(c));
  write_file(dir / "fw" / "fineweb_train_000001.bin", llmc_bytes(a));
  write_file(dir / "fw" / "fineweb_train_000002.bin", llmc_bytes(b));
  write_file(dir / "fw" / "tiny_shakespeare_val.bin", llmc_bytes(val));
  VocabTokenizer tok(50257);
  auto ds = open_shards(dir / "fw", tok);
  std::vector<int32_t> train = a;
  train.insert(train.end(), b.begin(), b.end());
  train.insert(train.end(), c.begin(), c.end());
  EXPECT_EQ(read_all(*ds, Split::train), train);
  EXPECT_EQ(read_all(*ds, Split::val), val);
  // Rows at every offset, each crossing into the next shard somewhere.
  std::vector<int32_t> window(20);
  for (int64_t o = 0; o + 20 <= int64_t(train.size()); ++o) {
    ds->read(Split::train, o, 20, window.data());
    ASSERT_TRUE(std::equal(window.begin(), window.end(), train.begin() + o)) << "offset " << o;
  }
  expect_rows_at_documented_offsets(*ds, Split::train, train);
  EXPECT_NE(ds->description().find("train 102 tokens in 3 files"), std::string::npos);
}

// The message of the DataError of opening `path` with `tok`.
std::string open_error(const fs::path& path, const Tokenizer& tok, int64_t block_size = 8) {
  return data_error([&] { open_shards(path, tok, block_size); });
}

void expect_names(const std::string& message, const std::vector<std::string>& parts) {
  for (const std::string& part : parts)
    EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
}

TEST(ShardDataset, ABadMagicIsADataErrorAtOffset0) {
  ScratchDir dir;
  const fs::path file = dir / "x_train_000001.bin";
  write_file(file, llmc_bytes(random_ids(1, 100, 50257), 1, 20240519));
  VocabTokenizer tok(50257);
  expect_names(open_error(file, tok),
               {file.string(), "at byte offset 0:", "magic 20240519, expected llm.c's 20240520",
                "must be named train.bin"});
}

TEST(ShardDataset, ABadVersionIsADataErrorAtOffset4) {
  ScratchDir dir;
  const fs::path file = dir / "x_train_000001.bin";
  write_file(file, llmc_bytes(random_ids(1, 100, 50257), 7));
  VocabTokenizer tok(50257);
  expect_names(open_error(file, tok), {file.string(), "at byte offset 4:", "version 7, expected 1 or 2"});
}

TEST(ShardDataset, ATokenCountThatTheSizeDisagreesWithIsADataErrorAtOffset8) {
  ScratchDir dir;
  const fs::path file = dir / "x_val_000000.bin";
  write_file(file, llmc_bytes(random_ids(1, 100, 50257), 1, 20240520, 101));
  VocabTokenizer tok(50257);
  expect_names(open_error(file, tok),
               {file.string(), "at byte offset 8:", "token count 101", "hold 100 ids of 2 bytes"});
  // One byte more than the ids: half an id.
  write_file(file, llmc_bytes(random_ids(1, 100, 50257)) + "x");
  expect_names(open_error(file, tok), {"at byte offset 8:", "100 ids and a part of one"});
}

TEST(ShardDataset, AHeaderCutShortAndAnOddRawFileAreDataErrors) {
  ScratchDir dir;
  VocabTokenizer tok(50257);
  write_file(dir / "x_train_1.bin", llmc_bytes({}).substr(0, 600));
  expect_names(open_error(dir / "x_train_1.bin", tok),
               {"at byte offset 600:", "inside llm.c's 1024-byte header"});
  write_file(dir / "train.bin", raw_uint16(random_ids(1, 100, 50257)) + "x");
  expect_names(open_error(dir / "train.bin", tok),
               {(dir / "train.bin").string(), "at byte offset 200:", "odd size of 201 bytes"});
}

TEST(ShardDataset, AnIdOutsideTheVocabularyAtStartIsADataErrorNamingFileAndOffset) {
  ScratchDir dir;
  auto ids = random_ids(1, 3000, 256);
  ids[1234] = 300;
  write_file(dir / "nano" / "train.bin", raw_uint16(ids));
  write_file(dir / "nano" / "val.bin", raw_uint16(random_ids(2, 300, 256)));
  VocabTokenizer tok(256);
  expect_names(open_error(dir / "nano", tok),
               {(dir / "nano" / "train.bin").string(), "at byte offset 2468:", "token id 300",
                "vocabulary", "(256 ids)", "set data.tokenizer"});
  // An llm.c shard named train.bin is read as raw ids: its magic is two ids, said in the hint.
  write_file(dir / "nano" / "train.bin", llmc_bytes(random_ids(1, 3000, 256)));
  VocabTokenizer gpt2(50257);
  expect_names(open_error(dir / "nano", gpt2),
               {"at byte offset 0:", "token id 55432", "it is an llm.c shard"});
}

// Past the ids checked at start, an id outside the vocabulary is found by the batch that reads it.
TEST(ShardDataset, AnIdOutsideTheVocabularyDeepInAFileIsFoundByTheBatchThatReadsIt) {
  ScratchDir dir;
  const int64_t n = 200000, bad = 150000;
  auto ids = random_ids(1, size_t(n), 256);
  ids[size_t(bad)] = 999;
  write_file(dir / "d" / "d_train_000001.bin", llmc_bytes(ids));
  write_file(dir / "d" / "d_val_000000.bin", llmc_bytes(random_ids(2, 300, 256)));
  VocabTokenizer tok(256);
  auto ds = open_shards(dir / "d", tok);
  std::vector<int32_t> row(64);
  ds->read(Split::train, bad - 64, 64, row.data());  // just before: fine
  const std::string message = data_error([&] { ds->read(Split::train, bad - 10, 64, row.data()); });
  expect_names(message, {(dir / "d" / "d_train_000001.bin").string(),
                         "at byte offset " + std::to_string(1024 + 2 * bad) + ":", "token id 999"});
  // Some seed's batch reads it.
  Batch batch;
  bool found = false;
  for (uint64_t seed = 0; seed < 20000 && !found; ++seed) {
    try {
      ds->batch(Split::train, seed, 8, 16, batch);
    } catch (const DataError& e) {
      found = std::string(e.what()).find("token id 999") != std::string::npos;
    }
  }
  EXPECT_TRUE(found);
}

TEST(ShardDataset, AFolderNeedsBothSplitsAndNamesThatSayTheSplit) {
  ScratchDir dir;
  VocabTokenizer tok(256);
  write_file(dir / "f" / "a_train_000001.bin", llmc_bytes(random_ids(1, 100, 256)));
  expect_names(open_error(dir / "f", tok), {(dir / "f").string(), "has no val token file"});
  write_file(dir / "f" / "tokens.bin", llmc_bytes(random_ids(1, 100, 256)));
  expect_names(open_error(dir / "f", tok),
               {(dir / "f" / "tokens.bin").string(), "cannot tell which split"});
  fs::remove(dir / "f" / "tokens.bin");
  write_file(dir / "f" / "a_val_000000.bin", llmc_bytes(random_ids(1, 8, 256)));
  expect_names(open_error(dir / "f", tok),
               {"the val split", "has 8 tokens, fewer than block_size + 1 = 9"});
}

TEST(EncodeShards, WritesLlmcShardsValFirstThatReadBackAsTheTextsIds) {
  ScratchDir dir;
  std::string text;
  for (int i = 0; text.size() < 3'500'000; ++i)
    text += (i % 7 == 0 ? "\n" : " ") + std::string(1, char('a' + i % 26)) + std::to_string(i);
  VocabTokenizer tok(256);
  const std::vector<int32_t> whole = tok.encode(text);
  data::ShardPlan plan;
  plan.name = "corpus";
  plan.shard_tokens = 1'000'000;
  plan.val_tokens = 1'200'000;
  std::vector<uint64_t> progress;
  const auto summary = data::encode_shards(tok, text, dir / "out", plan,
                                           [&](uint64_t done, uint64_t) { progress.push_back(done); });
  ASSERT_EQ(progress.size(), 4u);  // pieces of about 1 MiB
  EXPECT_EQ(progress.back(), text.size());
  EXPECT_EQ(summary.val_tokens, 1'200'000);
  EXPECT_EQ(summary.train_tokens, int64_t(whole.size()) - 1'200'000);
  std::vector<std::string> names;
  for (const auto& f : summary.files) names.push_back(f.filename().string());
  EXPECT_EQ(names, (std::vector<std::string>{"corpus_val_000000.bin", "corpus_val_000001.bin",
                                             "corpus_train_000002.bin", "corpus_train_000003.bin",
                                             "corpus_train_000004.bin"}));
  std::vector<int32_t> back;
  for (const auto& f : summary.files) {
    const data::TokenFile file(f, data::token_format_of(f));
    std::vector<int32_t> ids(size_t(file.size()));
    file.copy(0, file.size(), ids.data());
    back.insert(back.end(), ids.begin(), ids.end());
  }
  EXPECT_EQ(back, whole);
  // The folder is a dataset: val is the first 1.2M ids, train the rest.
  auto ds = open_shards(dir / "out", tok);
  EXPECT_EQ(read_all(*ds, Split::val), std::vector<int32_t>(whole.begin(), whole.begin() + 1'200'000));
  EXPECT_EQ(read_all(*ds, Split::train), std::vector<int32_t>(whole.begin() + 1'200'000, whole.end()));
  // A second encode into the same folder would mix two sets: refused, nothing changed.
  EXPECT_THROW(data::encode_shards(tok, text, dir / "out", plan, [](uint64_t, uint64_t) {}),
               ConfigError);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir / "out"), fs::directory_iterator()), 5);
}

}  // namespace
}  // namespace nanolab::test
