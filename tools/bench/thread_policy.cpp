// Measures the interplay of oneDNN's OpenMP pool and TBB (DESIGN.md, Threads): how long a TBB
// elementwise kernel takes right after a oneDNN matmul and right after itself, and the time of the
// pair, under each OpenMP wait policy (the policies are compared, in one session):
//   for p in unset passive active; do env OMP_WAIT_POLICY=$p build/bin/bench_thread_policy; done
// ("unset" is not a valid policy: use `env -u OMP_WAIT_POLICY` for libgomp's default).
// docs/threads.md has the numbers.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <tbb/parallel_for.h>

#include "nanolab/ops.hpp"
#include "nanolab/runtime.hpp"

using namespace nanolab;
using clock_type = std::chrono::steady_clock;

namespace {

// A TBB kernel: tanh-GELU in place.
double tbb_kernel_ms(std::vector<float>& x) {
  auto t0 = clock_type::now();
  tbb::parallel_for(tbb::blocked_range<size_t>(0, x.size(), 4096), [&](const auto& r) {
    for (size_t i = r.begin(); i < r.end(); ++i) {
      float v = x[i];
      x[i] = 0.5f * v * (1.0f + std::tanh(0.7978845608f * (v + 0.044715f * v * v * v)));
    }
  });
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main() {
  runtime::init_threads();
  const int reps = 400;
  // One MLP-sized step of a small GPT (B*T = 768, C = 128, 4C = 512): a oneDNN matmul, then a TBB
  // kernel on its output, the pattern every training step repeats.
  Tensor a = Tensor::full({768, 128}, 0.01f), b = Tensor::full({128, 512}, 0.01f);
  std::vector<float> x(768 * 512, 0.5f);
  for (int i = 0; i < 20; ++i) ops::matmul(a, b), tbb_kernel_ms(x);  // warm up both pools

  std::vector<double> after_matmul, after_tbb, step_ms;
  for (int i = 0; i < reps; ++i) {
    auto t0 = clock_type::now();
    Tensor c = ops::matmul(a, b);
    after_matmul.push_back(tbb_kernel_ms(x));
    step_ms.push_back(std::chrono::duration<double, std::milli>(clock_type::now() - t0).count());
    after_tbb.push_back(tbb_kernel_ms(x));  // the same kernel with TBB's workers hot, no OpenMP
  }
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  double m = median(after_matmul), hot = median(after_tbb);
  std::printf("OMP_WAIT_POLICY=%-8s threads=%d  matmul+kernel %.3f ms  kernel after matmul %.3f ms,"
              " after itself %.3f ms\n",
              policy && *policy ? policy : "(unset)", runtime::num_threads(), median(step_ms), m,
              hot);
}
