// GPT-2's weight files (nanolab/gpt2.hpp) against the fixtures tools/reference/gpt2_files.py wrote
// in tests/fixtures/gpt2/ (a 2-layer, n_embd 32, vocab 96 GPT-2 with random weights, in Hugging
// Face's safetensors layout and llm.c's version 3): both files hold the same weights once mapped;
// export then import is bit-exact, and llm.c's export reproduces the fixture byte for byte; llm.c's
// version 1 reads like version 3; every kind of damaged file is a CheckpointError naming the file,
// the tensor and both shapes or sizes. The logits against PyTorch are in
// tests/integration/gpt2_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>

#include "nanolab/errors.hpp"
#include "nanolab/gpt2.hpp"
#include "support/files.hpp"
#include "support/temp_dir.hpp"

namespace nanolab {
namespace {

namespace fs = std::filesystem;
using test::read_file;
using test::TempDir;

const fs::path fixtures =
    fs::path(NANOLAB_TEST_FIXTURES) / "gpt2";
const fs::path safetensors_fixture = fixtures / "model.safetensors";
const fs::path llmc_fixture = fixtures / "gpt2.bin";
const gpt2::Architecture fixture_arch{96, 16, 2, 2, 32};

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), std::streamsize(bytes.size()));
}

// The message of the CheckpointError `action` throws (exit 7); a test failure if it throws none.
std::string checkpoint_error(const std::function<void()>& action) {
  try {
    action();
  } catch (const CheckpointError& e) {
    EXPECT_EQ(e.code(), ExitCode::checkpoint);
    return e.what();
  }
  ADD_FAILURE() << "expected a CheckpointError";
  return "";
}

void expect_has(const std::string& message, const std::string& part) {
  EXPECT_NE(message.find(part), std::string::npos) << "missing \"" << part << "\" in:\n" << message;
}

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() &&
         std::memcmp(a.data(), b.data(), size_t(a.numel()) * sizeof(float)) == 0;
}

void expect_same_weights(const gpt2::Weights& a, const gpt2::Weights& b) {
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (const auto& [name, t] : a.tensors) {
    ASSERT_TRUE(b.tensors.count(name)) << name;
    EXPECT_TRUE(bitwise_equal(t, b.tensors.at(name))) << name << " differs";
  }
}

// A safetensors file of a hand-written header (padded to 8 bytes) and `data_bytes` zero bytes.
std::string safetensors(const std::string& header, size_t data_bytes) {
  std::string h = header;
  h.append((8 - h.size() % 8) % 8, ' ');
  const uint64_t n = h.size();
  std::string out(reinterpret_cast<const char*>(&n), 8);
  return out + h + std::string(data_bytes, '\0');
}

// `bytes` with the first `from` after `after` replaced by `to` (of the same length, so that the
// header length and offsets stay right).
std::string replaced(std::string bytes, const std::string& after, const std::string& from,
                     const std::string& to) {
  EXPECT_EQ(from.size(), to.size());
  const size_t at = bytes.find(from, bytes.find(after));
  EXPECT_NE(at, std::string::npos) << from;
  return bytes.replace(at, from.size(), to);
}

int32_t llmc_header_int(const std::string& bytes, int i) {
  int32_t v;
  std::memcpy(&v, bytes.data() + 4 * i, 4);
  return v;
}
std::string with_llmc_header_int(std::string bytes, int i, int32_t v) {
  std::memcpy(bytes.data() + 4 * i, &v, 4);
  return bytes;
}

