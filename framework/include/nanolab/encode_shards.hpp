// A text corpus encoded into llm.c shards, in parallel (`nanolab tokenizer encode --shards`).
//
// The text is cut into pieces of about 1 MiB, each ending just before a byte that follows a '\n'
// and is an ASCII letter, or at the end of the text: where the GPT-2 and GPT-4 pre-split patterns
// always have a chunk boundary, so that for the bpe tokenizer with either pattern (and for byte-
// or character-level tokenizers) the pieces' ids, one after the other, are the whole text's ids.
// The pieces are encoded on the framework's TBB pool; where they are cut does not depend on the
// thread count, so neither do the shards. The ids are then written as llm.c does for fineweb:
// the first `val_tokens` ids are the val shards, the rest the train shards, each of at most
// `shard_tokens` ids, named <name>_val_000000.bin, ..., then <name>_train_<k>.bin numbered on.
// Each shard is written under a temporary name and renamed; a failure or a signal removes the
// shards already written, so the folder holds all of them or none. Not a streaming encoder: the
// text and its ids are in memory.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "nanolab/errors.hpp"
#include "nanolab/tokenizer.hpp"

namespace nanolab::data {

struct ShardPlan {
  std::string name;                    // the files' prefix
  int64_t shard_tokens = 100'000'000;  // llm.c's fineweb shards
  int64_t val_tokens = -1;             // -1: a tenth of the ids, at most shard_tokens
};

struct ShardSummary {
  std::vector<std::filesystem::path> files;  // val first, then train
  int64_t val_tokens = 0, train_tokens = 0;
};

// Encodes `text` with `tokenizer` and writes the shards into `dir` (created if missing).
// ConfigError when `dir` already holds files named <name>_*.bin or the plan leaves no train id;
// `progress(bytes_encoded, bytes_total)` is called, one call at a time, as pieces finish.
NANOLAB_VISIBLE ShardSummary encode_shards(const Tokenizer& tokenizer, std::string_view text,
                           const std::filesystem::path& dir, const ShardPlan& plan,
                           const std::function<void(uint64_t, uint64_t)>& progress);

}  // namespace nanolab::data
