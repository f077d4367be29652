// The defining property of each research-variant plugin, beside the contract suites
// that already run over them as members of their kind:
// - lion: its first steps land on values worked out by hand from the paper's update;
// - adafactor: three steps equal transformers' algorithm written out here in double, and a 2-D
//   weight keeps only a row and a column second moment;
// - focal: with gamma = 0 it is cross-entropy (value and gradient), and with gamma = 2 it weighs
//   each token's log-likelihood by (1 - p_t)^2;
// - cross_entropy's z_loss adds exactly z_loss * mean(logsumexp(logits)^2), and its gradient;
// - gqa is causal_mha whose key/value heads are repeated over each group of query heads (so with
//   n_kv_head = n_head it is causal_mha itself), for every divisor down to multi-query, and its
//   gradients are causal_mha's summed over each group;
// - sliding_window with window >= T is causal_mha, its outputs ignore the tokens outside the
//   window, and with a window shorter than T its KV cache agrees with its full forward and its
//   input gradient with finite differences;
// - muon: three steps equal Keller Jordan's formulas written out here in double (Nesterov momentum,
//   five quintic Newton-Schulz steps, the shape scale, decay) for its hidden matrices and AdamW's
//   for the rest; the update it adds to a hidden matrix has every singular value in the quintic's
//   band around 1; the embeddings, head and 1-D parameters take adamw's steps to the bit;
// - linear is the quadratic form of linear attention (phi(Q) phi(K)ᵀ masked causally, divided by
//   its row sums, times V) at a length where its running state sums many terms, its backward is
//   the derivative of that form, its results do not depend on the thread count, its KV cache takes
//   the same memory whatever the block size, and a training step takes memory linear in T.
// Every expected value is written out or computed here from the definition, not taken from the
// plugins.
#include <gtest/gtest.h>
#include <tbb/global_control.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "contract_util.hpp"
#include "nanolab/autograd.hpp"
#include "nanolab/registry.hpp"
#include "nanolab/runtime.hpp"
#include "support/skip.hpp"

namespace nanolab {
namespace {

using Given = std::map<std::string, OptionValue>;

// --- lion ---------------------------------------------------------------------------------------

// Three steps at lr 0.1, betas (0.9, 0.99), weight_decay 0.1 on a weight w (1, 2) and a bias
// b (2), with these gradients (w's and b's first element share theirs):
//   step 1: g_w = [ 0.2, -0.4]   g_b = [ 0.2, 0]
//   step 2: g_w = [-1.0,  0.3]   g_b = [-1.0, 0]
//   step 3: g_w = [0.05, 0.005]  g_b = [0.05, 0]
// By hand, for w (decay factor 1 - 0.1 * 0.1 = 0.99):
//   1: c = 0.1 g = [0.02, -0.04], sign [+, -]; w = 0.99 [1, -0.5] - 0.1 [1, -1] = [0.89, -0.395];
//      m = 0.01 g = [0.002, -0.004]
//   2: c = 0.9 m + 0.1 g = [-0.0982, 0.0264], sign [-, +]; w = [0.9811, -0.49105];
//      m = 0.99 m + 0.01 g = [-0.00802, -0.00096]
//   3: c = [-0.007218 + 0.005, -0.000864 + 0.0005] = [-0.002218, -0.000364], sign [-, -] although
//      g > 0: the momentum decides; w = 0.99 w + 0.1 = [1.071289, -0.3861395]
// and for b (no decay: 1-D): signs [+, -, -] give 0.5 - 0.1 + 0.1 + 0.1 = 0.6; the element whose
// gradient is always 0 has c = 0, sign(0) = 0, and stays at 0.25.
TEST(LionOptimizer, FirstStepsEqualHandComputedValues) {
  Parameters params{{"w", Tensor::from({1.0f, -0.5f}, {1, 2})},
                    {"b", Tensor::from({0.5f, 0.25f}, {2})}};
  for (Parameter& p : params) p.tensor.set_requires_grad();
  auto lion = contract::stateful_optimizer(
      "lion", Given{{"betas", std::vector<double>{0.9, 0.99}}, {"weight_decay", 0.1}}, params, 0.1);
  const std::vector<std::vector<float>> g_w{{0.2f, -0.4f}, {-1.0f, 0.3f}, {0.05f, 0.005f}};
  const std::vector<std::vector<float>> expected_w{
      {0.89f, -0.395f}, {0.9811f, -0.49105f}, {1.071289f, -0.3861395f}};
  const std::vector<std::vector<float>> expected_b{{0.4f, 0.25f}, {0.5f, 0.25f}, {0.6f, 0.25f}};
  for (size_t s = 0; s < 3; ++s) {
    params[0].tensor.grad() = Tensor::from(g_w[s], {1, 2});
    params[1].tensor.grad() = Tensor::from({g_w[s][0], 0.0f}, {2});
    lion->step(params, 0.1f, int64_t(s + 1));
    const std::vector<float> w = params[0].tensor.to_vector(), b = params[1].tensor.to_vector();
    // Values of O(1) after a few f32 roundings (each <= 6e-8) per step: 1e-6 bounds them over
    // three steps, while a wrong sign or a missed decay moves an element by >= 1e-3.
    for (size_t j = 0; j < 2; ++j) {
      EXPECT_NEAR(w[j], expected_w[s][j], 1e-6) << "w[" << j << "] after step " << s + 1;
      EXPECT_NEAR(b[j], expected_b[s][j], 1e-6) << "b[" << j << "] after step " << s + 1;
    }
  }
}

TEST(LionOptimizer, RefusesBetasThatAreNotTwoNumbersBelowOne) {
  auto make = [](std::vector<double> betas) {
    return Registry::instance().make<PluginKind::optimizer>("lion", Given{{"betas", betas}});
  };
  EXPECT_THROW(make({0.9}), ConfigError);
  EXPECT_THROW(make({0.9, 1.0}), ConfigError);
  EXPECT_NO_THROW(make({0.0, 0.5}));
}

// --- adafactor ----------------------------------------------------------------------------------

// transformers' Adafactor (relative_step = False, beta1 = None) on one parameter seen as an
// (R, N) matrix, in double: factored when `factored`, else elementwise.
struct AdafactorReference {
  int64_t R, N;
  bool factored, decays;
  double eps1 = 1e-30, eps2 = 1e-3, decay_rate = -0.8, clip = 1.0, wd = 0.1;
  std::vector<double> row{}, col{}, v{};
  bool clipped = false;  // whether RMS(U) ever exceeded clip

  static double sq(double x) { return x * x; }

