// GPT-2's weight files (gpt2.hpp): the parameter table, safetensors and llm.c readers and writers.
//
// One table (specs) lists GPT-2's parameters in llm.c's order with nanolab's name, shape and
// whether Hugging Face's Conv1D stores it transposed; both readers and both writers walk it, so the
// formats cannot disagree about a name or a shape. A file is read with pread at offsets that were
// checked against its size first, never mapped: a file that shrinks while it is read is a short
// read (an error), not a SIGBUS.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>
#include <set>

#include "nanolab/errors.hpp"
#include "nanolab/gpt2.hpp"
#include "nanolab/input_file.hpp"
#include "runtime/json.hpp"

namespace nanolab::gpt2 {
namespace fs = std::filesystem;
static_assert(std::endian::native == std::endian::little,
              "GPT-2's files are little-endian; this reader copies bytes as they are");

namespace {

constexpr int32_t llmc_magic = 20240326;
constexpr int64_t llmc_header_bytes = 256 * 4;
constexpr int64_t llmc_vocab_multiple = 128;
constexpr uint64_t safetensors_max_header = 100'000'000;  // the safetensors library's own limit

// ---- the parameter table ---------------------------------------------------------------------

struct Spec {
  std::string name;  // nanolab's (and GPT-2's) name
  Shape shape;       // nanolab's layout: (out, in) for the linear weights
  bool conv1d;       // Hugging Face stores it (in, out)
  std::string llmc;  // llm.c's name, for messages
};

struct LayerKind {
  const char* suffix;
  const char* llmc;
  int64_t rows, cols;  // in units of C; cols 0 for a vector
  bool conv1d;
};
// llm.c's order of the per-layer tensors (train_gpt2.py's write_tensors).
constexpr LayerKind layer_kinds[] = {
    {"ln_1.weight", "ln1w", 1, 0, false},           {"ln_1.bias", "ln1b", 1, 0, false},
    {"attn.c_attn.weight", "qkvw", 3, 1, true},     {"attn.c_attn.bias", "qkvb", 3, 0, false},
    {"attn.c_proj.weight", "attprojw", 1, 1, true}, {"attn.c_proj.bias", "attprojb", 1, 0, false},
    {"ln_2.weight", "ln2w", 1, 0, false},           {"ln_2.bias", "ln2b", 1, 0, false},
    {"mlp.c_fc.weight", "fcw", 4, 1, true},         {"mlp.c_fc.bias", "fcb", 4, 0, false},
    {"mlp.c_proj.weight", "fcprojw", 1, 4, true},   {"mlp.c_proj.bias", "fcprojb", 1, 0, false},
};

// Calls visit(spec) for each parameter in llm.c's order until it returns false. Nothing is built
// per layer, so a header claiming two billion layers costs nothing until the file runs out.
template <class Visit>
void for_each_spec(const Architecture& a, Visit visit) {
  const int64_t C = a.n_embd;
  if (!visit(Spec{"wte.weight", {a.vocab_size, C}, false, "wte"})) return;
  if (!visit(Spec{"wpe.weight", {a.block_size, C}, false, "wpe"})) return;
  for (const LayerKind& k : layer_kinds)
    for (int64_t l = 0; l < a.n_layer; ++l) {
      const Shape shape = k.cols ? Shape{k.rows * C, k.cols * C} : Shape{k.rows * C};
      if (!visit(Spec{"h." + std::to_string(l) + "." + k.suffix, shape, k.conv1d,
                      std::string(k.llmc) + " of layer " + std::to_string(l)}))
        return;
    }
  if (!visit(Spec{"ln_f.weight", {C}, false, "lnfw"})) return;
  visit(Spec{"ln_f.bias", {C}, false, "lnfb"});
}

std::vector<Spec> specs(const Architecture& a) {
  std::vector<Spec> out;
  for_each_spec(a, [&](Spec s) {
    out.push_back(std::move(s));
    return true;
  });
  return out;
}

Shape transposed(const Shape& s) { return s.ndim() == 2 ? Shape{s[1], s[0]} : s; }

// src (rows, cols) -> dst (cols, rows): (out, in) <-> (in, out). In 32 x 32 tiles, so that both
// sides stay in cache: reading GPT-2 small's model.safetensors took 1.7 s with a plain double loop,
// 0.4-0.7 s with tiles (llm.c's file, which needs no transpose: 0.1 s; bench_gpt2_io).
void transpose(const float* src, float* dst, int64_t rows, int64_t cols) {
  constexpr int64_t tile = 32;
  for (int64_t r0 = 0; r0 < rows; r0 += tile)
    for (int64_t c0 = 0; c0 < cols; c0 += tile)
      for (int64_t r = r0; r < std::min(rows, r0 + tile); ++r)
        for (int64_t c = c0; c < std::min(cols, c0 + tile); ++c)
          dst[c * rows + r] = src[r * cols + c];
}

std::string shape_text(const std::vector<int64_t>& dims) {
  std::string out = "[";
  for (size_t i = 0; i < dims.size(); ++i) out += (i ? ", " : "") + std::to_string(dims[i]);
  return out + "]";
}

std::string arch_text(const Architecture& a) {
  return "V=" + std::to_string(a.vocab_size) + ", maxT=" + std::to_string(a.block_size) +
         ", n_layer=" + std::to_string(a.n_layer) + ", n_head=" + std::to_string(a.n_head) +
         ", n_embd=" + std::to_string(a.n_embd);
}

// ---- reading ---------------------------------------------------------------------------------

class InputFile {
 public:
  explicit InputFile(const fs::path& path) : path_(path) {
    fd_ = open_input(path, ExitCode::checkpoint, input_limit::weights);
    struct stat st {};
    if (fd_ < 0 || fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
      const std::string why = fd_ < 0 ? std::strerror(errno) : "not a regular file";
      if (fd_ >= 0) ::close(fd_);
      fd_ = -1;
      throw CheckpointError(path.string() + ": cannot read it: " + why);
    }
    size_ = uint64_t(st.st_size);
  }
  ~InputFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  uint64_t size() const { return size_; }