TEST(Gpt2Io, BothFixturesHoldTheSameGpt2) {
  const gpt2::Weights st = gpt2::read(safetensors_fixture);
  const gpt2::Weights llmc = gpt2::read(llmc_fixture);
  EXPECT_EQ(st.info.arch, fixture_arch);
  EXPECT_EQ(llmc.info.arch, fixture_arch);
  EXPECT_EQ(st.info.format, gpt2::Format::safetensors);
  EXPECT_EQ(llmc.info.format, gpt2::Format::llmc);
  expect_has(st.info.detail, "n_head from " + (fixtures / "config.json").string());
  expect_has(llmc.info.detail, "llm.c version 3, vocabulary padded to 128");
  // Every parameter of GPT-2, in nanolab's layout: the Conv1D weights transposed back, the
  // mask buffers skipped, llm.c's 32 padding rows dropped.
  EXPECT_EQ(st.tensors.size(), gpt2::parameter_shapes(fixture_arch).size());
  for (const auto& [name, shape] : gpt2::parameter_shapes(fixture_arch))
    EXPECT_EQ(st.tensors.at(name).shape(), shape) << name;
  expect_same_weights(st, llmc);
  // Not all zeros or ones: a transposition that went wrong would show.
  EXPECT_NE(st.tensors.at("h.1.attn.c_attn.weight").data()[1], 0.0f);
  EXPECT_EQ(gpt2::inspect(safetensors_fixture).arch, fixture_arch);
  EXPECT_EQ(gpt2::inspect(llmc_fixture).arch, fixture_arch);
}

TEST(Gpt2Io, ParameterShapesFollowLlmcsOrder) {
  const auto shapes = gpt2::parameter_shapes(fixture_arch);
  ASSERT_EQ(shapes.size(), 2u + 12u * 2u + 2u);
  EXPECT_EQ(shapes[0].first, "wte.weight");
  EXPECT_EQ(shapes[1].first, "wpe.weight");
  EXPECT_EQ(shapes[2].first, "h.0.ln_1.weight");
  EXPECT_EQ(shapes[3].first, "h.1.ln_1.weight");
  EXPECT_EQ(shapes[6].first, "h.0.attn.c_attn.weight");
  EXPECT_EQ(shapes[6].second, (Shape{96, 32}));
  EXPECT_EQ(shapes[22].first, "h.0.mlp.c_proj.weight");
  EXPECT_EQ(shapes[22].second, (Shape{32, 128}));
  EXPECT_EQ(shapes[26].first, "ln_f.weight");
  EXPECT_EQ(shapes[27].first, "ln_f.bias");
}

TEST(Gpt2Io, ExportThenImportIsBitExact) {
  TempDir dir;
  const gpt2::Weights original = gpt2::read(safetensors_fixture);
  for (gpt2::Format format : {gpt2::Format::safetensors, gpt2::Format::llmc}) {
    const fs::path file =
        dir.path() / (format == gpt2::Format::llmc ? "out.bin" : "model.safetensors");
    gpt2::write(file, format, fixture_arch, original.tensors);
    const gpt2::Weights back = gpt2::read(file);
    EXPECT_EQ(back.info.arch, fixture_arch) << gpt2::format_name(format);
    expect_same_weights(original, back);
  }
  // llm.c's format leaves no choice: the export is the fixture, byte for byte.
  EXPECT_EQ(read_file(dir.path() / "out.bin"), read_file(llmc_fixture));
  // The safetensors export carries n_head in its metadata, and Hugging Face's config.json beside.
  expect_has(gpt2::read(dir.path() / "model.safetensors").info.detail, "n_head from its metadata");
  const std::string config = read_file(dir.path() / "config.json");
  expect_has(config, "\"n_head\": 2,");
  expect_has(config, "\"activation_function\": \"gelu_new\"");
  expect_has(config, "\"vocab_size\": 96");
}

TEST(Gpt2Io, AModelWithoutBiasesIsWrittenWithZeroBiases) {
  TempDir dir;
  const gpt2::Weights original = gpt2::read(llmc_fixture);
  std::map<std::string, Tensor> no_bias;
  for (const auto& [name, t] : original.tensors)
    if (!name.ends_with(".bias")) no_bias[name] = t;
  gpt2::write(dir.path() / "m.bin", gpt2::Format::llmc, fixture_arch, no_bias);
  const gpt2::Weights back = gpt2::read(dir.path() / "m.bin");
  for (const auto& [name, t] : back.tensors) {
    if (!name.ends_with(".bias")) {
      EXPECT_TRUE(bitwise_equal(t, original.tensors.at(name))) << name;
      continue;
    }
    const std::vector<float> v = t.to_vector();
    EXPECT_TRUE(std::all_of(v.begin(), v.end(), [](float x) { return x == 0.0f; })) << name;
  }
}

