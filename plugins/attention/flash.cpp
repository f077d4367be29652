// attention `flash`: the causal multi-head self-attention of causal_mha (multi_head.hpp: the same
// parameters c_attn and c_proj, init marks, dropout sites and positions) with a fused attention
// core in the manner of FlashAttention-2. The projections are framework ops; between them, one
// fused op reads q, k, v where the qkv projection wrote them and writes its output with the heads
// merged, so no head is copied (with rope, which rotates q and k first, it runs on split heads).
// It attends in tiles (TILE query rows against TILE keys) with an online softmax (a running max m
// and sum l per query row), so the (T, T) weights never exist: the forward keeps only the output
// O and the per-row logsumexp L (B, NH, T), and its hand-written backward recomputes the weights
// tile by tile from Q, K and L, in one pass over the key tiles (FlashAttention-2's dK/dV loop,
// with dQ accumulated by the same task). Work is split with nanolab::parallel_for, over B x NH x
// query tiles for the forward and over B x NH heads for the backward (each head owns its dQ, dK
// and dV rows), so every output element is summed by one task in a fixed order: results do not
// depend on the thread count. Attention dropout is implemented, not refused: the keep decision of
// weight (b, h, i, j) is a hash of (seed, index), recomputed by the backward instead of stored;
// the masks are not causal_mha's (which come from ops::dropout over the materialised weights),
// only their distribution is. The KV-cache path reuses the forward kernel with a query offset.
// Not a GPU kernel and not oneDNN (which must not run inside TBB tasks): the inner loops are plain
// float loops, register-blocked, compiled per vector unit (nanolab/simd.hpp) and picked when the
// plugin is loaded. Honours every model.position: rope rotates q and k before the kernel, alibi's
// bias is added to each tile of scores in the forward and again where the backward recomputes
// them.
#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <vector>

#include "nanolab/autograd.hpp"
#include "nanolab/ops.hpp"
#include "nanolab/parallel.hpp"
#include "nanolab/plugin.hpp"
#include "nanolab/rng.hpp"
#include "nanolab/simd.hpp"

#include "multi_head.hpp"

namespace {

using namespace nanolab;

// Query rows and keys per tile. 64 keys of scores fill four AVX-512 registers, and a (64, HS) tile
// of K, V and the accumulators stays in L1/L2 for HS = 64.
constexpr int64_t TILE = 64;

// Dropout on the attention weights of one call: weight (bh, i, j) of a (B*NH, T, T) attention is
// kept with probability 1 - p and then scaled by 1 / (1 - p); p == 0 keeps everything. The keep
// decision hashes (the call's seed, the weight's index) with splitmix64's finaliser (rng.hpp).
struct WeightDropout {
  WeightDropout() = default;
  WeightDropout(float p, uint64_t seed, int64_t T)
      : active(p > 0.0f),
        key(rng::finalize(seed)),
        threshold(static_cast<uint64_t>(double(p) * 0x1p64)),
        keep_scale(1.0f / (1.0f - p)),
        T(T) {}

  // z[j] = the factor of weight (bh, i, j0 + j), for j < n.
  NANOLAB_SIMD_INLINE void factors(int64_t bh, int64_t i, int64_t j0, int64_t n, float* z) const {
    const uint64_t row = uint64_t((bh * T + i) * T + j0);
    for (int64_t j = 0; j < n; ++j)
      z[j] = rng::finalize(key + (row + uint64_t(j)) * rng::golden_gamma) >= threshold
                 ? keep_scale
                 : 0.0f;
  }

  bool active = false;
  uint64_t key = 0;
  uint64_t threshold = 0;
  float keep_scale = 1.0f;
  int64_t T = 0;
};

// Where the heads of one tensor lie: head bh = b * NH + h starts `batch` floats per b and `head`
// floats per h into it, and its rows of HS floats are `row` floats apart. plain: (B, NH, T, HS);
// packed: one of q, k, v inside the (B, T, 3C) output of the qkv projection, or y inside (B, T, C).
struct HeadLayout {
  int64_t NH, batch, head, row;
  int64_t start(int64_t bh) const { return bh / NH * batch + bh % NH * head; }
  static HeadLayout plain(int64_t NH, int64_t T, int64_t HS) {
    return {NH, NH * T * HS, T * HS, HS};
  }
  static HeadLayout packed(int64_t NH, int64_t T, int64_t HS, int64_t row) {
    return {NH, T * row, HS, row};
  }
};

// The geometry of one call of the kernels: (B*NH) heads of rows of HS floats, q, k, v and their
// gradients where `in` puts them (k and v of the cached path where the cache does), O and dO
// where `out` does.
struct Heads {
  int64_t BNH, T, HS;  // T: query rows (and keys, except in the cached path)
  float scale;         // 1 / sqrt(HS)
  WeightDropout drop;
  std::vector<float> slopes;  // ALiBi's slope of each of the NH heads (head bh % NH), or empty
  HeadLayout in, out;

