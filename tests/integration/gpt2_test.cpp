// GPT-2's weight files end to end (docs/gpt2.md), against the fixtures of
// tools/reference/gpt2_files.py in tests/fixtures/gpt2/: nanolab's GPT loaded from either file
// gives PyTorch's logits (also with a shorter block_size); a run exported in both formats imports
// back bit for bit, with or without biases, and a run that is not GPT-2's architecture is refused;
// `nanolab eval` equals a plain-loop reference of its windows; damaged files and conflicting keys
// exit 7 and 2 naming the tensor or key; a file of GPT-2's vocabulary evaluates with GPT-2's
// tokenizer; and the imported model fine-tunes on tiny Shakespeare with
// experiments/finetune_gpt2.toml, its val loss falling. Tests that need $NANOLAB_DATA skip,
// naming the missing file.
#include "nanolab/gpt2.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>

#include "nanolab/model.hpp"
#include "nanolab/ops.hpp"
#include "nanolab/registry.hpp"
#include "nanolab/run_store.hpp"
#include "nanolab/trainer.hpp"
#include "support/expect_close.hpp"
#include "support/h5_file.hpp"
#include "support/program.hpp"
#include "support/shell.hpp"
#include "support/temp_dir.hpp"
#include "support/skip.hpp"

namespace nanolab::test {
namespace {

namespace fs = std::filesystem;

const fs::path fixtures = fs::path(NANOLAB_TEST_SOURCE_DIR) / "tests" / "fixtures" / "gpt2";

std::unique_ptr<Gpt> make_gpt(const GptConfig& config) {
  Registry& registry = Registry::instance();
  return std::make_unique<Gpt>(config, [&](const AttentionConfig& ac) {
    return registry.make<PluginKind::attention>("causal_mha", {}, ac);
  });
}

// $NANOLAB_DATA/<file>, or an empty path with the reason for a skip.
std::pair<fs::path, std::string> data_file(const std::string& file) {
  const char* data = std::getenv("NANOLAB_DATA");
  const fs::path p = fs::path(data ? data : "") / file;
  if (!data || !fs::exists(p))
    return {{}, "needs " + p.string() + " (set NANOLAB_DATA to the folder holding it)"};
  return {p, ""};
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), size_t(a.numel()) * sizeof(float)) == 0;
}

class Gpt2Logits : public ::testing::TestWithParam<std::string> {};

TEST_P(Gpt2Logits, MatchPyTorch) {
  const H5File ref((fixtures / "reference.h5").string());
  const int64_t B = ref.attr("/", "B"), T = ref.attr("/", "T"), V = ref.attr("/", "vocab_size");
  const GptConfig config{V,
                         ref.attr("/", "block_size"),
                         ref.attr("/", "n_layer"),
                         ref.attr("/", "n_head"),
                         ref.attr("/", "n_embd"),
                         0.0,
                         true};
  const gpt2::Weights weights = gpt2::read(fixtures / GetParam());
  auto model = make_gpt(config);
  gpt2::load(*model, weights);
  const std::vector<int32_t> ids = ref.read<int32_t>("/ids");
  const std::vector<float> expected = ref.read<float>("/logits");  // B, T, V
  // f32 against f32 in other summation orders: the golden test's measured worst is 9.9e-8 of the
  // scale, and 1e-6 fails on a 1% error in one weight.
  expect_close(model->forward(ids, B, T, ForwardContext{}).to_vector(), expected, 1e-6, "logits");

  // A model of block_size 8 takes the first 8 rows of wpe: causal attention gives it the same
  // logits for the first 8 positions.
  GptConfig cropped = config;
  cropped.block_size = 8;
  auto short_model = make_gpt(cropped);
  gpt2::load(*short_model, weights);
  std::vector<int32_t> short_ids;
  std::vector<float> short_expected;
  for (int64_t b = 0; b < B; ++b) {
    short_ids.insert(short_ids.end(), ids.begin() + b * T, ids.begin() + b * T + 8);
    short_expected.insert(short_expected.end(), expected.begin() + b * T * V,
                          expected.begin() + (b * T + 8) * V);
  }
  expect_close(short_model->forward(short_ids, B, 8, ForwardContext{}).to_vector(), short_expected,
               1e-6, "logits with block_size 8");
}

