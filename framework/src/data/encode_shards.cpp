// encode_shards (encode_shards.hpp): cut, encode the pieces in parallel, write the shards.
#include "nanolab/encode_shards.hpp"

#include <algorithm>
#include <mutex>
#include <system_error>

#include "data/token_files.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/interrupt.hpp"
#include "nanolab/parallel.hpp"

namespace nanolab::data {
namespace {

namespace fs = std::filesystem;

constexpr size_t piece_bytes = size_t(1) << 20;

bool ascii_letter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Where the pieces start: 0, then the first cut at or after each previous start + piece_bytes.
std::vector<size_t> piece_starts(std::string_view text) {
  std::vector<size_t> starts = {0};
  for (size_t at = piece_bytes; at < text.size(); at += piece_bytes) {
    at = std::max(at, starts.back() + 1);
    while (at < text.size() && !(text[at - 1] == '\n' && ascii_letter(text[at]))) ++at;
    if (at >= text.size()) break;
    starts.push_back(at);
  }
  return starts;
}

std::string shard_name(const std::string& name, const char* split, size_t index) {
  std::string number = std::to_string(index);
  number.insert(0, number.size() < 6 ? 6 - number.size() : 0, '0');
  return name + "_" + split + "_" + number + ".bin";
}

}  // namespace

ShardSummary encode_shards(const Tokenizer& tokenizer, std::string_view text, const fs::path& dir,
                           const ShardPlan& plan,
                           const std::function<void(uint64_t, uint64_t)>& progress) {
  std::error_code ec;
  if (fs::is_directory(dir, ec))
    for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec)) {
      const std::string file = entry.path().filename().string();
      if (file.starts_with(plan.name + "_") && file.ends_with(".bin"))
        throw ConfigError("--shards " + dir.string() + " already holds " + file +
                          ": remove the old shards, or give another folder or --prefix");
    }

  const std::vector<size_t> starts = piece_starts(text);
  std::vector<std::vector<int32_t>> pieces(starts.size());
  std::mutex progress_mutex;
  uint64_t done = 0;
  // One piece per task: the pieces are independent, and where they are cut fixes the result.
  parallel_for(int64_t(starts.size()), int64_t(1) << 20, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      throw_if_interrupted();
      const size_t from = starts[size_t(i)];
      const size_t to = size_t(i) + 1 < starts.size() ? starts[size_t(i) + 1] : text.size();
      pieces[size_t(i)] = tokenizer.encode(text.substr(from, to - from));
      const std::lock_guard lock(progress_mutex);
      done += to - from;
      progress(done, text.size());
    }
  });

  std::vector<int32_t> ids;
  size_t total = 0;
  for (const auto& piece : pieces) total += piece.size();
  ids.reserve(total);
  for (auto& piece : pieces) {
    ids.insert(ids.end(), piece.begin(), piece.end());
    std::vector<int32_t>().swap(piece);
  }
  const int64_t n = int64_t(ids.size());
  const int64_t vocab = tokenizer.vocab_size();
  for (int64_t i = 0; i < n; ++i)
    if (ids[size_t(i)] < 0 || ids[size_t(i)] >= vocab)
      throw PluginError("the tokenizer encoded the text to id " + std::to_string(ids[size_t(i)]) +
                        ", outside its vocabulary of " + std::to_string(vocab));

  ShardSummary summary;
  summary.val_tokens =
      plan.val_tokens >= 0 ? plan.val_tokens : std::min(n / 10, plan.shard_tokens);
  if (summary.val_tokens >= n)
    throw ConfigError("the text encodes to " + std::to_string(n) + " tokens, and --val-tokens " +
                      std::to_string(summary.val_tokens) +
                      " leaves none for train: give a smaller --val-tokens or a longer text");
  summary.train_tokens = n - summary.val_tokens;

  fs::create_directories(dir, ec);
  if (ec) throw StorageError("cannot create the folder " + dir.string() + ": " + ec.message());
  try {
    size_t index = 0;
    auto write = [&](const char* split, int64_t begin, int64_t end) {
      for (int64_t at = begin; at < end; at += plan.shard_tokens) {
        throw_if_interrupted();
        const int64_t count = std::min(plan.shard_tokens, end - at);
        const fs::path file = dir / shard_name(plan.name, split, index++);
        write_llmc_shard(file, std::span(ids).subspan(size_t(at), size_t(count)), vocab);
        summary.files.push_back(file);
      }
    };
    write("val", 0, summary.val_tokens);
    write("train", summary.val_tokens, n);
  } catch (...) {
    for (const fs::path& file : summary.files) fs::remove(file, ec);
    throw;
  }
  return summary;
}

}  // namespace nanolab::data
