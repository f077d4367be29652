// The defining property of each research-variant plugin (issue 8), beside the contract suites
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
//   input gradient with finite differences.
// Every expected value is written out or computed here from the definition, not taken from the
// plugins.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "contract_util.hpp"
#include "nanolab/autograd.hpp"
#include "nanolab/registry.hpp"

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
  auto lion = Registry::instance().make_optimizer(
      "lion", Given{{"betas", std::vector<double>{0.9, 0.99}}, {"weight_decay", 0.1}});
  Parameters params{{"w", Tensor::from({1.0f, -0.5f}, {1, 2})},
                    {"b", Tensor::from({0.5f, 0.25f}, {2})}};
  for (Parameter& p : params) p.tensor.set_requires_grad();
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
    return Registry::instance().make_optimizer("lion", Given{{"betas", betas}});
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
  std::vector<double> row, col, v;
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
  auto adafactor = Registry::instance().make_optimizer("adafactor", Given{{"weight_decay", 0.1}});
  Parameters params{{"w", Tensor::from({1.0f, -0.5f, 0.25f, 2.0f, -1.5f, 0.75f}, {2, 3})},
                    {"b", Tensor::from({0.5f, -1.0f, 1.5f}, {3})}};
  for (Parameter& p : params) p.tensor.set_requires_grad();
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
  const StateDict state = adafactor->state();
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
  auto focal = Registry::instance().make_loss("focal", Given{{"gamma", 0.0}});
  auto cross_entropy = Registry::instance().make_loss("cross_entropy", Given{});
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
  auto focal = Registry::instance().make_loss("focal", Given{{"gamma", 2.0}});
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
  auto plain = Registry::instance().make_loss("cross_entropy", Given{});
  auto with_z = Registry::instance().make_loss("cross_entropy", Given{{"z_loss", k}});
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
        Registry::instance().make_attention("gqa", {{"n_kv_head", n_kv_head}}, config_of(C, NH, T));
    auto mha = Registry::instance().make_attention("causal_mha", {}, config_of(C, NH, T));
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
      Registry::instance().make_attention("gqa", {{"n_kv_head", n_kv_head}}, config_of(C, NH, T));
  auto mha = Registry::instance().make_attention("causal_mha", {}, config_of(C, NH, T));
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
      Registry::instance().make_attention("gqa", {{"n_kv_head", int64_t(3)}}, config_of(16, 4, 8)),
      ConfigError);
}

TEST(SlidingWindowAttention, WithWindowOfAtLeastTIsCausalMha) {
  const int64_t B = 2, T = 6, C = 16, NH = 4;
  std::mt19937 rng(23);
  const Tensor src = contract::randn({B, T, C}, 1.0f, rng);
  for (int64_t window : {T, T + 5}) {
    auto sliding = Registry::instance().make_attention("sliding_window", {{"window", window}},
                                                       config_of(C, NH, T));
    auto mha = Registry::instance().make_attention("causal_mha", {}, config_of(C, NH, T));
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
  auto sliding = Registry::instance().make_attention("sliding_window", {{"window", window}},
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
  auto sliding = Registry::instance().make_attention("sliding_window", {{"window", window}},
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
  auto sliding = Registry::instance().make_attention("sliding_window", {{"window", window}},
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

}  // namespace
}  // namespace nanolab