TEST(Gpt2Io, ExportRefusesWhatGpt2DoesNotHave) {
  TempDir dir;
  const gpt2::Weights w = gpt2::read(llmc_fixture);
  auto without_wpe = w.tensors;
  without_wpe.erase("wpe.weight");
  std::string m;
  try {
    gpt2::write(dir.path() / "a.bin", gpt2::Format::llmc, fixture_arch, without_wpe);
  } catch (const ConfigError& e) {
    m = e.what();
  }
  expect_has(m, "the model has no wpe.weight");
  expect_has(m, "model.position = \"learned\"");
  auto extra = w.tensors;
  extra["h.0.attn.q_proj.weight"] = Tensor::zeros({32, 32});
  m.clear();
  try {
    gpt2::write(dir.path() / "b.bin", gpt2::Format::llmc, fixture_arch, extra);
  } catch (const ConfigError& e) {
    m = e.what();
  }
  expect_has(m, "a parameter GPT-2 does not: h.0.attn.q_proj.weight [32, 32]");
  EXPECT_FALSE(fs::exists(dir.path() / "a.bin") || fs::exists(dir.path() / "b.bin"));
}

TEST(Gpt2Io, LlmcVersion1HasNoPaddingRows) {
  TempDir dir;
  std::string v3 = read_file(llmc_fixture);
  ASSERT_EQ(llmc_header_int(v3, 7), 128);
  std::string v1 = with_llmc_header_int(with_llmc_header_int(v3, 1, 1), 7, 0);
  const size_t wte_end = 1024 + 96 * 32 * 4;
  v1.erase(wte_end, (128 - 96) * 32 * 4);
  write_bytes(dir.path() / "v1.bin", v1);
  const gpt2::Weights w = gpt2::read(dir.path() / "v1.bin");
  EXPECT_EQ(w.info.detail, "llm.c version 1");
  expect_same_weights(w, gpt2::read(llmc_fixture));
}

TEST(Gpt2Io, DamagedLlmcFilesNameWhatIsWrong) {
  TempDir dir;
  const std::string good = read_file(llmc_fixture);
  const fs::path p = dir.path() / "damaged.bin";
  auto error_of = [&](const std::string& bytes) {
    write_bytes(p, bytes);
    return checkpoint_error([&] { gpt2::read(p); });
  };
  std::string m = error_of(good.substr(0, 100));
  expect_has(m, p.string() + ": truncated: 100 bytes, shorter than llm.c's 1024-byte header");
  // Cut inside the first per-layer tensor (ln_1.weight of layer 0, after wte and wpe).
  m = error_of(good.substr(0, 1024 + (128 * 32 + 16 * 32) * 4 + 10));
  expect_has(m,
             "truncated: 19466 bytes, but its header (V=96, maxT=16, n_layer=2, n_head=2, "
             "n_embd=32, padded V=128) needs 121344; the file ends inside tensor "
             "h.0.ln_1.weight (llm.c's ln1w of layer 0)");
  m = error_of(good + "xyz");
  expect_has(m, "3 bytes after the last tensor");
  m = error_of(with_llmc_header_int(good, 0, 12345));
  expect_has(m, "not an llm.c model file: its magic number is 12345, expected 20240326");
  m = error_of(with_llmc_header_int(good, 1, 5));
  expect_has(m, "llm.c version 5 is not supported");
  expect_has(m, "bfloat16, not supported yet");
  m = error_of(with_llmc_header_int(good, 1, 2));
  expect_has(m, "llm.c version 2 is not supported");
  m = error_of(with_llmc_header_int(good, 5, 3));  // 32 channels cannot split into 3 heads
  expect_has(m, "impossible shape (maxT 16, V 96, L 2, NH 3, C 32, padded V 128)");
  m = error_of(with_llmc_header_int(good, 4, 2000000000));  // a huge L: sizes that overflow
  expect_has(m, "truncated");
}

