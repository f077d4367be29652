// Training, resuming and sampling a run: what `nanolab run`, `resume` and `sample` call.
//
// train() builds the run from its RunSpec (tokenizer and dataset, the GPT with its attention
// plugin, the optimizer and loss plugins), claims the run directory, and runs the loop: warmup +
// decay of the learning rate, gradient accumulation and clipping, evaluation of train and val loss
// (and accuracy on synthetic tasks) with a text sample every eval_interval, checkpoints every
// checkpoint_interval and at the end, progress on stderr. Every random choice is a function of the
// seed and the step (runtime/rng.hpp), so the same seed and thread count give identical metrics,
// and resume() continues from the last checkpoint exactly as if never interrupted. A failure after
// the run started is recorded in its log (status "failed") before the error propagates; SIGINT or
// SIGTERM stops at the end of the step with a checkpoint and status "interrupted".
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "nanolab/experiment.hpp"
#include "nanolab/run_store.hpp"

namespace nanolab {

struct TrainOptions {
  std::filesystem::path run_dir;
  std::string command_line;
  bool progress = true;  // progress on stderr (a live line on a terminal, plain lines otherwise)
};

struct TrainResult {
  std::string status;  // "completed" or "interrupted"
  NumericAttrs summary;
};

TrainResult train(const RunSpec& spec, const TrainOptions& options);
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

}  // namespace nanolab
