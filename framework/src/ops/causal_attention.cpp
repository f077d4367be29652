// causal_attention: the materialised causal attention of the heads packed in qkv, as one op with
// its own backward. The four matmuls are oneDNN matmuls over strided views: q, k and v are read
// where the qkv projection wrote them, y is written with its heads already merged, and the
// gradients of q, k and v land in their columns of one (B, T, 3C) gradient, so no head is ever
// copied (what chunk + split_heads + merge_heads cost the composed path, in both directions). The
// softmax rows carry the dropout on the weights in the same pass (causal_softmax.hpp). It keeps
// the weights and, with dropout, the dropped weights for the backward: (B, NH, T, T) each.
#include <string>

#include "nanolab/autograd.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/ops.hpp"
#include "ops/causal_softmax.hpp"
#include "ops/check.hpp"
#include "runtime/dnnl_context.hpp"
#include "runtime/profile.hpp"

namespace nanolab::ops {
namespace {

using dnnl::memory;

struct Heads {
  int64_t B, NH, T, HS;
  int64_t C() const { return NH * HS; }
};

memory::desc view(const memory::dims& dims, const memory::dims& strides) {
  return memory::desc(dims, memory::data_type::f32, strides);
}
// One of q, k, v inside qkv (B, T, 3C) as (B, NH, T, HS), or transposed as (B, NH, HS, T).
memory::desc packed(const Heads& h, bool trans) {
  const int64_t row = 3 * h.C();
  return trans ? view({h.B, h.NH, h.HS, h.T}, {h.T * row, h.HS, 1, row})
               : view({h.B, h.NH, h.T, h.HS}, {h.T * row, h.HS, row, 1});
}
// y (B, T, C) as (B, NH, T, HS).
memory::desc merged(const Heads& h) {
  return view({h.B, h.NH, h.T, h.HS}, {h.T * h.C(), h.HS, h.C(), 1});
}
// The weights (B, NH, T, T), or transposed.
memory::desc weights(const Heads& h, bool trans) {
  const int64_t T = h.T;
  return view({h.B, h.NH, T, T}, {h.NH * T * T, T * T, trans ? 1 : T, trans ? T : 1});
}

// c = a · b over the (B, NH) batch, written. `op` names the product in the primitive cache, whose
// layouts are fixed per name.
void product(const char* op, const Heads& h, const memory::desc& a, const float* pa,
             const memory::desc& b, const float* pb, const memory::desc& c, float* pc) {
  profile::Scope scope(profile::Kind::matmul);
  const auto& e = dnnl_ctx::get({op, {h.B, h.NH, h.T, h.HS}}, [&] {
    auto pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(a, b, c), dnnl_ctx::engine());
    return dnnl_ctx::Entry{dnnl::matmul(pd), pd};
  });
  dnnl_ctx::execute(e.primitive, {{DNNL_ARG_SRC, dnnl_ctx::mem(a, pa)},
                                  {DNNL_ARG_WEIGHTS, dnnl_ctx::mem(b, pb)},
                                  {DNNL_ARG_DST, dnnl_ctx::mem(c, pc)}});
}

struct AttentionSaved {
  Tensor qkv;      // (B, T, 3C)
  Tensor probs;    // (B, NH, T, T), the softmax
  Tensor dropped;  // (B, NH, T, T), the softmax after dropout (probs itself without dropout)
  Heads h;
  CausalGeometry g;
  WeightsDropout drop;
};

void causal_attention_backward(const AttentionSaved& sv, const Tensor& diff_dst) {
  const Heads& h = sv.h;
  const int64_t C = h.C();
  const float* x = sv.qkv.data();
  const float* dy = diff_dst.data();
  Tensor diff_qkv = Tensor::empty(sv.qkv.shape());
  Tensor diff_w = Tensor::empty({h.B, h.NH, h.T, h.T});
  float* dx = diff_qkv.data();
  float* dw = diff_w.data();
  product("attention dy.vT", h, merged(h), dy, packed(h, true), x + 2 * C, weights(h, false), dw);
  product("attention pT.dy", h, weights(h, true), sv.dropped.data(), merged(h), dy,
          packed(h, false), dx + 2 * C);
  {
    profile::Scope scope(profile::Kind::softmax);
    causal_softmax_bwd(sv.probs.data(), dw, dw, sv.g, sv.drop);
  }
  product("attention ds.k", h, weights(h, false), dw, packed(h, false), x + C, packed(h, false), dx);
  product("attention dsT.q", h, weights(h, true), dw, packed(h, false), x, packed(h, false),
          dx + C);
  autograd::accumulate_grad(sv.qkv, std::move(diff_qkv));
}

}  // namespace

Tensor causal_attention(const Tensor& qkv, int64_t n_head, float softmax_scale,
                        const AttentionMask& mask, float dropout_p, uint64_t dropout_seed) {
  profile::Scope scope(profile::Kind::attention);
  const Shape& s = qkv.shape();
  require(s.ndim() == 3 && n_head > 0 && s[2] % (3 * n_head) == 0, "causal_attention",
          "qkv (B, T, 3C) with C divisible by n_head = " + std::to_string(n_head), s);
  const int64_t NH = int64_t(mask.alibi_slopes.size());
  if (NH > 0 && NH != n_head)
    throw ShapeError("causal_attention: expected one ALiBi slope per head (" +
                     std::to_string(n_head) + "), got " + std::to_string(NH));
  require_window("causal_attention", mask.window);
  require_dropout_p("causal_attention", dropout_p);
  const Heads h{s[0], n_head, s[1], s[2] / (3 * n_head)};
  const int64_t C = h.C();
  Tensor dst = Tensor::empty({h.B, h.T, C});  // (B, T, C)
  if (dst.numel() == 0) return dst;

  CausalGeometry g{h.B * h.NH, h.T, mask.window, softmax_scale,
                   {mask.alibi_slopes.begin(), mask.alibi_slopes.end()}};
  const WeightsDropout drop{dropout_p, dropout_seed};
  Tensor probs = Tensor::empty({h.B, h.NH, h.T, h.T});
  Tensor dropped = drop.p > 0.0f ? Tensor::empty(probs.shape()) : probs;
  const float* x = qkv.data();
  product("attention q.kT", h, packed(h, false), x, packed(h, true), x + C, weights(h, false),
          probs.data());
  {
    profile::Scope softmax_scope(profile::Kind::softmax);
    causal_softmax_fwd(probs.data(), probs.data(), g, drop, dropped.data());
  }
  product("attention p.v", h, weights(h, false), dropped.data(), packed(h, false), x + 2 * C,
          merged(h), dst.data());
  if (autograd::needs_grad({&qkv})) {
    g.slopes.clear();  // the backward does not see the bias
    autograd::record(dst, {qkv},
                     [saved = AttentionSaved{qkv, probs, dropped, h, std::move(g), drop}](
                         const Tensor& diff_dst) { causal_attention_backward(saved, diff_dst); });
  }
  return dst;
}

}  // namespace nanolab::ops