  void step(std::vector<double>& p, const std::vector<double>& g, double lr, int t) {
    const double n = double(R * N), b2 = 1 - std::pow(t, decay_rate);
    double ss = 0;
    for (double x : p) ss += x * x;
    const double lr_t = lr * std::max(eps2, std::sqrt(ss / n));
    std::vector<double> u(p.size());
    if (factored) {
      row.resize(size_t(R));
      col.resize(size_t(N));
      for (int64_t r = 0; r < R; ++r) {
        double m = 0;
        for (int64_t c = 0; c < N; ++c) m += (sq(g[size_t(r * N + c)]) + eps1) / double(N);
        row[size_t(r)] = b2 * row[size_t(r)] + (1 - b2) * m;
      }
      for (int64_t c = 0; c < N; ++c) {
        double m = 0;
        for (int64_t r = 0; r < R; ++r) m += (sq(g[size_t(r * N + c)]) + eps1) / double(R);
        col[size_t(c)] = b2 * col[size_t(c)] + (1 - b2) * m;
      }
      double row_mean = 0;
      for (double x : row) row_mean += x / R;
      for (int64_t r = 0; r < R; ++r)
        for (int64_t c = 0; c < N; ++c)
          u[size_t(r * N + c)] = g[size_t(r * N + c)] / std::sqrt(row[size_t(r)] / row_mean) /
                                 std::sqrt(col[size_t(c)]);
    } else {
      v.resize(p.size());
      for (size_t i = 0; i < p.size(); ++i) {
        v[i] = b2 * v[i] + (1 - b2) * (g[i] * g[i] + eps1);
        u[i] = g[i] / std::sqrt(v[i]);
      }
    }
    double uu = 0;
    for (double x : u) uu += x * x;
    const double denom = std::max(1.0, std::sqrt(uu / n) / clip);
    clipped |= denom > 1.0;
    for (size_t i = 0; i < p.size(); ++i)
      p[i] = p[i] - (decays ? wd * lr_t * p[i] : 0.0) - lr_t * u[i] / denom;
  }
};

TEST(AdafactorOptimizer, ThreeStepsEqualTheAlgorithmInDouble) {
  Parameters params{{"w", Tensor::from({1.0f, -0.5f, 0.25f, 2.0f, -1.5f, 0.75f}, {2, 3})},
                    {"b", Tensor::from({0.5f, -1.0f, 1.5f}, {3})}};
  for (Parameter& p : params) p.tensor.set_requires_grad();
  auto adafactor =
      contract::stateful_optimizer("adafactor", Given{{"weight_decay", 0.1}}, params, 0.2);
  std::vector<AdafactorReference> reference{{2, 3, true, true}, {1, 3, false, false}};
  std::vector<std::vector<double>> p{{1.0, -0.5, 0.25, 2.0, -1.5, 0.75}, {0.5, -1.0, 1.5}};
  // Gradients of unequal rows and columns, so that the factored estimate differs from g^2
  // (each step's also differ, so that the decaying average matters).
  std::mt19937 rng(41);
  const std::vector<float> lrs{0.1f, 0.05f, 0.2f};
  for (int t = 1; t <= 3; ++t) {
    for (size_t i = 0; i < params.size(); ++i) {
      Tensor& tensor = params[i].tensor;
      tensor.grad() = contract::randn(tensor.shape(), 1.0f, rng);
      const std::vector<float> g = tensor.grad().to_vector();
      reference[i].step(p[i], {g.begin(), g.end()}, lrs[size_t(t - 1)], t);
    }
    adafactor->step(params, lrs[size_t(t - 1)], t);
    for (size_t i = 0; i < params.size(); ++i) {
      const std::vector<float> got = params[i].tensor.to_vector();
      // f32 against f64 on values ~1 moved by ~0.1 per step through square roots and means of a
      // few terms: a few ulp per step, 1e-6 over three, while a wrong factor (row mean, clipping,
      // parameter scale) moves an element by >= 1e-3.
      for (size_t j = 0; j < got.size(); ++j)
        EXPECT_NEAR(got[j], p[i][j], 1e-6) << params[i].name << "[" << j << "] after step " << t;
    }
  }
  EXPECT_TRUE(reference[0].clipped || reference[1].clipped) << "the clipping was not exercised";
  // The defining saving: a (2, 3) weight keeps 2 + 3 second-moment numbers, the bias 3.
  const std::map<std::string, Tensor> state = adafactor->state().tensors;
  EXPECT_EQ(state.at("w.exp_avg_sq_row").shape(), (Shape{2}));
  EXPECT_EQ(state.at("w.exp_avg_sq_col").shape(), (Shape{3}));
  EXPECT_EQ(state.at("b.exp_avg_sq").shape(), (Shape{3}));
  EXPECT_EQ(state.count("w.exp_avg_sq"), 0u);
}

// --- focal and z_loss ---------------------------------------------------------------------------

const int64_t B = 2, T = 3, V = 7;
// One target per (b, t); one position is padding.
const std::vector<int32_t> targets{3, 0, -1, 6, 2, 3};
const int n_counted = 5;

// Logits (B, T, V) of N(0, 2^2): wide enough that the p_t range from ~0 to ~1, where the focal
// weight and the log-partition term differ most from plain cross-entropy.
Tensor logits_of(uint32_t seed) {
  std::mt19937 rng(seed);
  return contract::randn({B, T, V}, 2.0f, rng).set_requires_grad();
}

// log-sum-exp of row r, in double.
double lse_of(const std::vector<float>& x, int64_t r) {
  double z = 0;
  for (int64_t v = 0; v < V; ++v) z += std::exp(double(x[size_t(r * V + v)]));
  return std::log(z);
}

TEST(FocalLoss, WithGammaZeroEqualsCrossEntropy) {
  auto focal = Registry::instance().make<PluginKind::loss>("focal", Given{{"gamma", 0.0}});
  auto cross_entropy = Registry::instance().make<PluginKind::loss>("cross_entropy", Given{});
  Tensor a = logits_of(1), b = logits_of(1);
  const Tensor fa = focal->forward(a, targets), cb = cross_entropy->forward(b, targets);
  // Both take the log-sum-exp in double and round the per-token loss to f32 (~2, 1.2e-7 each) in
  // a different order: 1e-6 bounds that, while a weight (1 - p_t)^gamma left at gamma != 0 would
  // change the value by > 0.1.
  EXPECT_NEAR(fa.item(), cb.item(), 1e-6);
  fa.backward();
  cb.backward();
  const std::vector<float> ga = a.grad().to_vector(), gb = b.grad().to_vector();
  // Entries below 0.2 from a few f32 roundings each (~1e-8 at that size): 1e-7.
  for (size_t i = 0; i < ga.size(); ++i) EXPECT_NEAR(ga[i], gb[i], 1e-7) << "logit " << i;
}

TEST(FocalLoss, WeighsEachTokenByOneMinusPtToTheGamma) {
  auto focal = Registry::instance().make<PluginKind::loss>("focal", Given{{"gamma", 2.0}});
  Tensor logits = logits_of(2);
  const std::vector<float> x = logits.to_vector();
  double expected = 0;
  for (int64_t r = 0; r < B * T; ++r) {
    if (targets[size_t(r)] < 0) continue;
    const double logp = double(x[size_t(r * V + targets[size_t(r)])]) - lse_of(x, r);
    expected += -std::pow(1 - std::exp(logp), 2.0) * logp / n_counted;
  }
  // As above: a few f32 roundings of a value ~1: 1e-6.
  EXPECT_NEAR(focal->forward(logits, targets).item(), expected, 1e-6);
}

TEST(CrossEntropyLoss, ZLossAddsExactlyTheFormula) {
  const double k = 0.1;
  auto plain = Registry::instance().make<PluginKind::loss>("cross_entropy", Given{});
  auto with_z = Registry::instance().make<PluginKind::loss>("cross_entropy", Given{{"z_loss", k}});
  Tensor a = logits_of(3), b = logits_of(3);
  const std::vector<float> x = a.to_vector();
  const Tensor la = plain->forward(a, targets), lb = with_z->forward(b, targets);
  double mean_lse_sq = 0;
  for (int64_t r = 0; r < B * T; ++r)
    if (targets[size_t(r)] >= 0) mean_lse_sq += std::pow(lse_of(x, r), 2) / n_counted;
  ASSERT_GT(k * mean_lse_sq, 0.1) << "the term must be large enough to be seen";
  // Both values ~3-4 carry f32 roundings (~2.4e-7 each, lse rounded to f32 before squaring):
  // 1e-6 bounds their difference's error.
  EXPECT_NEAR(lb.item() - la.item(), k * mean_lse_sq, 1e-6);

  la.backward();
  lb.backward();
  const std::vector<float> ga = a.grad().to_vector(), gb = b.grad().to_vector();
  for (int64_t r = 0; r < B * T; ++r) {
    const double lse = lse_of(x, r);
    for (int64_t v = 0; v < V; ++v) {
      // d/dx_v of k * mean(lse^2) = k * 2 lse softmax_v / n_counted; 0 on the padded row.
      const double expected =
          targets[size_t(r)] < 0
              ? 0.0
              : k * 2 * lse * std::exp(double(x[size_t(r * V + v)]) - lse) / n_counted;
      const size_t i = size_t(r * V + v);
      // Entries below 0.3, each the sum of two f32 gradients with a few roundings (~3e-8 each):
      // 2e-7.
      EXPECT_NEAR(gb[i] - ga[i], expected, 2e-7) << "row " << r << ", class " << v;
    }
  }
}

// --- gqa and sliding_window ---------------------------------------------------------------------

AttentionConfig config_of(int64_t C, int64_t NH, int64_t block_size) {
  return {C, NH, block_size, /*bias=*/true, /*dropout=*/0.0f, /*layer=*/0, /*n_layer=*/2};
}

std::map<std::string, Tensor> parameters_of(Attention& attention) {
  std::map<std::string, Tensor> out;
  for (const Parameter& p : attention.parameters()) out[p.name] = p.tensor;
  return out;
}

// Fills every parameter with N(0, 0.3^2): far enough from uniform attention that a wrong mask or
// head mapping shows (the attention contract's choice).
void randomise(Attention& attention, uint32_t seed) {
  std::mt19937 rng(seed);
  for (Parameter& p : attention.parameters())
    p.tensor.copy_from(contract::randn(p.tensor.shape(), 0.3f, rng));
}

// |a - b| <= tol everywhere, reporting the first element that is not.
void expect_near(const std::vector<float>& a, const std::vector<float>& b, float tol) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], tol) << "element " << i;
}

