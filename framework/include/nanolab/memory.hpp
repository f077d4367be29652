// The memory a run needs, estimated from its configuration before anything is allocated, and the
// refusal (exit 2) of a run that cannot fit in the memory the machine has left
// (runtime/available_memory.hpp). `nanolab check` and `run` estimate every run of an experiment
// before anything is created; building a run for training (train/components.cpp) estimates again
// with the vocabulary its tokenizer has. The formula and how close it comes to a measured peak
// are in docs/training.md#memory. An estimate, not an accounting: it counts the tensors a step
// keeps, not the allocator's rounding, and errs on the high side.
#pragma once

#include <cstdint>
#include <string>

#include "nanolab/errors.hpp"
#include "nanolab/experiment.hpp"

namespace nanolab::config {

// Bytes, as doubles: the terms of a configuration at the schema's bounds overflow no double.
struct NANOLAB_VISIBLE MemoryEstimate {
  double n_params = 0;         // exact for causal_mha's layout; attention plugins with fewer
                               // projections (gqa) have fewer
  double parameters = 0;       // float32 weights
  double gradients = 0;        // one float32 per parameter
  double optimizer_state = 0;  // optimizer_state_tensors per parameter
  double activations = 0;      // what the forward pass of one micro-batch keeps for backward
  double sampling = 0;         // the KV cache and the buffers of a text sample
  double dataset = 0;          // the text, its ids and its token shards
  double runtime = 0;          // the program, its libraries and their pools

  double total() const;
  // "2.31 GB (parameters 410 MB, gradients ..., ...)".
  std::string text() const;
};

// Float32 tensors of optimizer state per parameter, the same for every optimizer: adamw's m and
// v, the most any shipped optimizer keeps (sgd with momentum, lion and muon keep one, adafactor
// less).
constexpr double optimizer_state_tensors = 2;

// `vocab_size`: the rows of wte and of the head; `dataset_bytes`: the text the dataset reads (0:
// a synthetic task, or a text already in memory).
NANOLAB_VISIBLE MemoryEstimate estimate_memory(const ExperimentConfig& config, int64_t vocab_size,
                               uint64_t dataset_bytes);

// The estimate before anything is built: the vocabulary is model.vocab_size, else data.vocab_size,
// else 256 (a byte's worth; a tokenizer with more is estimated again when the run is built), and
// the dataset is the size of data.dataset when it names a text file (a recipe's: 0).
NANOLAB_VISIBLE MemoryEstimate estimate_memory(const ExperimentConfig& config);

// ConfigError (exit 2) when `need` is more than the available memory: "<what> needs about <the
// estimate>, more than the <N> available (<source>)" with a hint. Nothing when it fits, when the
// available memory is unknown, or when NANOLAB_MEMORY_CHECK=off.
NANOLAB_VISIBLE void require_memory(const MemoryEstimate& need, const std::string& what);

// require_memory for the estimate of every run of `experiment` before anything is built: one
// ConfigError listing every run that does not fit.
NANOLAB_VISIBLE void require_memory(const Experiment& experiment);

}  // namespace nanolab::config
