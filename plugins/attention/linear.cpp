// attention `linear`: causal linear attention (Katharopoulos et al. 2020, "Transformers are RNNs"),
// with causal_mha's parameters, projections and output dropout (multi_head.hpp) and a fused core
// in place of the softmax. Per head, with the positive feature map phi(x) = elu(x) + 1,
//   S_t = sum_{s<=t} phi(k_s) v_sᵀ   (HS, HS)      z_t = sum_{s<=t} phi(k_s)   (HS)
//   y_t = phi(q_t)ᵀ S_t / (phi(q_t)ᵀ z_t + eps),   eps = 1e-6 (the authors' value),
// which is the quadratic form phi(Q) phi(K)ᵀ, masked causally and normalised by its row sums, times
// V, computed as a scan over t with a running state: memory O(T * HS) for the inputs and outputs
// plus O(HS^2) per head, never a (T, T) matrix. There is no softmax scale and no attention weight
// to drop: model.dropout falls on the output only.
//
// The backward is hand-written, per head in two scans and no stored states: keeping S_t for every
// t would take O(T * HS^2) memory (12.6 MB per layer already at the baby's B = 12, T = 64,
// HS = 32: HS times the size of q), so the states are recomputed instead, as in the authors' CUDA
// code. The forward saves what is O(T * HS) or less: phi(q), phi(k) (so that the backward takes
// no exp) and the denominators d_t. With g_t the gradient of y_t and a_t = phi(q_t):
//   e_t = g_t / d_t,  c_t = -(g_t · y_t) / d_t      (gradients of the numerator and denominator)
//   forward scan:  da_t = S_t e_t + c_t z_t                       -> dq_t = da_t * phi'(q_t)
//   reverse scan:  R_t = sum_{s>=t} a_s e_sᵀ, r_t = sum_{s>=t} c_s a_s
//                  dphi(k_t) = R_t v_t + r_t                     -> dk_t = dphi(k_t) * phi'(k_t)
//                  dv_t = R_tᵀ phi(k_t)
// Each head is one task of nanolab::parallel_for (over B x NH) and sums in a fixed order, so
// results do not depend on the thread count. The KV-cache path keeps only S and z per head
// (B, NH, HS, HS) and (B, NH, HS): constant memory in the number of positions seen, continuing the
// same scan. Refuses model.position = rope (a rotation breaks the positivity of the feature map's
// kernel, which the normalisation needs) and alibi (there is no score matrix to bias). Not a
// chunked or GPU kernel: the inner loops are plain float loops over contiguous rows of HS, so at
// short T (the baby's 64) it is slower than causal_mha's oneDNN products and faster from T ~ 256
// (docs/plugins.md).
#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "nanolab/autograd.hpp"
#include "nanolab/parallel.hpp"
#include "nanolab/plugin.hpp"
#include "nanolab/simd.hpp"

#include "multi_head.hpp"