TEST(Gpt2Io, DamagedSafetensorsFilesNameWhatIsWrong) {
  TempDir dir;
  const std::string good = read_file(safetensors_fixture);
  const fs::path p = dir.path() / "model.safetensors";
  auto error_of = [&](const std::string& bytes) {
    write_bytes(p, bytes);
    return checkpoint_error([&] { gpt2::read(p); });
  };
  std::string m = error_of(good.substr(0, 5));
  expect_has(m, p.string() + ": truncated: 5 bytes, shorter than the 8-byte header length");
  // Truncated in its data: the last tensor in the file runs past the end (wte.weight comes last
  // in name order).
  m = error_of(good.substr(0, good.size() - 100));
  expect_has(m,
             "tensor wte.weight (bytes 105984..118272 of the data) runs past the end of the "
             "file: the data part holds 118172 bytes (a truncated file?)");
  std::string huge = good;
  const uint64_t past_end = good.size();
  std::memcpy(huge.data(), &past_end, 8);
  m = error_of(huge);
  expect_has(m, "the header length " + std::to_string(past_end) +
                    " (its first 8 bytes) runs past the end of the file");
  m = error_of(replaced(good, "", "{\"__metadata__\"", "[\"__metadata__\""));
  expect_has(m, "is not valid JSON: at byte ");
  m = error_of(
      replaced(good, "\"h.1.mlp.c_fc.weight\"", "h.1.mlp.c_fc.weight", "h.1.mlp.c_fX.weight"));
  expect_has(m,
             "tensor h.1.mlp.c_fc.weight is missing (expected F32 [32, 128] for V=96, maxT=16, "
             "n_layer=2, n_head=0, n_embd=32)");
  m = error_of(replaced(good, "\"h.0.attn.c_attn.weight\"", "[32,96]", "[96,32]"));
  expect_has(m,
             "tensor h.0.attn.c_attn.weight has shape [96, 32], expected [32, 96] (Hugging "
             "Face's Conv1D stores (in, out))");
  m = error_of(replaced(good, "\"h.0.attn.c_attn.bias\"", "[1024,1408]", "[1024,1416]"));
  expect_has(
      m, "tensor h.0.attn.c_attn.bias: its data_offsets span 392 bytes, but F32 [96] needs 384");
  m = error_of(replaced(good, "\"h.0.ln_1.weight\"", "h.0.ln_1.weight", "h.0.ln_1.weighs"));
  expect_has(m, "tensor h.0.ln_1.weight is missing");
  // A tensor GPT-2 does not have, where nothing is missing: a duplicate of wpe under another name.
  const std::string extra_header =
      R"({"wte.weight":{"dtype":"F32","shape":[4,2],"data_offsets":[0,32]},)"
      R"("wpe.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[32,48]},)"
      R"("wpe.extra":{"dtype":"F32","shape":[2,2],"data_offsets":[32,48]}})";
  m = error_of(safetensors(extra_header, 48));
  expect_has(m, "tensors wpe.weight (bytes 32..48) and wpe.extra (bytes 32..48) overlap");
  // BF16 and F16 are named as not supported yet.
  m = error_of(
      safetensors(R"({"wte.weight":{"dtype":"BF16","shape":[96,32],"data_offsets":[0,6144]},)"
                  R"("wpe.weight":{"dtype":"BF16","shape":[16,32],"data_offsets":[6144,7168]},)"
                  R"("h.0.ln_1.weight":{"dtype":"BF16","shape":[32],"data_offsets":[7168,7232]}})",
                  7232));
  expect_has(m, "is BF16; nanolab reads F32 safetensors only (BF16 is not supported yet)");
  m = error_of(safetensors(
      R"({"wte.weight":{"dtype":"F32","shape":[96,32],"data_offsets":[0,12288]}})", 12288));
  expect_has(m, "tensor wpe.weight (the position embedding, (maxT, C)) is missing: not a GPT-2?");
  m = error_of(safetensors(
      R"({"wte.weight":{"dtype":"F32","shape":[96,32],"data_offsets":[0,12288],"x":[)", 0));
  expect_has(m, "is not valid JSON");
}

