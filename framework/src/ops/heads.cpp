// split_heads and merge_heads as oneDNN reorders. The (B, T, C) buffer is described to oneDNN as
// the logical (B, NH, T, HS) tensor it holds, with strides (T*C, HS, C, 1); a reorder between that
// description and the plain (B, NH, T, HS) layout is the whole op, in either direction, so each
// op's backward is the other's forward. No strided views are kept: each op makes a copy.
#include "nanolab/autograd.hpp"
#include "nanolab/ops.hpp"
#include "ops/check.hpp"
#include "runtime/dnnl_context.hpp"

namespace nanolab::ops {
namespace {

using dnnl::memory;

// Copies between a (B, T, C) buffer and a (B, NH, T, HS) one; to_heads picks the direction.
void reorder_heads(const float* src, float* dst, int64_t B, int64_t T, int64_t NH, int64_t HS,
                   bool to_heads) {
  const int64_t C = NH * HS;
  memory::desc btc_md({B, NH, T, HS}, memory::data_type::f32, memory::dims{T * C, HS, C, 1});
  memory::desc heads_md = dnnl_ctx::plain_md({B, NH, T, HS});
  const memory::desc& from = to_heads ? btc_md : heads_md;
  const memory::desc& to = to_heads ? heads_md : btc_md;
  const auto& e = dnnl_ctx::get({"heads", {B, T, NH, HS, to_heads}}, [&] {
    auto pd = dnnl::reorder::primitive_desc(dnnl_ctx::engine(), from, dnnl_ctx::engine(), to);
    return dnnl_ctx::Entry{dnnl::reorder(pd), pd};
  });
  dnnl_ctx::execute(e.primitive, {{DNNL_ARG_FROM, dnnl_ctx::mem(from, src)},
                                  {DNNL_ARG_TO, dnnl_ctx::mem(to, dst)}});
}

}  // namespace

Tensor split_heads(const Tensor& src, int64_t n_head) {
  const Shape& s = src.shape();
  require(s.ndim() == 3 && n_head > 0 && s[2] % n_head == 0, "split_heads",
          "src (B, T, C) with C divisible by n_head = " + std::to_string(n_head), s);
  const int64_t B = s[0], T = s[1], NH = n_head, HS = s[2] / n_head;
  Tensor dst = Tensor::empty({B, NH, T, HS});
  if (src.numel() > 0) reorder_heads(src.data(), dst.data(), B, T, NH, HS, true);

  autograd::record(dst, {src}, [src, B, T, NH, HS](const Tensor& diff_dst) {
    Tensor diff_src = Tensor::empty(src.shape());  // (B, T, C)
    if (src.numel() > 0) reorder_heads(diff_dst.data(), diff_src.data(), B, T, NH, HS, false);
    autograd::accumulate_grad(src, std::move(diff_src));
  });
  return dst;
}

Tensor merge_heads(const Tensor& src) {
  const Shape& s = src.shape();
  require(s.ndim() == 4, "merge_heads", "src (B, NH, T, HS)", s);
  const int64_t B = s[0], NH = s[1], T = s[2], HS = s[3];
  Tensor dst = Tensor::empty({B, T, NH * HS});
  if (src.numel() > 0) reorder_heads(src.data(), dst.data(), B, T, NH, HS, false);

  autograd::record(dst, {src}, [src, B, T, NH, HS](const Tensor& diff_dst) {
    Tensor diff_src = Tensor::empty(src.shape());  // (B, NH, T, HS)
    if (src.numel() > 0) reorder_heads(diff_dst.data(), diff_src.data(), B, T, NH, HS, true);
    autograd::accumulate_grad(src, std::move(diff_src));
  });
  return dst;
}

}  // namespace nanolab::ops
