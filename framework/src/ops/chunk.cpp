// chunk: splits the last dim into equal parts (a TBB-parallel strided copy; oneDNN has no
// multi-output primitive for it). Each part's backward writes its columns of diff_src; parts that
// get no gradient leave zeros.
#include <cstring>

#include "nanolab/autograd.hpp"
#include "nanolab/ops.hpp"
#include "ops/check.hpp"
#include "runtime/kernels.hpp"

namespace nanolab::ops {

std::vector<Tensor> chunk(const Tensor& src, int64_t n) {
  const Shape& s = src.shape();
  require(n >= 1 && s.ndim() >= 1 && s.last() % n == 0, "chunk",
          "a last dim divisible by n = " + std::to_string(n), s);
  const int64_t R = s.rows(), C = s.last() / n;
  int64_t dims[4];
  for (int i = 0; i < s.ndim(); ++i) dims[i] = s[i];
  dims[s.ndim() - 1] = C;
  const Shape part = Shape::of(dims, s.ndim());

  std::vector<Tensor> dst;
  for (int64_t i = 0; i < n; ++i) dst.push_back(Tensor::empty(part));
  const float* x = src.data();
  std::vector<float*> out;
  for (Tensor& t : dst) out.push_back(t.data());
  kernels::parallel_for(R, n * C, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t i = 0; i < n; ++i)
        std::memcpy(out[i] + r * C, x + r * n * C + i * C, C * sizeof(float));
  });

  for (int64_t i = 0; i < n; ++i)
    autograd::record(dst[i], {src}, [src, i, n, R, C](const Tensor& diff_dst) {
      Tensor diff_src = Tensor::zeros(src.shape());
      float* d = diff_src.data();
      const float* g = diff_dst.data();
      kernels::parallel_for(R, C, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) std::memcpy(d + r * n * C + i * C, g + r * C, C * sizeof(float));
      });
      autograd::accumulate_grad(src, std::move(diff_src));
    });
  return dst;
}

}  // namespace nanolab::ops
