// The ops benchmark: for GPT shapes, each op's fast forward and backward (framework ops through
// autograd) against its plain-loop reference (framework/src/ops/*_ref.hpp), and the GFLOP/s of the
// matmuls as a share of this machine's f32 matmul peak, measured in the same run. Prints Markdown
// (a header, then one table per shape group) for docs/ops.md:
//   OMP_WAIT_POLICY=passive build/bin/bench_ops [--quick] [--reps N] [--peak]
// --quick runs only B*T = 768, C = 128 and 384, V = 65 (under a minute on 2 cores); --peak prints
// only the f32 matmul peak in GFLOP/s (for tools/bench/run).
//
// What is timed. Fast forward: the op called on inputs that require grad (the training forward,
// node recording included). Fast backward: `dst.backward(diff_dst)` on one recorded op, with every
// input's .grad reset before each repetition so that gradients are written, not accumulated; that
// includes autograd's copies (diff_dst into the tape, the gradient into each leaf's .grad). Both
// are the median of up to --reps repetitions (default 21, fewer when one takes long) after
// warm-up, which creates the oneDNN primitives. Reference: the single-threaded plain loops, the
// median of up to 5 repetitions, one for slow shapes; skipped when the time estimated from the
// same op's measured rate on a smaller shape (flops for matmuls, elements otherwise) exceeds 20 s.
//
// Not a test: it asserts nothing and checks no values (the op tests in tests/unit/ops do), and it
// times ops one at a time, not a training step.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "nanolab/autograd.hpp"
#include "nanolab/ops.hpp"
#include "nanolab/runtime.hpp"
#include "ops/causal_attention_ref.hpp"
#include "ops/causal_softmax_ref.hpp"
#include "ops/cross_entropy_ref.hpp"
#include "ops/dropout_ref.hpp"
#include "ops/elementwise_ref.hpp"
#include "ops/embedding_ref.hpp"
#include "ops/gelu_ref.hpp"
#include "ops/heads_ref.hpp"
#include "ops/layer_norm_ref.hpp"
#include "ops/matmul_ref.hpp"
#include "ops/reduce_ref.hpp"
#include "ops/softmax_ref.hpp"

using namespace nanolab;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr int64_t HS = 64;                // head size of every GPT-2 model: NH = C / 64
constexpr double ref_limit_s = 20.0;      // longer references are skipped, with their estimate
constexpr double fast_budget_s = 0.5;     // per op and direction, after warm-up
constexpr double ref_budget_s = 1.0;      // references: repetitions while under this
constexpr int ref_max_reps = 5;
constexpr float dropout_p = 0.1f;

double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Median seconds of `f`: one repetition, then more while under `budget_s`, at least `min_reps`
// (when the first allows) and at most `max_reps`. `before` runs untimed ahead of each repetition.
double time_median(const std::function<void()>& f, const std::function<void()>& before,
                   int min_reps, int max_reps, double budget_s) {
  std::vector<double> t;
  const auto start = clock_type::now();
  do {
    before();
    const auto t0 = clock_type::now();
    f();
    t.push_back(seconds_since(t0));
  } while (int(t.size()) < max_reps &&
           (int(t.size()) < min_reps || seconds_since(start) + t.back() < budget_s));
  return median(t);
}

std::vector<float> uniform(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = u(rng);
  return v;
}

std::shared_ptr<const std::vector<int32_t>> random_ids(int64_t n, int64_t V, uint32_t seed) {
  std::mt19937 rng(seed);
  auto ids = std::make_shared<std::vector<int32_t>>(static_cast<size_t>(n));
  for (auto& id : *ids) id = int32_t(rng() % uint64_t(V));
  return ids;
}

// The reference's buffers: copies of the fast op's inputs and diff_dst, so both see the same
// values (timings of exp and tanh depend on them).
struct RefBuffers {
  std::vector<std::vector<float>> src, diff_src;  // one per input
  std::vector<float> dst, diff_dst;
};