TEST(GqaAttention, IsCausalMhaWithKeyValueHeadsRepeatedOverEachGroup) {
  const int64_t B = 2, T = 6, C = 16, NH = 4, HS = C / NH;
  std::mt19937 rng(21);
  const Tensor src = contract::randn({B, T, C}, 1.0f, rng);
  for (int64_t n_kv_head : {NH, int64_t(2), int64_t(1)}) {
    SCOPED_TRACE("n_kv_head " + std::to_string(n_kv_head));
    const int64_t G = NH / n_kv_head;
    auto gqa =
        Registry::instance().make<PluginKind::attention>("gqa", {{"n_kv_head", n_kv_head}}, config_of(C, NH, T));
    auto mha = Registry::instance().make<PluginKind::attention>("causal_mha", {}, config_of(C, NH, T));
    randomise(*gqa, 22);
    auto g = parameters_of(*gqa), m = parameters_of(*mha);
    ASSERT_EQ(g["k_proj.weight"].shape(), (Shape{n_kv_head * HS, C}));
    // c_attn (3C, C) = [q_proj; k_proj rows of head h / G for each head h; same for v_proj].
    float* w = m["c_attn.weight"].data();
    float* bias = m["c_attn.bias"].data();
    std::copy_n(g["q_proj.weight"].data(), C * C, w);
    std::copy_n(g["q_proj.bias"].data(), C, bias);
    for (int64_t part = 1; part <= 2; ++part) {
      const std::string name = part == 1 ? "k_proj" : "v_proj";
      for (int64_t h = 0; h < NH; ++h) {
        const int64_t kv = h / G;
        std::copy_n(g[name + ".weight"].data() + kv * HS * C, HS * C, w + (part * C + h * HS) * C);
        std::copy_n(g[name + ".bias"].data() + kv * HS, HS, bias + part * C + h * HS);
      }
    }
    m["c_proj.weight"].copy_from(g["c_proj.weight"]);
    m["c_proj.bias"].copy_from(g["c_proj.bias"]);
    const std::vector<float> expected = mha->forward(src, {}).to_vector();
    // The same products summed by the same ops in the same order, the score matmul only batched
    // over groups instead of heads: measured equal to the last bit on this machine, but oneDNN may
    // pick another kernel for the other batch shape, so allow a few f32 roundings of outputs ~1:
    // 1e-6, far below the O(0.1) a wrong head-to-group mapping gives.
    expect_near(gqa->forward(src, {}).to_vector(), expected, 1e-6f);
  }
}

// The backward through the grouped views: gqa's gradients are causal_mha's (on the weights built
// as above) with each k/v head's rows summed over the query heads of its group.
TEST(GqaAttention, GradientsAreCausalMhaGradientsSummedOverEachGroup) {
  const int64_t B = 2, T = 5, C = 8, NH = 4, HS = C / NH, n_kv_head = 2, G = NH / n_kv_head;
  std::mt19937 rng(31);
  Tensor src_g = contract::randn({B, T, C}, 1.0f, rng), src_m = src_g.clone();
  src_g.set_requires_grad();
  src_m.set_requires_grad();
  const Tensor diff_dst = contract::randn({B, T, C}, 1.0f, rng);
  auto gqa =
      Registry::instance().make<PluginKind::attention>("gqa", {{"n_kv_head", n_kv_head}}, config_of(C, NH, T));
  auto mha = Registry::instance().make<PluginKind::attention>("causal_mha", {}, config_of(C, NH, T));
  randomise(*gqa, 32);
  auto g = parameters_of(*gqa), m = parameters_of(*mha);
  float* w = m["c_attn.weight"].data();
  float* bias = m["c_attn.bias"].data();
  std::copy_n(g["q_proj.weight"].data(), C * C, w);
  std::copy_n(g["q_proj.bias"].data(), C, bias);
  for (int64_t part = 1; part <= 2; ++part) {
    const std::string name = part == 1 ? "k_proj" : "v_proj";
    for (int64_t h = 0; h < NH; ++h) {
      std::copy_n(g[name + ".weight"].data() + (h / G) * HS * C, HS * C,
                  w + (part * C + h * HS) * C);
      std::copy_n(g[name + ".bias"].data() + (h / G) * HS, HS, bias + part * C + h * HS);
    }
  }
  m["c_proj.weight"].copy_from(g["c_proj.weight"]);
  m["c_proj.bias"].copy_from(g["c_proj.bias"]);
  gqa->forward(src_g, {}).backward(diff_dst);
  mha->forward(src_m, {}).backward(diff_dst);

  // The expected gradient of each gqa parameter, gathered from causal_mha's.
  const std::vector<float> attn_w = m["c_attn.weight"].grad().to_vector();
  const std::vector<float> attn_b = m["c_attn.bias"].grad().to_vector();
  std::map<std::string, std::vector<float>> expected{
      {"q_proj.weight", {attn_w.begin(), attn_w.begin() + C * C}},
      {"q_proj.bias", {attn_b.begin(), attn_b.begin() + C}},
      {"c_proj.weight", m["c_proj.weight"].grad().to_vector()},
      {"c_proj.bias", m["c_proj.bias"].grad().to_vector()}};
  for (int64_t part = 1; part <= 2; ++part) {
    const std::string name = part == 1 ? "k_proj" : "v_proj";
    std::vector<float> dw(size_t(n_kv_head * HS * C), 0.0f), db(size_t(n_kv_head * HS), 0.0f);
    for (int64_t h = 0; h < NH; ++h) {
      for (int64_t i = 0; i < HS * C; ++i)
        dw[size_t((h / G) * HS * C + i)] += attn_w[size_t((part * C + h * HS) * C + i)];
      for (int64_t i = 0; i < HS; ++i)
        db[size_t((h / G) * HS + i)] += attn_b[size_t(part * C + h * HS + i)];
    }
    expected[name + ".weight"] = dw;
    expected[name + ".bias"] = db;
  }
  ASSERT_EQ(expected.size(), g.size());
  // Gradients ~1 summed over B*T terms in another grouping (and over G heads here): a few
  // f32 roundings each, 1e-5 is ~100 ulp, while a gradient sent to the wrong kv head is O(0.1) off.
  for (const auto& [name, t] : g) {
    SCOPED_TRACE(name);
    expect_near(t.grad().to_vector(), expected.at(name), 1e-5f);
  }
  SCOPED_TRACE("src");
  expect_near(src_g.grad().to_vector(), src_m.grad().to_vector(), 1e-5f);
}

