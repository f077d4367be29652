// add and scale on oneDNN: binary add with b broadcast over a's leading dims, and eltwise linear
// for scale. Not a general broadcasting engine: b must have a's shape or a suffix of it (a bias,
// wpe over B), which covers what a GPT needs and keeps the backward a plain column sum.
#include <algorithm>
#include <bit>

#include "nanolab/autograd.hpp"
#include "nanolab/ops.hpp"
#include "ops/check.hpp"
#include "runtime/kernels.hpp"
#include "runtime/dnnl_context.hpp"

namespace nanolab::ops {
namespace {

using dnnl::memory;

// dst(R, N) = a(R, N) + b(1, N), written (not accumulated).
void add_fast(const float* a, const float* b, float* dst, int64_t R, int64_t N) {
  memory::desc rows_md = dnnl_ctx::plain_md({R, N});
  memory::desc b_md = dnnl_ctx::plain_md({1, N});
  const auto& e = dnnl_ctx::get({"add", {R, N}}, [&] {
    auto d = dnnl::binary::desc(dnnl::algorithm::binary_add, rows_md, b_md, rows_md);
    auto pd = dnnl::binary::primitive_desc(d, dnnl_ctx::engine());
    return dnnl_ctx::Entry{dnnl::binary(pd), pd};
  });
  dnnl_ctx::execute(e.primitive, {{DNNL_ARG_SRC_0, dnnl_ctx::mem(rows_md, a)},
                                  {DNNL_ARG_SRC_1, dnnl_ctx::mem(b_md, b)},
                                  {DNNL_ARG_DST, dnnl_ctx::mem(rows_md, dst)}});
}

// dst(n) = src(n) * alpha. oneDNN bakes alpha into the primitive, so the cache holds one
// primitive per (n, alpha): right for the fixed factors of a model (1/sqrt(HS), 1/n); a factor
// that changed every step would create a primitive every step.
void scale_fast(const float* src, float* dst, int64_t n, float alpha) {
  memory::desc md = dnnl_ctx::plain_md({n});
  const auto& e = dnnl_ctx::get({"scale", {n, std::bit_cast<int32_t>(alpha)}}, [&] {
    auto d = dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference,
                                         dnnl::algorithm::eltwise_linear, md, alpha, 0.0f);
    auto pd = dnnl::eltwise_forward::primitive_desc(d, dnnl_ctx::engine());
    return dnnl_ctx::Entry{dnnl::eltwise_forward(pd), pd};
  });
  dnnl_ctx::execute(e.primitive, {{DNNL_ARG_SRC, dnnl_ctx::mem(md, src)},
                                  {DNNL_ARG_DST, dnnl_ctx::mem(md, dst)}});
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  bool suffix = sb.ndim() <= sa.ndim();
  for (int i = 1; suffix && i <= sb.ndim(); ++i) suffix = sa[-i] == sb[-i];
  require(suffix, "add", "b with a's shape or a suffix of it", sa, sb);
  const int64_t N = sb.numel();
  const int64_t R = N ? sa.numel() / N : 0;
  Tensor dst = Tensor::empty(sa);
  if (R > 0) add_fast(a.data(), b.data(), dst.data(), R, N);

  autograd::record(dst, {a, b}, [a, b, R, N](const Tensor& diff_dst) {
    autograd::accumulate_grad(a, diff_dst);
    if (!b.requires_grad()) return;
    if (R == 1) {
      autograd::accumulate_grad(b, diff_dst.view(b.shape()));
    } else {
      Tensor diff_b = Tensor::empty(b.shape());
      kernels::column_sum(diff_dst.data(), diff_b.data(), R, N);
      autograd::accumulate_grad(b, std::move(diff_b));
    }
  });
  return dst;
}

Tensor scale(const Tensor& src, float alpha) {
  Tensor dst = Tensor::empty(src.shape());
  const int64_t n = src.numel();
  if (n > 0) scale_fast(src.data(), dst.data(), n, alpha);

  autograd::record(dst, {src}, [src, n, alpha](const Tensor& diff_dst) {
    Tensor diff_src = Tensor::empty(src.shape());
    if (n > 0) scale_fast(diff_dst.data(), diff_src.data(), n, alpha);  // linear: same primitive
    autograd::accumulate_grad(src, std::move(diff_src));
  });
  return dst;
}

}  // namespace nanolab::ops
