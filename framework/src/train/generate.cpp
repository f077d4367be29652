// Generation (generate.hpp): temperature, top-k, and a counter-based draw per token.
#include "train/generate.hpp"

#include <algorithm>
#include <cmath>

#include "nanolab/autograd.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/interrupt.hpp"
#include "nanolab/rng.hpp"

namespace nanolab::train_detail {
namespace {

int32_t pick(const float* logits, int64_t V, const Sampling& s, uint64_t draw) {
  std::vector<double> p(static_cast<size_t>(V));
  for (int64_t v = 0; v < V; ++v) p[size_t(v)] = double(logits[v]) / s.temperature;
  if (s.top_k > 0 && s.top_k < V) {
    std::vector<double> sorted = p;
    std::nth_element(sorted.begin(), sorted.begin() + (s.top_k - 1), sorted.end(), std::greater<>());
    const double kth = sorted[size_t(s.top_k - 1)];
    for (double& x : p)
      if (x < kth) x = -INFINITY;
  }
  const double mx = *std::max_element(p.begin(), p.end());
  double sum = 0;
  for (double& x : p) sum += (x = std::exp(x - mx));
  double u = rng::uniform(draw) * sum;
  for (int64_t v = 0; v < V; ++v) {
    u -= p[size_t(v)];
    if (u < 0) return int32_t(v);
  }
  return int32_t(V - 1);  // rounding left u >= 0: the last token with weight
}

}  // namespace

std::vector<int32_t> generate(Gpt& model, const std::vector<int32_t>& prompt, const Sampling& s) {
  if (prompt.empty()) throw DataError("sample: the prompt encodes to no tokens");
  if (!(s.temperature > 0)) throw ConfigError("sample: temperature must be > 0");
  NoGrad no_grad;
  const int64_t block = model.config().block_size;
  const int64_t V = model.config().vocab_size;
  std::vector<int32_t> context(prompt.end() - std::min<int64_t>(int64_t(prompt.size()), block),
                               prompt.end());
  std::vector<int32_t> out;
  model.reset_cache(1);
  Tensor logits = model.forward_cached(context, 1, int64_t(context.size()));
  int64_t cached = int64_t(context.size());
  for (int64_t i = 0; i < s.tokens && !interrupted(); ++i) {
    const float* last = logits.data() + (logits.size(1) - 1) * V;
    const int64_t drawn = s.vocab_size > 0 ? std::min(s.vocab_size, V) : V;
    const int32_t tok = pick(last, drawn, s, rng::mix(s.seed, uint64_t(i)));
    out.push_back(tok);
    if (tok == s.stop) break;
    context.push_back(tok);
    if (cached == block) {
      std::vector<int32_t> keep(context.end() - std::max<int64_t>(1, block / 2), context.end());
      model.reset_cache(1);
      logits = model.forward_cached(keep, 1, int64_t(keep.size()));
      cached = int64_t(keep.size());
    } else {
      logits = model.forward_cached(std::vector<int32_t>{tok}, 1, 1);
      ++cached;
    }
  }
  return out;
}

}  // namespace nanolab::train_detail