struct Case {
  std::string op;     // also the key under which the reference's rate is remembered
  std::string shape;
  std::vector<Shape> inputs;  // all require grad
  std::function<Tensor(const std::vector<Tensor>&)> fast;
  std::function<void(RefBuffers&)> ref_fwd, ref_bwd;
  double fwd_flops = 0, bwd_flops = 0;  // matmuls only: they get GFLOP/s and % of peak
  double elements = 0;                  // the work measure of the other ops' references
};

struct Group {
  std::string title;
  std::vector<Case> cases;
};

std::string fmt(const char* f, double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, x);
  return buf;
}

std::string fmt_ms(double s) {
  const double ms = s * 1e3;
  return fmt(ms >= 100 ? "%.0f" : ms >= 10 ? "%.1f" : ms >= 1 ? "%.2f" : "%.3f", ms);
}

std::string dims(std::initializer_list<int64_t> d) {
  std::string s;
  for (int64_t x : d) {
    if (!s.empty()) s += 'x';
    s += std::to_string(x);
  }
  return s;
}

// --- the cases -----------------------------------------------------------------------------

// dst(BT, N) = src(BT, K) · weight(N, K)ᵀ (+ bias(N))
Case linear_case(const std::string& op, int64_t BT, int64_t K, int64_t N, bool bias) {
  Case c{op, dims({BT, K}) + " -> " + std::to_string(N) + (bias ? " +b" : ""), {}, {}, {}, {}};
  c.inputs = {{BT, K}, {N, K}};
  if (bias) c.inputs.push_back({N});
  c.fast = [bias](const std::vector<Tensor>& x) {
    return bias ? ops::linear(x[0], x[1], x[2]) : ops::linear(x[0], x[1]);
  };
  c.ref_fwd = [=](RefBuffers& b) {
    ref::linear_fwd(b.src[0].data(), b.src[1].data(), bias ? b.src[2].data() : nullptr,
                    b.dst.data(), BT, N, K);
  };
  c.ref_bwd = [=](RefBuffers& b) {
    ref::linear_bwd(b.src[0].data(), b.src[1].data(), b.diff_dst.data(), b.diff_src[0].data(),
                    b.diff_src[1].data(), bias ? b.diff_src[2].data() : nullptr, BT, N, K);
  };
  c.fwd_flops = 2.0 * BT * N * K;
  c.bwd_flops = 2 * c.fwd_flops;  // diff_src and diff_weight (the bias column sum is noise)
  return c;
}

// Attention's batched matmuls over (B, NH): scores(T, T) = q(T, HS) · k(T, HS)ᵀ when qk, else
// y(T, HS) = att(T, T) · v(T, HS).
Case attention_matmul_case(bool qk, int64_t B, int64_t NH, int64_t T) {
  const int64_t M = T, N = qk ? T : HS, K = qk ? HS : T;
  Case c{qk ? "matmul q·kᵀ" : "matmul att·v",
         "B=" + std::to_string(B) + " NH=" + std::to_string(NH) + " T=" + std::to_string(T),
         {}, {}, {}, {}};
  c.inputs = {{B, NH, M, K}, qk ? Shape{B, NH, N, K} : Shape{B, NH, K, N}};
  c.fast = [qk](const std::vector<Tensor>& x) { return ops::matmul(x[0], x[1], false, qk); };
  const int64_t batch = B * NH;
  c.ref_fwd = [=](RefBuffers& b) {
    ref::matmul_fwd(b.src[0].data(), b.src[1].data(), b.dst.data(), batch, M, N, K, false, qk);
  };
  c.ref_bwd = [=](RefBuffers& b) {
    ref::matmul_bwd(b.src[0].data(), b.src[1].data(), b.diff_dst.data(), b.diff_src[0].data(),
                    b.diff_src[1].data(), batch, M, N, K, false, qk);
  };
  c.fwd_flops = 2.0 * batch * M * N * K;
  c.bwd_flops = 2 * c.fwd_flops;
  return c;
}

