// Autoregressive generation with the attention plugins' KV caches, for evaluation samples and
// `nanolab sample`. Internal.
#pragma once

#include <cstdint>
#include <vector>

#include "nanolab/model.hpp"

namespace nanolab::train_detail {

struct Sampling {
  int64_t tokens;
  double temperature;  // > 0
  int64_t top_k;       // 0: all
  uint64_t seed;
  // Only ids below this are drawn (the data's vocabulary): a model with more rows
  // (model.vocab_size, nanoGPT's padded 50304) has logits for ids no tokenizer decodes. 0: every
  // row.
  int64_t vocab_size = 0;
  // Generation ends after this id (a synthetic task's end of answer); -1: after `tokens` ids.
  int32_t stop = -1;
};

// The `s.tokens` ids that follow `prompt` (not empty). When the context fills block_size, the
// caches restart from the last half of it (each token is still predicted from at least
// block_size / 2 tokens of context). A signal (interrupted(), nanolab/interrupt.hpp) ends it early
// with the ids drawn so far, without throwing: the caller decides what stopping means (the
// training loop ends its step; `nanolab sample` exits 130).
std::vector<int32_t> generate(Gpt& model, const std::vector<int32_t>& prompt, const Sampling& s);

}  // namespace nanolab::train_detail
