// GPT-2's weight files, read into and written from nanolab's GPT: Hugging Face's model.safetensors
// and llm.c's gpt2_124M.bin.
//
// nanolab's parameter names are GPT-2's ("wte.weight", "h.0.attn.c_attn.weight", "ln_f.bias"), and
// q, k, v come out of c_attn in GPT-2's order, so the mapping is a matter of layout:
// - safetensors (Hugging Face's GPT2Model names, optionally under "transformer."): the four Conv1D
//   weights (attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj) are stored (in, out), the transpose
//   of nanolab's (out, in); everything else as it is. The causal-mask buffers "h.<l>.attn.bias"
//   and "h.<l>.attn.masked_bias" are skipped; an "lm_head.weight" must equal wte (the head is
//   tied). F32 only: a BF16 or F16 tensor is refused (not supported yet). n_head is not a tensor
//   shape: it is read from the header's metadata ("n_head", which nanolab writes), else from the
//   config.json beside the file (Hugging Face's folder layout), else it is unknown (0).
// - llm.c (train_gpt2.py's write_model, float32): a header of 256 int32 (magic 20240326, version,
//   maxT, V, L, NH, C, padded V), then every parameter in llm.c's order (wte, wpe, then ln_1.weight
//   of every layer, ln_1.bias of every layer, ..., mlp.c_proj.bias, then ln_f), weights (out, in).
//   Version 3 pads wte with rows up to the padded V (a multiple of 128); version 1 has no padding.
//   The padding rows are not tokens: they are dropped on read and written as zeros.
// Every read checks the file against its own header before it trusts an offset: a truncated file,
// a header length or tensor past the end, overlapping tensors, a missing, extra or mis-shaped
// tensor, an unsupported dtype or version. Each is a CheckpointError (exit 7) naming the file, the
// tensor and the expected and found shapes or sizes. Not a general safetensors library: only the
// tensors of a GPT-2.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "nanolab/model.hpp"
#include "nanolab/tensor.hpp"

namespace nanolab::gpt2 {

enum class Format { safetensors, llmc };
const char* format_name(Format format);  // "safetensors", "llmc"
// ConfigError naming `where` (e.g. "--format") for anything but the two names.
Format format_from_name(const std::string& name, const std::string& where);

// The shape of a GPT-2.
struct Architecture {
  int64_t vocab_size = 0;  // V: the token rows of wte (llm.c's padding excluded)
  int64_t block_size = 0;  // maxT: the rows of wpe
  int64_t n_layer = 0;
  int64_t n_head = 0;  // NH; 0 when the file does not say
  int64_t n_embd = 0;  // C
  bool operator==(const Architecture&) const = default;
};

// What a file's header says, every tensor's place and shape checked against the file's size.
struct FileInfo {
  std::filesystem::path file;
  Format format;
  Architecture arch;
  std::string
      detail;  // "llm.c version 3, vocab padded to 128", "safetensors, n_head from config.json"
};
// Which format: llm.c's magic, else a safetensors header; CheckpointError for neither.
FileInfo inspect(const std::filesystem::path& file);

// Every parameter of GPT-2 named and laid out as nanolab's model has it ((out, in) weights, V rows
// in wte).
struct Weights {
  FileInfo info;
  std::map<std::string, Tensor> tensors;
};
Weights read(const std::filesystem::path& file);

// The parameters of a GPT-2 of `arch` in llm.c's order: nanolab's name and shape.
std::vector<std::pair<std::string, Shape>> parameter_shapes(const Architecture& arch);

// Copies `weights` into `model`, whose parameters must be GPT-2's (position learned, an attention
// with c_attn/c_proj, biases) of the same n_layer, n_head, n_embd and vocab_size; a model with a
// shorter block_size takes the first rows of wpe (nanoGPT's crop_block_size). CheckpointError
// naming `weights`' file and the tensor otherwise.
void load(const Gpt& model, const Weights& weights);

// Writes `tensors` (nanolab's names and layout, as a checkpoint holds them) as a GPT-2 of `arch`
// (its n_head must be known). A bias the model does not have (model.bias = false) is written as
// zeros, which is the same model. A missing weight (wpe of a model without learned positions) or a
// parameter GPT-2 does not have (another attention's) is a ConfigError naming it. The file is
// written under a temporary name and renamed; a safetensors file gets nanolab's metadata (n_head)
// and Hugging Face's config.json beside it, so that GPT2LMHeadModel.from_pretrained(folder) and
// llm.c's gpt2_build_from_checkpoint open it.
void write(const std::filesystem::path& file, Format format, const Architecture& arch,
           const std::map<std::string, Tensor>& tensors);

}  // namespace nanolab::gpt2