  float slope(int64_t bh) const {
    return slopes.empty() ? 0.0f : slopes[size_t(bh % int64_t(slopes.size()))];
  }
};

// Adds ALiBi's bias -slope * (pos - j) to the scores s (rows, TILE) of keys j0.. for query rows at
// positions pos0..; slope 0 leaves them as they are.
NANOLAB_SIMD_INLINE void add_alibi(int64_t rows, int64_t pos0, int64_t j0, float slope, float* s) {
  if (slope == 0.0f) return;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < TILE; ++j) s[r * TILE + j] -= slope * float(pos0 + r - (j0 + j));
}

// c (m, n) += A · b (k, n), all row-major with row strides lda, ldb, ldc: the one matrix product
// every step of the tiles is made of. A (m, k) is a itself, or with a_rows = false the transpose of
// a stored (k, m), as the backward's dV += Pᵀ dO and dK += dSᵀ Q read P and dS where they are.
// Blocks of MR rows x NR columns of c keep their sums in registers across the whole k loop, so each
// row of b loaded is used MR times; the remainders (the last rows of a partial tile, head sizes
// that are not a multiple of NR) take plain loops.
template <bool a_rows = true>
NANOLAB_SIMD_INLINE void gemm_acc(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                                  const float* b, int64_t ldb, float* c, int64_t ldc) {
  constexpr int64_t MR = 4, NR = 32;
  const auto A = [&](int64_t i, int64_t p) { return a_rows ? a[i * lda + p] : a[p * lda + i]; };
  int64_t i = 0;
  for (; i + MR <= m; i += MR) {
    int64_t j = 0;
    for (; j + NR <= n; j += NR) {
      float acc[MR][NR];
      for (int64_t r = 0; r < MR; ++r)
        for (int64_t x = 0; x < NR; ++x) acc[r][x] = c[(i + r) * ldc + j + x];
      for (int64_t p = 0; p < k; ++p) {
        const float* bp = b + p * ldb + j;
        for (int64_t r = 0; r < MR; ++r) {
          const float ar = A(i + r, p);
          for (int64_t x = 0; x < NR; ++x) acc[r][x] += ar * bp[x];
        }
      }
      for (int64_t r = 0; r < MR; ++r)
        for (int64_t x = 0; x < NR; ++x) c[(i + r) * ldc + j + x] = acc[r][x];
    }
    for (int64_t r = i; r < i + MR && j < n; ++r)
      for (int64_t p = 0; p < k; ++p)
        for (int64_t x = j; x < n; ++x) c[r * ldc + x] += A(r, p) * b[p * ldb + x];
  }
  for (; i < m; ++i)
    for (int64_t p = 0; p < k; ++p)
      for (int64_t x = 0; x < n; ++x) c[i * ldc + x] += A(i, p) * b[p * ldb + x];
}

// dst (cols, TILE) = src (rows, cols) transposed, row stride ld; columns rows..TILE-1 of dst are
// zero, so products against a partial tile can still run the full tile width.
NANOLAB_SIMD_INLINE void transpose_tile(const float* src, int64_t rows, int64_t cols, int64_t ld,
                                        float* dst) {
  std::fill(dst, dst + cols * TILE, 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) dst[c * TILE + r] = src[r * ld + c];
}

// s (rows, TILE) = scale * q (rows, HS; row stride ldq) · kt (HS, TILE).
NANOLAB_SIMD_INLINE void scores(int64_t rows, int64_t HS, const float* q, int64_t ldq,
                                const float* kt, float scale, float* s) {
  std::fill(s, s + rows * TILE, 0.0f);
  gemm_acc(rows, TILE, HS, q, ldq, kt, TILE, s, TILE);
  for (int64_t x = 0; x < rows * TILE; ++x) s[x] *= scale;
}

