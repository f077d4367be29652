// attention `sliding_window`: causal multi-head self-attention in which position i attends only to
// the `window` positions (i - window, i] (Longformer's and Mistral's local attention): causal_mha's
// parameters, projections, dropout and positions (multi_head.hpp) with the framework softmax's
// window, so a window of block_size or more is causal_mha exactly. The KV cache keeps every
// position up to block_size, as the Attention contract asks, and attends over the last `window`.
// Not a rolling-buffer cache and not a banded kernel: the (T, T) weights are materialised and the
// masked part is computed as zeros.
#include "multi_head.hpp"

namespace {

using namespace nanolab;

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::attention;
  d.name = "sliding_window";
  d.version = "1.1.0";
  d.description =
      "causal multi-head self-attention where each position sees only the last `window` "
      "positions, itself included (causal_mha's parameters; every model.position)";
  // name, type, default, min, max (exclusive(v): an open end), choices, doc[, list length]
  d.options = {
      {"window", OptionType::integer, int64_t(256), 1.0, std::nullopt, {},
       "positions each position attends to, itself included: j in (i - window, i]; "
       ">= block_size is causal_mha"},
  };
  d.factory = [](const Options& options, const AttentionConfig& config) {
    return std::make_unique<plugins::MultiHeadAttention>("sliding_window", config,
                                                         options.get<int64_t>("window"));
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
