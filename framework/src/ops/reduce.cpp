// sum and mean of all elements on oneDNN's reduction primitive, to a one-element tensor (shape []).
// oneDNN reduces into its single output element on one thread, so the result does not depend on
// the thread count (measured: bit-identical sums of 1e3 to 3e6 elements on 1 and 2 threads). The
// backward (a broadcast of one value) is a TBB fill. Not a reduction over chosen dims: a GPT only
// needs the scalar ones (losses, tests).
#include <cmath>

#include "nanolab/autograd.hpp"
#include "nanolab/ops.hpp"
#include "runtime/kernels.hpp"
#include "runtime/dnnl_context.hpp"

namespace nanolab::ops {
namespace {

// dst(1) = sum or mean of src(n)
void reduce_all(const float* src, float* dst, int64_t n, bool mean) {
  dnnl::memory::desc src_md = dnnl_ctx::plain_md({n});
  dnnl::memory::desc dst_md = dnnl_ctx::plain_md({1});
  const auto& e = dnnl_ctx::get({"reduce_all", {n, mean}}, [&] {
    auto d = dnnl::reduction::desc(
        mean ? dnnl::algorithm::reduction_mean : dnnl::algorithm::reduction_sum, src_md, dst_md,
        0.0f, 0.0f);
    auto pd = dnnl::reduction::primitive_desc(d, dnnl_ctx::engine());
    return dnnl_ctx::Entry{dnnl::reduction(pd), pd};
  });
  dnnl_ctx::execute(e.primitive, {{DNNL_ARG_SRC, dnnl_ctx::mem(src_md, src)},
                                  {DNNL_ARG_DST, dnnl_ctx::mem(dst_md, dst)}});
}

Tensor reduce(const Tensor& src, bool mean) {
  const int64_t n = src.numel();
  Tensor dst = Tensor::empty({});
  if (n > 1) {
    reduce_all(src.data(), dst.data(), n, mean);
  } else if (n == 1) {
    dst.data()[0] = src.data()[0];  // oneDNN refuses a reduction that reduces no dim
  } else {
    dst.data()[0] = mean ? NAN : 0.0f;  // the mean of nothing is undefined, as in NumPy
  }

  autograd::record(dst, {src}, [src, n, mean](const Tensor& diff_dst) {
    Tensor diff_src = Tensor::empty(src.shape());
    kernels::fill(diff_src.data(), mean ? diff_dst.item() / float(n) : diff_dst.item(), n);
    autograd::accumulate_grad(src, std::move(diff_src));
  });
  return dst;
}

}  // namespace

Tensor sum(const Tensor& src) { return reduce(src, false); }
Tensor mean(const Tensor& src) { return reduce(src, true); }

}  // namespace nanolab::ops
