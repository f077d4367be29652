// attention `causal_mha`: the causal multi-head self-attention of GPT-2 and nanoGPT
// (multi_head.hpp, with no window).
#include "multi_head.hpp"

namespace {

using namespace nanolab;

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::attention;
  d.name = "causal_mha";
  d.version = "1.1.0";
  d.description =
      "causal multi-head self-attention of GPT-2/nanoGPT: qkv projection, scaled causal softmax, "
      "output projection (bias from model.bias; every model.position)";
  d.factory = [](const Options&, const AttentionConfig& config) {
    return std::make_unique<plugins::MultiHeadAttention>("causal_mha", config, 0);
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
