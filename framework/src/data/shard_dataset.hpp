// Token shard datasets: token ids prepared elsewhere (nanoGPT's train.bin/val.bin, llm.c's
// shards), left on disk and sampled like a text dataset, with no text and no tokenization at
// start. Internal to data/; open_dataset (dataset.cpp) makes one for a folder or a .bin file.
//
// What `data.dataset` may name (docs/data.md#token-shards):
// - a folder: its *.bin files, each of the split its name says (the name without .bin, cut at
//   '_', has a part `train` or `val`: train.bin, val.bin, fineweb_train_000001.bin,
//   tiny_shakespeare_val.bin), in name order; another .bin is an error, other files are ignored;
// - one .bin file: its first floor(n * 0.9) ids are train, the rest val.
// The files of a split are one sequence of ids in that order, and row b of the batch of
// batch_seed starts at batch_offset(batch_seed, b, n, T) of it, as for a text dataset, so batches
// are a pure function of (split, batch_seed, row) and resume is exact. The ids stay on disk: the
// resident memory does not grow with the files' size.
//
// The tokenizer is the experiment's, used as it is (never trained here): its vocabulary must
// hold the ids. Every id a batch reads is checked (a few comparisons per row), and the first
// 65,536 ids of every file at start, so that the wrong tokenizer is found before a run begins; an
// id outside the vocabulary is a DataError naming the file and the byte offset. Not a full scan:
// an id past the vocabulary deep inside a 10 GB file is found when a batch reads it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "data/token_files.hpp"
#include "nanolab/data.hpp"

namespace nanolab::data {

class ShardDataset final : public Dataset {
 public:
  // DataError naming the file for a folder without the shards of both splits, a header that is
  // wrong, a split shorter than block_size + 1 or an id outside the tokenizer's vocabulary among
  // the first of a file. `tokenizer` is kept for decode and must outlive the dataset.
  ShardDataset(std::string label, const std::filesystem::path& path, double train_fraction,
               const ExperimentConfig& config, const Tokenizer& tokenizer);

  std::string description() const override;
  int64_t vocab_size() const override;
  void rows(Split split, uint64_t batch_seed, int64_t first_row, int64_t B, int64_t T,
            Batch& out) const override;
  bool has_accuracy() const override { return false; }
  std::string decode(std::span<const int32_t> ids) const override;
  // One token: a newline when the tokenizer encodes "\n" as one id, else the first id of val.
  std::vector<int32_t> sample_prompt(uint64_t seed) const override;

  int64_t tokens(Split split) const { return part(split).n; }
  // Ids [first, first + n) of `split` into `out`, each checked against the vocabulary.
  void read(Split split, int64_t first, int64_t n, int32_t* out) const;

 private:
  // A range of one file's ids, at `start` in its split's sequence.
  struct Segment {
    size_t file;
    int64_t begin, count, start;
  };
  struct Part {
    std::vector<Segment> segments;
    int64_t n = 0;
  };
  const Part& part(Split split) const { return split == Split::train ? train_ : val_; }
  void add(Part& part, size_t file, int64_t begin, int64_t count);
  void check_ids(const TokenFile& file, int64_t first, const int32_t* ids, int64_t n) const;

  std::string label_;
  std::filesystem::path path_;
  const Tokenizer* tokenizer_;
  std::string tokenizer_name_;  // "bpe tokenizer", for messages
  int64_t vocab_ = 0;
  std::vector<TokenFile> files_;
  Part train_, val_;
  int32_t prompt_id_ = 0;
};

}  // namespace nanolab::data
