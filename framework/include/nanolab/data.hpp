// Datasets and batches.
//
// A Dataset serves batches of token ids for the train and val splits. Every batch is a pure
// function of (split, batch_seed): the trainer derives batch_seed from the run's seed and the step,
// so a resumed run draws exactly the batches an uninterrupted one would, with no loader state to
// save. Text datasets (a recipe in datasets/ or a path) are tokenized once into memory-mapped
// shards keyed by the raw file's and the tokenizer's hashes; synthetic:<task> datasets are
// generated in process and mark only their answer tokens as targets (others are -1), which is what
// the exact-match accuracy is measured on. Token files prepared elsewhere (nanoGPT's train.bin and
// val.bin, llm.c's shards, a folder of them) stay on disk, read a row at a time, and are used with
// the experiment's tokenizer as it is.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "nanolab/errors.hpp"
#include "nanolab/experiment.hpp"
#include "nanolab/tokenizer.hpp"

namespace nanolab {

enum class Split { train, val };

struct Batch {
  int64_t B = 0, T = 0;
  std::vector<int32_t> ids;      // B*T
  std::vector<int32_t> targets;  // B*T, -1 where no loss is taken
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual std::string description() const = 0;  // for logs: name, file, sha256, token counts
  virtual int64_t vocab_size() const = 0;
  // Fills `out` with B rows of T tokens from `split`, deterministically from batch_seed.
  void batch(Split split, uint64_t batch_seed, int64_t B, int64_t T, Batch& out) const {
    rows(split, batch_seed, 0, B, T, out);
  }
  // Rows first_row .. first_row + B - 1 of the batch of batch_seed. Row r is a function of
  // (split, batch_seed, r) alone, so a large batch can be drawn in parts: the micro-batches of an
  // accumulating step, the ranks of a data-parallel job.
  virtual void rows(Split split, uint64_t batch_seed, int64_t first_row, int64_t B, int64_t T,
                    Batch& out) const = 0;
  // Whether exact-match accuracy on the answer tokens is meaningful (synthetic tasks).
  virtual bool has_accuracy() const = 0;
  // Token ids -> text, for samples.
  virtual std::string decode(std::span<const int32_t> ids) const = 0;
  // A prompt to start samples with (a few tokens from the val split, or a task's question).
  virtual std::vector<int32_t> sample_prompt(uint64_t seed) const = 0;
  // A prompt a person typed (`nanolab sample --prompt`) as ids, for a dataset with a vocabulary
  // of its own (a synthetic task's question, "12+49="); ConfigError saying what a prompt of this
  // dataset looks like when `text` is not one. Text datasets leave prompts to the tokenizer.
  virtual std::vector<int32_t> encode_prompt(const std::string& text) const {
    throw ConfigError("--prompt '" + text + "': " + description() +
                      " has no vocabulary of its own; the tokenizer encodes prompts");
  }
  // The id that ends an answer, where a sample stops; -1 when there is none.
  virtual int32_t end_token() const { return -1; }
};

struct DataPaths {
  std::filesystem::path recipes;  // the project's datasets/ folder
  std::filesystem::path cache;    // prepared shards (default ~/.cache/nanolab)
};
DataPaths default_data_paths();

// Whether `dataset` (a data.dataset value) names token files (docs/data.md#token-shards): a path
// ending in .bin, or a path with a '/' to a folder. They stay on disk: only the rows a batch takes are read.
bool names_token_files(const std::string& dataset);

// Why `dataset` (a data.dataset value) could not be opened for want of its files, or "" when they
// are there (or it is generated: synthetic:<task>): the path of token files or of a text file does
// not exist, a recipe is missing, or a recipe's raw file is neither in $NANOLAB_DATA nor in the
// cache. The message is open_dataset's, with its hint. Looks only at what exists, reads no data:
// what `nanolab check` warns about where `nanolab run` would exit 3.
std::string missing_dataset_files(const std::string& dataset,
                                  const DataPaths& paths = default_data_paths());

// Opens the dataset of `config`. For text datasets the tokenizer is trained on the train split
// first if it learns (config.vocab_size), then the tokens are prepared or taken from the cache.
// Missing, empty, too short or undecodable data throws DataError naming the file and what to do.
// A text dataset keeps a reference to `tokenizer` (for decode), which must outlive it; synthetic
// tasks have their own vocabulary and do not use it. docs/data.md has the details.
std::unique_ptr<Dataset> open_dataset(const ExperimentConfig& config, Tokenizer& tokenizer,
                                      const DataPaths& paths = default_data_paths());

}  // namespace nanolab