// Softmax over the attention scores (B, NH, T, T): causal (what a GPT runs, scaled by 1/sqrt(HS))
// or plain (the unmasked softmax on the same shape, for comparison).
Case attention_softmax_case(bool causal, int64_t B, int64_t NH, int64_t T) {
  Case c{causal ? "causal_softmax" : "softmax",
         "B=" + std::to_string(B) + " NH=" + std::to_string(NH) + " T=" + std::to_string(T),
         {{B, NH, T, T}}, {}, {}, {}};
  const float scale = 1.0f / std::sqrt(float(HS));
  const int64_t BH = B * NH;
  if (causal) {
    c.fast = [scale](const std::vector<Tensor>& x) { return ops::causal_softmax(x[0], scale); };
    c.ref_fwd = [=](RefBuffers& b) {
      ref::causal_softmax_fwd(b.src[0].data(), b.dst.data(), BH, T, scale);
    };
    c.ref_bwd = [=](RefBuffers& b) {
      ref::causal_softmax_bwd(b.dst.data(), b.diff_dst.data(), b.diff_src[0].data(), BH, T, scale);
    };
  } else {
    c.fast = [](const std::vector<Tensor>& x) { return ops::softmax(x[0]); };
    c.ref_fwd = [=](RefBuffers& b) { ref::softmax_fwd(b.src[0].data(), b.dst.data(), BH * T, T); };
    c.ref_bwd = [=](RefBuffers& b) {
      ref::softmax_bwd(b.dst.data(), b.diff_dst.data(), b.diff_src[0].data(), BH * T, T);
    };
  }
  c.elements = double(BH * T * T);
  return c;
}

// The attention core on packed heads: qkv (B, T, 3C) -> y (B, T, C), causal, scaled by
// 1/sqrt(HS), no dropout; GFLOP/s count its four (B, NH) batches of T x T x HS products in full.
Case causal_attention_case(int64_t B, int64_t NH, int64_t T) {
  Case c{"causal_attention",
         "B=" + std::to_string(B) + " NH=" + std::to_string(NH) + " T=" + std::to_string(T),
         {{B, T, 3 * NH * HS}}, {}, {}, {}};
  const float scale = 1.0f / std::sqrt(float(HS));
  const ref::AttentionShape a{B, T, NH, HS, scale, 0, {}};
  c.fast = [=](const std::vector<Tensor>& x) { return ops::causal_attention(x[0], NH, scale); };
  c.ref_fwd = [=](RefBuffers& b) { ref::causal_attention_fwd(b.src[0].data(), b.dst.data(), a); };
  c.ref_bwd = [=](RefBuffers& b) {
    ref::causal_attention_bwd(b.src[0].data(), b.diff_dst.data(), b.diff_src[0].data(), a);
  };
  c.fwd_flops = 4.0 * double(B * NH * T * T * HS);
  c.bwd_flops = 2 * c.fwd_flops;
  return c;
}

Case layer_norm_case(int64_t BT, int64_t C) {
  Case c{"layer_norm", dims({BT, C}), {{BT, C}, {C}, {C}}, {}, {}, {}};
  c.fast = [](const std::vector<Tensor>& x) { return ops::layer_norm(x[0], x[1], x[2]); };
  c.ref_fwd = [=](RefBuffers& b) {
    ref::layer_norm_fwd(b.src[0].data(), b.src[1].data(), b.src[2].data(), b.dst.data(), BT, C,
                        1e-5f);
  };
  c.ref_bwd = [=](RefBuffers& b) {
    ref::layer_norm_bwd(b.src[0].data(), b.src[1].data(), b.diff_dst.data(), b.diff_src[0].data(),
                        b.diff_src[1].data(), b.diff_src[2].data(), BT, C, 1e-5f);
  };
  c.elements = double(BT * C);
  return c;
}