INSTANTIATE_TEST_SUITE_P(
    Gpt2, Gpt2Logits, ::testing::Values(std::string("model.safetensors"), std::string("gpt2.bin")),
    [](const auto& info) { return info.param == "gpt2.bin" ? "llmc" : "safetensors"; });

// A tiny run on a synthetic task (no data file needed), trained for 6 steps.
struct TinyRun {
  TempDir dir{"nanolab-gpt2"};
  fs::path run_dir;
  Outcome outcome;
  explicit TinyRun(const std::string& model_keys) {
    const fs::path exp = dir.path() / "tiny.toml";
    std::ofstream(exp) << "[experiment]\nname = \"tiny\"\n[data]\ndataset = \"synthetic:copy\"\n"
                          "block_size = 16\nbatch_size = 4\n[model]\nn_layer = 2\nn_head = 2\n"
                          "n_embd = 16\n"
                       << model_keys
                       << "[train]\nmax_iters = 6\nwarmup_iters = 1\neval_interval = 6\n"
                          "eval_iters = 1\nsample_tokens = 0\n";
    outcome =
        run_program({"run", exp.string(), "--out", dir.path().string(), "--quiet"}, dir.path());
    run_dir = dir.path() / "tiny" / "run";
  }
};

TEST(Gpt2Export, ARunRoundTripsBitExactlyInBothFormats) {
  for (const bool bias : {true, false}) {
    TinyRun run(bias ? "bias = true\n" : "bias = false\n");
    ASSERT_EQ(run.outcome.status, 0) << run.outcome.err;
    const Checkpoint ck = read_checkpoint(run.run_dir);
    for (const std::string format : {"safetensors", "llmc"}) {
      const fs::path file = run.dir.path() / (format == "llmc" ? "tiny.bin" : "model.safetensors");
      const Outcome o =
          run_program({"export", run.run_dir.string(), "--format", format, "-o", file.string()},
                      run.dir.path());
      ASSERT_EQ(o.status, 0) << o.err;
      const gpt2::Weights back = gpt2::read(file);
      EXPECT_EQ(back.info.arch,
                (gpt2::Architecture{ck.model.at("wte.weight").size(0), 16, 2, 2, 16}));
      for (const auto& [name, t] : back.tensors) {
        auto it = ck.model.find(name);
        if (it != ck.model.end()) {
          EXPECT_TRUE(bitwise_equal(t, it->second)) << format << ": " << name << " differs";
          continue;
        }
        // A model without biases is written with zero biases: the same model.
        EXPECT_FALSE(bias) << name << " is missing from the checkpoint";
        const std::vector<float> v = t.to_vector();
        EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](float x) { return x == 0.0f; })) << name;
      }
      EXPECT_EQ(back.tensors.size(), gpt2::parameter_shapes(back.info.arch).size());
    }
  }
}

// The JSON the export writes (the safetensors header, config.json beside it) reads back with
// Python's json, holding what the model is.
TEST(Gpt2Export, ItsJsonReadsBackWithPythonsJson) {
  TinyRun run("bias = true\n");
  ASSERT_EQ(run.outcome.status, 0) << run.outcome.err;
  const fs::path file = run.dir.path() / "hf" / "model.safetensors";
  fs::create_directory(file.parent_path());
  const Outcome o = run_program(
      {"export", run.run_dir.string(), "--format", "safetensors", "-o", file.string()},
      run.dir.path());
  ASSERT_EQ(o.status, 0) << o.err;
  const int64_t vocab = read_checkpoint(run.run_dir).model.at("wte.weight").size(0);
  EXPECT_EQ(python("import json, struct, sys\n"
                   "f = open(sys.argv[1], \"rb\"); n = struct.unpack(\"<Q\", f.read(8))[0]\n"
                   "h = json.loads(f.read(n))\n"
                   "print(json.dumps(h[\"__metadata__\"]), len(h) - 1, h[\"wte.weight\"][\"shape\"],\n"
                   "      h[\"h.0.attn.c_attn.weight\"][\"dtype\"], h[\"h.0.attn.c_attn.weight\"][\"shape\"],\n"
                   "      h[\"wte.weight\"][\"data_offsets\"][0])",
                   file),
            "{\"format\": \"pt\", \"n_head\": \"2\"} " +
                std::to_string(gpt2::parameter_shapes({vocab, 16, 2, 2, 16}).size()) + " [" +
                std::to_string(vocab) + ", 16] F32 [16, 48] 0\n");
  EXPECT_EQ(python("import json, sys\n"
                   "c = json.load(open(sys.argv[1]))\n"
                   "print(json.dumps(c[\"architectures\"]), c[\"n_head\"], c[\"n_layer\"], c[\"n_embd\"],\n"
                   "      c[\"n_positions\"], c[\"vocab_size\"], c[\"activation_function\"],\n"
                   "      c[\"layer_norm_epsilon\"])",
                   file.parent_path() / "config.json"),
            "[\"GPT2LMHeadModel\"] 2 2 16 16 " + std::to_string(vocab) + " gelu_new 1e-05\n");
}