TEST(Gpt2Io, SafetensorsWithAGapOrTrailingBytesIsRefused) {
  TempDir dir;
  const fs::path p = dir.path() / "model.safetensors";
  auto error_of = [&](const std::string& bytes) {
    write_bytes(p, bytes);
    return checkpoint_error([&] { gpt2::read(p); });
  };
  std::string m = error_of(read_file(safetensors_fixture) + "xyz");
  expect_has(m, p.string() + ": 3 bytes after the last tensor (wte.weight ends at byte 118272 of "
                             "the data, which holds 118275)");
  m = error_of(
      safetensors(R"({"wte.weight":{"dtype":"F32","shape":[4,2],"data_offsets":[0,32]},)"
                  R"("wpe.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[40,56]}})",
                  56));
  expect_has(m, p.string() + ": bytes 32..40 of the data belong to no tensor (a gap before "
                             "wpe.weight)");
  m = error_of(
      safetensors(R"({"wte.weight":{"dtype":"F32","shape":[4,2],"data_offsets":[8,40]}})", 40));
  expect_has(m, "bytes 0..8 of the data belong to no tensor (a gap before wte.weight)");
}

// The fixture's weights with one value replaced, written in `format` and read back.
std::string error_with(gpt2::Format format, const std::string& tensor, int64_t index, float value) {
  TempDir dir;
  gpt2::Weights w = gpt2::read(llmc_fixture);
  w.tensors.at(tensor).data()[index] = value;
  const fs::path p = dir.path() / (format == gpt2::Format::llmc ? "gpt2.bin" : "model.safetensors");
  gpt2::write(p, format, w.info.arch, w.tensors);
  std::string m = checkpoint_error([&] { gpt2::read(p); });
  expect_has(m, p.string() + ": tensor " + tensor);
  return m;
}

TEST(Gpt2Io, NonFiniteWeightsAreRefusedNamingTheTensorAndTheIndex) {
  // Hugging Face stores c_fc (128, 32) as (32, 128): nanolab's [5, 3] is the file's [3, 5].
  expect_has(error_with(gpt2::Format::safetensors, "h.1.mlp.c_fc.weight", 5 * 32 + 3, NAN),
             "tensor h.1.mlp.c_fc.weight holds NaN at index 389 ([3, 5] of [32, 128] as stored)");
  expect_has(error_with(gpt2::Format::safetensors, "ln_f.bias", 31, -INFINITY),
             "tensor ln_f.bias holds -inf at index 31 ([31] of [32] as stored)");
  expect_has(error_with(gpt2::Format::llmc, "h.0.attn.c_proj.weight", 40, INFINITY),
             "tensor h.0.attn.c_proj.weight (llm.c's attprojw of layer 0) holds +inf at index 40 "
             "([1, 8] of [32, 32] as stored)");
  expect_has(error_with(gpt2::Format::llmc, "wte.weight", 95 * 32, NAN),
             "tensor wte.weight (llm.c's wte) holds NaN at index 3040 ([95, 0] of [96, 32]");
}

// A safetensors file as its JSON header (without the padding) and its data part, and back.
struct Parts {
  std::string header, data;
};
Parts split(const std::string& bytes) {
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  std::string header = bytes.substr(8, n);
  header.erase(header.find_last_not_of(' ') + 1);
  return {header, bytes.substr(8 + n)};
}
std::string join(const Parts& p) { return safetensors(p.header, 0) + p.data; }

