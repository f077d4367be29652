// The pieces attention plugins share (attention.hpp): position encodings, the src check, dropout
// seeds, the KV cache with its plain-loop attention, and the attention entropy of diagnostics.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "nanolab/attention.hpp"
#include "nanolab/autograd.hpp"
#include "nanolab/parallel.hpp"
#include "nanolab/rng.hpp"

namespace nanolab {

const char* position_name(Position p) {
  switch (p) {
    case Position::learned: return "learned";
    case Position::rope: return "rope";
    case Position::alibi: return "alibi";
    case Position::none: return "none";
  }
  return "?";
}

Position position_from_name(const std::string& name) {
  for (Position p : {Position::learned, Position::rope, Position::alibi, Position::none})
    if (name == position_name(p)) return p;
  throw ConfigError("unknown position encoding \"" + name +
                    "\"; expected learned, rope, alibi or none");
}

std::vector<float> alibi_slopes(int64_t n_head) {
  if (n_head < 1) throw ConfigError("alibi_slopes: n_head must be >= 1, got " +
                                    std::to_string(n_head));
  // 2^(-8h/n) for h = 1..n: exact powers of two when 8/n is an integer.
  auto power_of_two_slopes = [](int64_t n) {
    std::vector<float> s(static_cast<size_t>(n));
    for (int64_t h = 1; h <= n; ++h) s[size_t(h - 1)] = float(std::exp2(-8.0 * double(h) / double(n)));
    return s;
  };
  const int64_t lower = int64_t(std::bit_floor(uint64_t(n_head)));
  std::vector<float> slopes = power_of_two_slopes(lower);
  const std::vector<float> upper = power_of_two_slopes(2 * lower);
  for (int64_t i = 0; int64_t(slopes.size()) < n_head; i += 2) slopes.push_back(upper[size_t(i)]);
  return slopes;
}

PositionEncoding::PositionEncoding(Position position, int64_t n_head) : position_(position) {
  if (position == Position::alibi) slopes_ = nanolab::alibi_slopes(n_head);
}

Tensor PositionEncoding::rotate(const Tensor& x, int64_t pos0) const {
  return position_ == Position::rope ? ops::rope(x, pos0) : x;
}

void reject_position(const std::string& plugin, Position position, const std::string& why) {
  throw ConfigError("attention " + plugin + " cannot use model.position = \"" +
                    position_name(position) + "\": " + why +
                    "; hint: use position = \"learned\" or \"none\" with it, or another attention");
}

void check_attention_src(const Tensor& src, const std::string& plugin, const char* what,
                         int64_t n_embd, int64_t max_t, int64_t block_size) {
  const Shape& s = src.shape();
  if (s.ndim() == 3 && s[2] == n_embd && s[1] >= 1 && s[1] <= max_t) return;
  throw ShapeError(plugin + ": " + what + " expects src (B, T, C=" + std::to_string(n_embd) +
                   ") with 1 <= T <= " + std::to_string(max_t) +
                   (max_t < block_size ? " (what is left of block_size = " +
                                             std::to_string(block_size) + " in the cache)"
                                       : " (block_size)") +
                   ", got " + s.str());
}

void check_cached_src(const Tensor& src, const std::string& plugin, int64_t n_embd, int64_t batch,
                      int64_t cached, int64_t block_size) {
  if (batch == 0) throw ShapeError(plugin + ": forward_cached before reset_cache");
  check_attention_src(src, plugin, "forward_cached", n_embd, block_size - cached, block_size);
  if (src.size(0) != batch)
    throw ShapeError(plugin + ": forward_cached got a batch of " + std::to_string(src.size(0)) +
                     " after reset_cache(" + std::to_string(batch) + ")");
}

uint64_t dropout_site_seed(uint64_t seed, uint64_t site) {
  return rng::splitmix64(seed + rng::golden_gamma * site);  // the site-th output of seed's stream
}

KvCache::KvCache(std::string plugin, int64_t n_embd, int64_t n_kv_head, int64_t head_size,
                 int64_t block_size)
    : plugin_(std::move(plugin)),
      C_(n_embd),
      NKV_(n_kv_head),
      HS_(head_size),
      block_size_(block_size) {}

void KvCache::reset(int64_t batch) {
  if (batch < 1)
    throw ShapeError(plugin_ + ": reset_cache needs a batch >= 1, got " + std::to_string(batch));
  k_ = Tensor::zeros({batch, NKV_, block_size_, HS_});
  v_ = Tensor::zeros({batch, NKV_, block_size_, HS_});
  cached_ = 0;
}

int64_t KvCache::check(const Tensor& src) const {
  check_cached_src(src, plugin_, C_, batch(), cached_, block_size_);
  return cached_;
}

void KvCache::append(const Tensor& k, const Tensor& v) {
  const int64_t B = batch(), t = k.size(2), L = block_size_, rows = t * HS_;
  const Shape expected{B, NKV_, t, HS_};
  if (k.shape() != expected || v.shape() != expected || cached_ + t > L)
    throw ShapeError(plugin_ + ": KvCache::append expects k and v " + expected.str() +
                     " with room for them, got " + k.shape().str() + " and " + v.shape().str() +
                     " with " + std::to_string(cached_) + " of " + std::to_string(L) + " cached");
  for (int64_t bh = 0; bh < B * NKV_; ++bh) {
    const int64_t at = (bh * L + cached_) * HS_;
    std::memcpy(k_.data() + at, k.data() + bh * rows, size_t(rows) * sizeof(float));
    std::memcpy(v_.data() + at, v.data() + bh * rows, size_t(rows) * sizeof(float));
  }
  cached_ += t;
}

Tensor KvCache::attend(const Tensor& q, float softmax_scale, const ops::AttentionMask& mask) const {
  const int64_t B = batch(), NH = q.size(1), t = q.size(2), L = block_size_;
  const int64_t G = NH / NKV_, start = cached_ - t;
  if (q.shape().ndim() != 4 || q.size(0) != B || NH % NKV_ != 0 || q.size(3) != HS_ || start < 0)
    throw ShapeError(plugin_ + ": KvCache::attend expects q (B, NH, t, HS) of the last t " +
                     "positions appended, got " + q.shape().str());
  NoGrad no_grad;
  Tensor y = Tensor::empty({B, NH, t, HS_});  // (B, NH, t, HS)
  std::vector<float> w(static_cast<size_t>(cached_));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < NH; ++h) {
      const int64_t bh = b * NH + h, bkv = b * NKV_ + h / G;
      const float* keys = k_.data() + bkv * L * HS_;
      const float* values = v_.data() + bkv * L * HS_;
      const float slope = mask.alibi_slopes.empty() ? 0.0f : mask.alibi_slopes[size_t(h)];
      for (int64_t i = 0; i < t; ++i) {
        // Row i sits at position start + i and sees keys j0 .. start + i.
        const float* qi = q.data() + (bh * t + i) * HS_;
        float* yi = y.data() + (bh * t + i) * HS_;
        const int64_t pos = start + i;
        const int64_t j0 = mask.window > 0 ? std::max<int64_t>(0, pos - mask.window + 1) : 0;
        float max = -INFINITY;
        for (int64_t j = j0; j <= pos; ++j) {
          float s = 0.0f;
          for (int64_t d = 0; d < HS_; ++d) s += qi[d] * keys[j * HS_ + d];
          w[size_t(j)] = softmax_scale * s - slope * float(pos - j);
          max = std::max(max, w[size_t(j)]);
        }
        float sum = 0.0f;
        for (int64_t j = j0; j <= pos; ++j) sum += (w[size_t(j)] = std::exp(w[size_t(j)] - max));
        const float inv_sum = 1.0f / sum;
        std::fill(yi, yi + HS_, 0.0f);
        for (int64_t j = j0; j <= pos; ++j)
          for (int64_t d = 0; d < HS_; ++d) yi[d] += w[size_t(j)] * inv_sum * values[j * HS_ + d];
      }
    }
  return y;
}