TEST(GqaAttention, RefusesAnNKvHeadThatDoesNotDivideNHead) {
  EXPECT_THROW(
      Registry::instance().make<PluginKind::attention>("gqa", {{"n_kv_head", int64_t(3)}}, config_of(16, 4, 8)),
      ConfigError);
}

TEST(SlidingWindowAttention, WithWindowOfAtLeastTIsCausalMha) {
  const int64_t B = 2, T = 6, C = 16, NH = 4;
  std::mt19937 rng(23);
  const Tensor src = contract::randn({B, T, C}, 1.0f, rng);
  for (int64_t window : {T, T + 5}) {
    auto sliding = Registry::instance().make<PluginKind::attention>("sliding_window", {{"window", window}},
                                                       config_of(C, NH, T));
    auto mha = Registry::instance().make<PluginKind::attention>("causal_mha", {}, config_of(C, NH, T));
    randomise(*mha, 24);
    auto s = parameters_of(*sliding);
    for (const auto& [name, t] : parameters_of(*mha)) s.at(name).copy_from(t);
    // Same ops but for the softmax, whose exp and sum may be rounded in another order (measured
    // equal to the last bit here): a few f32 roundings of outputs ~1, 1e-6, far below what one
    // masked position too many or too few changes (O(0.1)).
    expect_near(sliding->forward(src, {}).to_vector(), mha->forward(src, {}).to_vector(), 1e-6f);
  }
}

TEST(SlidingWindowAttention, OutputsIgnoreTokensOutsideTheWindow) {
  const int64_t B = 2, T = 8, C = 16, NH = 4, window = 3;
  auto sliding = Registry::instance().make<PluginKind::attention>("sliding_window", {{"window", window}},
                                                     config_of(C, NH, T));
  randomise(*sliding, 25);
  std::mt19937 rng(26);
  const Tensor src = contract::randn({B, T, C}, 1.0f, rng);
  const std::vector<float> dst = sliding->forward(src, {}).to_vector();
  for (int64_t s = 0; s < T; ++s) {
    Tensor perturbed = src.clone();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t c = 0; c < C; ++c) perturbed.data()[(b * T + s) * C + c] += 1.0f + c;
    const std::vector<float> out = sliding->forward(perturbed, {}).to_vector();
    for (int64_t t = 0; t < T; ++t) {
      bool changed = false;
      for (int64_t b = 0; b < B; ++b)
        for (int64_t c = 0; c < C; ++c) {
          const size_t i = size_t((b * T + t) * C + c);
          changed |= out[i] != dst[i];
        }
      // Row t sees rows (t - window, t]: exactly those rows change it, and the others take part
      // only as exact zeros, so an unchanged row is bit-for-bit unchanged.
      const bool sees = s <= t && s > t - window;
      EXPECT_EQ(changed, sees) << "perturbing row " << s << (sees ? " did not change" : " changed")
                               << " output row " << t;
    }
  }
}

TEST(SlidingWindowAttention, KvCacheMatchesFullForwardWhenTheWindowIsShorterThanT) {
  const int64_t B = 2, T = 8, C = 16, NH = 4, window = 3;
  auto sliding = Registry::instance().make<PluginKind::attention>("sliding_window", {{"window", window}},
                                                     config_of(C, NH, T));
  randomise(*sliding, 27);
  std::mt19937 rng(28);
  const Tensor src = contract::randn({B, T, C}, 1.0f, rng);
  const std::vector<float> full = sliding->forward(src, {}).to_vector();
  NoGrad no_grad;
  sliding->reset_cache(B);
  std::vector<float> cached(full.size());
  for (int64_t t = 0; t < T; ++t) {
    std::vector<float> row;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t c = 0; c < C; ++c) row.push_back(src.data()[(b * T + t) * C + c]);
    const std::vector<float> out =
        sliding->forward_cached(Tensor::from(row, {B, 1, C})).to_vector();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t c = 0; c < C; ++c) cached[size_t((b * T + t) * C + c)] = out[size_t(b * C + c)];
  }
  // The cached path sums in plain loops, the full one in oneDNN (measured 3e-8 apart): the
  // attention contract's bound of 1e-5 of the output scale (outputs here are below 2), against
  // O(0.1) for a window off by one.
  expect_near(cached, full, 2e-5f);
}

// The backward of the windowed softmax with window < T, against central differences of
// sum(dst * diff_dst) with respect to src.
TEST(SlidingWindowAttention, InputGradientMatchesFiniteDifferencesWhenTheWindowIsShorterThanT) {
  const int64_t B = 1, T = 6, C = 8, NH = 2, window = 2;
  auto sliding = Registry::instance().make<PluginKind::attention>("sliding_window", {{"window", window}},
                                                     config_of(C, NH, T));
  randomise(*sliding, 33);
  std::mt19937 rng(34);
  Tensor src = contract::randn({B, T, C}, 1.0f, rng);
  src.set_requires_grad();
  const Tensor diff_dst = contract::randn({B, T, C}, 1.0f, rng);
  sliding->forward(src, {}).backward(diff_dst);
  const std::vector<float> grad = src.grad().to_vector();
  const std::vector<float> g = diff_dst.to_vector();
  NoGrad no_grad;
  auto objective = [&](const Tensor& x) {
    const std::vector<float> y = sliding->forward(x, {}).to_vector();
    double s = 0;
    for (size_t i = 0; i < y.size(); ++i) s += double(y[i]) * g[i];
    return s;
  };
  // h = 1e-2 on f32 outputs (~1, each rounded to 6e-8; 48 of them summed in double): rounding
  // adds ~1e-6 / (2h) = 5e-5 and truncation h^2 |f'''| / 6 ~ 2e-5 to the difference. 5e-4 is
  // ten times their sum (measured 4.8e-5 at worst); a gradient through a masked position is off
  // by O(0.1).
  const float h = 1e-2f;
  Tensor probe = src.clone();
  for (int64_t i = 0; i < probe.numel(); ++i) {
    const float keep = probe.data()[i];
    probe.data()[i] = keep + h;
    const double up = objective(probe);
    probe.data()[i] = keep - h;
    const double down = objective(probe);
    probe.data()[i] = keep;
    EXPECT_NEAR(grad[size_t(i)], (up - down) / (2 * h), 5e-4) << "src element " << i;
  }
}

