// GPT-2's weight files at the full 124M shape (docs/gpt2.md): the files
// tools/reference/gpt2_files.py writes with --shape 124M (random weights, GPT-2 small's shape: V
// 50257, maxT 1024, 12 layers, 12 heads, n_embd 768) read, loaded into nanolab's GPT and compared
// with PyTorch's logits for the reference input; then exported in both formats, read back and
// compared bit for bit. Prints the time of each step (median of --reps) and the worst logit error
// relative to the logits' scale. Not a test: it asserts nothing about speed, and exits 1 only when
// a comparison fails.
//
//   /usr/bin/python3 tools/reference/gpt2_files.py --shape 124M /tmp/gpt2-124M
//   build/bin/bench_gpt2_io /tmp/gpt2-124M [--reps 3]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "nanolab/gpt2.hpp"
#include "nanolab/model.hpp"
#include "nanolab/registry.hpp"
#include "store/h5.hpp"

namespace {

namespace fs = std::filesystem;
using namespace nanolab;

double median_seconds(int reps, const std::function<void()>& f) {
  std::vector<double> t;
  for (int i = 0; i < reps; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

bool same(const gpt2::Weights& a, const gpt2::Weights& b) {
  if (a.tensors.size() != b.tensors.size()) return false;
  for (const auto& [name, t] : a.tensors) {
    auto it = b.tensors.find(name);
    if (it == b.tensors.end() || it->second.shape() != t.shape() ||
        std::memcmp(t.data(), it->second.data(), size_t(t.numel()) * 4) != 0)
      return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: bench_gpt2_io DIR [--reps N]   (DIR from gpt2_files.py --shape 124M)\n");
    return 2;
  }
  const fs::path dir = argv[1];
  const int reps =
      argc >= 4 && std::string(argv[2]) == "--reps" ? std::max(1, std::atoi(argv[3])) : 3;
  try {
    const fs::path reference = dir / "reference.h5";
    store::Handle f = store::open_file(reference, H5F_ACC_RDONLY);
    const int64_t B = store::read_int_attr(f, "B", reference),
                  T = store::read_int_attr(f, "T", reference);
    std::vector<float> ids_f(size_t(B * T));
    store::read_floats(f, "ids", ids_f.data(), reference);  // HDF5 converts the int32 ids
    const std::vector<int32_t> ids(ids_f.begin(), ids_f.end());

    std::printf("| file | size MB | inspect ms | read s | load s | worst logit error / scale |\n");
    std::printf("| --- | --- | --- | --- | --- | --- |\n");
    gpt2::Weights first;
    for (const char* name : {"model.safetensors", "gpt2.bin"}) {
      const fs::path file = dir / name;
      const double inspect_s = median_seconds(reps, [&] { gpt2::inspect(file); });
      gpt2::Weights w;
      const double read_s = median_seconds(reps, [&] { w = gpt2::read(file); });
      const gpt2::Architecture& a = w.info.arch;
      Registry& registry = Registry::instance();
      Gpt model(
          {a.vocab_size, a.block_size, a.n_layer, a.n_head, a.n_embd, 0.0, true},
          [&](const AttentionConfig& ac) { return registry.make<PluginKind::attention>("causal_mha", {}, ac); });
      const double load_s = median_seconds(reps, [&] { gpt2::load(model, w); });
      const Tensor logits = model.forward(ids, B, T, ForwardContext{});
      std::vector<float> expected(size_t(logits.numel()));
      store::read_floats(f, "logits", expected.data(), reference);
      double scale = 1, worst = 0;
      for (size_t i = 0; i < expected.size(); ++i) {
        scale = std::max(scale, double(std::fabs(expected[i])));
        worst = std::max(worst, double(std::fabs(logits.data()[i] - expected[i])));
      }
      std::printf("| %s | %.1f | %.2f | %.3f | %.3f | %.2e |\n", name,
                  double(fs::file_size(file)) / 1e6, 1e3 * inspect_s, read_s, load_s,
                  worst / scale);
      if (!(worst / scale <= 1e-5)) {
        std::fprintf(stderr,
                     "bench_gpt2_io: %s: logits differ from PyTorch's by %.2e of their scale\n",
                     name, worst / scale);
        return 1;
      }
      if (first.tensors.empty()) first = std::move(w);
    }

    const fs::path out = fs::temp_directory_path() / "bench_gpt2_io";
    fs::create_directories(out);
    std::printf("\n| export | write s | read back s | bit-exact |\n| --- | --- | --- | --- |\n");
    for (gpt2::Format format : {gpt2::Format::safetensors, gpt2::Format::llmc}) {
      const fs::path file = out / (format == gpt2::Format::llmc ? "gpt2.bin" : "model.safetensors");
      const double write_s =
          median_seconds(reps, [&] { gpt2::write(file, format, first.info.arch, first.tensors); });
      gpt2::Weights back;
      const double read_s = median_seconds(reps, [&] { back = gpt2::read(file); });
      const bool exact = same(first, back);
      std::printf("| %s | %.3f | %.3f | %s |\n", gpt2::format_name(format), write_s, read_s,
                  exact ? "yes" : "NO");
      if (!exact) return 1;
    }
    fs::remove_all(out);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_gpt2_io: %s\n", e.what());
    return 1;
  }
  return 0;
}
