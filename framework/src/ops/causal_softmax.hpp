// The masked softmax rows behind ops::causal_softmax and ops::causal_attention, with dropout on
// the weights optionally fused into the same pass. Internal.
//
// Row i of each (T, T) matrix touches only its visible part j0 <= j <= i and writes exact zeros to
// the rest, so neither the exps nor the dropout hash of the masked part are computed. The fused
// dropout draws its mask by the element's flat index in (BH, T, T), so it equals ops::dropout on
// the whole weights tensor with the same seed.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace nanolab::ops {

// The shape of one call: BH matrices (T, T), the window, and ALiBi's slopes of NH heads (the
// matrix bh belongs to head bh % NH).
struct CausalGeometry {
  int64_t BH, T, window;
  float scale;
  std::vector<float> slopes;  // (NH) or empty

  // First column row i of a matrix sees.
  int64_t first(int64_t i) const { return window > 0 ? std::max<int64_t>(0, i - window + 1) : 0; }
};

// Dropout of probability p on the softmax's output, p == 0 for none.
struct WeightsDropout {
  float p = 0.0f;
  uint64_t seed = 0;
};

// dst(BH, T, T) = masked softmax of scale * src(BH, T, T) - slope * (i - j); with dropout also
// dropped = dropout(dst). Rows are independent; each subtracts its own max before exp, so large
// scores cannot overflow. src may be dst.
void causal_softmax_fwd(const float* src, float* dst, const CausalGeometry& g,
                        const WeightsDropout& drop = {}, float* dropped = nullptr);

// diff_src = scale * dst * (g - <g, dst>) over the visible j, exactly 0 elsewhere, where g is
// diff_dst, or with dropout the gradient of `dropped` passed back through the dropout. The slopes
// are not read. diff_dst may be diff_src.
void causal_softmax_bwd(const float* dst, const float* diff_dst, float* diff_src,
                        const CausalGeometry& g, const WeightsDropout& drop = {});

}  // namespace nanolab::ops