namespace {

using namespace nanolab;

// The kernels are cloned per vector unit (nanolab/simd.hpp), so that their loops over HS use the
// widest units of the machine that loads the plugin, as flash's do.

// Added to every denominator: phi > 0 keeps it positive, eps keeps it away from 0.
constexpr float eps = 1e-6f;

// phi(x) = elu(x) + 1, of n values.
void feature(const float* x, int64_t n, float* dst) {
  for (int64_t d = 0; d < n; ++d) dst[d] = x[d] > 0.0f ? x[d] + 1.0f : std::exp(x[d]);
}

// a · b over n values, in LANES interleaved partial sums combined in a fixed order (a plain running
// sum is a serial chain the compiler may not turn into vector code).
constexpr int64_t LANES = 16;
NANOLAB_SIMD_INLINE float dot(const float* __restrict a, const float* __restrict b, int64_t n) {
  float part[LANES] = {};
  int64_t j = 0;
  for (; j + LANES <= n; j += LANES)
    for (int64_t x = 0; x < LANES; ++x) part[x] += a[j + x] * b[j + x];
  float s = 0.0f;
  for (int64_t x = 0; x < LANES; ++x) s += part[x];
  for (; j < n; ++j) s += a[j] * b[j];
  return s;
}

// y[0 .. n) += alpha * x[0 .. n)
NANOLAB_SIMD_INLINE void axpy(int64_t n, float alpha, const float* __restrict x, float* __restrict y) {
  for (int64_t j = 0; j < n; ++j) y[j] += alpha * x[j];
}

// The scan of one head over T rows from the state S (HS, HS) and z (HS), which it leaves at the
// last row: y (T, HS) and the denominators den (T). fq = phi(q), fk = phi(k), v: (T, HS) of this
// head.
NANOLAB_SIMD_CLONES void scan_forward(int64_t T, int64_t HS, const float* fq, const float* fk,
                                const float* v, float* S, float* z, float* y, float* den) {
  for (int64_t t = 0; t < T; ++t) {
    const float *a = fq + t * HS, *f = fk + t * HS, *vt = v + t * HS;
    for (int64_t i = 0; i < HS; ++i) axpy(HS, f[i], vt, S + i * HS);
    axpy(HS, 1.0f, f, z);
    float* yt = y + t * HS;
    std::fill(yt, yt + HS, 0.0f);
    for (int64_t i = 0; i < HS; ++i) axpy(HS, a[i], S + i * HS, yt);
    const float d = eps + dot(a, z, HS), inv = 1.0f / d;
    for (int64_t j = 0; j < HS; ++j) yt[j] *= inv;
    den[t] = d;
  }
}

// Per-task scratch of the backward: a state (HS, HS) and (HS), and e (HS).
struct Scratch {
  explicit Scratch(int64_t HS) : S(size_t(HS * HS)), z(size_t(HS)), e(size_t(HS)) {}
  void clear() {
    std::fill(S.begin(), S.end(), 0.0f);
    std::fill(z.begin(), z.end(), 0.0f);
  }
  std::vector<float> S, z, e;
};

// e = g / d and the returned c = -(g · y) / d of one row: the gradients of its numerator and
// denominator.
NANOLAB_SIMD_INLINE float row_grads(int64_t HS, const float* g, const float* y, float d, float* e) {
  const float inv = 1.0f / d;
  for (int64_t j = 0; j < HS; ++j) e[j] = g[j] * inv;
  return -dot(g, y, HS) * inv;
}

// phi'(x) = 1 for x > 0, else phi(x) = exp(x): from x and its feature fx.
NANOLAB_SIMD_INLINE float feature_grad(float x, float fx) { return x > 0.0f ? 1.0f : fx; }

// The backward of one head (see the top of the file). q, k, fq, fk, v, y, g, dq, dk, dv: (T, HS);
// den (T).
NANOLAB_SIMD_CLONES void scan_backward(int64_t T, int64_t HS, const float* q, const float* k,
                                 const float* fq, const float* fk, const float* v, const float* y,
                                 const float* den, const float* g, float* dq, float* dk, float* dv,
                                 Scratch& w) {
  float *S = w.S.data(), *z = w.z.data(), *e = w.e.data();
  w.clear();
  for (int64_t t = 0; t < T; ++t) {  // forward: S_t, z_t again, and dq
    const float *f = fk + t * HS, *vt = v + t * HS;
    for (int64_t i = 0; i < HS; ++i) axpy(HS, f[i], vt, S + i * HS);
    axpy(HS, 1.0f, f, z);
    const float c = row_grads(HS, g + t * HS, y + t * HS, den[t], e);
    for (int64_t i = 0; i < HS; ++i) {
      const int64_t at = t * HS + i;
      dq[at] = (dot(S + i * HS, e, HS) + c * z[i]) * feature_grad(q[at], fq[at]);
    }
  }
  float *R = S, *r = z;  // the forward's state is done with: R and r take its place
  w.clear();
  for (int64_t t = T - 1; t >= 0; --t) {  // reverse: R_t, r_t, and dk, dv
    const float *a = fq + t * HS, *f = fk + t * HS, *vt = v + t * HS;
    const float c = row_grads(HS, g + t * HS, y + t * HS, den[t], e);
    for (int64_t i = 0; i < HS; ++i) axpy(HS, a[i], e, R + i * HS);
    axpy(HS, c, a, r);
    float* dvt = dv + t * HS;
    std::fill(dvt, dvt + HS, 0.0f);
    for (int64_t i = 0; i < HS; ++i) {
      const int64_t at = t * HS + i;
      dk[at] = (dot(R + i * HS, vt, HS) + r[i]) * feature_grad(k[at], f[i]);
      axpy(HS, f[i], R + i * HS, dvt);
    }
  }
}

// What the backward needs: the inputs, their features, the output and the denominators.
struct LinearSaved {
  Tensor q, k, v;  // (B, NH, T, HS)
  Tensor fq, fk;   // (B, NH, T, HS): phi(q), phi(k)
  Tensor y;        // (B, NH, T, HS), a second handle on dst without its history
  Tensor den;      // (B, NH, T)
};

void linear_attention_backward(const LinearSaved& s, const Tensor& diff_dst) {
  const Shape shape = s.q.shape();
  const int64_t BNH = shape[0] * shape[1], T = shape[2], HS = shape[3], head = T * HS;
  Tensor dq = Tensor::empty(shape), dk = Tensor::empty(shape), dv = Tensor::empty(shape);
  parallel_for(BNH, 8 * T * HS * HS, [&](int64_t begin, int64_t end) {
    Scratch w(HS);
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t at = bh * head;
      scan_backward(T, HS, s.q.data() + at, s.k.data() + at, s.fq.data() + at, s.fk.data() + at,
                    s.v.data() + at, s.y.data() + at, s.den.data() + bh * T,
                    diff_dst.data() + at, dq.data() + at, dk.data() + at, dv.data() + at, w);
    }
  });
  autograd::accumulate_grad(s.q, std::move(dq));
  autograd::accumulate_grad(s.k, std::move(dk));
  autograd::accumulate_grad(s.v, std::move(dv));
}

