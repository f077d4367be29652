// Text datasets: one raw text file, split into train and val by bytes, tokenized once into two
// memory-mapped shards (shard.hpp) and sampled at random offsets like nanoGPT's get_batch.
// Internal to data/; open_dataset (dataset.cpp) decides which files and recipe to use.
//
// The split is on bytes of the raw file: the first floor(size * train_fraction) bytes are train,
// moved back to the start of a UTF-8 character if the cut falls inside one; each part is then
// tokenized on its own. nanoGPT's prepare.py cuts at 90% of the characters, which is the same cut
// for an ASCII file such as tiny Shakespeare. Not a streaming loader: the raw file is read whole
// (the tokenizer trains on it), and the shards are mapped whole.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "data/recipe.hpp"
#include "data/shard.hpp"
#include "nanolab/data.hpp"
#include "nanolab/rng.hpp"

namespace nanolab::data {

// The byte where val starts: floor(size * train_fraction), moved back to a UTF-8 lead byte.
size_t split_point(std::string_view text, double train_fraction);

// Row b of the batch for batch_seed starts at this offset into a split of n tokens (n > T).
inline uint64_t batch_offset(uint64_t batch_seed, int64_t b, int64_t n, int64_t T) {
  return rng::mix(batch_seed, uint64_t(b)) % uint64_t(n - T);
}

// The one token samples start from: the id of "\n" when the tokenizer encodes it as one id, else
// `fallback` (the first id of val).
int32_t prompt_token(const Tokenizer& tokenizer, int32_t fallback);

class TextDataset final : public Dataset {
 public:
  // `label` names the dataset in messages (the recipe name or the path as written). `recipe` is
  // null for a path dataset (no checksum to check). Trains `tokenizer` on the train part, then
  // maps the shards under <cache>/shards/, building them if they are missing or damaged.
  // `tokenizer` is kept for decode and must outlive the dataset.
  TextDataset(std::string label, const std::filesystem::path& raw_file, const Recipe* recipe,
              double train_fraction, const ExperimentConfig& config, Tokenizer& tokenizer,
              const std::filesystem::path& cache);

  std::string description() const override;
  int64_t vocab_size() const override;
  void rows(Split split, uint64_t batch_seed, int64_t first_row, int64_t B, int64_t T,
            Batch& out) const override;
  bool has_accuracy() const override { return false; }
  std::string decode(std::span<const int32_t> ids) const override;
  // One token: a newline when the tokenizer encodes "\n" as one id, else the first id of val.
  std::vector<int32_t> sample_prompt(uint64_t seed) const override;

  std::span<const int32_t> tokens(Split split) const;
  const std::filesystem::path& shard_dir() const { return shard_dir_; }

 private:
  TokenShard prepare(Split split, std::string_view text, uint64_t begin, uint64_t end);

  std::string label_;
  std::filesystem::path raw_file_;
  std::string raw_sha256_;
  const Tokenizer* tokenizer_;
  std::filesystem::path shard_dir_;
  TokenShard train_, val_;
  int32_t prompt_id_ = 0;
};

}  // namespace nanolab::data