// Reductions over one row of a tile in LANES interleaved partial results, combined in a fixed
// order: a plain running sum or max is a serial chain the compiler may not reorder into vectors.
constexpr int64_t LANES = 16;

// max of s[0 .. n), -inf for n == 0.
NANOLAB_SIMD_INLINE float masked_max(const float* s, int64_t n) {
  float part[LANES];
  std::fill(part, part + LANES, -INFINITY);
  for (int64_t j0 = 0; j0 < TILE; j0 += LANES)
    for (int64_t x = 0; x < LANES; ++x)
      part[x] = std::max(part[x], j0 + x < n ? s[j0 + x] : -INFINITY);
  float m = -INFINITY;
  for (int64_t x = 0; x < LANES; ++x) m = std::max(m, part[x]);
  return m;
}

// sum of s[0 .. TILE).
NANOLAB_SIMD_INLINE float tile_sum(const float* s) {
  float part[LANES] = {};
  for (int64_t j0 = 0; j0 < TILE; j0 += LANES)
    for (int64_t x = 0; x < LANES; ++x) part[x] += s[j0 + x];
  float sum = 0.0f;
  for (int64_t x = 0; x < LANES; ++x) sum += part[x];
  return sum;
}

// Keys of a tile starting at j0 (nk of them) that the query at position pos sees.
NANOLAB_SIMD_INLINE int64_t visible(int64_t pos, int64_t j0, int64_t nk) {
  return std::clamp<int64_t>(pos + 1 - j0, 0, nk);
}

// Forward for query rows [i0, i1) (at most TILE) of head bh. Query row i sits at absolute position
// offset + i and attends to keys 0 .. offset + i of k and v. q, o: (rows, HS) of this head, from
// its first row (row strides h.in.row, h.out.row); k, v: (keys, HS) of this head (h.in.row); lse:
// (rows) of this head, the logsumexp of each row's scaled scores before dropout. Scratch: kt (HS,
// TILE), s (TILE, TILE), acc (TILE, HS).
NANOLAB_SIMD_CLONES void forward_rows(const Heads& h, int64_t bh, int64_t i0, int64_t i1,
                                      int64_t offset, const float* q, const float* k,
                                      const float* v, float* o, float* lse, float* kt, float* s,
                                      float* acc) {
  const int64_t HS = h.HS, rows = i1 - i0, ld = h.in.row;
  float m[TILE], l[TILE], z[TILE];
  std::fill(m, m + rows, -INFINITY);
  std::fill(l, l + rows, 0.0f);
  std::fill(acc, acc + rows * HS, 0.0f);
  const int64_t keys = offset + i1;  // the last row sees them all
  for (int64_t j0 = 0; j0 < keys; j0 += TILE) {
    const int64_t nk = std::min(TILE, keys - j0);
    transpose_tile(k + j0 * ld, nk, HS, ld, kt);
    scores(rows, HS, q + i0 * ld, ld, kt, h.scale, s);
    add_alibi(rows, offset + i0, j0, h.slope(bh), s);
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t pos = offset + i0 + r, n = visible(pos, j0, nk);
      float* sr = s + r * TILE;
      float* ar = acc + r * HS;
      const float tile_max = masked_max(sr, n);
      // A row that sees no key of this tile keeps m and l as they are (alpha = 1, sum = 0).
      const float m_new = std::max(m[r], tile_max);
      const float alpha = n > 0 ? simd::exp_approx(m[r] - m_new) : 1.0f;
      for (int64_t j = 0; j < TILE; ++j) {
        const float e = simd::exp_approx(sr[j] - m_new);
        sr[j] = j < n ? e : 0.0f;
      }
      l[r] = l[r] * alpha + tile_sum(sr);
      if (n > 0) m[r] = m_new;
      // Dropout falls on the normalised weights, so it scales what reaches O, never l.
      if (h.drop.active && n > 0) {
        h.drop.factors(bh, pos, j0, n, z);
        for (int64_t j = 0; j < n; ++j) sr[j] *= z[j];
      }
      for (int64_t d = 0; d < HS; ++d) ar[d] *= alpha;
    }
    gemm_acc(rows, HS, nk, s, TILE, v + j0 * ld, ld, acc, HS);
  }
  for (int64_t r = 0; r < rows; ++r) {
    const float inv_l = 1.0f / l[r];
    for (int64_t d = 0; d < HS; ++d) o[(i0 + r) * h.out.row + d] = acc[r * HS + d] * inv_l;
    lse[i0 + r] = m[r] + std::log(l[r]);
  }
}