// The values of t in double.
std::vector<double> to_double(const Tensor& t) {
  const std::vector<float> v = t.to_vector();
  return {v.begin(), v.end()};
}

// --- muon ---------------------------------------------------------------------------------------

// row-major matrices in double, for the written-out Muon
using Matrix = std::vector<double>;

// c (n, k) = a (n, m) · b (m, k), or with b transposed: b (k, m).
Matrix matmul(const Matrix& a, const Matrix& b, int64_t n, int64_t m, int64_t k, bool trans_b) {
  Matrix c(size_t(n * k), 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < k; ++j)
      for (int64_t l = 0; l < m; ++l)
        c[size_t(i * k + j)] +=
            a[size_t(i * m + l)] * (trans_b ? b[size_t(j * m + l)] : b[size_t(l * k + j)]);
  return c;
}

Matrix transpose(const Matrix& a, int64_t rows, int64_t cols) {
  Matrix t(a.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) t[size_t(c * rows + r)] = a[size_t(r * cols + c)];
  return t;
}

// Keller Jordan's muon_update and zeropower_via_newtonschulz5 for one (R, N) matrix, in double:
// m = mu m + (1 - mu) g; u = (1 - mu) g + mu m; X = u / (||u||_F + 1e-7), transposed when R > N;
// five times A = X Xᵀ, X = a X + (b A + c A A) X; p = p (1 - lr wd) - lr max(1, R/N)^0.5 X.
struct MuonReference {
  int64_t R, N;
  double mu = 0.95, wd = 0.0;
  Matrix m = Matrix(size_t(R * N), 0.0);

  void step(Matrix& p, const Matrix& g, double lr) {
    Matrix x(g.size());
    for (size_t i = 0; i < g.size(); ++i) {
      m[i] = mu * m[i] + (1 - mu) * g[i];
      x[i] = (1 - mu) * g[i] + mu * m[i];
    }
    const bool tall = R > N;
    const int64_t r = tall ? N : R, c = tall ? R : N;
    if (tall) x = transpose(x, R, N);
    double norm = 0;
    for (double v : x) norm += v * v;
    norm = std::sqrt(norm) + 1e-7;
    for (double& v : x) v /= norm;
    for (int s = 0; s < 5; ++s) {
      const Matrix A = matmul(x, x, r, c, r, true);
      const Matrix AA = matmul(A, A, r, r, r, false);
      Matrix B(A.size());
      for (size_t i = 0; i < A.size(); ++i) B[i] = -4.7750 * A[i] + 2.0315 * AA[i];
      const Matrix BX = matmul(B, x, r, r, c, false);
      for (size_t i = 0; i < x.size(); ++i) x[i] = 3.4445 * x[i] + BX[i];
    }
    if (tall) x = transpose(x, r, c);
    const double scale = std::sqrt(std::max(1.0, double(R) / double(N)));
    for (size_t i = 0; i < p.size(); ++i) p[i] = p[i] * (1 - lr * wd) - lr * scale * x[i];
  }
};

// PyTorch's AdamW for one parameter, in double.
struct AdamWReference {
  double b1, b2, eps, wd;
  bool decays;
  Matrix m = {}, v = {};
  int t = 0;

  void step(Matrix& p, const Matrix& g, double lr) {
    m.resize(p.size());
    v.resize(p.size());
    ++t;
    for (size_t i = 0; i < p.size(); ++i) {
      if (decays) p[i] *= 1 - lr * wd;
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      p[i] -= lr / (1 - std::pow(b1, t)) * m[i] /
              (std::sqrt(v[i]) / std::sqrt(1 - std::pow(b2, t)) + eps);
    }
  }
};

// Three steps at learning rates below the peak, on a tall and a wide hidden matrix (Muon, with
// weight decay) beside an embedding and a layer-norm gain (AdamW at adamw_lr * lr / peak), against
// the formulas written out above in double.
TEST(MuonOptimizer, ThreeStepsEqualTheFormulasWrittenOut) {
  const double peak = 0.05, adamw_lr = 0.01;
  std::mt19937 rng(51);
  Parameters params{{"h.0.attn.c_attn.weight", contract::randn(Shape{6, 4}, 0.5f, rng)},
                    {"h.0.mlp.c_proj.weight", contract::randn(Shape{3, 5}, 0.5f, rng)},
                    {"wte.weight", contract::randn(Shape{4, 3}, 0.5f, rng), Init::normal,
                     Role::embedding},
                    {"h.0.ln_1.weight", contract::randn(Shape{5}, 0.5f, rng)}};
  std::vector<Matrix> p;
  for (Parameter& param : params) {
    param.tensor.set_requires_grad();
    p.push_back(to_double(param.tensor));
  }
  auto muon = contract::stateful_optimizer("muon",
                                           Given{{"weight_decay", 0.1},
                                                 {"adamw_lr", adamw_lr},
                                                 {"adamw_betas", std::vector<double>{0.9, 0.95}},
                                                 {"adamw_eps", 1e-8},
                                                 {"adamw_weight_decay", 0.1}},
                                           params, peak);
  MuonReference tall{6, 4}, wide{3, 5};
  tall.wd = wide.wd = 0.1;
  AdamWReference wte{0.9, 0.95, 1e-8, 0.1, true}, gain{0.9, 0.95, 1e-8, 0.1, false};
  const std::vector<float> lrs{0.05f, 0.03f, 0.01f};
  for (size_t s = 0; s < lrs.size(); ++s) {
    std::vector<Matrix> g;
    for (Parameter& param : params) {
      param.tensor.grad() = contract::randn(param.tensor.shape(), 1.0f, rng);
      g.push_back(to_double(param.tensor.grad()));
    }
    muon->step(params, lrs[s], int64_t(s + 1));
    const double lr = lrs[s];
    tall.step(p[0], g[0], lr);
    wide.step(p[1], g[1], lr);
    wte.step(p[2], g[2], adamw_lr * lr / peak);
    gain.step(p[3], g[3], adamw_lr * lr / peak);
    for (size_t i = 0; i < params.size(); ++i) {
      const std::vector<float> got = params[i].tensor.to_vector();
      // f32 against f64 on values ~0.5 moved by ~0.05 a step: measured at most 1.4e-7 apart after
      // three steps (Newton-Schulz runs in f32 on matrices of norm 1, where oneDNN's sums of a few
      // products round to ~1e-7). 1e-6 bounds that, while a wrong term (no Nesterov, the shape
      // scale left out, the decay or lr / peak missed) moves an element by >= 1e-4.
      for (size_t j = 0; j < got.size(); ++j)
        EXPECT_NEAR(got[j], p[i][j], 1e-6)
            << params[i].name << "[" << j << "] after step " << s + 1;
    }
  }
}

