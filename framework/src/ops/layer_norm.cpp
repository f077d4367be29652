// layer_norm on oneDNN's layer_normalization primitives, forward and backward. A training forward
// keeps oneDNN's per-row mean and variance for the backward (oneDNN's backward takes the variance,
// not rstd, so that is what is saved); an inference forward (no grad needed) computes no
// statistics worth keeping and records nothing. Not a fused residual + norm.
#include <bit>

#include "nanolab/autograd.hpp"
#include "nanolab/ops.hpp"
#include "ops/check.hpp"
#include "runtime/dnnl_context.hpp"
#include "runtime/profile.hpp"

namespace nanolab::ops {
namespace {

using dnnl::memory;
using dnnl::normalization_flags;
using dnnl::prop_kind;

// What the backward needs. src is kept as given (any (..., C) shape); the primitives see it as
// (R, C), R the product of the leading dims.
struct LayerNormSaved {
  Tensor src;       // (..., C)
  Tensor weight;    // (C)
  Tensor bias;      // (C), or undefined: no shift
  Tensor mean;      // (R)
  Tensor variance;  // (R)
  int64_t R, C;
  float eps;
};

normalization_flags flags(bool has_bias) {
  return has_bias ? normalization_flags::use_scale | normalization_flags::use_shift
                  : normalization_flags::use_scale;
}

// eps is part of the primitive, so it is part of the cache key (as its bit pattern).
int64_t eps_key(float eps) { return std::bit_cast<uint32_t>(eps); }

dnnl::layer_normalization_forward::primitive_desc fwd_pd(prop_kind prop, int64_t R, int64_t C,
                                                         bool has_bias, float eps) {
  auto d = dnnl::layer_normalization_forward::desc(prop, dnnl_ctx::plain_md({R, C}),
                                                   dnnl_ctx::plain_md({R}), eps, flags(has_bias));
  return {d, dnnl_ctx::engine()};
}

void layer_norm_backward(const LayerNormSaved& sv, const Tensor& diff_dst) {
  const int64_t R = sv.R, C = sv.C;
  const bool has_bias = sv.bias.defined();
  const auto& e = dnnl_ctx::get({"layer_norm_bwd", {R, C, has_bias, eps_key(sv.eps)}}, [&] {
    auto d = dnnl::layer_normalization_backward::desc(
        prop_kind::backward, dnnl_ctx::plain_md({R, C}), dnnl_ctx::plain_md({R, C}),
        dnnl_ctx::plain_md({R}), sv.eps, flags(has_bias));
    auto pd = dnnl::layer_normalization_backward::primitive_desc(
        d, dnnl_ctx::engine(), fwd_pd(prop_kind::forward_training, R, C, has_bias, sv.eps));
    return dnnl_ctx::Entry{dnnl::layer_normalization_backward(pd), pd};
  });
  const memory::desc data_md = dnnl_ctx::plain_md({R, C});
  const memory::desc stat_md = dnnl_ctx::plain_md({R});
  const memory::desc param_md = dnnl_ctx::plain_md({C});
  Tensor diff_src = Tensor::empty(sv.src.shape());      // (..., C)
  Tensor diff_weight = Tensor::empty(sv.weight.shape());  // (C)
  std::unordered_map<int, memory> args{
      {DNNL_ARG_SRC, dnnl_ctx::mem(data_md, sv.src.data())},
      {DNNL_ARG_MEAN, dnnl_ctx::mem(stat_md, sv.mean.data())},
      {DNNL_ARG_VARIANCE, dnnl_ctx::mem(stat_md, sv.variance.data())},
      {DNNL_ARG_DIFF_DST, dnnl_ctx::mem(data_md, diff_dst.data())},
      {DNNL_ARG_SCALE, dnnl_ctx::mem(param_md, sv.weight.data())},
      {DNNL_ARG_DIFF_SRC, dnnl_ctx::mem(data_md, diff_src.data())},
      {DNNL_ARG_DIFF_SCALE, dnnl_ctx::mem(param_md, diff_weight.data())}};
  Tensor diff_bias;  // (C)
  if (has_bias) {
    diff_bias = Tensor::empty(sv.bias.shape());
    // The backward does not read the shift, but oneDNN 2.6 refuses to run without it (STACK.md).
    args.emplace(DNNL_ARG_SHIFT, dnnl_ctx::mem(param_md, sv.bias.data()));
    args.emplace(DNNL_ARG_DIFF_SHIFT, dnnl_ctx::mem(param_md, diff_bias.data()));
  }
  dnnl_ctx::execute(e.primitive, args);
  autograd::accumulate_grad(sv.src, std::move(diff_src));
  autograd::accumulate_grad(sv.weight, std::move(diff_weight));
  if (has_bias) autograd::accumulate_grad(sv.bias, std::move(diff_bias));
}

}  // namespace

Tensor layer_norm(const Tensor& src, const Tensor& weight, const Tensor& bias, float eps) {
  profile::Scope scope(profile::Kind::layer_norm);
  const Shape& s = src.shape();
  require(s.ndim() >= 1 && s.last() > 0 && weight.ndim() == 1 && weight.size(0) == s.last(),
          "layer_norm", "src (..., C) with C > 0 and weight (C)", s, weight.shape());
  if (bias.defined())
    require(bias.ndim() == 1 && bias.size(0) == s.last(), "layer_norm",
            "src (..., C) and bias (C)", s, bias.shape());
  const int64_t R = s.rows(), C = s.last();
  const bool has_bias = bias.defined();
  const bool training = autograd::needs_grad({&src, &weight, &bias});
  const prop_kind prop = training ? prop_kind::forward_training : prop_kind::forward_inference;

  const auto& e = dnnl_ctx::get({"layer_norm_fwd", {R, C, has_bias, training, eps_key(eps)}}, [&] {
    auto pd = fwd_pd(prop, R, C, has_bias, eps);
    return dnnl_ctx::Entry{dnnl::layer_normalization_forward(pd), pd};
  });
  const memory::desc data_md = dnnl_ctx::plain_md({R, C});
  const memory::desc stat_md = dnnl_ctx::plain_md({R});
  const memory::desc param_md = dnnl_ctx::plain_md({C});
  Tensor dst = Tensor::empty(s);  // (..., C)
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, dnnl_ctx::mem(data_md, src.data())},
                                       {DNNL_ARG_DST, dnnl_ctx::mem(data_md, dst.data())},
                                       {DNNL_ARG_SCALE, dnnl_ctx::mem(param_md, weight.data())}};
  if (has_bias) args.emplace(DNNL_ARG_SHIFT, dnnl_ctx::mem(param_md, bias.data()));
  if (!training) {
    dnnl_ctx::execute(e.primitive, args);
    return dst;
  }
  LayerNormSaved saved{src, weight, bias, Tensor::empty({R}), Tensor::empty({R}), R, C, eps};
  args.emplace(DNNL_ARG_MEAN, dnnl_ctx::mem(stat_md, saved.mean.data()));
  args.emplace(DNNL_ARG_VARIANCE, dnnl_ctx::mem(stat_md, saved.variance.data()));
  dnnl_ctx::execute(e.primitive, args);
  autograd::record(dst, {src, weight, bias},
                   [saved](const Tensor& diff_dst) { layer_norm_backward(saved, diff_dst); });
  return dst;
}

}  // namespace nanolab::ops