TEST(Gpt2Export, ARunThatIsNotGpt2sArchitectureIsRefused) {
  TinyRun run("position = \"rope\"\n");
  ASSERT_EQ(run.outcome.status, 0) << run.outcome.err;
  const fs::path file = run.dir.path() / "x.bin";
  const Outcome o = run_program(
      {"export", run.run_dir.string(), "--format", "llmc", "-o", file.string()}, run.dir.path());
  EXPECT_TRUE(o.exited && o.status == 2) << o.err;
  EXPECT_NE(o.err.find("the model has no wpe.weight"), std::string::npos) << o.err;
  EXPECT_FALSE(fs::exists(file));
  const Outcome bad =
      run_program({"export", run.run_dir.string(), "--format", "gguf", "-o", "y"}, run.dir.path());
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("--format: expected safetensors or llmc, got 'gguf'"), std::string::npos)
      << bad.err;
}

TEST(Gpt2Eval, EqualsAPlainLoopOverItsWindows) {
  TempDir dir{"nanolab-gpt2-eval"};
  // 2000 random lowercase letters: the char tokenizer learns all 26 from the first 90%.
  std::mt19937 gen(3);
  std::string text;
  for (int i = 0; i < 2000; ++i) text += char('a' + gen() % 26);
  const fs::path txt = dir.path() / "text.txt";
  std::ofstream(txt) << text;
  const Experiment exp =
      load_experiment("", {"model.init_from=\"" + (fixtures / "gpt2.bin").string() + "\"",
                           "data.dataset=\"" + txt.string() + "\"", "data.batch_size=3"});
  const EvalResult r = evaluate_model(exp.runs.at(0), EvalOptions{});

  // The reference: the val part's characters as the char tokenizer numbers them (sorted), each
  // window of 16 through the model on its own, log-softmax in double.
  const std::string train = text.substr(0, size_t(text.size() * 0.9)),
                    val = text.substr(train.size());
  std::string chars = train;
  std::sort(chars.begin(), chars.end());
  chars.erase(std::unique(chars.begin(), chars.end()), chars.end());
  std::vector<int32_t> ids;
  for (char c : val) ids.push_back(int32_t(chars.find(c)));
  auto model = make_gpt({96, 16, 2, 2, 32, 0.0, true});
  gpt2::load(*model, gpt2::read(fixtures / "gpt2.bin"));
  double nats = 0;
  const int64_t n = int64_t(ids.size()) - 1;
  for (int64_t start = 0; start < n; start += 16) {
    const int64_t t = std::min<int64_t>(16, n - start);
    const std::vector<int32_t> x(ids.begin() + start, ids.begin() + start + t);
    const std::vector<float> logits = model->forward(x, 1, t, ForwardContext{}).to_vector();
    for (int64_t i = 0; i < t; ++i) {
      const float* row = logits.data() + i * 96;
      double max = row[0], sum = 0;
      for (int v = 0; v < 96; ++v) max = std::max(max, double(row[v]));
      for (int v = 0; v < 96; ++v) sum += std::exp(double(row[v]) - max);
      nats -= double(row[ids[size_t(start + i + 1)]]) - max - std::log(sum);
    }
  }
  EXPECT_EQ(r.tokens, n);
  EXPECT_EQ(r.block_size, 16);
  EXPECT_NEAR(r.loss, nats / double(n), 1e-6 * nats / double(n));
  EXPECT_NEAR(r.perplexity, std::exp(r.loss), 1e-9 * r.perplexity);
  EXPECT_GT(r.loss, 3.0);  // random weights: near ln(96) = 4.56, far from a trained model
  EXPECT_EQ(evaluate_model(exp.runs.at(0), EvalOptions{"", Split::val, 20}).tokens, 20);
}