// Eigenvalues of the symmetric (n, n) matrix a, by cyclic Jacobi rotations, in double.
std::vector<double> symmetric_eigenvalues(Matrix a, int64_t n) {
  auto at = [&](int64_t i, int64_t j) -> double& { return a[size_t(i * n + j)]; };
  for (int sweep = 0; sweep < 100; ++sweep) {
    double off = 0, diag = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) (i == j ? diag : off) += at(i, j) * at(i, j);
    if (off <= 1e-28 * diag) break;
    for (int64_t p = 0; p < n; ++p)
      for (int64_t q = p + 1; q < n; ++q) {
        if (at(p, q) == 0.0) continue;
        const double theta = (at(q, q) - at(p, p)) / (2 * at(p, q));
        const double t =
            (theta >= 0 ? 1.0 : -1.0) / (std::abs(theta) + std::sqrt(theta * theta + 1));
        const double c = 1 / std::sqrt(t * t + 1), s = t * c;
        for (int64_t k = 0; k < n; ++k) {  // columns p, q, then rows p, q: Jᵀ A J
          const double kp = at(k, p), kq = at(k, q);
          at(k, p) = c * kp - s * kq;
          at(k, q) = s * kp + c * kq;
        }
        for (int64_t k = 0; k < n; ++k) {
          const double pk = at(p, k), qk = at(q, k);
          at(p, k) = c * pk - s * qk;
          at(q, k) = s * pk + c * qk;
        }
      }
  }
  std::vector<double> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(at(i, i));
  std::sort(out.begin(), out.end());
  return out;
}

// Singular values of x (rows, cols), ascending: roots of the eigenvalues of its smaller Gram
// matrix.
std::vector<double> singular_values(const Matrix& x, int64_t rows, int64_t cols) {
  const bool tall = rows > cols;
  const Matrix y = tall ? transpose(x, rows, cols) : x;
  const int64_t r = tall ? cols : rows, c = tall ? rows : cols;
  std::vector<double> s = symmetric_eigenvalues(matmul(y, y, r, c, r, true), r);
  for (double& v : s) v = std::sqrt(std::max(v, 0.0));
  return s;
}

// The defining property: what Muon adds to a hidden matrix has every singular value near 1, for a
// gradient whose singular values are far apart (a random matrix plus a strong rank-one part, as
// real gradients are). One step from a zero state at lr 1 without decay: the update is
// (p_before - p_after) / max(1, rows/cols)^0.5.
TEST(MuonOptimizer, UpdateSingularValuesLieInTheQuinticsBand) {
  for (auto [rows, cols] : {std::pair<int64_t, int64_t>{24, 64}, {64, 24}}) {
    SCOPED_TRACE(std::to_string(rows) + " x " + std::to_string(cols));
    std::mt19937 rng(52);
    const std::vector<float> noise = contract::randn(rows * cols, 1.0f, rng);
    const std::vector<float> u = contract::randn(rows, 1.0f, rng);
    const std::vector<float> v = contract::randn(cols, 1.0f, rng);
    Matrix g(size_t(rows * cols));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        g[size_t(r * cols + c)] = noise[size_t(r * cols + c)] + 8.0 * u[size_t(r)] * v[size_t(c)];
    // The control: the gradient itself, normalised, is far from orthogonal, and no singular value
    // is below the 2e-3 of its norm that five steps of the quintic lift into the band.
    const std::vector<double> sg = singular_values(g, rows, cols);
    double norm = 0;
    for (double s : sg) norm += s * s;
    norm = std::sqrt(norm);
    ASSERT_GT(sg.back() / sg.front(), 20.0);
    ASSERT_GT(sg.front() / norm, 2e-3);

    Parameters params{{"h.0.mlp.c_fc.weight", Tensor::zeros({rows, cols})}};
    params[0].tensor.set_requires_grad();
    auto muon = contract::stateful_optimizer("muon", {}, params, 1.0);
    params[0].tensor.grad() = Tensor::from(std::vector<float>(g.begin(), g.end()), {rows, cols});
    muon->step(params, 1.0f, 1);
    const double scale = std::sqrt(std::max(1.0, double(rows) / double(cols)));
    Matrix update = to_double(params[0].tensor);
    for (double& x : update) x /= -scale;
    const std::vector<double> s = singular_values(update, rows, cols);
    // Five steps of x -> 3.4445 x - 4.7750 x^3 + 2.0315 x^5 take every x in [2e-3, 1] into
    // [0.6818, 1.2024] (iterated in double over the interval); f32 moves them by ~1e-6.
    EXPECT_GE(s.front(), 0.68);
    EXPECT_LE(s.back(), 1.21);
    // Five steps do not converge to 1: the quintic trades exactness for a large slope at 0.
    EXPECT_GT(s.back() - s.front(), 0.05);
  }
}

// The AdamW group is AdamW: the embeddings, the head and the parameters of fewer than 2 dims take
// exactly (to the bit) the steps of the adamw plugin at adamw_lr scaled by lr / peak, whatever the
// hidden matrix beside them does; the hidden matrix does not take AdamW's step.
TEST(MuonOptimizer, EmbeddingsHeadAndOneDimensionalParametersFollowAdamWExactly) {
  const double peak = 0.25, adamw_lr = 0.002;
  std::mt19937 rng(53);
  Parameters with_muon{
      {"wte.weight", contract::randn(Shape{7, 4}, 0.5f, rng), Init::normal, Role::embedding},
      {"wpe.weight", contract::randn(Shape{5, 4}, 0.5f, rng), Init::normal, Role::embedding},
      {"h.0.mlp.c_fc.weight", contract::randn(Shape{8, 4}, 0.5f, rng)},
      {"h.0.ln_1.weight", contract::randn(Shape{4}, 0.5f, rng)},
      {"ln_f.bias", contract::randn(Shape{4}, 0.5f, rng)},
      {"lm_head.weight", contract::randn(Shape{7, 4}, 0.5f, rng), Init::normal, Role::head}};
  Parameters with_adamw;
  for (Parameter& p : with_muon) {
    p.tensor.set_requires_grad();
    with_adamw.push_back({p.name, p.tensor.clone()});
    with_adamw.back().tensor.set_requires_grad();
  }
  auto muon = contract::stateful_optimizer("muon",
                                           Given{{"adamw_lr", adamw_lr},
                                                 {"adamw_betas", std::vector<double>{0.8, 0.9}},
                                                 {"adamw_eps", 1e-6},
                                                 {"adamw_weight_decay", 0.1}},
                                           with_muon, peak);
  auto adamw = contract::stateful_optimizer(
      "adamw",
      Given{{"betas", std::vector<double>{0.8, 0.9}}, {"eps", 1e-6}, {"weight_decay", 0.1}},
      with_adamw, 1.0);
  // Powers of two: lr / peak is exact, so both get the same float learning rate.
  for (float lr : {0.25f, 0.125f, 0.0625f}) {
    for (size_t i = 0; i < with_muon.size(); ++i) {
      with_muon[i].tensor.grad() = contract::randn(with_muon[i].tensor.shape(), 1.0f, rng);
      with_adamw[i].tensor.grad() = with_muon[i].tensor.grad().clone();
    }
    muon->step(with_muon, lr, 1);
    adamw->step(with_adamw, float(adamw_lr * double(lr) / peak), 1);
    for (size_t i = 0; i < with_muon.size(); ++i) {
      SCOPED_TRACE(with_muon[i].name + " at lr " + std::to_string(lr));
      if (with_muon[i].name == "h.0.mlp.c_fc.weight")
        EXPECT_NE(with_muon[i].tensor.to_vector(), with_adamw[i].tensor.to_vector());
      else
        EXPECT_EQ(with_muon[i].tensor.to_vector(), with_adamw[i].tensor.to_vector());
    }
  }
}