// The MLP's activation, on its (BT, 4C) hidden layer.
Case gelu_case(int64_t BT, int64_t C4) {
  const int64_t n = BT * C4;
  Case c{"gelu tanh", dims({BT, C4}), {{BT, C4}}, {}, {}, {}};
  c.fast = [](const std::vector<Tensor>& x) { return ops::gelu(x[0], ops::GeluForm::tanh); };
  c.ref_fwd = [=](RefBuffers& b) { ref::gelu_fwd(b.src[0].data(), b.dst.data(), n, true); };
  c.ref_bwd = [=](RefBuffers& b) {
    ref::gelu_bwd(b.src[0].data(), b.diff_dst.data(), b.diff_src[0].data(), n, true);
  };
  c.elements = double(n);
  return c;
}

// The residual add x + f(x), (BT, C) + (BT, C).
Case add_case(int64_t BT, int64_t C) {
  const int64_t n = BT * C;
  Case c{"add", dims({BT, C}) + " + " + dims({BT, C}), {{BT, C}, {BT, C}}, {}, {}, {}};
  c.fast = [](const std::vector<Tensor>& x) { return ops::add(x[0], x[1]); };
  c.ref_fwd = [=](RefBuffers& b) {
    ref::add_fwd(b.src[0].data(), b.src[1].data(), b.dst.data(), 1, n);
  };
  c.ref_bwd = [=](RefBuffers& b) {
    ref::add_bwd(b.diff_dst.data(), b.diff_src[0].data(), b.diff_src[1].data(), 1, n);
  };
  c.elements = double(n);
  return c;
}

// wte lookup: dst(BT, C) = weight(V, C)[ids(BT)]; the backward writes the whole (V, C) gradient.
Case embedding_case(int64_t BT, int64_t C, int64_t V) {
  Case c{"embedding", "V=" + std::to_string(V) + " C=" + std::to_string(C) + ", " +
                          std::to_string(BT) + " ids",
         {{V, C}}, {}, {}, {}};
  auto ids = random_ids(BT, V, 3);
  c.fast = [ids, BT](const std::vector<Tensor>& x) { return ops::embedding(x[0], *ids, {BT}); };
  c.ref_fwd = [=](RefBuffers& b) {
    ref::embedding_fwd(b.src[0].data(), ids->data(), b.dst.data(), BT, C);
  };
  c.ref_bwd = [=](RefBuffers& b) {
    ref::embedding_bwd(ids->data(), b.diff_dst.data(), b.diff_src[0].data(), BT, V, C);
  };
  c.elements = double(BT * C + V * C);
  return c;
}

// (B, T, C) <-> (B, NH, T, HS), at T = 64.
Case heads_case(bool split, int64_t BT, int64_t C) {
  const int64_t T = 64, B = BT / T, NH = C / HS;
  Case c{split ? "split_heads" : "merge_heads",
         split ? dims({B, T, C}) + " -> " + dims({B, NH, T, HS})
               : dims({B, NH, T, HS}) + " -> " + dims({B, T, C}),
         {split ? Shape{B, T, C} : Shape{B, NH, T, HS}}, {}, {}, {}};
  c.fast = [split, NH](const std::vector<Tensor>& x) {
    return split ? ops::split_heads(x[0], NH) : ops::merge_heads(x[0]);
  };
  c.ref_fwd = [=](RefBuffers& b) {
    (split ? ref::split_heads_fwd<float> : ref::merge_heads_fwd<float>)(b.src[0].data(),
                                                                        b.dst.data(), B, T, NH, HS);
  };
  c.ref_bwd = [=](RefBuffers& b) {
    (split ? ref::split_heads_bwd<float> : ref::merge_heads_bwd<float>)(
        b.diff_dst.data(), b.diff_src[0].data(), B, T, NH, HS);
  };
  c.elements = double(BT * C);
  return c;
}

// Residual dropout on (BT, C).
Case dropout_case(int64_t BT, int64_t C) {
  const int64_t n = BT * C;
  const uint64_t seed = 1337;
  Case c{"dropout p=0.1", dims({BT, C}), {{BT, C}}, {}, {}, {}};
  c.fast = [seed](const std::vector<Tensor>& x) { return ops::dropout(x[0], dropout_p, seed); };
  c.ref_fwd = [=](RefBuffers& b) {
    ref::dropout_fwd(b.src[0].data(), b.dst.data(), n, dropout_p, seed);
  };
  c.ref_bwd = [=](RefBuffers& b) {
    ref::dropout_bwd(b.diff_dst.data(), b.diff_src[0].data(), n, dropout_p, seed);
  };
  c.elements = double(n);
  return c;
}

