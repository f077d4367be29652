// Token shard datasets (shard_dataset.hpp): find the files, check them, and cut batches from
// their global sequence of ids.
#include "data/shard_dataset.hpp"

#include <algorithm>
#include <optional>
#include <system_error>

#include "data/text_dataset.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/interrupt.hpp"

namespace nanolab::data {
namespace {

namespace fs = std::filesystem;

// Ids of every file checked at start (128 KiB of uint16).
constexpr int64_t checked_at_start = 65536;

const char* split_name(Split split) { return split == Split::train ? "train" : "val"; }

// The split a file's name says: the name without .bin, cut at '_', has a part "train" or "val".
std::optional<Split> split_of(const fs::path& file) {
  const std::string stem = file.stem().string();
  bool train = false, val = false;
  for (size_t start = 0; start <= stem.size();) {
    const size_t end = std::min(stem.find('_', start), stem.size());
    const std::string_view word = std::string_view(stem).substr(start, end - start);
    train |= word == "train";
    val |= word == "val";
    start = end + 1;
  }
  if (train == val) return std::nullopt;
  return train ? Split::train : Split::val;
}

constexpr const char* naming_rule =
    "nanoGPT's train.bin and val.bin, or llm.c's shards whose names have a part train or val "
    "between '_'s (fineweb_train_000001.bin, tiny_shakespeare_val.bin)";

}  // namespace

ShardDataset::ShardDataset(std::string label, const fs::path& path, double train_fraction,
                           const ExperimentConfig& config, const Tokenizer& tokenizer)
    : label_(std::move(label)),
      path_(path),
      tokenizer_(&tokenizer),
      tokenizer_name_(config.tokenizer.plugin.empty() ? "tokenizer"
                                                       : config.tokenizer.plugin + " tokenizer"),
      vocab_(tokenizer.vocab_size()) {
  const std::string where = "dataset '" + label_ + "': ";
  try {
    std::error_code ec;
    if (fs::is_directory(path_, ec)) {
      std::vector<std::pair<fs::path, Split>> found;
      for (const fs::directory_entry& entry : fs::directory_iterator(path_, ec)) {
        if (entry.path().extension() != ".bin") continue;
        const std::optional<Split> split = split_of(entry.path());
        if (!split)
          throw DataError(entry.path().string() + ": cannot tell which split it holds: a folder of "
                          "token files holds " + std::string(naming_rule) +
                          "; hint: rename it, or move it out of the folder");
        found.emplace_back(entry.path(), *split);
      }
      if (ec)
        throw DataError(path_.string() + ": cannot list the folder: " + ec.message());
      std::sort(found.begin(), found.end());
      for (Split split : {Split::train, Split::val})
        if (std::none_of(found.begin(), found.end(), [&](const auto& f) { return f.second == split; }))
          throw DataError(path_.string() + ": the folder has no " + split_name(split) +
                          " token file; it must hold " + naming_rule);
      for (const auto& [file, split] : found) {
        throw_if_interrupted();
        files_.emplace_back(file, token_format_of(file));
        add(split == Split::train ? train_ : val_, files_.size() - 1, 0, files_.back().size());
      }
    } else {
      files_.emplace_back(path_, token_format_of(path_));
      const int64_t n = files_.back().size();
      const auto cut = int64_t(double(n) * train_fraction);
      add(train_, 0, 0, cut);
      add(val_, 0, cut, n - cut);
    }
    for (const TokenFile& file : files_) {
      std::vector<int32_t> ids(size_t(std::min(file.size(), checked_at_start)));
      file.copy(0, int64_t(ids.size()), ids.data());
      check_ids(file, 0, ids.data(), int64_t(ids.size()));
    }
  } catch (const DataError& e) {
    throw DataError(where + e.what());
  }

  for (Split split : {Split::train, Split::val}) {
    const int64_t n = part(split).n;
    if (n < config.block_size + 1)
      throw DataError(where + "the " + split_name(split) + " split of " + path_.string() + " has " +
                      std::to_string(n) + " tokens, fewer than block_size + 1 = " +
                      std::to_string(config.block_size + 1) +
                      ": use more tokens or a smaller block_size");
  }
  int32_t first_val = 0;
  read(Split::val, 0, 1, &first_val);
  prompt_id_ = prompt_token(tokenizer, first_val);
}

void ShardDataset::add(Part& part, size_t file, int64_t begin, int64_t count) {
  part.segments.push_back({file, begin, count, part.n});
  part.n += count;
}

void ShardDataset::check_ids(const TokenFile& file, int64_t first, const int32_t* ids,
                             int64_t n) const {
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] >= 0 && ids[i] < vocab_) continue;
    std::string hint =
        "hint: the ids were written with another tokenizer: set data.tokenizer to the one that "
        "wrote them (GPT-2's: tokenizer = { plugin = \"bpe\", encoder_json = \".../encoder.json\", "
        "vocab_bpe = \".../vocab.bpe\", special_tokens = \"<|endoftext|>\" })";
    if (file.format() == TokenFormat::nanogpt && file.starts_with_llmc_magic())
      hint = "hint: the file starts with llm.c's magic 20240520: it is an llm.c shard, which "
             "must not be named train.bin or val.bin (those are nanoGPT's raw ids): rename it "
             "x_train.bin or x_val.bin";
    throw DataError(file.file().string() + ": at byte offset " +
                    std::to_string(file.byte_offset(first + i)) + ": token id " +
                    std::to_string(ids[i]) + " is outside the vocabulary of the " +
                    tokenizer_name_ + " (" + std::to_string(vocab_) + " ids); " + hint);
  }
}

