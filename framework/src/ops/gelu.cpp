// gelu on oneDNN's eltwise primitives (gelu_tanh and gelu_erf), forward and backward. The
// primitives see every tensor as one flat run of elements, so one primitive serves every shape of
// the same size. Not fused into the preceding linear: that is a separate op if a model wants it.
#include "nanolab/autograd.hpp"
#include "nanolab/ops.hpp"
#include "runtime/dnnl_context.hpp"
#include "runtime/profile.hpp"

namespace nanolab::ops {
namespace {

using dnnl::memory;

// What the backward needs: oneDNN's GELU backward is written in terms of src.
struct GeluSaved {
  Tensor src;  // any shape, n elements
  GeluForm form;
};

dnnl::algorithm algorithm(GeluForm form) {
  return form == GeluForm::tanh ? dnnl::algorithm::eltwise_gelu_tanh
                                : dnnl::algorithm::eltwise_gelu_erf;
}

dnnl::eltwise_forward::primitive_desc fwd_pd(int64_t n, GeluForm form) {
  auto d = dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_training, algorithm(form),
                                       dnnl_ctx::plain_md({n}));
  return {d, dnnl_ctx::engine()};
}

void gelu_backward(const GeluSaved& sv, const Tensor& diff_dst) {
  const int64_t n = sv.src.numel();
  const auto& e = dnnl_ctx::get({"gelu_bwd", {n, int64_t(sv.form)}}, [&] {
    auto d = dnnl::eltwise_backward::desc(algorithm(sv.form), dnnl_ctx::plain_md({n}),
                                          dnnl_ctx::plain_md({n}));
    auto pd = dnnl::eltwise_backward::primitive_desc(d, dnnl_ctx::engine(), fwd_pd(n, sv.form));
    return dnnl_ctx::Entry{dnnl::eltwise_backward(pd), pd};
  });
  const memory::desc md = dnnl_ctx::plain_md({n});
  Tensor diff_src = Tensor::empty(sv.src.shape());
  dnnl_ctx::execute(e.primitive, {{DNNL_ARG_SRC, dnnl_ctx::mem(md, sv.src.data())},
                                  {DNNL_ARG_DIFF_DST, dnnl_ctx::mem(md, diff_dst.data())},
                                  {DNNL_ARG_DIFF_SRC, dnnl_ctx::mem(md, diff_src.data())}});
  autograd::accumulate_grad(sv.src, std::move(diff_src));
}

}  // namespace

Tensor gelu(const Tensor& src, GeluForm form) {
  profile::Scope scope(profile::Kind::gelu);
  // Elementwise: every shape is valid, so there is nothing to check.
  const int64_t n = src.numel();
  const auto& e = dnnl_ctx::get({"gelu_fwd", {n, int64_t(form)}}, [&] {
    auto pd = fwd_pd(n, form);
    return dnnl_ctx::Entry{dnnl::eltwise_forward(pd), pd};
  });
  const memory::desc md = dnnl_ctx::plain_md({n});
  Tensor dst = Tensor::empty(src.shape());
  dnnl_ctx::execute(e.primitive, {{DNNL_ARG_SRC, dnnl_ctx::mem(md, src.data())},
                                  {DNNL_ARG_DST, dnnl_ctx::mem(md, dst.data())}});
  autograd::record(dst, {src}, [saved = GeluSaved{src, form}](const Tensor& diff_dst) {
    gelu_backward(saved, diff_dst);
  });
  return dst;
}

}  // namespace nanolab::ops
