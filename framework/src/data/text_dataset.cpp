// Text datasets (text_dataset.hpp): read, check, split, train the tokenizer, prepare or reuse the
// shards, and cut batches from them.
#include "data/text_dataset.hpp"

#include "nanolab/errors.hpp"
#include "nanolab/input_file.hpp"
#include "nanolab/interrupt.hpp"
#include "runtime/sha256.hpp"

namespace nanolab::data {
namespace {

const char* split_name(Split split) { return split == Split::train ? "train" : "val"; }

}  // namespace

size_t split_point(std::string_view text, double train_fraction) {
  size_t at = size_t(double(text.size()) * train_fraction);
  // A UTF-8 continuation byte is 10xxxxxx: step back to the byte that starts the character, so
  // that neither part begins or ends with half of one.
  while (at > 0 && at < text.size() && (static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) --at;
  return at;
}

int32_t prompt_token(const Tokenizer& tokenizer, int32_t fallback) {
  try {
    const std::vector<int32_t> newline = tokenizer.encode("\n");
    return newline.size() == 1 ? newline[0] : fallback;
  } catch (const std::exception&) {
    // A tokenizer that has never seen a newline refuses it; the fallback will do.
    return fallback;
  }
}

TextDataset::TextDataset(std::string label, const std::filesystem::path& raw_file, const Recipe* recipe,
                         double train_fraction, const ExperimentConfig& config, Tokenizer& tokenizer,
                         const std::filesystem::path& cache)
    : label_(std::move(label)), raw_file_(raw_file), tokenizer_(&tokenizer) {
  std::string text;
  if (const std::string reason = read_input(raw_file_, input_limit::text, text); !reason.empty())
    throw DataError("dataset '" + label_ + "': file " + raw_file_.string() + ": " + reason);
  raw_sha256_ = runtime::sha256_hex(text);
  if (recipe) check_sha256(*recipe, raw_file_, int64_t(text.size()), raw_sha256_);
  if (text.empty()) throw DataError("dataset '" + label_ + "': file " + raw_file_.string() + " is empty");

  const size_t cut = split_point(text, train_fraction);
  // Each step below may take long on a large file: a signal stops the set-up between them (and
  // inside a tokenizer's training, which polls too).
  throw_if_interrupted();
  try {
    tokenizer.train(std::string_view(text).substr(0, cut), config.vocab_size);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw DataError("dataset '" + label_ + "': the tokenizer failed to train on the train part of " +
                    raw_file_.string() + ": " + e.what());
  }
  shard_dir_ = cache / "shards" / (raw_sha256_ + "-" + runtime::sha256_hex(tokenizer.save()));
  throw_if_interrupted();
  train_ = prepare(Split::train, text, 0, cut);
  throw_if_interrupted();
  val_ = prepare(Split::val, text, cut, text.size());

  for (Split split : {Split::train, Split::val}) {
    const int64_t n = int64_t(tokens(split).size());
    if (n < config.block_size + 1)
      throw DataError("dataset '" + label_ + "': the " + split_name(split) + " split of " + raw_file_.string() +
                      " has " + std::to_string(n) + " tokens, fewer than block_size + 1 = " +
                      std::to_string(config.block_size + 1) + ": use a longer file or a smaller block_size");
  }

  prompt_id_ = prompt_token(tokenizer, val_.ids()[0]);
}

TokenShard TextDataset::prepare(Split split, std::string_view text, uint64_t begin, uint64_t end) {
  const std::filesystem::path file = shard_dir_ / (std::string(split_name(split)) + ".bin");
  if (auto shard = TokenShard::open(file, begin, end)) return std::move(*shard);

  std::vector<int32_t> ids;
  try {
    ids = tokenizer_->encode(text.substr(begin, end - begin));
  } catch (const Interrupted&) {
    throw;
  } catch (const std::exception& e) {
    throw DataError("dataset '" + label_ + "': the tokenizer cannot encode the " + split_name(split) +
                    " part (bytes " + std::to_string(begin) + ".." + std::to_string(end) + ") of " +
                    raw_file_.string() + ": " + e.what());
  }
  const int64_t V = tokenizer_->vocab_size();
  for (int32_t id : ids) {
    if (id < 0 || id >= V)
      throw PluginError("dataset '" + label_ + "': the tokenizer encoded " + raw_file_.string() + " to id " +
                        std::to_string(id) + ", outside its vocabulary of " + std::to_string(V));
  }
  std::error_code ec;
  std::filesystem::create_directories(shard_dir_, ec);
  if (ec) throw StorageError("cannot create the shard folder " + shard_dir_.string() + ": " + ec.message());
  write_shard(file, ids, begin, end);
  auto shard = TokenShard::open(file, begin, end);
  if (!shard) throw StorageError("token shard " + file.string() + " did not read back as written");
  return std::move(*shard);
}

std::span<const int32_t> TextDataset::tokens(Split split) const {
  return split == Split::train ? train_.ids() : val_.ids();
}

std::string TextDataset::description() const {
  return label_ + ": " + raw_file_.string() + " (sha256 " + raw_sha256_ + "), vocab_size " +
         std::to_string(vocab_size()) + ", train " + std::to_string(train_.ids().size()) + " tokens, val " +
         std::to_string(val_.ids().size()) + " tokens, shards " + shard_dir_.string();
}

int64_t TextDataset::vocab_size() const { return tokenizer_->vocab_size(); }

void TextDataset::rows(Split split, uint64_t batch_seed, int64_t first_row, int64_t B, int64_t T,
                       Batch& out) const {
  const std::span<const int32_t> src = tokens(split);  // n
  const int64_t n = int64_t(src.size());
  if (B < 1 || T < 1 || n <= T)
    throw DataError("dataset '" + label_ + "': cannot cut a batch of B=" + std::to_string(B) + ", T=" +
                    std::to_string(T) + " from the " + split_name(split) + " split of " + std::to_string(n) +
                    " tokens (it needs T + 1)");
  out.B = B;
  out.T = T;
  out.ids.resize(size_t(B * T));      // B,T
  out.targets.resize(size_t(B * T));  // B,T
  for (int64_t b = 0; b < B; ++b) {
    const int32_t* row = src.data() + batch_offset(batch_seed, first_row + b, n, T);
    std::copy(row, row + T, out.ids.begin() + b * T);
    std::copy(row + 1, row + 1 + T, out.targets.begin() + b * T);
  }
}

std::string TextDataset::decode(std::span<const int32_t> ids) const { return tokenizer_->decode(ids); }

std::vector<int32_t> TextDataset::sample_prompt(uint64_t) const { return {prompt_id_}; }

}  // namespace nanolab::data
