// Attention: the plugin interface for the causal self-attention of a transformer block.
//
// An attention plugin owns its parameters and computes dst(B, T, C) from src(B, T, C), where row t
// depends only on rows <= t (causal). `forward` is written with framework ops and gets its backward
// from autograd (or records a fused op with its own backward). The incremental path serves
// sampling: after reset_cache(B), each forward_cached(src(B, t, C)) appends t positions to the
// KV cache and returns their outputs, equal to the rows a full forward over everything seen so
// far would give. The cache never holds more than block_size positions; forward_cached is called
// under NoGrad.
//
// Below the interface are the pieces every attention plugin shares, so that none repeats them: the
// position encodings the model asks for (PositionEncoding), the check of src, the seeds of dropout
// sites, and a KV cache with a plain-loop attention over it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "nanolab/errors.hpp"
#include "nanolab/metrics.hpp"
#include "nanolab/ops.hpp"
#include "nanolab/parameter.hpp"
#include "nanolab/tensor.hpp"

namespace nanolab {

// How the model encodes positions ([model] position). `learned` and `none` need nothing of the
// attention; `rope` asks it to rotate q and k (ops::rope) by their absolute positions, `alibi` to
// add ops::alibi's linear distance bias to its scores. An attention that cannot honour the one it
// is given throws ConfigError from its factory, naming the plugin and the position.
enum class Position { learned, rope, alibi, none };
NANOLAB_VISIBLE const char* position_name(Position p);
// The inverse of position_name; ConfigError for any other name.
NANOLAB_VISIBLE Position position_from_name(const std::string& name);

// What the model tells an attention about its place (the values come from [model]).
struct AttentionConfig {
  int64_t n_embd;      // C
  int64_t n_head;      // NH; C % NH == 0 is checked by the framework
  int64_t block_size;  // the longest T
  bool bias;           // linear layers with bias
  float dropout;       // on the attention weights and the output projection, when training
  int64_t layer;       // index of the block, 0-based
  int64_t n_layer;
  Position position = Position::learned;
};

// Per-call state the model passes down.
struct ForwardContext {
  bool training = false;
  uint64_t dropout_seed = 0;  // distinct per call; a plugin derives its own seeds from it
  // The "attention" group (/metrics/attention/<name>): it listens at the logged steps of a run
  // with train.diagnostics, so what an attention records there is a diagnostic that may cost work.
  Metrics* metrics = &Metrics::none();
};

class NANOLAB_VISIBLE Attention {
 public:
  virtual ~Attention() = default;
  // The trainable tensors, named relative to the attention ("c_attn.weight"); stable order.
  virtual Parameters parameters() = 0;
  // src (B, T, C) -> dst (B, T, C), causal, T <= block_size.
  virtual Tensor forward(const Tensor& src, const ForwardContext& ctx) = 0;
  // KV-cache path for sampling (see above).
  virtual void reset_cache(int64_t batch) = 0;
  virtual Tensor forward_cached(const Tensor& src) = 0;
};

// --- Shared by the attention plugins ------------------------------------------------------------

// ALiBi's slope of each of n_head heads: 2^(-8h/n_head) for h = 1..n_head when n_head is a power
// of two; otherwise the slopes of the power of two below it followed by every other slope of the
// one above, as in the authors' code.
NANOLAB_VISIBLE std::vector<float> alibi_slopes(int64_t n_head);

// The model's position encoding as an attention applies it: rotate q and k, and the ALiBi slopes
// for its scores (empty unless position is alibi).
class NANOLAB_VISIBLE PositionEncoding {
 public:
  PositionEncoding(Position position, int64_t n_head);
  // x (B, H, T, HS) with row t at position pos0 + t: ops::rope(x, pos0) for rope, x otherwise.
  Tensor rotate(const Tensor& x, int64_t pos0) const;
  std::span<const float> alibi_slopes() const { return slopes_; }
  Position position() const { return position_; }

