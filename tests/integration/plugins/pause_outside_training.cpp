// Test fixture, attention `pause_outside_training`: causal_mha, except that while the file named
// by its option `pause_file` exists, each forward outside training (an evaluation batch) or each
// cached forward (a sampled token) first touches `<pause_file>.reached` and sleeps 50 ms. The
// integration tests use it to hold a run inside an evaluation or a sample, where they send it a
// signal, without a test hook in the trainer; with the file absent it computes what causal_mha
// computes.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "multi_head.hpp"

namespace {

using namespace nanolab;

class PauseOutsideTraining final : public plugins::MultiHeadAttention {
 public:
  PauseOutsideTraining(const Options& o, const AttentionConfig& config)
      : MultiHeadAttention("pause_outside_training", config, 0),
        pause_file_(o.get<std::string>("pause_file")),
        in_sampling_(o.get<std::string>("pause_in") == "sampling") {}

  Tensor forward(const Tensor& src, const ForwardContext& ctx) override {
    if (!ctx.training && !in_sampling_) pause();
    return MultiHeadAttention::forward(src, ctx);
  }
  Tensor forward_cached(const Tensor& src) override {
    if (in_sampling_) pause();
    return MultiHeadAttention::forward_cached(src);
  }

 private:
  void pause() const {
    if (pause_file_.empty() || !std::filesystem::exists(pause_file_)) return;
    std::ofstream(pause_file_ + ".reached") << "1";
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  std::string pause_file_;
  bool in_sampling_;
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::attention;
  d.name = "pause_outside_training";
  d.version = "1.0.0";
  d.description = "test fixture: causal_mha that pauses in evaluation or sampling on cue";
  d.options = {
      {.name = "pause_file", .type = OptionType::string, .default_value = std::string(),
       .doc = "while this file exists, forwards outside training sleep 50 ms each"},
      {.name = "pause_in", .type = OptionType::string, .default_value = std::string("evaluation"),
       .choices = {"evaluation", "sampling"}, .doc = "which forwards pause"}};
  d.make_attention = [](const Options& o, const AttentionConfig& config) {
    return std::make_unique<PauseOutsideTraining>(o, config);
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
