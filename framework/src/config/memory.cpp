// The memory estimate of a run and its refusal (memory.hpp). The formula is documented in
// docs/training.md#memory; the constants below are its terms.
#include "nanolab/memory.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string_view>

#include "nanolab/data.hpp"
#include "nanolab/errors.hpp"
#include "runtime/available_memory.hpp"

namespace nanolab::config {
namespace {

constexpr double f32 = 4;  // bytes of a float
// Tensors of width C that one block keeps per token for its backward pass: ln_1's output, q, k,
// v and their copies split into heads, the heads' output and its merge, c_proj's output, the
// residual sum, ln_2's output, c_fc's (4C) and gelu's (4C) outputs, the MLP's c_proj output and
// the second residual sum, with room for the gradients the backward pass holds at once.
constexpr double block_widths = 24;
// Copies of the attention scores (B, NH, T, T) per block: scores, probabilities and their
// gradient, as an attention that materialises them keeps (causal_mha); flash keeps none, and is
// over-estimated.
constexpr double score_copies = 3;
// With dropout: the masks of the embedding, attention output and MLP (width C) and of the
// attention probabilities.
constexpr double dropout_widths = 3;
// Copies of the logits (B, T, V): the logits, their softmax and their gradient.
constexpr double logits_copies = 3;
// Bytes per byte of a dataset's text: the text, its ids while they are encoded (an int32 each,
// at most one per byte), and the token shard read back.
constexpr double dataset_bytes_per_byte = 9;
// The program, oneDNN, oneTBB, HDF5, the plugins and their pools: the peak RSS of a run of a
// 1-layer, 8-wide model on synthetic:copy, 34.6 MiB, rounded up (docs/training.md#memory).
constexpr double runtime_bytes = 40.0 * (1 << 20);

std::string bytes_text(double bytes) {
  char out[32];
  if (bytes >= double(1ull << 40))
    std::snprintf(out, sizeof out, "%.3g TiB", bytes / double(1ull << 40));
  else if (bytes >= double(1ull << 30))
    std::snprintf(out, sizeof out, "%.2f GiB", bytes / double(1ull << 30));
  else if (bytes >= double(1 << 20))
    std::snprintf(out, sizeof out, "%.1f MiB", bytes / double(1 << 20));
  else
    std::snprintf(out, sizeof out, "%.0f KiB", bytes / 1024);
  return out;
}

bool check_is_off() {
  const char* v = std::getenv("NANOLAB_MEMORY_CHECK");
  return v && std::string_view(v) == "off";
}

}  // namespace

double MemoryEstimate::total() const {
  return parameters + gradients + optimizer_state + activations + sampling + dataset + runtime;
}

std::string MemoryEstimate::text() const {
  char weights[32];
  std::snprintf(weights, sizeof weights, "%.3g", n_params);
  return bytes_text(total()) + " (parameters " + bytes_text(parameters) + " for " + weights +
         " weights, gradients " + bytes_text(gradients) + ", optimizer state " +
         bytes_text(optimizer_state) + ", activations " + bytes_text(activations) +
         ", sampling " + bytes_text(sampling) + ", dataset " + bytes_text(dataset) +
         ", the program " + bytes_text(runtime) + ")";
}

MemoryEstimate estimate_memory(const ExperimentConfig& c, int64_t vocab_size,
                               uint64_t dataset_bytes) {
  const double V = double(vocab_size), T = double(c.block_size), B = double(c.batch_size);
  const double C = double(c.n_embd), L = double(c.n_layer), NH = double(c.n_head);
  const double bias = c.bias ? 1 : 0;
  MemoryEstimate e;
  // wte, wpe; per block ln_1, c_attn (3C x C), c_proj (C x C), ln_2, c_fc (4C x C), c_proj
  // (C x 4C) and their biases; ln_f.
  e.n_params = V * C + (c.position == "learned" ? T * C : 0) +
               L * (12 * C * C + 2 * C + bias * 11 * C) + C * (1 + bias);
  e.parameters = f32 * e.n_params;
  e.gradients = f32 * e.n_params;
  e.optimizer_state = f32 * optimizer_state_tensors * e.n_params;
  const double dropout = c.dropout > 0 ? 1 : 0;
  const double per_block = B * T * C * (block_widths + dropout * dropout_widths) +
                           B * NH * T * T * (score_copies + dropout);
  e.activations = f32 * (L * per_block + B * T * (2 * C + logits_copies * V));
  // The KV cache of every block (k and v, T x C), the logits of a refill of the context, the
  // sampler's probabilities (doubles, twice) and the tokens sampled.
  e.sampling = c.sample_tokens == 0
                   ? 0
                   : f32 * (2 * L * T * C + T * V + NH * T * T) + 16 * V +
                         12 * double(c.sample_tokens);
  e.dataset = dataset_bytes_per_byte * double(dataset_bytes);
  e.runtime = runtime_bytes;
  return e;
}

MemoryEstimate estimate_memory(const ExperimentConfig& c) {
  // The vocabulary before the tokenizer is built: a byte's worth unless the config says more.
  const int64_t vocab_size = c.model_vocab_size > 0 ? c.model_vocab_size
                             : c.vocab_size > 0     ? c.vocab_size
                                                    : 256;
  // A path to a text file is read whole; a recipe's file is counted when the run opens it.
  uint64_t text_bytes = 0;
  // Token files stay on disk (a batch reads its rows): they count for nothing.
  if ((c.dataset.find('/') != std::string::npos || c.dataset.ends_with(".txt")) &&
      !names_token_files(c.dataset)) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(c.dataset, ec);
    if (!ec) text_bytes = size;
  }
  return estimate_memory(c, vocab_size, text_bytes);
}

namespace {

const char* const memory_hint =
    "\n    hint: a smaller model.n_layer, n_embd, data.batch_size or block_size "
    "(grad_accum_steps keeps the tokens per step with a smaller batch_size); "
    "NANOLAB_MEMORY_CHECK=off skips this check (docs/training.md#memory)";

// "<what> needs about ..., more than the ... available (...)", or "" when it fits.
std::string memory_problem(const MemoryEstimate& need, const std::string& what,
                           const std::optional<runtime::AvailableMemory>& available) {
  if (!available || need.total() <= double(available->bytes)) return "";
  return what + " needs about " + need.text() + ", more than the " +
         bytes_text(double(available->bytes)) + " available (" + available->source + ")";
}

}  // namespace

void require_memory(const MemoryEstimate& need, const std::string& what) {
  if (check_is_off()) return;
  if (const std::string problem = memory_problem(need, what, runtime::available_memory());
      !problem.empty())
    throw ConfigError(problem + memory_hint);
}

void require_memory(const Experiment& experiment) {
  if (check_is_off()) return;
  const auto available = runtime::available_memory();
  std::string refused;
  size_t count = 0;
  for (const RunSpec& run : experiment.runs) {
    const std::string problem = memory_problem(
        estimate_memory(run.config), "run " + experiment.name + "/" + run.name, available);
    if (problem.empty()) continue;
    refused += (refused.empty() ? "" : "\n") + problem;
    ++count;
  }
  if (count == 0) return;
  if (count > 1)
    refused = std::to_string(count) + " of the " + std::to_string(experiment.runs.size()) +
              " runs do not fit in memory:\n" + refused;
  throw ConfigError(refused + memory_hint);
}

}  // namespace nanolab::config