// Scratch of one backward task, each a tile: kt, vt (HS, TILE); p, dp and, with dropout, t (TILE,
// TILE): P, dP and Pz, a row per query; dk, dv (TILE, HS).
struct BackwardScratch {
  explicit BackwardScratch(int64_t HS)
      : kt(size_t(HS * TILE)),
        vt(size_t(HS * TILE)),
        p(size_t(TILE * TILE)),
        dp(size_t(TILE * TILE)),
        t(size_t(TILE * TILE)),
        dk(size_t(TILE * HS)),
        dv(size_t(TILE * HS)) {}
  std::vector<float> kt, vt, p, dp, t, dk, dv;
};

// The backward of one head, in one pass over its key tiles (FlashAttention-2's order): for each
// key tile, every query tile that sees it recomputes P from Q, K and L, then
//   dV_tile += Pzᵀ dO,  dP = (dO Vᵀ) * z,  dS = scale * P * (dP - D),
//   dK_tile += dSᵀ Q,   dQ_rows += dS K_tile,
// where z is dropout's factor (1 without) and Pz = P * z the weights that reached O. The head is
// one task, so its dQ rows are summed over key tiles in a fixed order without sharing.
// q, k, v, dq, dk, dv: (T, HS) of this head, row stride h.in.row; dout: (T, HS), h.out.row; lse,
// D: (T).
NANOLAB_SIMD_CLONES void backward_head(const Heads& h, int64_t bh, const float* q, const float* k,
                                       const float* v, const float* dout, const float* lse,
                                       const float* D, float* dq, float* dk, float* dv,
                                       BackwardScratch& w) {
  const int64_t HS = h.HS, T = h.T, ld = h.in.row, ldo = h.out.row;
  float z[TILE];
  for (int64_t i = 0; i < T; ++i) std::fill(dq + i * ld, dq + i * ld + HS, 0.0f);
  for (int64_t j0 = 0; j0 < T; j0 += TILE) {
    const int64_t nk = std::min(TILE, T - j0);
    transpose_tile(k + j0 * ld, nk, HS, ld, w.kt.data());
    transpose_tile(v + j0 * ld, nk, HS, ld, w.vt.data());
    std::fill(w.dk.begin(), w.dk.end(), 0.0f);
    std::fill(w.dv.begin(), w.dv.end(), 0.0f);
    for (int64_t i0 = j0; i0 < T; i0 += TILE) {  // query tiles before j0 see none of its keys
      const int64_t rows = std::min(TILE, T - i0);
      float *p = w.p.data(), *dp = w.dp.data(), *t = w.t.data();
      scores(rows, HS, q + i0 * ld, ld, w.kt.data(), h.scale, p);
      add_alibi(rows, i0, j0, h.slope(bh), p);
      std::fill(dp, dp + rows * TILE, 0.0f);
      gemm_acc(rows, TILE, HS, dout + i0 * ldo, ldo, w.vt.data(), TILE, dp, TILE);
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t i = i0 + r, n = visible(i, j0, nk);
        float* pr = p + r * TILE;
        float* dpr = dp + r * TILE;
        for (int64_t j = 0; j < TILE; ++j) {
          const float e = simd::exp_approx(pr[j] - lse[i]);
          pr[j] = j < n ? e : 0.0f;
        }
        if (h.drop.active) {  // the row of Pz in t, for dV
          h.drop.factors(bh, i, j0, n, z);
          std::fill(z + n, z + TILE, 0.0f);
          for (int64_t j = 0; j < TILE; ++j) t[r * TILE + j] = pr[j] * z[j];
          for (int64_t j = 0; j < TILE; ++j) dpr[j] *= z[j];
        }
      }
      gemm_acc<false>(nk, HS, rows, h.drop.active ? t : p, TILE, dout + i0 * ldo, ldo,
                      w.dv.data(), HS);
      for (int64_t r = 0; r < rows; ++r) {  // p becomes dS in place
        float* pr = p + r * TILE;
        const float* dpr = dp + r * TILE;
        for (int64_t j = 0; j < TILE; ++j) pr[j] = h.scale * pr[j] * (dpr[j] - D[i0 + r]);
      }
      gemm_acc<false>(nk, HS, rows, p, TILE, q + i0 * ld, ld, w.dk.data(), HS);
      gemm_acc(rows, HS, nk, p, TILE, k + j0 * ld, ld, dq + i0 * ld, ld);
    }
    for (int64_t r = 0; r < nk; ++r) {
      std::copy_n(w.dk.data() + r * HS, HS, dk + (j0 + r) * ld);
      std::copy_n(w.dv.data() + r * HS, HS, dv + (j0 + r) * ld);
    }
  }
}

