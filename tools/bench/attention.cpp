// The attention benchmark: the `causal_mha` plugin (materialised (T, T) softmax on oneDNN) against
// `flash` (tiled online softmax on TBB loops) at B = 4, C = 384, NH = 6 (HS = 64) for
// T = 64 .. 1024, each plugin as the model calls it: projections included, with the same weights.
// Prints a Markdown table for docs/performance.md, then the crossover: the shortest T from which
// flash is faster on forward + backward at every longer T measured.
//   OMP_WAIT_POLICY=passive build/bin/bench_attention [--reps N]
//
// What is timed. Forward: the training forward (input and parameters require grad, so the tape is
// recorded). Backward: `dst.backward(diff_dst)` of that forward, with every gradient reset before
// each repetition so they are written, not accumulated. Each is the median of --reps repetitions
// (default 15) after one warm-up that creates the oneDNN primitives. Also printed: the bytes the
// allocator took from the system for one forward + backward from an empty cache, the memory
// measure of tests/plugins/contract_attention_flash.cpp.
//
// Not a test: it checks no values (the contract suites do).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "nanolab/autograd.hpp"
#include "nanolab/registry.hpp"
#include "nanolab/runtime.hpp"

using namespace nanolab;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr int64_t B = 4, C = 384, NH = 6;
const std::vector<int64_t> lengths{64, 128, 256, 512, 1024};
const std::vector<std::string> plugins{"causal_mha", "flash"};

Tensor uniform(const Shape& shape, std::mt19937& rng, float scale) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<float> v(static_cast<size_t>(shape.numel()));
  for (float& x : v) x = u(rng);
  return Tensor::from(v, shape);
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

struct Timing {
  double fwd_ms, bwd_ms;
  double mib;  // bytes taken from the system by one forward + backward, in MiB
};

Timing measure(const std::string& name, int64_t T, int reps) {
  auto attention = Registry::instance().make<PluginKind::attention>(name, {}, AttentionConfig{C, NH, T, true, 0.0f, 0, 1});
  std::mt19937 rng(1);
  // Weights of the scale of GPT-2's init: q and k of O(1), softmax rows neither uniform nor
  // one-hot (exp's cost does not depend on that, but the data is realistic).
  Parameters params = attention->parameters();
  for (Parameter& p : params) p.tensor.copy_from(uniform(p.tensor.shape(), rng, 0.05f));
  Tensor src = uniform({B, T, C}, rng, 1.0f);
  src.set_requires_grad();
  const Tensor diff_dst = uniform({B, T, C}, rng, 1.0f);
  auto reset = [&] {
    src.reset_grad();
    for (Parameter& p : params) p.tensor.reset_grad();
  };

  Timing t{};
  {  // memory first, from an empty cache, before the repetitions fill it
    reset();
    runtime::release_cached_memory();
    const size_t before = runtime::stats().bytes_reserved;
    attention->forward(src, {}).backward(diff_dst);
    t.mib = double(runtime::stats().bytes_reserved - before) / (1 << 20);
  }
  std::vector<double> fwd, bwd;
  for (int r = 0; r <= reps; ++r) {  // r == 0 is the warm-up
    reset();
    const auto t0 = clock_type::now();
    Tensor dst = attention->forward(src, {});
    const auto t1 = clock_type::now();
    dst.backward(diff_dst);
    const auto t2 = clock_type::now();
    if (r == 0) continue;
    fwd.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    bwd.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
  }
  t.fwd_ms = median(fwd);
  t.bwd_ms = median(bwd);
  return t;
}

std::string fmt(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, x >= 100 ? "%.0f" : x >= 10 ? "%.1f" : "%.2f", x);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 15;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--reps") == 0 && i + 1 < argc) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--reps N]\n", argv[0]);
      return 2;
    }
  }
  std::printf("B=%lld C=%lld NH=%lld HS=%lld, %d threads, median of %d, times in ms\n\n",
              (long long)B, (long long)C, (long long)NH, (long long)(C / NH),
              runtime::num_threads(), reps);
  std::printf(
      "| T | causal_mha fwd | flash fwd | causal_mha bwd | flash bwd | causal_mha total "
      "| flash total | flash speedup | causal_mha MiB | flash MiB |\n");
  std::printf("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  std::vector<bool> flash_faster;
  for (int64_t T : lengths) {
    const Timing m = measure(plugins[0], T, reps), f = measure(plugins[1], T, reps);
    const double mt = m.fwd_ms + m.bwd_ms, ft = f.fwd_ms + f.bwd_ms;
    flash_faster.push_back(ft < mt);
    std::printf("| %lld | %s | %s | %s | %s | %s | %s | %.2fx | %s | %s |\n", (long long)T,
                fmt(m.fwd_ms).c_str(), fmt(f.fwd_ms).c_str(), fmt(m.bwd_ms).c_str(),
                fmt(f.bwd_ms).c_str(), fmt(mt).c_str(), fmt(ft).c_str(), mt / ft,
                fmt(m.mib).c_str(), fmt(f.mib).c_str());
    std::fflush(stdout);
  }
  size_t from = lengths.size();
  while (from > 0 && flash_faster[from - 1]) --from;
  if (from == lengths.size())
    std::printf("\ncrossover: flash is not faster at the longest T measured (%lld)\n",
                (long long)lengths.back());
  else
    std::printf("\ncrossover: flash is faster on forward + backward from T = %lld on\n",
                (long long)lengths[from]);
  return 0;
}