void ShardDataset::read(Split split, int64_t first, int64_t n, int32_t* out) const {
  const Part& p = part(split);
  // The segment holding `first`: the last one that starts at or before it.
  auto seg = std::upper_bound(p.segments.begin(), p.segments.end(), first,
                              [](int64_t i, const Segment& s) { return i < s.start; }) - 1;
  while (n > 0) {
    const int64_t local = first - seg->start;
    const int64_t take = std::min(n, seg->count - local);
    const TokenFile& file = files_[seg->file];
    file.copy(seg->begin + local, take, out);
    try {
      check_ids(file, seg->begin + local, out, take);
    } catch (const DataError& e) {
      throw DataError("dataset '" + label_ + "': " + e.what());
    }
    out += take;
    first += take;
    n -= take;
    ++seg;
  }
}

std::string ShardDataset::description() const {
  auto count = [&](Split split) {
    const size_t files = part(split).segments.size();
    return std::to_string(part(split).n) + " tokens in " + std::to_string(files) +
           (files == 1 ? " file" : " files");
  };
  return label_ + ": token files " + path_.string() + ", vocab_size " + std::to_string(vocab_) +
         ", train " + count(Split::train) + ", val " + count(Split::val);
}

int64_t ShardDataset::vocab_size() const { return vocab_; }

void ShardDataset::rows(Split split, uint64_t batch_seed, int64_t first_row, int64_t B, int64_t T,
                        Batch& out) const {
  const int64_t n = part(split).n;
  if (B < 1 || T < 1 || n <= T)
    throw DataError("dataset '" + label_ + "': cannot cut a batch of B=" + std::to_string(B) +
                    ", T=" + std::to_string(T) + " from the " + split_name(split) + " split of " +
                    std::to_string(n) + " tokens (it needs T + 1)");
  out.B = B;
  out.T = T;
  out.ids.resize(size_t(B * T));      // B,T
  out.targets.resize(size_t(B * T));  // B,T
  for (int64_t b = 0; b < B; ++b) {
    const auto o = int64_t(batch_offset(batch_seed, first_row + b, n, T));
    read(split, o, T, out.ids.data() + b * T);
    read(split, o + 1, T, out.targets.data() + b * T);
  }
}

std::string ShardDataset::decode(std::span<const int32_t> ids) const {
  return tokenizer_->decode(ids);
}

std::vector<int32_t> ShardDataset::sample_prompt(uint64_t) const { return {prompt_id_}; }

}  // namespace nanolab::data
