// Test fixture, attention `pause_on_cue`: causal_mha, except that while the file named by its
// option `pause_file` exists, the forwards named by `pause_in` first touch `<pause_file>.reached`
// and sleep `pause_ms`: those outside training (an evaluation batch), the cached ones (a sampled
// token) or those of training (a step). The integration tests use it to hold a run inside an
// evaluation, a sample or a long step, where they send it a signal, without a test hook in the
// trainer; with the file absent it computes what causal_mha computes.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "multi_head.hpp"

namespace {

using namespace nanolab;

class PauseOnCue final : public plugins::MultiHeadAttention {
 public:
  PauseOnCue(const Options& o, const AttentionConfig& config)
      : MultiHeadAttention("pause_on_cue", config, 0),
        pause_file_(o.get<std::string>("pause_file")),
        pause_in_(o.get<std::string>("pause_in")),
        pause_(o.get<int64_t>("pause_ms")) {}

  Tensor forward(const Tensor& src, const ForwardContext& ctx) override {
    if (pause_in_ == (ctx.training ? "training" : "evaluation")) pause();
    return MultiHeadAttention::forward(src, ctx);
  }
  Tensor forward_cached(const Tensor& src) override {
    if (pause_in_ == "sampling") pause();
    return MultiHeadAttention::forward_cached(src);
  }

 private:
  void pause() const {
    if (pause_file_.empty() || !std::filesystem::exists(pause_file_)) return;
    std::ofstream(pause_file_ + ".reached") << "1";
    std::this_thread::sleep_for(pause_);
  }

  std::string pause_file_;
  std::string pause_in_;
  std::chrono::milliseconds pause_;
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::attention;
  d.name = "pause_on_cue";
  d.version = "1.0.0";
  d.description = "test fixture: causal_mha that pauses in evaluation, sampling or training on cue";
  d.options = {
      {.name = "pause_file", .type = OptionType::string, .default_value = std::string(),
       .doc = "while this file exists, the forwards of pause_in sleep pause_ms each"},
      {.name = "pause_in", .type = OptionType::string, .default_value = std::string("evaluation"),
       .choices = {"evaluation", "sampling", "training"}, .doc = "which forwards pause"},
      {.name = "pause_ms", .type = OptionType::integer, .default_value = int64_t(50), .min = 0.0,
       .max = 60000.0, .doc = "how long each of them sleeps"}};
  d.factory = [](const Options& o, const AttentionConfig& config) {
    return std::make_unique<PauseOnCue>(o, config);
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
