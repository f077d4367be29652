// Text datasets: the 90/10 byte split, batches (deterministic per seed, the documented offsets,
// targets shifted by one, offsets covering the whole range), shard reuse and rebuild after damage,
// and the errors for empty, too short and unencodable files. Token ids are integers: every
// comparison is exact.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <set>

#include "data/shard.hpp"
#include "data/text_dataset.hpp"
#include "data_test_util.hpp"
#include "nanolab/rng.hpp"
#include "runtime/sha256.hpp"

namespace nanolab::test {
namespace {

using data::TextDataset;

// 4000 bytes of lowercase letters and newlines, fixed by `seed`.
std::string letters(uint64_t seed, size_t size = 4000) {
  std::string text;
  for (size_t i = 0; i < size; ++i) {
    const uint64_t r = rng::mix(seed, i) % 27;
    text += r == 26 ? '\n' : char('a' + r);
  }
  return text;
}

std::unique_ptr<TextDataset> open_text(const std::filesystem::path& file, int64_t block_size,
                                       TestByteTokenizer& tokenizer, const std::filesystem::path& cache) {
  auto dataset = open_dataset(data_config(file.string(), block_size), tokenizer, {{}, cache});
  auto* text = dynamic_cast<TextDataset*>(dataset.get());
  EXPECT_NE(text, nullptr);
  dataset.release();
  return std::unique_ptr<TextDataset>(text);
}

ino_t inode(const std::filesystem::path& file) {
  struct stat st {};
  EXPECT_EQ(::stat(file.c_str(), &st), 0) << file;
  return st.st_ino;
}

TEST(TextDataset, SplitsAtNinetyPercentOfBytes) {
  ScratchDir dir;
  const std::string text = letters(1);
  write_file(dir / "corpus.txt", text);
  TestByteTokenizer tok;
  auto ds = open_text(dir / "corpus.txt", 8, tok, dir / "cache");
  const auto train = ds->tokens(Split::train), val = ds->tokens(Split::val);
  ASSERT_EQ(train.size(), 3600u);
  ASSERT_EQ(val.size(), 400u);
  EXPECT_TRUE(std::equal(train.begin(), train.end(), text.begin()));
  EXPECT_TRUE(std::equal(val.begin(), val.end(), text.begin() + 3600));
  EXPECT_EQ(ds->vocab_size(), 256);
  EXPECT_EQ(ds->decode(train.subspan(0, 10)), text.substr(0, 10));
  EXPECT_FALSE(ds->has_accuracy());
}

TEST(TextDataset, SplitPointNeverCutsAUtf8Character) {
  // "é" is 2 bytes (C3 A9); 9 bytes * 0.9 = 8.1 -> byte 8 would be its continuation byte.
  EXPECT_EQ(data::split_point("abcdefg\xC3\xA9", 0.9), 7u);
  EXPECT_EQ(data::split_point("abcdefghij", 0.9), 9u);
  // nanoGPT: int(1115394 * 0.9) for tiny Shakespeare.
  EXPECT_EQ(data::split_point(std::string(1115394, 'a'), 0.9), 1003854u);
}

TEST(TextDataset, BatchesFollowTheDocumentedOffsets) {
  ScratchDir dir;
  const std::string text = letters(2);
  write_file(dir / "corpus.txt", text);
  TestByteTokenizer tok;
  auto ds = open_text(dir / "corpus.txt", 8, tok, dir / "cache");
  const int64_t B = 6, T = 8;
  for (Split split : {Split::train, Split::val}) {
    const auto src = ds->tokens(split);
    const int64_t n = int64_t(src.size());
    for (uint64_t seed : {0ull, 1ull, 1337ull, ~0ull}) {
      Batch batch;
      ds->batch(split, seed, B, T, batch);
      ASSERT_EQ(batch.B, B);
      ASSERT_EQ(batch.T, T);
      ASSERT_EQ(batch.ids.size(), size_t(B * T));
      ASSERT_EQ(batch.targets.size(), size_t(B * T));
      for (int64_t b = 0; b < B; ++b) {
        const uint64_t o = rng::mix(seed, uint64_t(b)) % uint64_t(n - T);
        for (int64_t t = 0; t < T; ++t) {
          EXPECT_EQ(batch.ids[b * T + t], src[o + t]);
          EXPECT_EQ(batch.targets[b * T + t], src[o + t + 1]);
        }
        // Targets are the ids shifted by one.
        for (int64_t t = 0; t + 1 < T; ++t) EXPECT_EQ(batch.targets[b * T + t], batch.ids[b * T + t + 1]);
      }
    }
  }
}

TEST(TextDataset, BatchesAreDeterministicPerSeedAndDifferAcrossSeeds) {
  ScratchDir dir;
  write_file(dir / "corpus.txt", letters(3));
  TestByteTokenizer tok;
  auto ds = open_text(dir / "corpus.txt", 16, tok, dir / "cache");
  Batch a, b, c;
  ds->batch(Split::train, 42, 4, 16, a);
  ds->batch(Split::train, 42, 4, 16, b);
  ds->batch(Split::train, 43, 4, 16, c);
  EXPECT_EQ(a.ids, b.ids);
  EXPECT_EQ(a.targets, b.targets);
  EXPECT_NE(a.ids, c.ids);
}

// A batch drawn in parts (micro-batches, ranks) is the batch drawn whole.
TEST(TextDataset, RowsOfABatchDrawnInPartsAreTheBatchDrawnWhole) {
  ScratchDir dir;
  write_file(dir / "corpus.txt", letters(3));
  TestByteTokenizer tok;
  auto ds = open_text(dir / "corpus.txt", 16, tok, dir / "cache");
  Batch whole, part;
  ds->batch(Split::train, 42, 12, 16, whole);
  for (int64_t first = 0; first < 12; first += 3) {
    ds->rows(Split::train, 42, first, 3, 16, part);
    ASSERT_EQ(part.B, 3);
    EXPECT_EQ(part.ids, std::vector<int32_t>(whole.ids.begin() + first * 16,
                                             whole.ids.begin() + (first + 3) * 16));
    EXPECT_EQ(part.targets, std::vector<int32_t>(whole.targets.begin() + first * 16,
                                                 whole.targets.begin() + (first + 3) * 16));
  }
}

TEST(TextDataset, OffsetsCoverTheWholeRange) {
  ScratchDir dir;
  const std::string text = letters(4);
  write_file(dir / "corpus.txt", text);
  TestByteTokenizer tok;
  auto ds = open_text(dir / "corpus.txt", 8, tok, dir / "cache");
  const std::string_view val(text.data() + 3600, 400);  // n = 400 tokens, offsets 0..391
  const int64_t T = 8, n = 400;
  std::set<size_t> offsets;
  for (uint64_t seed = 0; seed < 1000; ++seed) {
    Batch batch;
    ds->batch(Split::val, seed, 8, T, batch);
    for (int64_t b = 0; b < 8; ++b) {
      // Recover the offset from the text itself (the row and its last target must appear there).
      std::string row;
      for (int64_t t = 0; t < T; ++t) row += char(batch.ids[b * T + t]);
      row += char(batch.targets[b * T + T - 1]);
      const size_t at = val.find(row);
      ASSERT_NE(at, std::string_view::npos);
      ASSERT_LE(at, size_t(n - T - 1));
      offsets.insert(at);
    }
  }
  // 8000 draws over 392 offsets: every offset, the first and the last included, is drawn (the
  // chance that a given one is missed is (391/392)^8000, about 1e-9; the seeds are fixed anyway).
  EXPECT_EQ(offsets.size(), size_t(n - T));
}

TEST(TextDataset, ShardsAreReusedOnTheNextOpen) {
  ScratchDir dir;
  write_file(dir / "corpus.txt", letters(5));
  TestByteTokenizer first;
  auto a = open_text(dir / "corpus.txt", 8, first, dir / "cache");
  EXPECT_EQ(first.shard_encodes, 2);  // train and val
  const auto shards = a->shard_dir();
  ASSERT_TRUE(std::filesystem::is_regular_file(shards / "train.bin"));
  ASSERT_TRUE(std::filesystem::is_regular_file(shards / "val.bin"));
  // Keyed by the raw file's and the trained tokenizer's hashes.
  EXPECT_EQ(shards.filename().string(),
            runtime::sha256_hex(letters(5)) + "-" + runtime::sha256_hex(first.save()));
  EXPECT_EQ(shards.parent_path(), dir / "cache" / "shards");
  const ino_t train_inode = inode(shards / "train.bin"), val_inode = inode(shards / "val.bin");

  TestByteTokenizer second;
  auto b = open_text(dir / "corpus.txt", 8, second, dir / "cache");
  EXPECT_EQ(second.shard_encodes, 0);
  EXPECT_EQ(inode(shards / "train.bin"), train_inode);
  EXPECT_EQ(inode(shards / "val.bin"), val_inode);
  Batch x, y;
  a->batch(Split::train, 7, 4, 8, x);
  b->batch(Split::train, 7, 4, 8, y);
  EXPECT_EQ(x.ids, y.ids);
  // Nothing but the two shards is left in the folder (no temporary files).
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(shards), std::filesystem::directory_iterator()), 2);
}