TEST(MuonOptimizer, RefusesMomentumOneAndBadAdamWOptions) {
  auto make = [](Given given) { return Registry::instance().make<PluginKind::optimizer>("muon", given); };
  EXPECT_THROW(make({{"momentum", 1.0}}), ConfigError);
  EXPECT_THROW(make({{"adamw_betas", std::vector<double>{0.9}}}), ConfigError);
  EXPECT_THROW(make({{"adamw_betas", std::vector<double>{0.9, 1.0}}}), ConfigError);
  EXPECT_THROW(make({{"adamw_eps", 0.0}}), ConfigError);
  EXPECT_NO_THROW(make({{"momentum", 0.0}, {"nesterov", false}}));
}

// --- linear -------------------------------------------------------------------------------------

// Fills every parameter of an attention of width C with N(0, 1/C) (biases N(0, 0.1^2)): q and k
// come out N(0, ~1), so phi(q)·phi(k) varies over an order of magnitude between keys and the
// normalised weights are far from uniform.
void randomise_scaled(Attention& attention, int64_t C, uint32_t seed) {
  std::mt19937 rng(seed);
  for (Parameter& p : attention.parameters()) {
    const float std = p.tensor.ndim() == 1 ? 0.1f : 1.0f / std::sqrt(float(C));
    p.tensor.copy_from(contract::randn(p.tensor.shape(), std, rng));
  }
}

// dst (B, T, C) of linear attention with causal_mha's projections, in double, written as the
// quadratic form of Katharopoulos et al.: per head, A = phi(Q) phi(K)ᵀ (T, T) with phi = elu + 1,
// A_ij = 0 for j > i, each row divided by its sum + 1e-6, Y = A V. w: the plugin's parameters by
// name (c_attn (3C, C) makes q, k, v; c_proj (C, C)).
std::vector<double> quadratic_linear_attention(const std::vector<double>& x,
                                               std::map<std::string, std::vector<double>>& w,
                                               int64_t B, int64_t T, int64_t C, int64_t NH) {
  const int64_t HS = C / NH;
  auto linear = [&](const std::vector<double>& in, const std::string& name, int64_t N) {
    const std::vector<double>&weight = w[name + ".weight"], &bias = w[name + ".bias"];
    std::vector<double> out(size_t(B * T * N));
    for (int64_t r = 0; r < B * T; ++r)
      for (int64_t o = 0; o < N; ++o) {
        double s = bias[size_t(o)];
        for (int64_t c = 0; c < C; ++c) s += in[size_t(r * C + c)] * weight[size_t(o * C + c)];
        out[size_t(r * N + o)] = s;
      }
    return out;
  };
  auto phi = [](double v) { return v > 0 ? v + 1 : std::exp(v); };
  const std::vector<double> qkv = linear(x, "c_attn", 3 * C);  // (B, T, 3C)
  auto at = [&](int64_t b, int64_t t, int64_t part, int64_t h, int64_t d) {
    return qkv[size_t((b * T + t) * 3 * C + part * C + h * HS + d)];
  };
  std::vector<double> y(size_t(B * T * C), 0.0), A(size_t(T * T));  // y: (B, T, C), heads merged
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < NH; ++h) {
      for (int64_t i = 0; i < T; ++i)
        for (int64_t j = 0; j < T; ++j) {
          double s = 0;
          for (int64_t d = 0; d < HS; ++d) s += phi(at(b, i, 0, h, d)) * phi(at(b, j, 1, h, d));
          A[size_t(i * T + j)] = j <= i ? s : 0.0;
        }
      for (int64_t i = 0; i < T; ++i) {
        double n = 1e-6;
        for (int64_t j = 0; j < T; ++j) n += A[size_t(i * T + j)];
        for (int64_t j = 0; j < T; ++j)
          for (int64_t d = 0; d < HS; ++d)
            y[size_t((b * T + i) * C + h * HS + d)] += A[size_t(i * T + j)] / n * at(b, j, 2, h, d);
      }
    }
  return linear(y, "c_proj", C);
}

TEST(LinearAttention, EqualsTheQuadraticFormOfItsFeatureMap) {
  const int64_t B = 2, T = 96, C = 32, NH = 2;  // HS = 16
  auto attention = Registry::instance().make<PluginKind::attention>("linear", {}, config_of(C, NH, T));
  randomise_scaled(*attention, C, 41);
  std::mt19937 rng(42);
  const Tensor src = contract::randn({B, T, C}, 1.0f, rng);
  std::map<std::string, std::vector<double>> w;
  for (const auto& [name, t] : parameters_of(*attention)) w[name] = to_double(t);
  const std::vector<double> expected = quadratic_linear_attention(to_double(src), w, B, T, C, NH);
  const std::vector<float> got = attention->forward(src, {}).to_vector();
  double scale = 1.0;
  for (double v : expected) scale = std::max(scale, std::abs(v));
  // f32 against f64: the scan sums up to T = 96 terms of O(1) into S and z, then divides and
  // projects; measured 1.7e-7 of the output scale (~3) apart. 2e-6 of the scale bounds that with
  // room for another machine's rounding, while a position too many or too few in a row's sums, or
  // a wrong feature map, moves outputs by >= 1e-3.
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], expected[i], 2e-6 * scale) << "dst element " << i;
}