double attention_entropy(const Tensor& q, const Tensor& k, float softmax_scale,
                         const ops::AttentionMask& mask) {
  const Shape& qs = q.shape();
  const Shape& ks = k.shape();
  if (qs.ndim() != 4 || ks.ndim() != 4 || qs[0] != ks[0] || qs[2] != ks[2] || qs[3] != ks[3] ||
      ks[1] < 1 || qs[1] % ks[1] != 0 ||
      (!mask.alibi_slopes.empty() && int64_t(mask.alibi_slopes.size()) != qs[1]))
    throw ShapeError("attention_entropy: expects q (B, NH, T, HS) and k (B, NKV, T, HS) with NKV "
                     "dividing NH, got q " + qs.str() + " and k " + ks.str());
  const int64_t B = qs[0], NH = qs[1], T = qs[2], HS = qs[3], NKV = ks[1], G = NH / NKV;
  if (B * NH * T == 0) return 0.0;
  std::vector<double> per_head(size_t(B * NH), 0.0);  // the sum over the head's rows
  parallel_for(B * NH, T * T * HS, [&](int64_t begin, int64_t end) {
    std::vector<double> w(static_cast<size_t>(T));
    for (int64_t bh = begin; bh < end; ++bh) {
      const int64_t b = bh / NH, h = bh % NH;
      const float* keys = k.data() + (b * NKV + h / G) * T * HS;
      const double slope = mask.alibi_slopes.empty() ? 0.0 : mask.alibi_slopes[size_t(h)];
      double sum_h = 0;
      for (int64_t i = 0; i < T; ++i) {
        const float* qi = q.data() + (bh * T + i) * HS;
        const int64_t j0 = mask.window > 0 ? std::max<int64_t>(0, i - mask.window + 1) : 0;
        double max = -INFINITY;
        for (int64_t j = j0; j <= i; ++j) {
          double s = 0;
          for (int64_t d = 0; d < HS; ++d) s += double(qi[d]) * keys[j * HS + d];
          w[size_t(j)] = softmax_scale * s - slope * double(i - j);
          max = std::max(max, w[size_t(j)]);
        }
        // H = log Z - sum_j p_j (w_j - max), Z = sum_j exp(w_j - max).
        double z = 0, weighted = 0;
        for (int64_t j = j0; j <= i; ++j) {
          const double e = std::exp(w[size_t(j)] - max);
          z += e;
          weighted += e * (w[size_t(j)] - max);
        }
        sum_h += std::log(z) - weighted / z;
      }
      per_head[size_t(bh)] = sum_h;
    }
  });
  double total = 0;  // in order, so that the value does not depend on the thread count
  for (double v : per_head) total += v;
  return total / double(B * NH * T);
}

void record_attention_entropy(Metrics& metrics, int64_t layer, const Tensor& q, const Tensor& k,
                              float softmax_scale, const ops::AttentionMask& mask) {
  if (!metrics.enabled()) return;
  metrics.record("entropy.h." + std::to_string(layer),
                 attention_entropy(q, k, softmax_scale, mask));
}

}  // namespace nanolab