  // Bytes [offset, offset + n), which the caller has checked lie inside size().
  void read(uint64_t offset, void* dst, uint64_t n, const std::string& what) const {
    auto* out = static_cast<char*>(dst);
    while (n > 0) {
      const ssize_t got = ::pread(fd_, out, size_t(std::min<uint64_t>(n, 1u << 30)), off_t(offset));
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0)
        throw CheckpointError(
            path_.string() + ": reading " + what + " at byte " + std::to_string(offset) +
            " failed: " + (got < 0 ? std::strerror(errno) : "the file ended early"));
      out += got;
      offset += uint64_t(got);
      n -= uint64_t(got);
    }
  }

 private:
  fs::path path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

[[noreturn]] void bad(const fs::path& file, const std::string& what) {
  throw CheckpointError(file.string() + ": " + what);
}

// n * m, or nullopt on overflow past int64.
std::optional<int64_t> product(int64_t n, int64_t m) {
  int64_t r = 0;
  if (__builtin_mul_overflow(n, m, &r)) return std::nullopt;
  return r;
}

// ---- safetensors -----------------------------------------------------------------------------

struct StTensor {
  std::string name;  // as written in the file
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets into the data part
};

struct StFile {
  uint64_t data_start = 0;
  std::map<std::string, std::string> metadata;
  std::vector<StTensor> tensors;
};

int64_t dtype_bytes(const std::string& dtype) {
  static const std::map<std::string, int64_t> sizes = {
      {"F64", 8}, {"F32", 4}, {"F16", 2},  {"BF16", 2},    {"I64", 8},
      {"I32", 4}, {"I16", 2}, {"I8", 1},   {"U64", 8},     {"U32", 4},
      {"U16", 2}, {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
  auto it = sizes.find(dtype);
  return it == sizes.end() ? 0 : it->second;
}

StFile parse_safetensors(const InputFile& f, const fs::path& file) {
  if (f.size() < 8)
    bad(file, "truncated: " + std::to_string(f.size()) +
                  " bytes, shorter than the 8-byte header length of a safetensors file");
  uint64_t n = 0;
  f.read(0, &n, 8, "the header length");
  if (n > f.size() - 8)
    bad(file, "the header length " + std::to_string(n) +
                  " (its first 8 bytes) runs past the end of the file (" +
                  std::to_string(f.size()) +
                  " bytes): a truncated file, or not a safetensors file");
  if (n > safetensors_max_header)
    bad(file, "the header length " + std::to_string(n) + " is over the safetensors limit of " +
                  std::to_string(safetensors_max_header) + " bytes");
  std::string text(n, '\0');
  f.read(8, text.data(), n, "the header");
  json::Json root;
  try {
    root = json::parse(text);
  } catch (const json::JsonError& e) {
    bad(file, "the safetensors header (bytes 8.." + std::to_string(8 + n) +
                  ") is not valid JSON: " + e.what());
  }
  if (!root.is_object())
    bad(file, "the safetensors header is " + json::describe(root) + ", expected an object");

  StFile st;
  st.data_start = 8 + n;
  const uint64_t data_size = f.size() - st.data_start;
  for (const auto& [name, v] : root.items()) {
    if (name == "__metadata__") {
      if (!v.is_object())
        bad(file, "__metadata__ is " + json::describe(v) + ", expected an object of strings");
      for (const auto& [k, s] : v.items()) {
        if (!s.is_string())
          bad(file, "__metadata__." + k + " is " + json::describe(s) + ", expected a string");
        st.metadata[k] = s.get<std::string>();
      }
      continue;
    }
    const std::string where = "tensor " + name;
    if (!v.is_object()) bad(file, where + " is " + json::describe(v) + ", expected an object");
    const auto dtype = v.find("dtype"), shape = v.find("shape"), offsets = v.find("data_offsets");
    if (dtype == v.end() || !dtype->is_string()) bad(file, where + ": no dtype string");
    if (shape == v.end() || !shape->is_array()) bad(file, where + ": no shape array");
    if (offsets == v.end() || !offsets->is_array() || offsets->size() != 2 ||
        !(*offsets)[0].is_number_unsigned() || !(*offsets)[1].is_number_unsigned())
      bad(file, where + ": data_offsets must be two non-negative integers [begin, end]");
    StTensor t{name, dtype->get<std::string>(), {}, (*offsets)[0].get<uint64_t>(),
               (*offsets)[1].get<uint64_t>()};
    int64_t numel = 1;
    for (const json::Json& d : *shape) {
      if (!d.is_number_unsigned() || d.get<uint64_t>() > (uint64_t(1) << 40))
        bad(file, where + ": a shape holds " + json::describe(d) + ", expected a size");
      t.shape.push_back(d.get<int64_t>());
      const auto next = product(numel, t.shape.back());
      if (!next || *next > (int64_t(1) << 60))
        bad(file, where + ": shape " + shape_text(t.shape) + " is too large");
      numel = *next;
    }
    const int64_t bytes = dtype_bytes(t.dtype);
    if (bytes == 0) bad(file, where + ": unknown dtype \"" + t.dtype + "\"");
    if (t.end < t.begin || t.end > data_size)
      bad(file, where + " (bytes " + std::to_string(t.begin) + ".." + std::to_string(t.end) +
                    " of the data) runs past the end of the file: the data part holds " +
                    std::to_string(data_size) + " bytes (a truncated file?)");
    if (t.end - t.begin != uint64_t(numel * bytes))
      bad(file, where + ": its data_offsets span " + std::to_string(t.end - t.begin) +
                    " bytes, but " + t.dtype + " " + shape_text(t.shape) + " needs " +
                    std::to_string(numel * bytes));
    st.tensors.push_back(std::move(t));
  }
  // The tensors must tile the data part exactly, from byte 0 to the end of the file, in the order
  // of their offsets: Hugging Face's safetensors library refuses a gap, an overlap or bytes after
  // the last tensor (InvalidOffset, MetadataIncompleteBuffer), and so does nanolab.
  std::vector<const StTensor*> by_place;
  for (const StTensor& t : st.tensors) by_place.push_back(&t);
  std::stable_sort(by_place.begin(), by_place.end(), [](const StTensor* a, const StTensor* b) {
    return std::pair(a->begin, a->end) < std::pair(b->begin, b->end);
  });
  auto bytes_text = [](uint64_t begin, uint64_t end) {
    return "bytes " + std::to_string(begin) + ".." + std::to_string(end);
  };
  uint64_t covered = 0;
  const StTensor* previous = nullptr;
  for (const StTensor* t : by_place) {
    if (t->begin < covered)
      bad(file, "tensors " + previous->name + " (" + bytes_text(previous->begin, previous->end) +
                    ") and " + t->name + " (" + bytes_text(t->begin, t->end) + ") overlap");
    if (t->begin > covered)
      bad(file, bytes_text(covered, t->begin) + " of the data belong to no tensor (a gap before " +
                    t->name + "): the tensors of a safetensors file must follow one another "
                    "without gaps, which Hugging Face's safetensors library also requires");
    covered = t->end;
    previous = t;
  }
  if (covered != data_size)
    bad(file, std::to_string(data_size - covered) + " bytes after the last tensor" +
                  (previous ? " (" + previous->name + " ends at byte " + std::to_string(covered) +
                                  " of the data, which holds " + std::to_string(data_size) + ")"
                            : " (the file has no tensor)") +
                  ": a damaged file, or one appended to; Hugging Face's safetensors library "
                  "refuses it too");
  return st;
}

// "h.3.attn.bias" -> 3 for the mask buffers Hugging Face keeps beside the parameters.
bool is_mask_buffer(const std::string& name) {
  if (name.rfind("h.", 0) != 0) return false;
  const size_t dot = name.find('.', 2);
  if (dot == std::string::npos || dot == 2) return false;
  for (size_t i = 2; i < dot; ++i)
    if (name[i] < '0' || name[i] > '9') return false;
  const std::string rest = name.substr(dot + 1);
  return rest == "attn.bias" || rest == "attn.masked_bias";
}

// The layer index of "h.<l>.<...>", or -1.
int64_t layer_of(const std::string& name) {
  if (name.rfind("h.", 0) != 0) return -1;
  int64_t l = 0;
  size_t i = 2;
  for (; i < name.size() && name[i] >= '0' && name[i] <= '9' && i < 9; ++i)
    l = l * 10 + (name[i] - '0');
  return i > 2 && i < name.size() && name[i] == '.' ? l : -1;
}

std::string strip_prefix(const std::string& name) {
  static const std::string prefix = "transformer.";
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

// n_head and the consistency of Hugging Face's config.json beside the file with the tensors.
int64_t n_head_from_config_json(const fs::path& config, const Architecture& a) {
  std::error_code ec;
  const auto size = fs::file_size(config, ec);
  if (ec || size > (1u << 20)) bad(config, "cannot read it (or it is over 1 MB)");
  std::ifstream in(config, std::ios::binary);
  std::string text(size, '\0');
  if (!in.read(text.data(), std::streamsize(size))) bad(config, "cannot read it");
  json::Json root;
  try {
    root = json::parse(text);
  } catch (const json::JsonError& e) {
    bad(config, std::string("not valid JSON: ") + e.what());
  }
  if (!root.is_object()) bad(config, "it holds " + json::describe(root) + ", expected an object");
  auto integer = [&](const char* key) -> std::optional<int64_t> {
    const auto v = root.find(key);
    if (v == root.end()) return std::nullopt;
    if (!v->is_number_unsigned() || v->get<uint64_t>() > (uint64_t(1) << 40))
      bad(config, std::string(key) + " is " + json::describe(*v) + ", expected a positive integer");
    return v->get<int64_t>();
  };
  const std::pair<const char*, int64_t> from_tensors[] = {{"vocab_size", a.vocab_size},
                                                          {"n_positions", a.block_size},
                                                          {"n_layer", a.n_layer},
                                                          {"n_embd", a.n_embd}};
  for (const auto& [key, value] : from_tensors)
    if (auto given = integer(key); given && *given != value)
      bad(config, std::string(key) + " = " + std::to_string(*given) + ", but the tensors of " +
                      (config.parent_path() / "model.safetensors").filename().string() + " have " +
                      std::to_string(value) + " (is it the config of another model?)");
  if (const auto act = root.find("activation_function");
      act != root.end() && *act != "gelu_new" && *act != "gelu_pytorch_tanh")
    bad(config, "activation_function is " + json::describe(*act) +
                    "; nanolab's GPT has GPT-2's tanh GELU (\"gelu_new\") only");
  const auto n_head = integer("n_head");
  if (!n_head || *n_head < 1) bad(config, "no n_head (an integer >= 1)");
  return *n_head;
}

struct SafetensorsModel {
  StFile st;
  FileInfo info;
  std::map<std::string, const StTensor*> by_name;  // nanolab name -> its tensor
  const StTensor* lm_head = nullptr;
};

SafetensorsModel inspect_safetensors(const InputFile& f, const fs::path& file) {
  SafetensorsModel m;
  m.st = parse_safetensors(f, file);
  std::set<std::string> seen;
  int64_t n_layer = 0;
  std::vector<std::string> unexpected;
  for (const StTensor& t : m.st.tensors) {
    const std::string name = strip_prefix(t.name);
    if (!seen.insert(name).second)
      bad(file, "tensor " + name + " appears twice (with and without \"transformer.\")");
    if (is_mask_buffer(name)) continue;
    if (name == "lm_head.weight") {
      m.lm_head = &t;
      continue;
    }
    if (const int64_t l = layer_of(name); l >= 0) n_layer = std::max(n_layer, l + 1);
    m.by_name[name] = &t;
  }
  auto need = [&](const char* name, const char* what) -> const StTensor& {
    auto it = m.by_name.find(name);
    if (it == m.by_name.end())
      bad(file, "tensor " + std::string(name) + " (" + what + ") is missing: not a GPT-2?");
    if (it->second->shape.size() != 2)
      bad(file, "tensor " + std::string(name) + " has shape " + shape_text(it->second->shape) +
                    ", expected 2 dimensions (" + what + ")");
    return *it->second;
  };
  const StTensor& wte = need("wte.weight", "the token embedding, (V, C)");
  const StTensor& wpe = need("wpe.weight", "the position embedding, (maxT, C)");
  Architecture& a = m.info.arch;
  a.vocab_size = wte.shape[0];
  a.n_embd = wte.shape[1];
  a.block_size = wpe.shape[0];
  a.n_layer = n_layer;
  if (n_layer == 0) bad(file, "no transformer block (no tensor h.0.*): not a GPT-2?");
  if (a.vocab_size < 1 || a.n_embd < 1 || a.block_size < 1)
    bad(file,
        "wte " + shape_text(wte.shape) + " and wpe " + shape_text(wpe.shape) + " hold no rows");

  std::string n_head_from = "n_head unknown";
  std::error_code ec;
  if (auto it = m.st.metadata.find("n_head"); it != m.st.metadata.end()) {
    char* end = nullptr;
    const long long v = std::strtoll(it->second.c_str(), &end, 10);
    if (it->second.empty() || *end != '\0' || v < 1 || v > a.n_embd)
      bad(file,
          "__metadata__.n_head is \"" + it->second + "\", expected an integer in [1, n_embd]");
    a.n_head = v;
    n_head_from = "n_head from its metadata";
  } else if (const fs::path config = file.parent_path() / "config.json"; fs::exists(config, ec)) {
    a.n_head = n_head_from_config_json(config, a);
    n_head_from = "n_head from " + config.string();
  }
  if (a.n_head > 0 && a.n_embd % a.n_head != 0)
    bad(file, "n_embd " + std::to_string(a.n_embd) + " is not divisible by n_head " +
                  std::to_string(a.n_head) + " (" + n_head_from + ")");

  // Visited one by one: a name like h.9999999.x claims ten million layers, and the first missing
  // tensor ends the walk.
  std::set<std::string> expected;
  for_each_spec(a, [&](const Spec& s) {
    expected.insert(s.name);
    auto it = m.by_name.find(s.name);
    const Shape want = s.conv1d ? transposed(s.shape) : s.shape;
    if (it == m.by_name.end())
      bad(file, "tensor " + s.name + " is missing (expected F32 " + want.str() + " for " +
                    arch_text(a) + ")");
    const StTensor& t = *it->second;
    if (t.dtype != "F32")
      bad(file, "tensor " + s.name + " is " + t.dtype + "; nanolab reads F32 safetensors only (" +
                    (t.dtype == "BF16" || t.dtype == "F16" ? t.dtype + " is not supported yet"
                                                           : "GPT-2's weights are floats") +
                    "); hint: save the model in float32 (model.float().save_pretrained(...))");
    if (t.shape != std::vector<int64_t>(want.data(), want.data() + want.ndim()))
      bad(file, "tensor " + s.name + " has shape " + shape_text(t.shape) + ", expected " +
                    want.str() + (s.conv1d ? " (Hugging Face's Conv1D stores (in, out))" : "") +
                    " for " + arch_text(a));
    return true;
  });
  for (const auto& [name, t] : m.by_name)
    if (!expected.count(name)) unexpected.push_back(name + " " + shape_text(t->shape));
  if (!unexpected.empty())
    bad(file, "tensor " + unexpected.front() + " is not a parameter of GPT-2 (" +
                  std::to_string(unexpected.size()) + " such tensors): another architecture?");
  if (m.lm_head && (m.lm_head->dtype != "F32" ||
                    m.lm_head->shape != std::vector<int64_t>{a.vocab_size, a.n_embd}))
    bad(file, "tensor lm_head.weight is " + m.lm_head->dtype + " " + shape_text(m.lm_head->shape) +
                  ", expected F32 [" + std::to_string(a.vocab_size) + ", " +
                  std::to_string(a.n_embd) + "] tied to wte");
  m.info.file = file;
  m.info.format = Format::safetensors;
  m.info.detail = "safetensors, " + n_head_from;
  return m;
}

// ---- llm.c -------------------------------------------------------------------------------------

struct LlmcModel {
  FileInfo info;
  int64_t padded_vocab = 0;
};

LlmcModel inspect_llmc(const InputFile& f, const fs::path& file) {
  if (f.size() < uint64_t(llmc_header_bytes))
    bad(file, "truncated: " + std::to_string(f.size()) + " bytes, shorter than llm.c's " +
                  std::to_string(llmc_header_bytes) + "-byte header");
  int32_t h[256];
  f.read(0, h, sizeof h, "the llm.c header");
  if (h[0] != llmc_magic)
    bad(file, "not an llm.c model file: its magic number is " + std::to_string(h[0]) +
                  ", expected " + std::to_string(llmc_magic) +
                  " (Hugging Face's pytorch_model.bin is a PyTorch pickle, which nanolab does not "
                  "read: use its model.safetensors)");
  LlmcModel m;
  const int32_t version = h[1];
  if (version != 1 && version != 3)
    bad(file,
        "llm.c version " + std::to_string(version) +
            " is not supported: nanolab reads versions 3 (float32, padded vocabulary) and 1 "
            "(float32)" +
            (version == 5 ? "; version 5 is bfloat16, not supported yet: export float32" : ""));
  Architecture& a = m.info.arch;
  a.block_size = h[2];
  a.vocab_size = h[3];
  a.n_layer = h[4];
  a.n_head = h[5];
  a.n_embd = h[6];
  m.padded_vocab = version == 3 ? h[7] : h[3];
  if (a.block_size < 1 || a.vocab_size < 1 || a.n_layer < 1 || a.n_head < 1 || a.n_embd < 1 ||
      a.n_embd % a.n_head != 0 || m.padded_vocab < a.vocab_size)
    bad(file, "the llm.c header holds an impossible shape (maxT " + std::to_string(h[2]) + ", V " +
                  std::to_string(h[3]) + ", L " + std::to_string(h[4]) + ", NH " +
                  std::to_string(h[5]) + ", C " + std::to_string(h[6]) + ", padded V " +
                  std::to_string(m.padded_vocab) + ")");
  // The floats the header asks for, in 128 bits (the header's ints are below 2^31, so nothing
  // here overflows): wte (padded) and wpe, 12 C^2 + 13 C per layer, ln_f.
  const __int128 C = a.n_embd;
  const __int128 floats = __int128(m.padded_vocab) * C + __int128(a.block_size) * C +
                          __int128(a.n_layer) * (12 * C * C + 13 * C) + 2 * C;
  if (llmc_header_bytes + 4 * floats > __int128(f.size())) {
    // Where the file ends: walk the tensors up to there (at most one per 4 bytes of the file).
    std::string ends_in;
    __int128 at = llmc_header_bytes;
    for_each_spec(a, [&](const Spec& s) {
      const int64_t rows = s.name == "wte.weight" ? m.padded_vocab : s.shape[0];
      at += 4 * __int128(rows) * (s.shape.ndim() == 2 ? s.shape[1] : 1);
      if (at <= __int128(f.size())) return true;
      ends_in = s.name + " (llm.c's " + s.llmc + ")";
      return false;
    });
    const std::string needs = floats < (__int128(1) << 60)
                                  ? std::to_string(int64_t(llmc_header_bytes + 4 * floats))
                                  : "more than 2^62";
    bad(file, "truncated: " + std::to_string(f.size()) + " bytes, but its header (" + arch_text(a) +
                  ", padded V=" + std::to_string(m.padded_vocab) + ") needs " + needs +
                  "; the file ends inside tensor " + ends_in);
  }
  const int64_t expected = int64_t(llmc_header_bytes + 4 * floats);
  if (int64_t(f.size()) > expected)
    bad(file, std::to_string(int64_t(f.size()) - expected) +
                  " bytes after the last tensor: its header (" + arch_text(a) + ") needs " +
                  std::to_string(expected) + " bytes (a damaged header, or another format?)");
  m.info.file = file;
  m.info.format = Format::llmc;
  m.info.detail = "llm.c version " + std::to_string(version) +
                  (version == 3 ? ", vocabulary padded to " + std::to_string(m.padded_vocab) : "");
  return m;
}

bool starts_with_llmc_magic(const InputFile& f) {
  int32_t magic = 0;
  if (f.size() < 4) return false;
  f.read(0, &magic, 4, "the first bytes");
  return magic == llmc_magic;
}

// A NaN or an infinity among the n floats of `values`, as stored in the file, is an error naming
// the tensor and the index of the first one (row-major in the file's layout): loading it would
// make every loss NaN, and exporting it would copy it.
void check_finite(const fs::path& file, const float* values, int64_t n, const Spec& s,
                  const Shape& stored) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(values[i])) {
      std::string at;
      for (int64_t d = stored.ndim() - 1, rest = i; d >= 0; --d) {
        at = std::to_string(rest % stored[d]) + (at.empty() ? "" : ", ") + at;
        rest /= stored[d];
      }
      bad(file, "tensor " + s.name + (s.llmc.empty() ? "" : " (llm.c's " + s.llmc + ")") +
                    " holds " + (std::isnan(values[i]) ? "NaN" : values[i] > 0 ? "+inf" : "-inf") +
                    " at index " + std::to_string(i) + " ([" + at + "] of " + stored.str() +
                    " as stored): the weights are damaged, or were saved from a diverged run");
    }
}

Tensor read_floats(const InputFile& f, const fs::path& file, uint64_t offset, const Spec& s) {
  Tensor t = Tensor::empty(s.shape);
  const uint64_t bytes = uint64_t(t.numel()) * 4;
  if (!s.conv1d) {
    f.read(offset, t.data(), bytes, "tensor " + s.name);
    check_finite(file, t.data(), t.numel(), s, s.shape);
    return t;
  }
  std::vector<float> stored(size_t(t.numel()));  // (in, out)
  f.read(offset, stored.data(), bytes, "tensor " + s.name);
  check_finite(file, stored.data(), t.numel(), s, transposed(s.shape));
  transpose(stored.data(), t.data(), s.shape[1], s.shape[0]);
  return t;
}

// ---- writing
// -------------------------------------------------------------------------------------

class OutputFile {
 public:
  explicit OutputFile(const fs::path& path) : path_(path), tmp_(path.string() + ".tmp") {
    out_.open(tmp_, std::ios::binary | std::ios::trunc);
    if (!out_) throw StorageError("cannot write " + tmp_.string() + ": " + std::strerror(errno));
  }
  ~OutputFile() {
    if (!done_) {
      out_.close();
      std::error_code ec;
      fs::remove(tmp_, ec);
    }
  }
  void write(const void* data, size_t n) {
    out_.write(static_cast<const char*>(data), std::streamsize(n));
    if (!out_) throw StorageError("cannot write " + tmp_.string() + " (disk full?)");
  }
  void commit() {
    out_.close();
    if (!out_) throw StorageError("cannot write " + tmp_.string() + " (disk full?)");
    std::error_code ec;
    fs::rename(tmp_, path_, ec);
    if (ec)
      throw StorageError("cannot rename " + tmp_.string() + " to " + path_.string() + ": " +
                         ec.message());
    done_ = true;
  }

 private:
  fs::path path_, tmp_;
  std::ofstream out_;
  bool done_ = false;
};

// The tensors to write, in llm.c's order, with zeros for the biases a model without them lacks.
std::vector<std::pair<Spec, Tensor>> gather(const Architecture& a,
                                            const std::map<std::string, Tensor>& tensors) {
  std::vector<std::pair<Spec, Tensor>> out;
  std::set<std::string> used;
  for (const Spec& s : specs(a)) {
    auto it = tensors.find(s.name);
    if (it == tensors.end()) {
      if (s.name.ends_with(".bias")) {
        out.push_back({s, Tensor::zeros(s.shape)});
        continue;
      }
      throw ConfigError(
          "the model has no " + s.name + ", which GPT-2 has (" + s.shape.str() + ")" +
          (s.name == "wpe.weight"
               ? "; hint: GPT-2 has learned positions: only a model with "
                 "model.position = \"learned\" can be exported"
               : "; hint: only GPT-2's attention layout (causal_mha, flash) can be exported"));
    }
    if (it->second.shape() != s.shape)
      throw ConfigError("the model's " + s.name + " has shape " + it->second.shape().str() +
                        ", but a GPT-2 of " + arch_text(a) + " has " + s.shape.str());
    used.insert(s.name);
    out.push_back({s, it->second});
  }
  for (const auto& [name, t] : tensors)
    if (!used.count(name))
      throw ConfigError("the model has a parameter GPT-2 does not: " + name + " " +
                        t.shape().str() +
                        "; hint: only GPT-2's architecture (attention causal_mha or flash, "
                        "position learned) can be exported");
  return out;
}

void write_hf_config(const fs::path& file, const Architecture& a) {
  const json::Json config = {{"activation_function", "gelu_new"},
                             {"architectures", json::Json::array({"GPT2LMHeadModel"})},
                             {"attn_pdrop", 0.0},
                             {"embd_pdrop", 0.0},
                             {"initializer_range", 0.02},
                             {"layer_norm_epsilon", 1e-05},
                             {"model_type", "gpt2"},
                             {"n_ctx", a.block_size},
                             {"n_embd", a.n_embd},
                             {"n_head", a.n_head},
                             {"n_layer", a.n_layer},
                             {"n_positions", a.block_size},
                             {"resid_pdrop", 0.0},
                             {"tie_word_embeddings", true},
                             {"vocab_size", a.vocab_size}};
  const std::string text = json::dump(config, 2) + "\n";
  OutputFile out(file);
  out.write(text.data(), text.size());
  out.commit();
}

void write_safetensors(const fs::path& file, const Architecture& a,
                       const std::vector<std::pair<Spec, Tensor>>& tensors) {
  json::Json root = {{"__metadata__", {{"format", "pt"}, {"n_head", std::to_string(a.n_head)}}}};
  uint64_t offset = 0;
  for (const auto& [s, t] : tensors) {
    const Shape stored = s.conv1d ? transposed(s.shape) : s.shape;
    const uint64_t bytes = uint64_t(t.numel()) * 4;
    root[s.name] = {{"dtype", "F32"},
                    {"shape", std::vector<int64_t>(stored.data(), stored.data() + stored.ndim())},
                    {"data_offsets", {offset, offset + bytes}}};
    offset += bytes;
  }
  std::string header = json::dump(root);
  header.append((8 - header.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  OutputFile out(file);
  const uint64_t n = header.size();
  out.write(&n, 8);
  out.write(header.data(), header.size());
  std::vector<float> buffer;
  for (const auto& [s, t] : tensors) {
    if (!s.conv1d) {
      out.write(t.data(), size_t(t.numel()) * 4);
      continue;
    }
    buffer.resize(size_t(t.numel()));
    transpose(t.data(), buffer.data(), s.shape[0], s.shape[1]);
    out.write(buffer.data(), buffer.size() * 4);
  }
  out.commit();
}

void write_llmc(const fs::path& file, const Architecture& a,
                const std::vector<std::pair<Spec, Tensor>>& tensors) {
  const int64_t padded =
      (a.vocab_size + llmc_vocab_multiple - 1) / llmc_vocab_multiple * llmc_vocab_multiple;
  const int64_t dims[] = {a.block_size, a.vocab_size, a.n_layer, a.n_head, a.n_embd, padded};
  for (int64_t d : dims)
    if (d > INT32_MAX)
      throw ConfigError("llm.c's header holds 32-bit ints; " + arch_text(a) + " does not fit");
  int32_t h[256] = {};
  h[0] = llmc_magic;
  h[1] = 3;
  for (int i = 0; i < 6; ++i) h[2 + i] = int32_t(dims[i]);
  OutputFile out(file);
  out.write(h, sizeof h);
  for (const auto& [s, t] : tensors) {
    out.write(t.data(), size_t(t.numel()) * 4);
    if (s.name == "wte.weight") {
      const std::vector<float> zeros(size_t((padded - a.vocab_size) * a.n_embd), 0.0f);
      out.write(zeros.data(), zeros.size() * 4);
    }
  }
  out.commit();
}

}  // namespace

const char* format_name(Format format) {
  return format == Format::safetensors ? "safetensors" : "llmc";
}

Format format_from_name(const std::string& name, const std::string& where) {
  if (name == "safetensors") return Format::safetensors;
  if (name == "llmc") return Format::llmc;
  throw ConfigError(where + ": expected safetensors or llmc, got '" + name + "'");
}

std::vector<std::pair<std::string, Shape>> parameter_shapes(const Architecture& arch) {
  std::vector<std::pair<std::string, Shape>> out;
  for (const Spec& s : specs(arch)) out.emplace_back(s.name, s.shape);
  return out;
}

FileInfo inspect(const fs::path& file) {
  const InputFile f(file);
  if (starts_with_llmc_magic(f) || file.extension() == ".bin") return inspect_llmc(f, file).info;
  return inspect_safetensors(f, file).info;
}

Weights read(const fs::path& file) {
  const InputFile f(file);
  Weights w;
  if (starts_with_llmc_magic(f) || file.extension() == ".bin") {
    const LlmcModel m = inspect_llmc(f, file);
    w.info = m.info;
    uint64_t offset = uint64_t(llmc_header_bytes);
    for (const Spec& s : specs(m.info.arch)) {
      w.tensors[s.name] = read_floats(f, file, offset, {s.name, s.shape, false, s.llmc});
      offset += uint64_t(s.shape.numel()) * 4;
      if (s.name == "wte.weight")  // the padding rows are not tokens
        offset += uint64_t((m.padded_vocab - m.info.arch.vocab_size) * m.info.arch.n_embd) * 4;
    }
    return w;
  }
  const SafetensorsModel m = inspect_safetensors(f, file);
  w.info = m.info;
  for (const Spec& s : specs(m.info.arch))
    w.tensors[s.name] = read_floats(f, file, m.st.data_start + m.by_name.at(s.name)->begin,
                                    {s.name, s.shape, s.conv1d, ""});
  if (m.lm_head) {
    const Tensor head =
        read_floats(f, file, m.st.data_start + m.lm_head->begin,
                    {"lm_head.weight", {m.info.arch.vocab_size, m.info.arch.n_embd}, false, ""});
    const Tensor& wte = w.tensors.at("wte.weight");
    if (std::memcmp(head.data(), wte.data(), size_t(wte.numel()) * 4) != 0)
      bad(file,
          "lm_head.weight differs from wte.weight: nanolab's head is tied to wte, as GPT-2's is");
  }
  return w;
}

void load(const Gpt& model, const Weights& weights) {
  const GptConfig& c = model.config();
  const Architecture& a = weights.info.arch;
  const std::string origin = weights.info.file.string() + " (" + weights.info.detail + ")";
  if (c.vocab_size != a.vocab_size || c.n_layer != a.n_layer || c.n_embd != a.n_embd ||
      (a.n_head && c.n_head != a.n_head) || c.block_size > a.block_size)
    throw CheckpointError(
        origin + " is a GPT-2 of " + arch_text(a) +
        "; the model has V=" + std::to_string(c.vocab_size) +
        ", block_size=" + std::to_string(c.block_size) + ", n_layer=" + std::to_string(c.n_layer) +
        ", n_head=" + std::to_string(c.n_head) + ", n_embd=" + std::to_string(c.n_embd) +
        " (did the file change since the run was configured?)");
  std::set<std::string> used;
  for (const Parameter& p : model.parameters()) {
    auto it = weights.tensors.find(p.name);
    if (it == weights.tensors.end())
      throw CheckpointError("the model has parameter " + p.name + " " + p.tensor.shape().str() +
                            ", which " + origin + " does not hold");
    used.insert(p.name);
    const Tensor& src = it->second;
    if (p.name == "wpe.weight" && src.size(0) >= p.tensor.size(0) &&
        src.size(1) == p.tensor.size(1)) {
      std::memcpy(p.tensor.data(), src.data(), size_t(p.tensor.numel()) * 4);  // the first rows
      continue;
    }
    if (src.shape() != p.tensor.shape())
      throw CheckpointError("tensor " + p.name + " of " + origin + " has shape " +
                            src.shape().str() + ", the model expects " + p.tensor.shape().str());
    p.tensor.copy_from(src);
  }
  for (const auto& [name, t] : weights.tensors)
    if (!used.count(name))
      throw CheckpointError("tensor " + name + " of " + origin +
                            " has no place in the model (model.position not learned, or no bias?)");
}

void write(const fs::path& file, Format format, const Architecture& arch,
           const std::map<std::string, Tensor>& tensors) {
  if (arch.n_head < 1 || arch.n_embd % arch.n_head != 0)
    throw ConfigError("cannot write a GPT-2 without a valid n_head (" + arch_text(arch) + ")");
  const auto gathered = gather(arch, tensors);
  if (format == Format::llmc) {
    write_llmc(file, arch, gathered);
    return;
  }
  write_safetensors(file, arch, gathered);
  write_hf_config(file.parent_path() / "config.json", arch);
}

}  // namespace nanolab::gpt2
