// The init_from policy (init_from.hpp): GPT-2's file decides the architecture of the experiment.
#include "model/init_from.hpp"

#include <cstdlib>
#include <filesystem>

#include "nanolab/gpt2.hpp"

namespace nanolab::model {
namespace fs = std::filesystem;
namespace {

std::string leaf_of(const std::string& key) { return key.substr(key.rfind('.') + 1); }

}  // namespace

std::vector<InitFromProblem> apply_init_from(ExperimentConfig& config,
                                             const std::function<bool(const std::string&)>& given,
                                             std::set<std::string>& refused) {
  std::vector<InitFromProblem> problems;
  std::error_code ec;
  const gpt2::Architecture a = gpt2::inspect(config.init_from).arch;
  const std::string from = "init_from " + config.init_from;
  auto conflict = [&](const std::string& key, const std::string& ours, const std::string& theirs,
                      const std::string& hint) {
    problems.push_back(
        {key, leaf_of(key) + " = " + ours + " conflicts with " + from + ", which has " + theirs,
         hint});
    refused.insert(key);
  };
  auto take = [&](const std::string& key, int64_t& field, int64_t value) {
    if (refused.count(key)) return;
    if (given(key) && field != value)
      conflict(key, std::to_string(field), leaf_of(key) + " = " + std::to_string(value),
               "leave " + key + " out: the file decides the architecture");
    else
      field = value;
  };
  take("model.n_layer", config.n_layer, a.n_layer);
  take("model.n_embd", config.n_embd, a.n_embd);
  take("model.vocab_size", config.model_vocab_size, a.vocab_size);
  if (a.n_head > 0) {
    take("model.n_head", config.n_head, a.n_head);
  } else if (!given("model.n_head")) {
    problems.push_back({"model.init_from",
                        config.init_from + " does not say n_head (a safetensors file without the "
                                           "config.json of its folder)",
                        "give model.n_head (GPT-2: 12 for 124M, 16 for 355M, 20 for 774M, 25 for "
                        "1.5B)"});
    refused.insert("model.n_head");
  }
  if (!refused.count("data.block_size") && given("data.block_size") &&
      config.block_size > a.block_size)
    conflict("data.block_size", std::to_string(config.block_size),
             "wpe for " + std::to_string(a.block_size) + " positions",
             "a block_size up to " + std::to_string(a.block_size) + " uses the first rows of wpe");
  else if (!given("data.block_size"))
    config.block_size = a.block_size;
  if (given("model.bias") && !config.bias && !refused.count("model.bias"))
    conflict("model.bias", "false", "GPT-2's biases", "leave model.bias out");
  config.bias = true;
  if (given("model.position") && config.position != "learned" &&
      !refused.count("model.position"))
    conflict("model.position", to_string(OptionValue(config.position)),
             "GPT-2's learned positions (wpe)", "leave model.position out");
  config.position = "learned";

  if (given("data.tokenizer.plugin") || (a.vocab_size != 50257 && a.vocab_size != 50304))
    return problems;
  const char* data = std::getenv("NANOLAB_DATA");
  const fs::path dir =
      data && *data ? fs::absolute(fs::path(data) / "gpt2").lexically_normal() : fs::path();
  if (dir.empty() || !fs::is_regular_file(dir / "encoder.json", ec) ||
      !fs::is_regular_file(dir / "vocab.bpe", ec)) {
    problems.push_back({"model.init_from",
                        "the file's vocabulary of " + std::to_string(a.vocab_size) +
                            " is GPT-2's, whose tokenizer is read from "
                            "$NANOLAB_DATA/gpt2/encoder.json and vocab.bpe, but " +
                            (dir.empty() ? std::string("NANOLAB_DATA is not set")
                                         : "they are not in " + dir.string()),
                        "set NANOLAB_DATA to the folder holding gpt2/, or give data.tokenizer = { "
                        "plugin = \"bpe\", encoder_json = \"...\", vocab_bpe = \"...\", "
                        "special_tokens = [\"<|endoftext|>\"] }"});
    return problems;
  }
  config.tokenizer = PluginChoice{
      "bpe",
      {{"encoder_json", OptionValue((dir / "encoder.json").string())},
       {"vocab_bpe", OptionValue((dir / "vocab.bpe").string())},
       {"special_tokens", OptionValue(std::vector<std::string>{"<|endoftext|>"})}}};
  return problems;
}

}  // namespace nanolab::model