Case sum_case(int64_t BT, int64_t C) {
  const int64_t n = BT * C;
  Case c{"sum", dims({BT, C}), {{BT, C}}, {}, {}, {}};
  c.fast = [](const std::vector<Tensor>& x) { return ops::sum(x[0]); };
  c.ref_fwd = [=](RefBuffers& b) { ref::sum_fwd(b.src[0].data(), b.dst.data(), n); };
  c.ref_bwd = [=](RefBuffers& b) {
    ref::sum_bwd(b.diff_dst.data(), b.diff_src[0].data(), n);
  };
  c.elements = double(n);
  return c;
}

// The loss over logits (BT, V); every target counts (no ignore_index, no smoothing).
Case cross_entropy_case(int64_t BT, int64_t V) {
  Case c{"cross_entropy", dims({BT, V}), {{BT, V}}, {}, {}, {}};
  auto targets = random_ids(BT, V, 4);
  c.fast = [targets](const std::vector<Tensor>& x) { return ops::cross_entropy(x[0], *targets); };
  c.ref_fwd = [=](RefBuffers& b) {
    ref::cross_entropy_fwd(b.src[0].data(), targets->data(), b.dst.data(), BT, V, -1, 0.0f);
  };
  c.ref_bwd = [=](RefBuffers& b) {
    ref::cross_entropy_bwd(b.src[0].data(), targets->data(), b.diff_dst.data(),
                           b.diff_src[0].data(), BT, V, -1, 0.0f);
  };
  c.elements = double(BT * V);
  return c;
}

// Small shapes first: a reference's time is estimated from the same op's rate on a smaller one.
std::vector<Group> gpt_groups(bool quick) {
  using sizes = std::vector<int64_t>;
  const sizes rows = quick ? sizes{768} : sizes{768, 4096};          // B*T
  const sizes widths = quick ? sizes{128, 384} : sizes{128, 384, 768};  // C
  const sizes vocabs = quick ? sizes{65} : sizes{65, 50257};          // V
  std::vector<Group> groups;
  for (int64_t BT : rows) {
    for (int64_t C : widths) {
      const int64_t NH = C / HS;
      Group g{"B*T = " + std::to_string(BT) + ", C = " + std::to_string(C) + " (NH = " +
                  std::to_string(NH) + ", HS = " + std::to_string(HS) + ")",
              {}};
      g.cases.push_back(linear_case("linear C->4C", BT, C, 4 * C, true));
      g.cases.push_back(linear_case("linear 4C->C", BT, 4 * C, C, true));
      for (int64_t V : vocabs) g.cases.push_back(linear_case("lm_head C->V", BT, C, V, false));
      for (int64_t T : {64, 256}) {
        g.cases.push_back(attention_matmul_case(true, BT / T, NH, T));
        g.cases.push_back(attention_matmul_case(false, BT / T, NH, T));
      }
      for (int64_t T : {64, 256}) {
        g.cases.push_back(attention_softmax_case(true, BT / T, NH, T));
        g.cases.push_back(attention_softmax_case(false, BT / T, NH, T));
      }
      for (int64_t T : {64, 256}) g.cases.push_back(causal_attention_case(BT / T, NH, T));
      g.cases.push_back(layer_norm_case(BT, C));
      g.cases.push_back(gelu_case(BT, 4 * C));
      g.cases.push_back(add_case(BT, C));
      for (int64_t V : vocabs) g.cases.push_back(embedding_case(BT, C, V));
      g.cases.push_back(heads_case(true, BT, C));
      g.cases.push_back(heads_case(false, BT, C));
      g.cases.push_back(dropout_case(BT, C));
      g.cases.push_back(sum_case(BT, C));
      groups.push_back(std::move(g));
    }
    Group loss{"B*T = " + std::to_string(BT) + ", the loss (independent of C)", {}};
    for (int64_t V : vocabs) loss.cases.push_back(cross_entropy_case(BT, V));
    groups.push_back(std::move(loss));
  }
  return groups;
}