TEST(Gpt2Cli, DamagedFilesAndConflictsExitWithTheirCodes) {
  TempDir dir{"nanolab-gpt2-cli"};
  const std::string good = read_file(fixtures / "gpt2.bin");
  const fs::path cut = dir.path() / "cut.bin";
  std::ofstream(cut, std::ios::binary).write(good.data(), 60000);
  Outcome o = run_program({"eval", cut.string(), "--data", "tinyshakespeare"}, dir.path());
  EXPECT_TRUE(o.exited && o.status == 7) << o.err;
  EXPECT_NE(o.err.find(cut.string() + ": truncated: 60000 bytes, but its header"),
            std::string::npos)
      << o.err;
  EXPECT_NE(o.err.find("the file ends inside tensor h.0.mlp.c_fc.weight"), std::string::npos)
      << o.err;

  // A mis-shaped tensor in a safetensors file, through `nanolab run`: its name and both shapes.
  std::string st = read_file(fixtures / "model.safetensors");
  const size_t at = st.find("[32,128]", st.find("\"h.1.mlp.c_fc.weight\""));
  ASSERT_NE(at, std::string::npos);
  st.replace(at, 8, "[128,32]");
  fs::create_directory(dir.path() / "hf");
  std::ofstream(dir.path() / "hf" / "model.safetensors", std::ios::binary) << st;
  fs::copy_file(fixtures / "config.json", dir.path() / "hf" / "config.json");
  const fs::path exp = dir.path() / "exp.toml";
  std::ofstream(exp) << "[model]\ninit_from = \"hf/model.safetensors\"\n";
  o = run_program({"run", exp.string(), "--out", (dir.path() / "runs").string()}, dir.path());
  EXPECT_TRUE(o.exited && o.status == 7) << o.err;
  EXPECT_NE(o.err.find("tensor h.1.mlp.c_fc.weight has shape [128, 32], expected [32, 128]"),
            std::string::npos)
      << o.err;
  EXPECT_FALSE(fs::exists(dir.path() / "runs")) << "nothing is created for a damaged file";

  std::ofstream(exp) << "[model]\ninit_from = \"" << (fixtures / "gpt2.bin").string()
                     << "\"\nn_embd = 64\n";
  o = run_program({"check", exp.string()}, dir.path());
  EXPECT_TRUE(o.exited && o.status == 2) << o.err;
  EXPECT_NE(o.err.find("model.n_embd: n_embd = 64 conflicts with init_from"), std::string::npos)
      << o.err;
  EXPECT_NE(o.err.find("which has n_embd = 32"), std::string::npos) << o.err;

  o = run_program({"eval", (dir.path() / "nothing.bin").string(), "--data", "tinyshakespeare"},
                  dir.path());
  EXPECT_EQ(o.status, 7) << o.err;
  o = run_program({"eval", (fixtures / "gpt2.bin").string()}, dir.path());
  EXPECT_EQ(o.status, 2) << o.err;
  EXPECT_NE(o.err.find("--data NAME: a model file has no dataset of its own"), std::string::npos)
      << o.err;
}

TEST(Gpt2Cli, Gpt2sVocabularyEvaluatesWithGpt2sTokenizer) {
  for (const char* needed : {"gpt2/encoder.json", "gpt2/vocab.bpe", "tinyshakespeare/input.txt"}) {
    const auto [path, skip] = data_file(needed);
    NANOLAB_NEEDS(!path.empty(), skip);
  }
  TempDir dir{"nanolab-gpt2-vocab"};
  // All-zero weights: every layer norm outputs zeros, every logit is 0, the loss is ln(50257).
  const gpt2::Architecture arch{50257, 32, 1, 2, 8};
  std::map<std::string, Tensor> zeros;
  for (const auto& [name, shape] : gpt2::parameter_shapes(arch)) zeros[name] = Tensor::zeros(shape);
  const fs::path file = dir.path() / "zeros.bin";
  gpt2::write(file, gpt2::Format::llmc, arch, zeros);
  const Outcome o = run_program(
      {"eval", file.string(), "--data", "tinyshakespeare", "--max-tokens", "500"}, dir.path());
  ASSERT_EQ(o.status, 0) << o.err;
  ASSERT_EQ(o.out.rfind("tinyshakespeare val: loss 10.8249, perplexity ", 0), 0u) << o.out;
  // exp of a float32 loss: one ulp of 10.82 (9.5e-7) moves the perplexity by 0.05.
  EXPECT_NEAR(std::stod(o.out.substr(o.out.find("perplexity ") + 11)), 50257.0, 0.1) << o.out;
  EXPECT_NE(o.out.find(" over 500 tokens in windows of 32"), std::string::npos) << o.out;
  EXPECT_NE(o.err.find("vocab_size 50257"), std::string::npos) << "GPT-2's tokenizer: " << o.err;
}

