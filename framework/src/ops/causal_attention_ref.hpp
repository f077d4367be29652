// Reference causal_attention: plain loops over float or double, kept forever as the truth the
// fused op (causal_attention.cpp) is tested against. Written as the composition the op replaces,
// from the other references: chunk into q, k, v, split_heads, q·kᵀ, the masked softmax, dropout on
// the weights, ·v, merge_heads; the backward runs the same chain back, recomputing the forward.
#pragma once

#include <cstdint>
#include <vector>

#include "ops/causal_softmax_ref.hpp"
#include "ops/chunk_ref.hpp"
#include "ops/dropout_ref.hpp"
#include "ops/heads_ref.hpp"
#include "ops/matmul_ref.hpp"

namespace nanolab::ref {

// qkv (B, T, 3C), C = NH * HS; dst (B, T, C).
struct AttentionShape {
  int64_t B, T, NH, HS;
  double scale;
  int64_t window = 0;
  std::vector<float> slopes;  // (NH) or empty
  float p = 0.0f;             // dropout on the weights
  uint64_t seed = 0;
};

template <class Real>
struct AttentionForward {
  std::vector<Real> q, k, v;      // (B, NH, T, HS)
  std::vector<Real> probs, drop;  // (B, NH, T, T)
  std::vector<Real> y;            // (B, NH, T, HS)
};

template <class Real>
AttentionForward<Real> causal_attention_forward(const Real* qkv, const AttentionShape& a) {
  const int64_t C = a.NH * a.HS, R = a.B * a.T, BH = a.B * a.NH, n = BH * a.T * a.HS;
  AttentionForward<Real> f;
  std::vector<Real> parts(size_t(3 * R * C));
  Real* part[3] = {parts.data(), parts.data() + R * C, parts.data() + 2 * R * C};
  chunk_fwd(qkv, part, R, 3, C);
  for (auto* x : {&f.q, &f.k, &f.v}) x->resize(size_t(n));
  split_heads_fwd(part[0], f.q.data(), a.B, a.T, a.NH, a.HS);
  split_heads_fwd(part[1], f.k.data(), a.B, a.T, a.NH, a.HS);
  split_heads_fwd(part[2], f.v.data(), a.B, a.T, a.NH, a.HS);
  std::vector<Real> scores(size_t(BH * a.T * a.T));
  matmul_fwd(f.q.data(), f.k.data(), scores.data(), BH, a.T, a.T, a.HS, false, true);
  f.probs.resize(scores.size());
  causal_softmax_fwd(scores.data(), f.probs.data(), BH, a.T, Real(a.scale), a.window, a.slopes);
  f.drop = f.probs;
  if (a.p > 0.0f) dropout_fwd(f.probs.data(), f.drop.data(), int64_t(f.probs.size()), a.p, a.seed);
  f.y.resize(size_t(n));
  matmul_fwd(f.drop.data(), f.v.data(), f.y.data(), BH, a.T, a.HS, a.T, false, false);
  return f;
}

template <class Real>
void causal_attention_fwd(const Real* qkv, Real* dst, const AttentionShape& a) {
  merge_heads_fwd(causal_attention_forward(qkv, a).y.data(), dst, a.B, a.T, a.NH, a.HS);
}

template <class Real>
void causal_attention_bwd(const Real* qkv, const Real* diff_dst, Real* diff_qkv,
                          const AttentionShape& a) {
  const AttentionForward<Real> f = causal_attention_forward(qkv, a);
  const int64_t C = a.NH * a.HS, R = a.B * a.T, BH = a.B * a.NH, n = BH * a.T * a.HS;
  const int64_t nw = BH * a.T * a.T;
  const size_t un = size_t(n), unw = size_t(nw);
  std::vector<Real> dy(un), dq(un), dk(un), dv(un);
  merge_heads_bwd(diff_dst, dy.data(), a.B, a.T, a.NH, a.HS);
  std::vector<Real> d_drop(unw), d_probs(unw), d_scores(unw);
  matmul_bwd(f.drop.data(), f.v.data(), dy.data(), d_drop.data(), dv.data(), BH, a.T, a.HS, a.T,
             false, false);
  d_probs = d_drop;
  if (a.p > 0.0f) dropout_bwd(d_drop.data(), d_probs.data(), nw, a.p, a.seed);
  causal_softmax_bwd(f.probs.data(), d_probs.data(), d_scores.data(), BH, a.T, Real(a.scale));
  matmul_bwd(f.q.data(), f.k.data(), d_scores.data(), dq.data(), dk.data(), BH, a.T, a.T, a.HS,
             false, true);
  std::vector<Real> parts(size_t(3 * R * C));
  Real* part[3] = {parts.data(), parts.data() + R * C, parts.data() + 2 * R * C};
  split_heads_bwd(dq.data(), part[0], a.B, a.T, a.NH, a.HS);
  split_heads_bwd(dk.data(), part[1], a.B, a.T, a.NH, a.HS);
  split_heads_bwd(dv.data(), part[2], a.B, a.T, a.NH, a.HS);
  const Real* cparts[3] = {part[0], part[1], part[2]};
  chunk_bwd(cparts, diff_qkv, R, 3, C);
}

}  // namespace nanolab::ref
