// softmax over the last dim on oneDNN's softmax_v2 primitives (the accurate algorithm, which
// subtracts the row max), forward and backward. The backward is written in terms of dst, so dst is
// what is saved. Not log-softmax and not masked: cross_entropy and causal_softmax are their own ops.
#include "nanolab/autograd.hpp"
#include "nanolab/ops.hpp"
#include "ops/check.hpp"
#include "runtime/dnnl_context.hpp"
#include "runtime/profile.hpp"

namespace nanolab::ops {
namespace {

using dnnl::memory;

// What the backward needs. `dst` shares the output's storage through its own handle: holding the
// output tensor itself would make it own the node that holds it, a cycle that is never freed.
struct SoftmaxSaved {
  Tensor src;  // (..., N): only to receive its gradient
  Tensor dst;  // (..., N), seen as (R, N)
  int64_t R, N;
};

dnnl::softmax_v2_forward::primitive_desc fwd_pd(int64_t R, int64_t N) {
  const memory::desc md = dnnl_ctx::plain_md({R, N});
  auto d = dnnl::softmax_v2_forward::desc(dnnl::prop_kind::forward_training,
                                          dnnl::algorithm::softmax_accurate, md, md, 1);
  return {d, dnnl_ctx::engine()};
}

void softmax_backward(const SoftmaxSaved& sv, const Tensor& diff_dst) {
  const int64_t R = sv.R, N = sv.N;
  const memory::desc md = dnnl_ctx::plain_md({R, N});
  const auto& e = dnnl_ctx::get({"softmax_bwd", {R, N}}, [&] {
    auto d = dnnl::softmax_v2_backward::desc(dnnl::algorithm::softmax_accurate, md, md, md, 1);
    auto pd = dnnl::softmax_v2_backward::primitive_desc(d, dnnl_ctx::engine(), fwd_pd(R, N));
    return dnnl_ctx::Entry{dnnl::softmax_v2_backward(pd), pd};
  });
  Tensor diff_src = Tensor::empty(sv.src.shape());
  dnnl_ctx::execute(e.primitive, {{DNNL_ARG_DST, dnnl_ctx::mem(md, sv.dst.data())},
                                  {DNNL_ARG_DIFF_DST, dnnl_ctx::mem(md, diff_dst.data())},
                                  {DNNL_ARG_DIFF_SRC, dnnl_ctx::mem(md, diff_src.data())}});
  autograd::accumulate_grad(sv.src, std::move(diff_src));
}

}  // namespace

Tensor softmax(const Tensor& src) {
  profile::Scope scope(profile::Kind::softmax);
  const Shape& s = src.shape();
  require(s.ndim() >= 1 && s.last() > 0, "softmax", "src (..., N) with N > 0", s);
  const int64_t R = s.rows(), N = s.last();
  const auto& e = dnnl_ctx::get({"softmax_fwd", {R, N}}, [&] {
    auto pd = fwd_pd(R, N);
    return dnnl_ctx::Entry{dnnl::softmax_v2_forward(pd), pd};
  });
  const memory::desc md = dnnl_ctx::plain_md({R, N});
  Tensor dst = Tensor::empty(s);  // (..., N)
  dnnl_ctx::execute(e.primitive, {{DNNL_ARG_SRC, dnnl_ctx::mem(md, src.data())},
                                  {DNNL_ARG_DST, dnnl_ctx::mem(md, dst.data())}});
  if (autograd::needs_grad({&src})) {
    // dst has no history yet, so view() records nothing: it only makes the second handle.
    SoftmaxSaved saved{src, dst.view(s), R, N};
    autograd::record(dst, {src},
                     [saved](const Tensor& diff_dst) { softmax_backward(saved, diff_dst); });
  }
  return dst;
}

}  // namespace nanolab::ops