int64_t tiles(int64_t n) { return (n + TILE - 1) / TILE; }

// Forward over every head: O (h.out) and L (BNH, T) from q (h.in) and the keys k, v (kv_at);
// query row i sits at position offset + i.
void attention_forward(const Heads& h, const float* q, const float* k, const float* v,
                       const HeadLayout& kv_at, int64_t offset, float* o, float* lse) {
  const int64_t nq = tiles(h.T), HS = h.HS;
  const int64_t keys = offset + h.T;
  parallel_for(h.BNH * nq, 2 * TILE * keys * HS, [&](int64_t begin, int64_t end) {
    std::vector<float> kt(size_t(HS * TILE)), s(size_t(TILE * TILE)), acc(size_t(TILE * HS));
    for (int64_t task = begin; task < end; ++task) {
      const int64_t bh = task / nq, i0 = (task % nq) * TILE, i1 = std::min(h.T, i0 + TILE);
      forward_rows(h, bh, i0, i1, offset, q + h.in.start(bh), k + kv_at.start(bh),
                   v + kv_at.start(bh), o + h.out.start(bh), lse + bh * h.T, kt.data(), s.data(),
                   acc.data());
    }
  });
}

// q, k, v inside `inputs`: one packed qkv (B, T, 3C) whose column blocks they are, or three
// (B, NH, T, HS) tensors.
struct Parts {
  float* at[3];
  Parts(const std::vector<Tensor>& inputs, int64_t C) {
    for (size_t i = 0; i < 3; ++i)
      at[i] = inputs.size() == 1 ? inputs[0].data() + int64_t(i) * C : inputs[i].data();
  }
};

// What the backward of the fused op needs: its inputs (q, k, v as Parts), its output and the
// logsumexp of each row.
struct FlashSaved {
  Heads h;
  std::vector<Tensor> inputs;  // qkv, or q, k, v
  Tensor o;                    // a second handle on dst without its history
  Tensor lse;                  // (BNH, T)
};

void attention_backward(const FlashSaved& sv, const Tensor& diff_dst) {
  const Heads& h = sv.h;
  const int64_t T = h.T, HS = h.HS, C = h.in.NH * HS;
  std::vector<Tensor> grads;
  for (const Tensor& x : sv.inputs) grads.push_back(Tensor::empty(x.shape()));
  const Parts x(sv.inputs, C), g(grads, C);
  const float *o = sv.o.data(), *lse = sv.lse.data(), *dout = diff_dst.data();
  // D (BNH, T) = rowsum(dO * O): the term of the softmax backward that needs the whole row.
  Tensor D = Tensor::empty({h.BNH, T});
  float* Dp = D.data();
  parallel_for(h.BNH * T, 2 * HS, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      const int64_t at = h.out.start(r / T) + r % T * h.out.row;
      float s = 0.0f;
      for (int64_t d = 0; d < HS; ++d) s += dout[at + d] * o[at + d];
      Dp[r] = s;
    }
  });
  // One task per head: B * NH of them keep the cores busy at GPT shapes, and no two tasks write
  // the same gradient row.
  parallel_for(h.BNH, 5 * T * T * HS, [&](int64_t begin, int64_t end) {
    BackwardScratch scratch(HS);
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t in = h.in.start(bh);
      backward_head(h, bh, x.at[0] + in, x.at[1] + in, x.at[2] + in, dout + h.out.start(bh),
                    lse + bh * T, Dp + bh * T, g.at[0] + in, g.at[1] + in, g.at[2] + in, scratch);
    }
  });
  for (size_t i = 0; i < grads.size(); ++i)
    autograd::accumulate_grad(sv.inputs[i], std::move(grads[i]));
}