// The hand-written backward (two scans, the states recomputed) against the derivative of the
// quadratic form along one random direction per tensor: of sum(dst * diff_dst) as the input or one
// parameter moves along that direction.
TEST(LinearAttention, BackwardIsTheDerivativeOfTheQuadraticForm) {
  const int64_t B = 2, T = 40, C = 16, NH = 2;
  auto attention = Registry::instance().make<PluginKind::attention>("linear", {}, config_of(C, NH, T));
  randomise_scaled(*attention, C, 43);
  std::mt19937 rng(44);
  Tensor src = contract::randn({B, T, C}, 1.0f, rng);
  src.set_requires_grad();
  const Tensor diff_dst = contract::randn({B, T, C}, 1.0f, rng);
  attention->forward(src, {}).backward(diff_dst);

  std::map<std::string, std::vector<double>> values{{"src", to_double(src)}};
  std::map<std::string, std::vector<float>> grads{{"src", src.grad().to_vector()}};
  for (const auto& [name, t] : parameters_of(*attention)) {
    values[name] = to_double(t);
    grads[name] = t.grad().to_vector();
  }
  const std::vector<double> g = to_double(diff_dst);
  auto objective = [&] {
    std::map<std::string, std::vector<double>> w = values;
    const std::vector<double> y = quadratic_linear_attention(w["src"], w, B, T, C, NH);
    double s = 0;
    for (size_t i = 0; i < y.size(); ++i) s += y[i] * g[i];
    return s;
  };
  ASSERT_EQ(values.size(), 5u) << "src, and c_attn and c_proj with their biases";
  for (auto& [name, v] : values) {
    SCOPED_TRACE(name);
    const std::vector<double> keep = v;
    const std::vector<float> direction = contract::randn(int64_t(v.size()), 1.0f, rng);
    double analytic = 0;
    for (size_t i = 0; i < v.size(); ++i) analytic += double(grads[name][i]) * direction[i];
    const double h = 1e-5;
    for (size_t i = 0; i < v.size(); ++i) v[i] = keep[i] + h * direction[i];
    const double up = objective();
    for (size_t i = 0; i < v.size(); ++i) v[i] = keep[i] - h * direction[i];
    const double down = objective();
    v = keep;
    // Central differences of the f64 form with h = 1e-5 have an error below 1e-8 (truncation
    // ~h^2 |f'''|, rounding ~1e-16 |f| / h), so this measures the f32 backward, whose sums run
    // over T positions and B*T rows: measured at most 3.2e-7 of max(1, |derivative|) (~15-85
    // here). 1e-5 of it leaves room for that to grow, while a wrong term (the denominator's
    // gradient left out, R_t without row t) is off by O(0.1) of it.
    EXPECT_NEAR(analytic, (up - down) / (2 * h), 1e-5 * std::max(1.0, std::abs(analytic)));
  }
}

// Each head is one task summing in a fixed order: one thread and all of them give the same bits,
// forward and every gradient.
TEST(LinearAttention, ResultsDoNotDependOnTheThreadCount) {
  NANOLAB_SKIP_ON_ONE_THREAD();
  const int64_t B = 3, T = 50, C = 32, NH = 4;
  auto attention = Registry::instance().make<PluginKind::attention>("linear", {}, config_of(C, NH, T));
  randomise_scaled(*attention, C, 49);
  std::mt19937 rng(50);
  const Tensor src_values = contract::randn({B, T, C}, 1.0f, rng);
  const Tensor diff_dst = contract::randn({B, T, C}, 1.0f, rng);
  auto run = [&] {
    std::map<std::string, std::vector<float>> out;
    Tensor src = src_values.clone();
    src.set_requires_grad();
    for (Parameter& p : attention->parameters()) p.tensor.reset_grad();
    const Tensor dst = attention->forward(src, {});
    dst.backward(diff_dst);
    out["dst"] = dst.to_vector();
    out["src"] = src.grad().to_vector();
    for (const Parameter& p : attention->parameters()) out[p.name] = p.tensor.grad().to_vector();
    return out;
  };
  const auto all = run();
  std::map<std::string, std::vector<float>> one;
  {
    tbb::global_control single(tbb::global_control::max_allowed_parallelism, 1);
    one = run();
  }
  for (const auto& [name, v] : all) EXPECT_EQ(one.at(name), v) << name;
}

// Bytes in use after reset_cache(B) and block_size positions fed one at a time, beyond what was in
// use before (the attention's parameters and the input already exist).
size_t cache_bytes(const std::string& name, int64_t B, int64_t C, int64_t NH, int64_t block_size) {
  auto attention = Registry::instance().make<PluginKind::attention>(name, {}, config_of(C, NH, block_size));
  randomise_scaled(*attention, C, 45);
  std::mt19937 rng(46);
  const Tensor src = contract::randn({B, 1, C}, 1.0f, rng);
  NoGrad no_grad;
  const size_t before = runtime::stats().bytes_in_use;
  attention->reset_cache(B);
  for (int64_t t = 0; t < block_size; ++t) attention->forward_cached(src);
  return runtime::stats().bytes_in_use - before;
}

TEST(LinearAttention, KvCacheMemoryDoesNotGrowWithTheNumberOfPositions) {
  const int64_t B = 2, C = 32, NH = 2, HS = C / NH;
  const size_t linear_16 = cache_bytes("linear", B, C, NH, 16);
  const size_t linear_512 = cache_bytes("linear", B, C, NH, 512);
  EXPECT_EQ(linear_16, linear_512) << "the state of linear attention grew with the positions seen";
  // S and z of every head, to the allocator's size-class rounding (<= 12.5 %) and alignment.
  const size_t state = size_t(B * NH * (HS * HS + HS)) * sizeof(float);
  EXPECT_GE(linear_512, state);
  EXPECT_LE(linear_512, state + state / 8 + 128);
  // The control: causal_mha's cache holds k and v of every position, 32x more at 512 than at 16,
  // so the measurement sees a cache that grows.
  const size_t mha_16 = cache_bytes("causal_mha", B, C, NH, 16);
  const size_t mha_512 = cache_bytes("causal_mha", B, C, NH, 512);
  EXPECT_GT(double(mha_512), 16.0 * double(mha_16));
}

// Bytes the allocator takes from the system for one forward + backward at length T, from an empty
// cache: the peak the step holds beyond what was live before (to the size-class rounding).
size_t training_step_bytes(const std::string& name, int64_t T) {
  const int64_t C = 64, NH = 4;  // HS = 16: a (T, T) buffer per head dwarfs the (T, HS) ones
  auto attention = Registry::instance().make<PluginKind::attention>(name, {}, config_of(C, NH, T));
  randomise_scaled(*attention, C, 47);
  std::mt19937 rng(48);
  Tensor src = contract::randn({1, T, C}, 1.0f, rng);
  src.set_requires_grad();
  const Tensor diff_dst = contract::randn({1, T, C}, 1.0f, rng);
  for (Parameter& p : attention->parameters()) p.tensor.zero_grad();
  src.zero_grad();
  runtime::release_cached_memory();
  const size_t before = runtime::stats().bytes_reserved;
  attention->forward(src, {}).backward(diff_dst);
  return runtime::stats().bytes_reserved - before;
}

TEST(LinearAttention, TrainingStepMemoryIsLinearInT) {
  const size_t linear_512 = training_step_bytes("linear", 512);
  const size_t linear_1024 = training_step_bytes("linear", 1024);
  const size_t mha_512 = training_step_bytes("causal_mha", 512);
  const size_t mha_1024 = training_step_bytes("causal_mha", 1024);
  // Twice the length, twice the (T, C) buffers: a ratio near 2 (size classes blur it a little),
  // and in all less than one (NH, T, T) buffer of floats at T = 1024.
  EXPECT_LT(double(linear_1024) / double(linear_512), 2.5);
  EXPECT_LT(linear_1024, size_t(4 * 1024 * 1024) * sizeof(float));
  // The control: causal_mha materialises (NH, T, T) scores and weights, about 4x at twice T.
  EXPECT_GT(double(mha_1024) / double(mha_512), 3.0);
}

}  // namespace
}  // namespace nanolab
