// rope: rotary position embedding of q or k (ops.hpp), as TBB-parallel loops over rows. The
// angles depend only on (position, pair), so each call computes a (T, HS/2) table of cos and sin
// once, in double (the angle of position 1023 at d = 0 is 1023 rad: float would lose 4 digits of
// it before the cos), and every row of every head reads it. The backward is the same rotation by
// the negated angle. Not fused into the attention matmuls: q and k are rotated in memory.
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "nanolab/autograd.hpp"
#include "nanolab/ops.hpp"
#include "ops/check.hpp"
#include "runtime/kernels.hpp"

namespace nanolab::ops {
namespace {

// cos and sin of the angle of row t, pair d at [t * HS/2 + d].
struct RopeTable {
  RopeTable(int64_t T, int64_t HS, int64_t pos0, float base) : half(HS / 2) {
    cos.resize(size_t(T * half));
    sin.resize(size_t(T * half));
    for (int64_t d = 0; d < half; ++d) {
      const double theta = std::pow(double(base), -double(2 * d) / double(HS));
      for (int64_t t = 0; t < T; ++t) {
        const double a = double(pos0 + t) * theta;
        cos[size_t(t * half + d)] = float(std::cos(a));
        sin[size_t(t * half + d)] = float(std::sin(a));
      }
    }
  }
  int64_t half;
  std::vector<float> cos, sin;  // (T, HS/2)
};

// dst (R, T, HS) = src rotated by sign * angle (sign -1 for the backward).
void rope_apply(const float* src, float* dst, int64_t R, int64_t T, const RopeTable& table,
                float sign) {
  const int64_t half = table.half, HS = 2 * half;
  kernels::parallel_for(R * T, HS, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) {
      const int64_t t = row % T;
      const float* c = table.cos.data() + t * half;
      const float* s = table.sin.data() + t * half;
      const float* x = src + row * HS;
      float* y = dst + row * HS;
      for (int64_t d = 0; d < half; ++d) {
        const float x0 = x[d], x1 = x[d + half], sd = sign * s[d];
        y[d] = x0 * c[d] - x1 * sd;
        y[d + half] = x1 * c[d] + x0 * sd;
      }
    }
  });
}

}  // namespace

Tensor rope(const Tensor& src, int64_t pos0, float base) {
  const Shape& s = src.shape();
  require(s.ndim() >= 2 && s.last() % 2 == 0 && s.last() > 0, "rope", "src (..., T, HS), HS even",
          s);
  if (pos0 < 0) throw ShapeError("rope: pos0 must be >= 0, got " + std::to_string(pos0));
  const int64_t T = s[-2], HS = s.last(), R = T == 0 ? 0 : s.numel() / (T * HS);
  auto table = std::make_shared<const RopeTable>(T, HS, pos0, base);
  Tensor dst = Tensor::empty(s);  // (..., T, HS)
  rope_apply(src.data(), dst.data(), R, T, *table, 1.0f);
  if (autograd::needs_grad({&src})) {
    autograd::record(dst, {src}, [src, table, R, T](const Tensor& diff_dst) {
      Tensor diff_src = Tensor::empty(src.shape());  // (..., T, HS)
      rope_apply(diff_dst.data(), diff_src.data(), R, T, *table, -1.0f);
      autograd::accumulate_grad(src, std::move(diff_src));
    });
  }
  return dst;
}

}  // namespace nanolab::ops