TEST(Gpt2FineTune, AnImportedModelFineTunesOnTinyShakespeare) {
  const auto [path, skip] = data_file("tinyshakespeare/input.txt");
  NANOLAB_NEEDS(!path.empty(), skip);
  TempDir dir{"nanolab-gpt2-finetune"};
  const fs::path exp = fs::path(NANOLAB_TEST_SOURCE_DIR) / "experiments" / "finetune_gpt2.toml";
  // The fixture is a 16-position model with random weights: its block_size, and a learning rate
  // that moves random weights in 30 steps (GPT-2's 3e-5 is for weights that already know English).
  Outcome o = run_program(
      {"run", exp.string(), "--out", dir.path().string(), "--name", "run", "--quiet", "--set",
       "model.init_from=" + (fixtures / "gpt2.bin").string(), "--set", "data.block_size=16",
       "--set", "data.batch_size=8", "--set", "optimizer.lr=1e-3", "--set", "train.max_iters=30",
       "--set", "train.eval_interval=10", "--set", "train.sample_tokens=20"},
      dir.path());
  ASSERT_EQ(o.status, 0) << o.err;
  const fs::path run_dir = dir.path() / "finetune_gpt2" / "run";
  const RunLog log = read_run(run_dir / "run.h5");
  ASSERT_EQ(log.val.size(), 4u);
  EXPECT_EQ(log.val.front().step, 0);
  // The imported model starts near ln(96) = 4.56 (random weights); measured 4.59 -> 3.69.
  EXPECT_NEAR(log.val.front().loss, 4.6, 0.3);
  EXPECT_LT(log.val.back().loss, log.val.front().loss - 0.5);
  EXPECT_EQ(log.meta.at("init_from_sha256").size(), 64u);
  // Samples draw only ids the char tokenizer has (65), not the model's 96 rows.
  EXPECT_FALSE(log.samples.empty());

  // The fine-tuned run, exported, evaluates to the same loss as the run itself.
  const fs::path exported = dir.path() / "export" / "model.safetensors";
  fs::create_directory(exported.parent_path());
  ASSERT_EQ(
      run_program({"export", run_dir.string(), "--format", "safetensors", "-o", exported.string()},
                  dir.path())
          .status,
      0);
  const Outcome from_run =
      run_program({"eval", run_dir.string(), "--max-tokens", "4000"}, dir.path());
  const Outcome from_file = run_program({"eval", exported.string(), "--data", "tinyshakespeare",
                                         "--max-tokens", "4000", "--set", "data.batch_size=8"},
                                        dir.path());
  ASSERT_EQ(from_run.status, 0) << from_run.err;
  ASSERT_EQ(from_file.status, 0) << from_file.err;
  const auto loss_of = [](const std::string& out) { return out.substr(0, out.find(" over ")); };
  EXPECT_EQ(loss_of(from_run.out), loss_of(from_file.out));
  EXPECT_NE(from_run.out.find("over 4000 tokens in windows of 16"), std::string::npos)
      << from_run.out;
  o = run_program({"sample", run_dir.string(), "--tokens", "50"}, dir.path());
  EXPECT_EQ(o.status, 0) << o.err;
  // Another text would teach the run's char tokenizer other characters: refused.
  const fs::path other = dir.path() / "other.txt";
  std::string abc;
  for (int i = 0; i < 1000; ++i) abc += "abc";
  std::ofstream(other) << abc;
  o = run_program({"eval", run_dir.string(), "--data", other.string()}, dir.path());
  EXPECT_TRUE(o.exited && o.status == 3) << o.err;
  EXPECT_NE(o.err.find("changes the run's char tokenizer"), std::string::npos) << o.err;
}

}  // namespace
}  // namespace nanolab::test