// --- measuring -----------------------------------------------------------------------------

struct Timing {
  double fast_s = 0;
  double ref_s = -1;         // < 0: skipped
  double ref_estimate_s = 0;  // when skipped
};

class Bench {
 public:
  Bench(int max_reps, double peak_gflops) : max_reps_(max_reps), peak_(peak_gflops) {}

  // Times one case and prints its table row.
  void run(const Case& c) {
    std::vector<Tensor> in;
    uint32_t seed = 10;
    for (const Shape& s : c.inputs)
      in.push_back(Tensor::from(uniform(s.numel(), seed++), s).set_requires_grad());
    auto reset = [&] {
      for (Tensor& t : in) t.reset_grad();
    };

    Timing fwd, bwd;
    for (int i = 0; i < 2; ++i) c.fast(in);  // creates the primitives, warms the caches
    fwd.fast_s = time_median([&] { c.fast(in); }, [] {}, 3, max_reps_, fast_budget_s);

    Tensor dst = c.fast(in);
    Tensor diff = dst.numel() == 1 ? Tensor::full(dst.shape(), 1.0f)
                                   : Tensor::from(uniform(dst.numel(), 99), dst.shape());
    dst.backward(diff);  // warm-up
    bwd.fast_s = time_median([&] { dst.backward(diff); }, reset, 3, max_reps_, fast_budget_s);

    const double fwd_work = c.fwd_flops > 0 ? c.fwd_flops : c.elements;
    const double bwd_work = c.bwd_flops > 0 ? c.bwd_flops : c.elements;
    const bool run_fwd = plan_ref(c.op + "/fwd", fwd_work, fwd);
    const bool run_bwd = plan_ref(c.op + "/bwd", bwd_work, bwd);
    if (run_fwd || run_bwd) {
      RefBuffers b;
      for (const Tensor& t : in) {
        b.src.push_back(t.to_vector());
        b.diff_src.emplace_back(size_t(t.numel()));
      }
      b.dst.resize(size_t(dst.numel()));
      b.diff_dst = diff.to_vector();
      // The backward of softmax reads dst: give it the real one even when the forward is skipped.
      if (!run_fwd) b.dst = dst.to_vector();
      if (run_fwd) time_ref(c.op + "/fwd", fwd_work, [&] { c.ref_fwd(b); }, fwd);
      if (run_bwd) time_ref(c.op + "/bwd", bwd_work, [&] { c.ref_bwd(b); }, bwd);
    }

    std::printf("| %s | %s | %s | %s |\n", c.op.c_str(), c.shape.c_str(),
                cells(fwd, c.fwd_flops).c_str(), cells(bwd, c.bwd_flops).c_str());
    std::fflush(stdout);
    in.clear();
    dst = Tensor();
    diff = Tensor();
    runtime::release_cached_memory();  // the next case starts from what it needs, not 4 GB cached
  }

 private:
  // Whether to run the reference; if not, fills the estimate.
  bool plan_ref(const std::string& key, double work, Timing& t) {
    auto it = rate_.find(key);
    if (it == rate_.end()) return true;
    const double estimate = work / it->second;
    if (estimate <= ref_limit_s) return true;
    t.ref_estimate_s = estimate;
    return false;
  }

  void time_ref(const std::string& key, double work, const std::function<void()>& f, Timing& t) {
    t.ref_s = time_median(f, [] {}, 1, ref_max_reps, ref_budget_s);
    rate_[key] = work / t.ref_s;
  }