// `p` with one more F32 tensor at the end of the data.
Parts with_tensor(Parts p, const std::string& name, const std::string& shape, const Tensor& t) {
  const size_t begin = p.data.size(), bytes = size_t(t.numel()) * 4;
  p.header.insert(p.header.size() - 1, ",\"" + name + "\":{\"dtype\":\"F32\",\"shape\":" + shape +
                                           ",\"data_offsets\":[" + std::to_string(begin) + "," +
                                           std::to_string(begin + bytes) + "]}");
  p.data.append(reinterpret_cast<const char*>(t.data()), bytes);
  return p;
}

TEST(Gpt2Io, TransformerPrefixAndATiedLmHeadAreHuggingFacesAndRead) {
  TempDir dir;
  const gpt2::Weights w = gpt2::read(safetensors_fixture);
  const Parts good = split(read_file(safetensors_fixture));
  const fs::path p = dir.path() / "model.safetensors";
  write_bytes(dir.path() / "config.json", read_file(fixtures / "config.json"));

  // GPT2LMHeadModel.save_pretrained: names under "transformer.", and lm_head.weight = wte.
  Parts prefixed = good;
  for (size_t at = prefixed.header.find("\"h."); at != std::string::npos;
       at = prefixed.header.find("\"h.", at + 14))
    prefixed.header.insert(at + 1, "transformer.");
  const Tensor& wte = w.tensors.at("wte.weight");
  write_bytes(p, join(with_tensor(prefixed, "lm_head.weight", "[96,32]", wte)));
  expect_same_weights(gpt2::read(p), w);

  // An lm_head that is not wte: nanolab's head is tied, as GPT-2's is.
  Tensor other = wte.clone();
  other.data()[5] += 1.0f;
  write_bytes(p, join(with_tensor(good, "lm_head.weight", "[96,32]", other)));
  expect_has(checkpoint_error([&] { gpt2::read(p); }),
             "lm_head.weight differs from wte.weight: nanolab's head is tied to wte");
  write_bytes(p, join(with_tensor(good, "lm_head.weight", "[95,32]", Tensor::zeros({95, 32}))));
  expect_has(checkpoint_error([&] { gpt2::read(p); }),
             "tensor lm_head.weight is F32 [95, 32], expected F32 [96, 32] tied to wte");
  // A tensor of another architecture.
  write_bytes(
      p, join(with_tensor(good, "h.0.attn.q_proj.weight", "[32,32]", Tensor::zeros({32, 32}))));
  expect_has(checkpoint_error([&] { gpt2::read(p); }),
             "tensor h.0.attn.q_proj.weight [32, 32] is not a parameter of GPT-2 (1 such tensors)");
}

TEST(Gpt2Io, NHeadComesFromConfigJsonWhichMustAgreeWithTheTensors) {
  TempDir dir;
  const fs::path p = dir.path() / "model.safetensors";
  write_bytes(p, read_file(safetensors_fixture));
  // Without config.json the file does not say n_head.
  gpt2::FileInfo info = gpt2::inspect(p);
  EXPECT_EQ(info.arch.n_head, 0);
  expect_has(info.detail, "n_head unknown");
  const std::string config = read_file(fixtures / "config.json");
  write_bytes(dir.path() / "config.json", config);
  EXPECT_EQ(gpt2::inspect(p).arch.n_head, 2);
  write_bytes(dir.path() / "config.json", replaced(config, "", "\"n_embd\": 32", "\"n_embd\": 64"));
  std::string m = checkpoint_error([&] { gpt2::inspect(p); });
  expect_has(m, (dir.path() / "config.json").string() + ": n_embd = 64, but the tensors of");
  write_bytes(dir.path() / "config.json", replaced(config, "", "\"gelu_new\"", "\"gelu\"    "));
  m = checkpoint_error([&] { gpt2::inspect(p); });
  expect_has(m, "activation_function is the string \"gelu\"");
  write_bytes(dir.path() / "config.json", replaced(config, "", "\"n_head\": 2", "\"n_head\"  2"));
  m = checkpoint_error([&] { gpt2::inspect(p); });
  expect_has(m, "config.json: not valid JSON: at byte ");
}

}  // namespace
}  // namespace nanolab
