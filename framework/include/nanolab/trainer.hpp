// Training, resuming, sampling and evaluating a run: what `nanolab run`, `resume`, `sample` and
// `eval` call.
//
// train() builds the run from its RunSpec (tokenizer and dataset, the GPT with its attention
// plugin, the optimizer and loss plugins), claims the run directory, and runs the loop: warmup +
// decay of the learning rate, gradient accumulation and clipping, evaluation of train and val loss
// (and accuracy on synthetic tasks) with a text sample every eval_interval, checkpoints every
// checkpoint_interval and at the end, progress on stderr. Every random choice is a function of the
// seed and the step (nanolab/rng.hpp), so the same seed and thread count give identical metrics,
// and resume() continues from the last checkpoint exactly as if never interrupted. A failure after
// the run started is recorded in its log (status "failed") before the error propagates; SIGINT or
// SIGTERM stops at the end of the step with a checkpoint and status "interrupted". A run with
// model.init_from starts from that GPT-2 file's weights (gpt2.hpp) instead of the random init.
// Under mpirun (distributed.hpp) a run trains data-parallel: N ranks of batch_size rows train on
// the batches of one process of N x batch_size rows, rank 0 writing the run and its checkpoints;
// resume() needs the same number of ranks (docs/scaling.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "nanolab/data.hpp"
#include "nanolab/experiment.hpp"
#include "nanolab/run_store.hpp"

namespace nanolab {

struct TrainOptions {
  std::filesystem::path run_dir;
  std::string command_line;
  bool progress = true;  // progress on stderr (a live line on a terminal, plain lines otherwise)
  // Time per op kind per step (`--profile`): a table on stdout at the end of the loop, and a line
  // on stderr at each log interval when progress is on (docs/performance.md).
  bool profile = false;
  // In an MPI job (distributed.hpp), train the run together with the other ranks: each takes
  // batch_size rows of every batch and gradients are averaged. false: this rank trains the run
  // alone (a sweep distributed over the ranks).
  bool data_parallel = true;
  // resume(): `--set` assignments; train.max_iters=N is the one key it takes, and extends (or
  // shortens, past the checkpoint's step) the run: run.h5 then holds the new configuration and a
  // line in the /meta attribute `extensions`; the lr schedule is that of the new length.
  std::vector<std::string> overrides = {};
  // A search's rung (search.hpp): train up to this step only (when it is below max_iters),
  // evaluate there, write a checkpoint and end with status "pruned" and the summary value
  // pruned_at_step; resume() continues such a run. The schedule stays that of max_iters. 0: none.
  int64_t stop_at = 0;
};

struct TrainResult {
  std::string status;  // "completed", "interrupted", or "pruned" (TrainOptions::stop_at)
  NumericAttrs summary;
};

TrainResult train(const RunSpec& spec, const TrainOptions& options);
// Continues the run in options.run_dir from its checkpoint, which must be the run's own (the same
// run_id and configuration as its run.h5: CheckpointError otherwise). A run without a checkpoint
// (stopped before its first one) is trained again from step 0 with the configuration of its
// run.h5, its earlier rows replaced.
TrainResult resume(const TrainOptions& options);

struct SampleOptions {
  std::string prompt;         // empty: the dataset's sample prompt
  int64_t tokens = 200;
  double temperature = 1.0;   // > 0
  int64_t top_k = 0;          // 0: all
  uint64_t seed = 1337;
};
// Text from the run's last checkpoint, generated with the attention plugins' KV caches.
std::string sample(const std::filesystem::path& run_dir, const SampleOptions& options);

// `nanolab eval`: the mean cross-entropy per token over a text dataset's split, read as
// consecutive windows of block_size tokens, each token predicted from the tokens before it in its
// window (every token but the first is predicted once; the last window may be shorter); perplexity
// is exp of it. Batches of batch_size windows, no dropout.
struct EvalOptions {
  std::string dataset;     // a run: empty for its own dataset; a model: its experiment's
  Split split = Split::val;
  int64_t max_tokens = 0;  // 0: the whole split; else the first max_tokens predictions
};
struct EvalResult {
  std::string dataset;     // data.dataset
  std::string description; // the dataset's: file, sha256, token counts
  int64_t tokens = 0;      // tokens predicted
  int64_t block_size = 0;  // the window
  double loss = 0;         // nats per token
  double perplexity = 0;   // exp(loss)
  double seconds = 0;
};
// A run's last checkpoint, with its tokenizer. Another dataset must leave the tokenizer as the run
// saved it (a `char` tokenizer learns its vocabulary from the text: DataError otherwise).
EvalResult evaluate_run(const std::filesystem::path& run_dir, const EvalOptions& options);
// A model file: the run `spec` of an experiment with model.init_from (load_experiment with no file
// and --set values), its weights read from that file.
EvalResult evaluate_model(const RunSpec& spec, const EvalOptions& options);

}  // namespace nanolab