// The fused op: q, k, v (B, NH, T, HS) -> y (B, NH, T, HS), recorded on the tape with its backward.
Tensor linear_attention(const Tensor& q, const Tensor& k, const Tensor& v) {
  const Shape& shape = q.shape();
  const int64_t BNH = shape[0] * shape[1], T = shape[2], HS = shape[3], head = T * HS;
  Tensor y = Tensor::empty(shape), fq = Tensor::empty(shape), fk = Tensor::empty(shape);
  Tensor den = Tensor::empty({shape[0], shape[1], T});
  parallel_for(BNH, 4 * T * HS * HS, [&](int64_t begin, int64_t end) {
    std::vector<float> S(static_cast<size_t>(HS * HS)), z(static_cast<size_t>(HS));
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t at = bh * head;
      feature(q.data() + at, head, fq.data() + at);
      feature(k.data() + at, head, fk.data() + at);
      std::fill(S.begin(), S.end(), 0.0f);
      std::fill(z.begin(), z.end(), 0.0f);
      scan_forward(T, HS, fq.data() + at, fk.data() + at, v.data() + at, S.data(), z.data(),
                   y.data() + at, den.data() + bh * T);
    }
  });
  if (autograd::needs_grad({&q, &k, &v})) {
    // y has no history yet, so view() records nothing: it only makes the second handle, which the
    // backward can hold without holding the node that holds it.
    LinearSaved saved{q, k, v, fq, fk, y.view(shape), den};
    autograd::record(y, {q, k, v}, [saved](const Tensor& diff_dst) {
      linear_attention_backward(saved, diff_dst);
    });
  }
  return y;
}

// causal_mha's projections (multi_head.hpp) around the scan; the sampling path keeps S and z.
class Linear final : public plugins::MultiHeadAttention {
 public:
  explicit Linear(const AttentionConfig& config)
      : MultiHeadAttention("linear", config, 0, Core::split) {}

 protected:
  // No softmax weights, so no attention entropy to record.
  void record_diagnostics(const Tensor&, Metrics&) override {}

 public:

  void reset_cache(int64_t batch) override {
    if (batch < 1)
      throw ShapeError("linear: reset_cache needs a batch >= 1, got " + std::to_string(batch));
    const int64_t NH = n_head(), HS = head_size();
    S_ = Tensor::zeros({batch, NH, HS, HS});
    z_ = Tensor::zeros({batch, NH, HS});
    seen_ = 0;
  }

  Tensor forward_cached(const Tensor& src) override {
    check_cached_src(src, "linear", n_embd(), S_.defined() ? S_.size(0) : 0, seen_, block_size());
    NoGrad no_grad;
    auto [q, k, v] = qkv(src, seen_);
    const Shape& shape = q.shape();  // (B, NH, t, HS)
    const int64_t BNH = shape[0] * shape[1], t = shape[2], HS = shape[3], head = t * HS;
    Tensor y = Tensor::empty(shape);
    // Named captures: clang 14 (the sanitizer build) cannot capture a structured binding.
    parallel_for(BNH, 4 * t * HS * HS, [&, &q = q, &k = k, &v = v](int64_t begin, int64_t end) {
      // phi(q), phi(k) of the new rows; the denominators are not needed without a backward.
      std::vector<float> fq(static_cast<size_t>(head)), fk(fq.size()), den(static_cast<size_t>(t));
      for (int64_t bh = begin; bh < end; ++bh) {
        const int64_t at = bh * head;
        feature(q.data() + at, head, fq.data());
        feature(k.data() + at, head, fk.data());
        scan_forward(t, HS, fq.data(), fk.data(), v.data() + at, S_.data() + bh * HS * HS,
                     z_.data() + bh * HS, y.data() + at, den.data());
      }
    });
    seen_ += t;
    return project(y);
  }

 protected:
  Tensor attend(const Tensor& q, const Tensor& k, const Tensor& v,
                const ForwardContext&) override {
    return linear_attention(q, k, v);
  }

 private:
  Tensor S_;  // (B, NH, HS, HS): sum of phi(k_s) v_sᵀ over the positions seen
  Tensor z_;  // (B, NH, HS): sum of phi(k_s)
  int64_t seen_ = 0;
};

PluginDescriptor describe() {
  PluginDescriptor d;
  d.kind = PluginKind::attention;
  d.name = "linear";
  d.version = "1.0.0";
  d.description =
      "causal linear attention (Katharopoulos et al. 2020, phi = elu + 1) as a scan with a "
      "running state: O(T) memory, constant-size KV cache; causal_mha's parameters";
  d.factory = [](const Options&, const AttentionConfig& config) {
    if (config.position == Position::rope)
      reject_position("linear", config.position,
                      "its positive feature map does not survive a rotation of q and k");
    if (config.position == Position::alibi)
      reject_position("linear", config.position, "it has no score matrix to bias");
    return std::make_unique<Linear>(config);
  };
  return d;
}

}  // namespace

NANOLAB_PLUGIN(describe)