TEST(TextDataset, DamagedShardsAreRebuilt) {
  ScratchDir dir;
  const std::string text = letters(6);
  write_file(dir / "corpus.txt", text);
  TestByteTokenizer first;
  const auto shards = open_text(dir / "corpus.txt", 8, first, dir / "cache")->shard_dir();

  {  // One flipped byte among the ids of train.bin, past the 48-byte header.
    std::fstream f(shards / "train.bin", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(48 + 4 * 100);
    f.put('Z');
  }
  std::filesystem::resize_file(shards / "val.bin", 40);  // truncated inside the header

  TestByteTokenizer second;
  auto ds = open_text(dir / "corpus.txt", 8, second, dir / "cache");
  EXPECT_EQ(second.shard_encodes, 2);
  const auto train = ds->tokens(Split::train), val = ds->tokens(Split::val);
  ASSERT_EQ(train.size(), 3600u);
  ASSERT_EQ(val.size(), 400u);
  EXPECT_TRUE(std::equal(train.begin(), train.end(), text.begin()));
  EXPECT_TRUE(std::equal(val.begin(), val.end(), text.begin() + 3600));

  TestByteTokenizer third;  // and the rebuilt shards are whole: reused again
  open_text(dir / "corpus.txt", 8, third, dir / "cache");
  EXPECT_EQ(third.shard_encodes, 0);
}

TEST(TokenShard, RoundTripsAndRefusesAnotherSourceRange) {
  ScratchDir dir;
  const std::vector<int32_t> ids = {5, 0, 255, 7, 1 << 20};
  data::write_shard(dir / "s.bin", ids, 10, 15);
  EXPECT_EQ(std::filesystem::file_size(dir / "s.bin"), 48u + 4 * ids.size());
  auto shard = data::TokenShard::open(dir / "s.bin", 10, 15);
  ASSERT_TRUE(shard);
  EXPECT_EQ(std::vector<int32_t>(shard->ids().begin(), shard->ids().end()), ids);
  EXPECT_FALSE(data::TokenShard::open(dir / "s.bin", 10, 16));
  EXPECT_FALSE(data::TokenShard::open(dir / "s.bin", 0, 15));
  EXPECT_FALSE(data::TokenShard::open(dir / "missing.bin", 10, 15));
  // The checksum sees a change of any one id.
  EXPECT_NE(data::shard_checksum(ids), data::shard_checksum(std::vector<int32_t>{5, 0, 255, 7, (1 << 20) + 1}));
}

TEST(TextDataset, EmptyFileIsADataErrorNamingTheFile) {
  ScratchDir dir;
  write_file(dir / "empty.txt", "");
  TestByteTokenizer tok;
  const std::string msg = data_error([&] { open_text(dir / "empty.txt", 8, tok, dir / "cache"); });
  EXPECT_NE(msg.find((dir / "empty.txt").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("empty"), std::string::npos) << msg;
}

TEST(TextDataset, MissingFileIsADataErrorNamingTheFile) {
  ScratchDir dir;
  TestByteTokenizer tok;
  const std::string msg = data_error([&] { open_text(dir / "none.txt", 8, tok, dir / "cache"); });
  EXPECT_NE(msg.find((dir / "none.txt").string()), std::string::npos) << msg;
}

TEST(TextDataset, TooShortSplitIsADataErrorNamingTheFile) {
  ScratchDir dir;
  std::string text;
  for (int i = 0; i < 60; ++i) text += "abc"[i % 3];
  write_file(dir / "short.txt", text);  // val: 6 tokens, fewer than block_size + 1 = 9
  TestByteTokenizer tok;
  const std::string msg = data_error([&] { open_text(dir / "short.txt", 8, tok, dir / "cache"); });
  EXPECT_NE(msg.find((dir / "short.txt").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("val split"), std::string::npos) << msg;
  EXPECT_NE(msg.find("has 6 tokens"), std::string::npos) << msg;
  EXPECT_NE(msg.find("block_size + 1 = 9"), std::string::npos) << msg;
  // The same file is long enough for block_size 5: the check is on block_size + 1 exactly.
  TestByteTokenizer ok;
  EXPECT_EQ(open_text(dir / "short.txt", 5, ok, dir / "cache")->tokens(Split::val).size(), 6u);
}

TEST(TextDataset, UnencodableValIsADataErrorNamingTheFile) {
  ScratchDir dir;
  std::string text = letters(8);
  text[3900] = '#';  // in val only, so the tokenizer trained on train has never seen it
  write_file(dir / "odd.txt", text);
  TestByteTokenizer tok;
  const std::string msg = data_error([&] { open_text(dir / "odd.txt", 8, tok, dir / "cache"); });
  EXPECT_NE(msg.find((dir / "odd.txt").string()), std::string::npos) << msg;
  EXPECT_NE(msg.find("cannot encode the val part"), std::string::npos) << msg;
}

TEST(TextDataset, SamplePromptIsANewlineWhenTheVocabularyHasOne) {
  ScratchDir dir;
  write_file(dir / "with.txt", letters(9));
  TestByteTokenizer tok;
  EXPECT_EQ(open_text(dir / "with.txt", 8, tok, dir / "cache")->sample_prompt(1), std::vector<int32_t>{'\n'});

  std::string no_newline = letters(9);
  std::replace(no_newline.begin(), no_newline.end(), '\n', 'x');
  write_file(dir / "without.txt", no_newline);
  TestByteTokenizer tok2;
  EXPECT_EQ(open_text(dir / "without.txt", 8, tok2, dir / "cache")->sample_prompt(1),
            std::vector<int32_t>{no_newline[3600]});
}

}  // namespace
}  // namespace nanolab::test