// The fused op over `inputs` (see Parts) into dst, recorded on the tape with its backward.
void run_fused(const Heads& h, const std::vector<Tensor>& inputs, Tensor& dst) {
  const Parts x(inputs, h.in.NH * h.HS);
  Tensor lse = Tensor::empty({h.BNH, h.T});
  attention_forward(h, x.at[0], x.at[1], x.at[2], h.in, 0, dst.data(), lse.data());
  const bool packed = inputs.size() == 1;
  if (packed ? autograd::needs_grad({&inputs[0]})
             : autograd::needs_grad({&inputs[0], &inputs[1], &inputs[2]})) {
    // dst has no history yet, so view() records nothing: it only makes the second handle, which
    // the backward can hold without holding the node that holds it.
    FlashSaved saved{h, inputs, dst.view(dst.shape()), lse};
    auto backward = [saved](const Tensor& diff_dst) { attention_backward(saved, diff_dst); };
    if (packed)
      autograd::record(dst, {inputs[0]}, backward);
    else
      autograd::record(dst, {inputs[0], inputs[1], inputs[2]}, backward);
  }
}

// causal_mha (multi_head.hpp) with the fused core: on the packed qkv as the projection made it
// (no head copies), or on q, k, v (B, NH, T, HS) where rope rotated them.
class Flash final : public plugins::MultiHeadAttention {
 public:
  explicit Flash(const AttentionConfig& config) : MultiHeadAttention("flash", config, 0) {}

 protected:
  Tensor attend_packed(const Tensor& qkv, const ForwardContext& ctx) override {
    const int64_t B = qkv.size(0), T = qkv.size(1), C = n_embd(), NH = n_head(), HS = head_size();
    Tensor y = Tensor::empty({B, T, C});
    run_fused(heads(B, T, ctx, HeadLayout::packed(NH, T, HS, 3 * C),
                    HeadLayout::packed(NH, T, HS, C)),
              {qkv}, y);
    return y;
  }

  Tensor attend(const Tensor& q, const Tensor& k, const Tensor& v,
                const ForwardContext& ctx) override {
    const int64_t B = q.size(0), T = q.size(2);
    const HeadLayout at = HeadLayout::plain(n_head(), T, head_size());
    Tensor y = Tensor::empty(q.shape());
    run_fused(heads(B, T, ctx, at, at), {q, k, v}, y);
    return y;
  }

  // The forward kernel with a query offset, over the cache's (block_size, HS) heads: the new rows
  // sit at positions start .. start + t - 1 and see the cache up to themselves.
  Tensor attend_cached(const Tensor& q, int64_t start) override {
    const int64_t B = q.size(0), NH = q.size(1), t = q.size(2), HS = q.size(3);
    const std::span<const float> slopes = mask().alibi_slopes;
    const HeadLayout at = HeadLayout::plain(NH, t, HS);
    const Heads h{B * NH, t, HS, softmax_scale(), WeightDropout(), {slopes.begin(), slopes.end()},
                  at, at};
    Tensor y = Tensor::empty({B, NH, t, HS});  // (B, NH, t, HS)
    Tensor lse = Tensor::empty({B, NH, t});    // unused: no backward under NoGrad
    attention_forward(h, q.data(), cache().keys().data(), cache().values().data(),
                      HeadLayout::plain(NH, block_size(), HS), start, y.data(), lse.data());
    return y;
  }

 private:
  // The geometry of a training or evaluation call over (B, T), the heads where in and out say.
  Heads heads(int64_t B, int64_t T, const ForwardContext& ctx, const HeadLayout& in,
              const HeadLayout& out) const {
    const std::span<const float> slopes = mask().alibi_slopes;
    const WeightDropout drop =
        training_dropout(ctx)
            ? WeightDropout(dropout(), dropout_site_seed(ctx.dropout_seed, 0), T)
            : WeightDropout();
    return {B * n_head(), T, head_size(), softmax_scale(), drop, {slopes.begin(), slopes.end()},
            in, out};
  }
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::attention;
  d.name = "flash";
  d.version = "1.1.0";
  d.description =
      "causal multi-head self-attention with a fused, tiled online-softmax core (FlashAttention-2 "
      "style, memory linear in T); same parameters as causal_mha";
  d.factory = [](const Options&, const AttentionConfig& config) {
    return std::make_unique<Flash>(config);
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
