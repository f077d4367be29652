// matmul and linear on oneDNN's matmul primitive. Transposed operands are described to oneDNN by
// their strides, so no copy is made; linear's weight (N, K) is passed as a K x N matrix with
// strides (1, K), which is the layout oneDNN runs fastest (see docs/ops.md).
#include "nanolab/autograd.hpp"
#include "nanolab/ops.hpp"
#include "ops/check.hpp"
#include "runtime/kernels.hpp"
#include "runtime/dnnl_context.hpp"
#include "runtime/profile.hpp"

namespace nanolab::ops {
namespace {

using dnnl::memory;
using tag_dims = memory::dims;

memory::desc matrix_md(int64_t batch, int64_t rows, int64_t cols, bool trans) {
  // the logical (batch, rows, cols) matrix; stored (cols, rows) when trans
  return memory::desc({batch, rows, cols}, memory::data_type::f32,
                      trans ? tag_dims{rows * cols, 1, rows} : tag_dims{rows * cols, cols, 1});
}

// c(batch, M, N) = op(a) · op(b), written (not accumulated).
void matmul_fast(const float* a, const float* b, float* c, int64_t batch, int64_t M, int64_t N,
                 int64_t K, bool trans_a, bool trans_b) {
  const auto& e = dnnl_ctx::get({"matmul", {batch, M, N, K, trans_a, trans_b}}, [&] {
    auto d = dnnl::matmul::desc(matrix_md(batch, M, K, trans_a), matrix_md(batch, K, N, trans_b),
                                matrix_md(batch, M, N, false));
    auto pd = dnnl::matmul::primitive_desc(d, dnnl_ctx::engine());
    return dnnl_ctx::Entry{dnnl::matmul(pd), pd};
  });
  dnnl_ctx::execute(e.primitive, {{DNNL_ARG_SRC, dnnl_ctx::mem(matrix_md(batch, M, K, trans_a), a)},
                                  {DNNL_ARG_WEIGHTS, dnnl_ctx::mem(matrix_md(batch, K, N, trans_b), b)},
                                  {DNNL_ARG_DST, dnnl_ctx::mem(matrix_md(batch, M, N, false), c)}});
}

// dst(R, N) = src(R, K) · weight(N, K)ᵀ + bias(N)
void linear_fast(const float* src, const float* weight, const float* bias, float* dst, int64_t R,
                 int64_t N, int64_t K) {
  memory::desc src_md({R, K}, memory::data_type::f32, tag_dims{K, 1});
  memory::desc w_md({K, N}, memory::data_type::f32, tag_dims{1, K});
  memory::desc b_md({1, N}, memory::data_type::f32, tag_dims{N, 1});
  memory::desc dst_md({R, N}, memory::data_type::f32, tag_dims{N, 1});
  const auto& e = dnnl_ctx::get({"linear", {R, N, K, bias != nullptr}}, [&] {
    auto d = bias ? dnnl::matmul::desc(src_md, w_md, b_md, dst_md)
                  : dnnl::matmul::desc(src_md, w_md, dst_md);
    auto pd = dnnl::matmul::primitive_desc(d, dnnl_ctx::engine());
    return dnnl_ctx::Entry{dnnl::matmul(pd), pd};
  });
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, dnnl_ctx::mem(src_md, src)},
                                       {DNNL_ARG_WEIGHTS, dnnl_ctx::mem(w_md, weight)},
                                       {DNNL_ARG_DST, dnnl_ctx::mem(dst_md, dst)}};
  if (bias) args.emplace(DNNL_ARG_BIAS, dnnl_ctx::mem(b_md, bias));
  dnnl_ctx::execute(e.primitive, args);
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  profile::Scope scope(profile::Kind::matmul);
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  bool batch_ok = sa.ndim() >= 2 && sa.ndim() == sb.ndim();
  for (int i = 0; batch_ok && i < sa.ndim() - 2; ++i) batch_ok = sa[i] == sb[i];
  require(batch_ok, "matmul", "a (..., M, K) and b (..., K, N) with equal leading dims", sa, sb);
  int64_t M = trans_a ? sa[-1] : sa[-2];
  int64_t K = trans_a ? sa[-2] : sa[-1];
  int64_t N = trans_b ? sb[-2] : sb[-1];
  require((trans_b ? sb[-1] : sb[-2]) == K, "matmul",
          "inner dims of op(a) and op(b) to agree (K)", sa, sb);
  int64_t batch = sa.numel() / (M * K);

  int64_t dims[4];
  for (int i = 0; i < sa.ndim() - 2; ++i) dims[i] = sa[i];
  dims[sa.ndim() - 2] = M;
  dims[sa.ndim() - 1] = N;
  Tensor c = Tensor::empty(Shape::of(dims, sa.ndim()));
  matmul_fast(a.data(), b.data(), c.data(), batch, M, N, K, trans_a, trans_b);

  autograd::record(c, {a, b}, [a, b, trans_a, trans_b](const Tensor& diff_c) {
    // d op(a) = dC · op(b)ᵀ and d op(b) = op(a)ᵀ · dC, written in a's and b's stored layouts.
    if (a.requires_grad())
      autograd::accumulate_grad(a, trans_a ? matmul(b, diff_c, trans_b, true)
                                           : matmul(diff_c, b, false, !trans_b));
    if (b.requires_grad())
      autograd::accumulate_grad(b, trans_b ? matmul(diff_c, a, true, trans_a)
                                           : matmul(a, diff_c, !trans_a, false));
  });
  return c;
}

Tensor linear(const Tensor& src, const Tensor& weight, const Tensor& bias) {
  profile::Scope scope(profile::Kind::matmul);
  const Shape& s = src.shape();
  const Shape& w = weight.shape();
  require(s.ndim() >= 1 && w.ndim() == 2 && w[1] == s.last(), "linear",
          "src (..., K) and weight (N, K)", s, w);
  int64_t K = w[1], N = w[0], R = s.rows();
  if (bias.defined())
    require(bias.ndim() == 1 && bias.size(0) == N, "linear", "bias (N) for weight (N, K)",
            bias.shape(), w);
  int64_t dims[4];
  for (int i = 0; i < s.ndim() - 1; ++i) dims[i] = s[i];
  dims[s.ndim() - 1] = N;
  Tensor dst = Tensor::empty(Shape::of(dims, s.ndim()));
  linear_fast(src.data(), weight.data(), bias.defined() ? bias.data() : nullptr, dst.data(), R, N,
              K);

  autograd::record(dst, {src, weight, bias}, [src, weight, bias, R, N, K](const Tensor& diff_dst) {
    if (src.requires_grad()) {
      Tensor diff_src = Tensor::empty(src.shape());
      matmul_fast(diff_dst.data(), weight.data(), diff_src.data(), 1, R, K, N, false, false);
      autograd::accumulate_grad(src, std::move(diff_src));
    }
    if (weight.requires_grad()) {
      Tensor diff_weight = Tensor::empty(weight.shape());
      matmul_fast(diff_dst.data(), src.data(), diff_weight.data(), 1, N, K, R, true, false);
      autograd::accumulate_grad(weight, std::move(diff_weight));
    }
    if (bias.defined() && bias.requires_grad()) {
      Tensor diff_bias = Tensor::empty(bias.shape());
      kernels::column_sum(diff_dst.data(), diff_bias.data(), R, N);
      autograd::accumulate_grad(bias, std::move(diff_bias));
    }
  });
  return dst;
}

}  // namespace nanolab::ops
