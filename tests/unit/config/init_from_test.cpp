// model.init_from in an experiment: the architecture comes from the GPT-2 file's header
// (tests/fixtures/gpt2/), a key that disagrees with it is an error naming both values at the key's
// line, a shorter block_size is allowed (the first rows of wpe), a safetensors file without its
// config.json needs model.n_head, and a file of GPT-2's vocabulary brings GPT-2's tokenizer from
// $NANOLAB_DATA/gpt2 (or says where it looked).
#include <gtest/gtest.h>

#include <fstream>
#include <optional>

#include "config_test_util.hpp"
#include "nanolab/experiment.hpp"
#include "nanolab/gpt2.hpp"
#include "support/files.hpp"
#include "unit/data/data_test_util.hpp"

namespace nanolab {
namespace {

namespace fs = std::filesystem;
using config_test::config_error;
using test::ScopedEnv;

const fs::path fixtures =
    fs::path(NANOLAB_TEST_FIXTURES) / "gpt2";

class InitFromTest : public config_test::ConfigFiles {
 protected:
  ExperimentConfig load(const std::string& text, const std::vector<std::string>& overrides = {}) {
    return load_experiment(write("exp.toml", text), overrides).runs.at(0).config;
  }
  std::string error_of(const std::string& text) {
    const auto file = write("exp.toml", text);
    return config_error([&] { load_experiment(file); });
  }
  void expect_has(const std::string& message, const std::string& part) {
    EXPECT_NE(message.find(part), std::string::npos) << "missing \"" << part << "\" in:\n"
                                                     << message;
  }
  // A GPT-2 of GPT-2's vocabulary and a tiny width, written by nanolab's own exporter.
  fs::path gpt2_vocabulary_file() {
    const gpt2::Architecture arch{50257, 8, 1, 2, 8};
    std::map<std::string, Tensor> tensors;
    for (const auto& [name, shape] : gpt2::parameter_shapes(arch))
      tensors[name] = Tensor::zeros(shape);
    const fs::path file = dir_ / "vocab50257.bin";
    gpt2::write(file, gpt2::Format::llmc, arch, tensors);
    return file;
  }
};

TEST_F(InitFromTest, TheArchitectureComesFromTheFile) {
  for (const char* name : {"gpt2.bin", "model.safetensors"}) {
    const ExperimentConfig c =
        load("[model]\ninit_from = \"" + (fixtures / name).string() + "\"\n");
    EXPECT_EQ(c.init_from, (fixtures / name).string());
    EXPECT_EQ(c.n_layer, 2);
    EXPECT_EQ(c.n_head, 2);
    EXPECT_EQ(c.n_embd, 32);
    EXPECT_EQ(c.model_vocab_size, 96);
    EXPECT_EQ(c.block_size, 16);
    EXPECT_TRUE(c.bias);
    EXPECT_EQ(c.position, "learned");
    EXPECT_EQ(c.tokenizer.plugin, "char") << "vocab 96 is not GPT-2's: the experiment's tokenizer";
  }
}

TEST_F(InitFromTest, APathIsRelativeToTheFileThatNamesIt) {
  fs::copy_file(fixtures / "gpt2.bin", dir_ / "weights.bin");
  const ExperimentConfig c = load("[model]\ninit_from = \"weights.bin\"\n");
  EXPECT_EQ(c.init_from, (dir_ / "weights.bin").string());
  const std::string m = error_of("[model]\ninit_from = \"nowhere.bin\"\n");
  expect_has(m, "exp.toml:2:13: model.init_from: no such file: " + (dir_ / "nowhere.bin").string());
}

TEST_F(InitFromTest, ConflictingKeysNameBothValues) {
  const std::string from = (fixtures / "gpt2.bin").string();
  const std::string m =
      error_of("[data]\nblock_size = 64\n[model]\ninit_from = \"" + from +
               "\"\nn_layer = 4\nn_embd = 32\nbias = false\nposition = \"rope\"\n");
  expect_has(m, "exp.toml:2:14: data.block_size: block_size = 64 conflicts with init_from " + from +
                    ", which has wpe for 16 positions\n    hint: a block_size up to 16 uses the "
                    "first rows of wpe");
  expect_has(m, "exp.toml:5:11: model.n_layer: n_layer = 4 conflicts with init_from " + from +
                    ", which has n_layer = 2\n    hint: leave model.n_layer out");
  expect_has(m, "model.bias: bias = false conflicts with init_from " + from +
                    ", which has GPT-2's biases");
  expect_has(m, "model.position: position = \"rope\" conflicts with init_from " + from +
                    ", which has GPT-2's learned positions (wpe)");
  EXPECT_EQ(m.find("n_embd"), std::string::npos) << "n_embd = 32 agrees with the file: " << m;
  // A shorter block_size crops wpe; a --set of the same value as the file's is no conflict.
  const ExperimentConfig c =
      load("[model]\ninit_from = \"" + from + "\"\n", {"data.block_size=8", "model.n_head=2"});
  EXPECT_EQ(c.block_size, 8);
}

TEST_F(InitFromTest, SafetensorsWithoutConfigJsonNeedsNHead) {
  fs::copy_file(fixtures / "model.safetensors", dir_ / "model.safetensors");
  const std::string m = error_of("[model]\ninit_from = \"model.safetensors\"\n");
  expect_has(m, "model.init_from: " + (dir_ / "model.safetensors").string() +
                    " does not say n_head (a safetensors file without the config.json of its "
                    "folder)\n    hint: give model.n_head");
  EXPECT_EQ(load("[model]\ninit_from = \"model.safetensors\"\nn_head = 2\n").n_head, 2);
  // n_head = 3 does not divide n_embd = 32 from the file: the usual rule, at the key.
  expect_has(error_of("[model]\ninit_from = \"model.safetensors\"\nn_head = 3\n"),
             "model.n_head: n_embd = 32 is not divisible by n_head = 3");
}

TEST_F(InitFromTest, ADamagedFileIsACheckpointError) {
  const std::string bytes = test::read_file(fixtures / "gpt2.bin");
  std::ofstream(dir_ / "cut.bin", std::ios::binary).write(bytes.data(), 2000);
  try {
    load("[model]\ninit_from = \"cut.bin\"\n");
    ADD_FAILURE() << "expected a CheckpointError";
  } catch (const CheckpointError& e) {
    expect_has(e.what(), (dir_ / "cut.bin").string() + ": truncated: 2000 bytes");
  }
}

TEST_F(InitFromTest, Gpt2sVocabularyBringsGpt2sTokenizer) {
  const fs::path file = gpt2_vocabulary_file();
  const std::string exp = "[model]\ninit_from = \"" + file.string() + "\"\n";
  {
    ScopedEnv data("NANOLAB_DATA", std::nullopt);
    expect_has(
        error_of(exp),
        "model.init_from: the file's vocabulary of 50257 is GPT-2's, whose tokenizer is read "
        "from $NANOLAB_DATA/gpt2/encoder.json and vocab.bpe, but NANOLAB_DATA is not set\n"
        "    hint: set NANOLAB_DATA");
    // A tokenizer the experiment names is used as it is.
    EXPECT_EQ(load(exp + "[data]\ntokenizer = { plugin = \"byte\" }\n").tokenizer.plugin, "byte");
  }
  {
    ScopedEnv data("NANOLAB_DATA", (dir_ / "empty").string());
    expect_has(error_of(exp), "but they are not in " + (dir_ / "empty" / "gpt2").string());
  }
  // The folder only has to hold the two files for the configuration to name them.
  write("data/gpt2/encoder.json", "{}");
  write("data/gpt2/vocab.bpe", "");
  ScopedEnv data("NANOLAB_DATA", (dir_ / "data").string());
  const ExperimentConfig c = load(exp);
  EXPECT_EQ(c.tokenizer.plugin, "bpe");
  EXPECT_EQ(std::get<std::string>(c.tokenizer.options.at("encoder_json")),
            (dir_ / "data" / "gpt2" / "encoder.json").string());
  EXPECT_EQ(std::get<std::string>(c.tokenizer.options.at("vocab_bpe")),
            (dir_ / "data" / "gpt2" / "vocab.bpe").string());
  EXPECT_EQ(std::get<std::vector<std::string>>(c.tokenizer.options.at("special_tokens")),
            std::vector<std::string>{"<|endoftext|>"});
  EXPECT_EQ(c.model_vocab_size, 50257);
}

TEST_F(InitFromTest, AResolvedConfigDoesNotReadTheFileAgain) {
  fs::copy_file(fixtures / "gpt2.bin", dir_ / "weights.bin");
  const RunSpec run =
      load_experiment(write("exp.toml", "[model]\ninit_from = \"weights.bin\"\n")).runs.at(0);
  fs::remove(dir_ / "weights.bin");  // resume needs only the checkpoint
  const ExperimentConfig again = parse_resolved_config(run.config_toml, "checkpoint.h5");
  EXPECT_EQ(again, run.config);
}

}  // namespace
}  // namespace nanolab