  // fast | ref | speedup | GFLOP/s (% of peak)
  std::string cells(const Timing& t, double flops) const {
    std::string s = fmt_ms(t.fast_s) + " | ";
    if (t.ref_s < 0) {
      s += "skipped (est. " + fmt("%.0f", t.ref_estimate_s) + " s) | – | ";
    } else {
      const double speedup = t.ref_s / t.fast_s;
      s += fmt_ms(t.ref_s) + " | " + fmt(speedup >= 10 ? "%.0f" : "%.1f", speedup) + "× | ";
    }
    if (flops > 0) {
      const double gflops = flops / t.fast_s * 1e-9;
      s += fmt("%.0f", gflops) + " (" + fmt("%.0f", 100 * gflops / peak_) + " %)";
    }
    return s;
  }

  int max_reps_;
  double peak_;
  std::map<std::string, double> rate_;  // reference work per second, by op and direction
};

// f32 matmul peak: a large square oneDNN matmul through ops::matmul, GFLOP/s of the median.
double measure_peak(int64_t n, int reps) {
  NoGrad no_grad;
  Tensor a = Tensor::from(uniform(n * n, 1), {n, n});
  Tensor b = Tensor::from(uniform(n * n, 2), {n, n});
  for (int i = 0; i < 2; ++i) ops::matmul(a, b);
  const double s = time_median([&] { ops::matmul(a, b); }, [] {}, reps, reps, 0);
  return 2.0 * n * n * n / s * 1e-9;
}

std::string load_average() {
  std::ifstream f("/proc/loadavg");
  std::string one, five, fifteen;
  f >> one >> five >> fifteen;
  return one + ", " + five + ", " + fifteen;
}

std::string cpu_model() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown";
}

std::string now_utc() {
  char buf[32];
  const std::time_t t = std::time(nullptr);
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
  return buf;
}

int usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s [--quick] [--reps N] [--peak]\n", argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false, peak_only = false;
  int reps = 21;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--quick")) {
      quick = true;
    } else if (!std::strcmp(argv[i], "--peak")) {
      peak_only = true;
    } else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
      if (reps < 1) return usage(argv[0]);
    } else {
      return usage(argv[0]);
    }
  }
  runtime::init_threads();
  const auto start = clock_type::now();
  const int64_t peak_n = 2048;
  const int peak_reps = 10;
  if (peak_only) {
    std::printf("%.1f\n", measure_peak(peak_n, peak_reps));
    return 0;
  }

  std::printf("## nanolab ops benchmark%s\n\n", quick ? " (--quick)" : "");
  std::printf("- date: %s; CPU: %s; threads: %d; OMP_WAIT_POLICY passive: %s\n", now_utc().c_str(),
              cpu_model().c_str(), runtime::num_threads(),
              runtime::omp_wait_policy_passive() ? "yes" : "NO (run with OMP_WAIT_POLICY=passive)");
  std::printf("- load average (1, 5, 15 min) at start: %s\n", load_average().c_str());
  std::fflush(stdout);
  const double peak = measure_peak(peak_n, peak_reps);
  std::printf("- f32 matmul peak: %.0f GFLOP/s (oneDNN, %lldx%lldx%lld via ops::matmul, median of "
              "%d; the %% peak columns are shares of it)\n",
              peak, (long long)peak_n, (long long)peak_n, (long long)peak_n, peak_reps);
  std::printf("- times in ms: fast = median of up to %d after warm-up; ref = the plain loops of "
              "framework/src/ops/*_ref.hpp on one thread, median of up to %d; × = ref / fast\n",
              reps, ref_max_reps);
  std::fflush(stdout);

  Bench bench(reps, peak);
  for (const Group& g : gpt_groups(quick)) {
    std::printf("\n### %s\n\n", g.title.c_str());
    std::printf("| op | shape | fwd fast | fwd ref | fwd × | fwd GFLOP/s (%% peak) | bwd fast | "
                "bwd ref | bwd × | bwd GFLOP/s (%% peak) |\n");
    std::printf("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for (const Case& c : g.cases) bench.run(c);
  }
  // Again at the end: on a shared machine the peak drifts with the load; this shows by how much.
  std::printf("\n- f32 matmul peak at the end: %.0f GFLOP/s; load average at the end: %s; "
              "total %.0f s\n",
              measure_peak(peak_n, peak_reps), load_average().c_str(), seconds_since(start));
}