 private:
  Position position_;
  std::vector<float> slopes_;  // (NH) for alibi
};

// ConfigError from `plugin`'s factory for a position it cannot honour; `why` says why.
[[noreturn]] NANOLAB_VISIBLE void reject_position(const std::string& plugin, Position position,
                                                  const std::string& why);

// ShapeError unless src is (B, T, n_embd) with 1 <= T <= max_t; max_t < block_size means the
// cache holds block_size - max_t positions already (the message says so).
NANOLAB_VISIBLE void check_attention_src(const Tensor& src, const std::string& plugin,
                                         const char* what, int64_t n_embd, int64_t max_t,
                                         int64_t block_size);

// ShapeError unless src (B, t, n_embd) of forward_cached fits a cache that reset_cache(batch) made
// (batch 0: reset_cache was not called) and that holds `cached` of its block_size positions.
NANOLAB_VISIBLE void check_cached_src(const Tensor& src, const std::string& plugin, int64_t n_embd,
                                      int64_t batch, int64_t cached, int64_t block_size);

// The seed of dropout site `site` (0, 1, ...) of one call, from the call's ForwardContext seed:
// unrelated across sites, layers and calls.
NANOLAB_VISIBLE uint64_t dropout_site_seed(uint64_t seed, uint64_t site);

// The mean entropy (nats) of the attention weights softmax(softmax_scale * q·kᵀ) under the causal
// mask (and mask's window and ALiBi), over every batch row, head and query position: q (B, NH, T,
// HS), k (B, NKV, T, HS) with NH % NKV == 0 (query head h reads kv head h / (NH / NKV)). For the
// diagnostics of a fused attention that never holds the weights: it forms them again row by row,
// in double, B x NH x T^2 x HS multiply-adds. Reads q and k only (no autograd).
NANOLAB_VISIBLE double attention_entropy(const Tensor& q, const Tensor& k, float softmax_scale,
                                         const ops::AttentionMask& mask = {});
// When metrics.enabled(): records attention_entropy(q, k, ...) as `entropy.h.<layer>`.
NANOLAB_VISIBLE void record_attention_entropy(Metrics& metrics, int64_t layer, const Tensor& q,
                                              const Tensor& k, float softmax_scale,
                                              const ops::AttentionMask& mask = {});

// The keys and values of the positions seen since reset, for the sampling path: k and v
// (B, n_kv_head, block_size, HS) of which the first size() positions are filled.
class NANOLAB_VISIBLE KvCache {
 public:
  KvCache(std::string plugin, int64_t n_embd, int64_t n_kv_head, int64_t head_size,
          int64_t block_size);
  void reset(int64_t batch);
  // Checks src (B, t, C) of forward_cached: reset was called, same B, room for t positions.
  // Returns the position of src's first row (the positions cached so far).
  int64_t check(const Tensor& src) const;
  // Appends k, v (B, n_kv_head, t, HS) at positions size() .. size() + t - 1.
  void append(const Tensor& k, const Tensor& v);
  // The first half of forward_cached for src (B, t, C): check(src), then q, k, v of its rows from
  // qkv(src, pos0), pos0 being the position of src's first row; k and v are appended. Returns q
  // and pos0, for the attention of q over the cache (attend, or the plugin's own).
  template <class Qkv>
  std::pair<Tensor, int64_t> add(const Tensor& src, Qkv&& qkv) {
    const int64_t pos0 = check(src);
    auto [q, k, v] = qkv(src, pos0);
    append(k, v);
    return {q, pos0};
  }
  // Attention of q (B, NH, t, HS), whose rows are the last t positions appended, over the cache:
  // row i sees positions j <= its own (and inside mask.window), with ALiBi's bias when the mask
  // has slopes; query head h reads kv head h / (NH / n_kv_head). Plain loops, under NoGrad: a few
  // new rows at a time. Returns y (B, NH, t, HS).
  Tensor attend(const Tensor& q, float softmax_scale, const ops::AttentionMask& mask = {}) const;

  int64_t size() const { return cached_; }
  int64_t batch() const { return k_.defined() ? k_.size(0) : 0; }
  const Tensor& keys() const { return k_; }    // (B, n_kv_head, block_size, HS)
  const Tensor& values() const { return v_; }  // (B, n_kv_head, block_size, HS)

 private:
  std::string plugin_;
  int64_t C_, NKV_, HS_, block_size_;
  Tensor k_, v_;
  int64_t cached_ = 0;
};

}  // namespace nanolab
