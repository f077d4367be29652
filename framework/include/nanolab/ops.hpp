// The differentiable ops a GPT is built from. Each is a forward/backward pair in
// framework/src/ops/, runs on oneDNN where oneDNN has a primitive and on TBB-parallel loops where
// it does not, and records its backward on the autograd tape when an input requires grad. Each has
// a plain-loop reference in framework/src/ops/*_ref.hpp, kept forever and held to the fast path by
// the op tests.
//
// Shape letters: B batch, T time, C channels, NH heads, HS head size (C = NH*HS), V vocabulary,
// M/N/K matrix sizes. A wrong shape throws ShapeError naming the op and the shapes. Call ops from
// one thread at a time (runtime.hpp): oneDNN on this stack is not safe to run concurrently.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "nanolab/tensor.hpp"

namespace nanolab::ops {

// dst(..., M, N) = op(a) · op(b), op(x) = x or xᵀ. a: (..., M, K) or (..., K, M) if trans_a;
// b: (..., K, N) or (..., N, K) if trans_b. Leading (batch) dims must be equal. No copies are
// made for the transposes.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

// dst(..., N) = src(..., K) · weightᵀ + bias. weight: (N, K) (the x·Wᵀ layout, fastest in oneDNN);
// bias: (N) or undefined for none.
Tensor linear(const Tensor& src, const Tensor& weight, const Tensor& bias = Tensor());

// a + b, where b has a's shape or a suffix of it (broadcast over a's leading dims, as wpe over B).
Tensor add(const Tensor& a, const Tensor& b);

// src * alpha.
Tensor scale(const Tensor& src, float alpha);

// dst(..., C) = weight[ids[...]]; weight: (V, C), ids with shape `ids_shape`, each in [0, V).
// The backward accumulates the rows of every occurrence of an id.
Tensor embedding(const Tensor& weight, std::span<const int32_t> ids, const Shape& ids_shape);

// Layer normalisation over the last dim C with learned weight (C) and optional bias (C).
Tensor layer_norm(const Tensor& src, const Tensor& weight, const Tensor& bias = Tensor(),
                  float eps = 1e-5f);

enum class GeluForm { tanh, erf };  // tanh: GPT-2's approximation; erf: the exact form
Tensor gelu(const Tensor& src, GeluForm form = GeluForm::tanh);

// Softmax over the last dim.
Tensor softmax(const Tensor& src);

// What an attention's softmax may add to the causal mask.
struct AttentionMask {
  // 0: every j <= i; w > 0: only the last w positions, j in (i - w, i] (sliding-window attention).
  int64_t window = 0;
  // Empty, or one slope m_h per head (dim -3 of the scores): ALiBi's bias -m_h * (i - j) is added
  // to the scaled score of query i and key j (Press et al. 2022).
  std::span<const float> alibi_slopes;
};

// Softmax over the last dim of softmax_scale * src (+ ALiBi) with the causal mask: src (..., T, T),
// row i attends to columns j <= i (and inside the window); masked entries of dst are exactly 0.
Tensor causal_softmax(const Tensor& src, float softmax_scale = 1.0f, const AttentionMask& mask = {});

// The causal self-attention of GPT-2's packed heads as one op: qkv (B, T, 3C) holds q, k and v
// side by side, each (B, T, NH, HS) with C = n_head * HS, as one linear makes them; dst (B, T, C)
// is y = dropout(causal_softmax(q·kᵀ, softmax_scale, mask)) · v with the heads merged, equal to
// chunk, split_heads, matmul, causal_softmax, dropout(p, seed) on the (B, NH, T, T) weights,
// matmul and merge_heads, without their copies. dropout_p 0: no dropout.
Tensor causal_attention(const Tensor& qkv, int64_t n_head, float softmax_scale,
                        const AttentionMask& mask = {}, float dropout_p = 0.0f,
                        uint64_t dropout_seed = 0);

// Rotary position embedding (RoPE, Su et al. 2021) of q or k: src (..., T, HS), HS even, row t at
// absolute position pos0 + t. The pairs (d, d + HS/2) are rotated by the angle
// position * base^(-2d/HS) (the "rotate half" layout of GPT-NeoX and LLaMA), so that the dot
// product of a rotated q and k depends on their positions only through their difference.
Tensor rope(const Tensor& src, int64_t pos0 = 0, float base = 10000.0f);

// Splits the last dim into n equal parts: src (..., n*C) -> n tensors (..., C) (copies). The
// qkv projection of attention is one linear followed by chunk(qkv, 3).
std::vector<Tensor> chunk(const Tensor& src, int64_t n);

// (B, T, C) -> (B, NH, T, HS) and back.
Tensor split_heads(const Tensor& src, int64_t n_head);
Tensor merge_heads(const Tensor& src);

// Inverted dropout: each element is zeroed with probability p and the rest scaled by 1/(1-p).
// The mask is a pure function of (seed, element index): the same seed gives the same mask on any
// thread count, and the backward recomputes it instead of storing it. p == 0 returns src.
Tensor dropout(const Tensor& src, float p, uint64_t seed);

// Fused log-softmax + negative log-likelihood: mean over the tokens whose target is not
// ignore_index of -log softmax(logits)[target]. logits: (..., V); targets: one per row, each in
// [0, V) or ignore_index. With label_smoothing = e the per-token loss is
// (1 - e) * nll + e * mean_v(-log p_v). Returns a one-element tensor (shape []).
Tensor cross_entropy(const Tensor& logits, std::span<const int32_t> targets,
                     int32_t ignore_index = -1, float label_smoothing = 0.0f);

// Sum and mean of all elements, as a one-element tensor (shape []).
Tensor sum(const Tensor& src);
Tensor mean(const Tensor& src);

}  // namespace nanolab::ops
