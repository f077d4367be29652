// The attention contract, run over every attention plugin the registry finds and every position
// encoding that needs the attention's help (learned, rope, alibi; `none` is learned without wpe,
// which the attention cannot see). A plugin either honours a position or rejects it from its
// factory with a ConfigError naming itself and the position; the tests below then run on what it
// honours:
// - causal: perturbing the input at positions > t leaves output row t exactly unchanged;
// - the KV-cache path gives the rows of the full forward, token by token and in chunks, and
//   refuses to grow past block_size;
// - every parameter and the input receive a gradient; dropout acts only when training and is a
//   function of the seed;
// - plugins with the standard GPT-2 parameter layout (causal_mha's c_attn / c_proj) match a plain
//   reference attention written here in double precision, forward and every gradient, with RoPE
//   and ALiBi written out from their papers' formulas; its core between the projections is the
//   scaled softmax, or for `linear` the normalised feature-map weights of linear attention.
// The reference is deliberately naive (loops over b, t, heads) and shares no code with the
// framework; its gradients are central differences of the reference itself, in double.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "contract_util.hpp"
#include "nanolab/autograd.hpp"
#include "nanolab/registry.hpp"

namespace nanolab {
namespace {

using contract::randn;

// One instantiation of the suite: a plugin and a position encoding.
struct Case {
  std::string plugin;
  Position position;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.plugin << "/" << position_name(c.position); }

std::vector<Case> cases() {
  std::vector<Case> out;
  for (const std::string& name : contract::plugin_names(PluginKind::attention))
    for (Position p : {Position::learned, Position::rope, Position::alibi}) out.push_back({name, p});
  return out;
}

class AttentionContract : public testing::TestWithParam<Case> {
 protected:
  AttentionConfig config_of(int64_t C, int64_t NH, int64_t block_size, bool bias,
                            float dropout) const {
    return {C, NH, block_size, bias, dropout, /*layer=*/0, /*n_layer=*/2, GetParam().position};
  }

  // The plugin for `config`, or nullptr when it rejects the position (the test then skips: that
  // the rejection is well-formed is HonoursOrRejectsThePosition's business).
  std::unique_ptr<Attention> make(const AttentionConfig& config) const {
    try {
      return Registry::instance().make<PluginKind::attention>(GetParam().plugin, {}, config);
    } catch (const ConfigError&) {
      if (GetParam().position == Position::learned) throw;
      return nullptr;
    }
  }
};

#define MAKE_OR_SKIP(var, config)                                                      \
  auto var = make(config);                                                             \
  if (!var)                                                                            \
    GTEST_SKIP() << GetParam().plugin << " rejects position "                          \
                 << position_name(GetParam().position) << " (checked by HonoursOrRejectsThePosition)";

// Fills every parameter with N(0, 0.3^2): large enough that the attention weights are far from
// uniform (a uniform softmax would hide masking and scaling mistakes), small enough to stay O(1).
void randomise(Attention& attention, uint32_t seed) {
  std::mt19937 rng(seed);
  for (Parameter& p : attention.parameters())
    p.tensor.copy_from(randn(p.tensor.shape(), 0.3f, rng));
}

// Copies the parameter values of `from` into `to` (same plugin, same config).
void copy_parameters(Attention& from, Attention& to) {
  Parameters a = from.parameters(), b = to.parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) b[i].tensor.copy_from(a[i].tensor);
}

// Rows [t0, t1) of src (B, T, C) as a new (B, t1 - t0, C) tensor.
Tensor rows(const Tensor& src, int64_t t0, int64_t t1) {
  const int64_t B = src.size(0), T = src.size(1), C = src.size(2);
  std::vector<float> v;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = t0; t < t1; ++t)
      for (int64_t c = 0; c < C; ++c) v.push_back(src.data()[(b * T + t) * C + c]);
  return Tensor::from(v, {B, t1 - t0, C});
}

float max_abs(const std::vector<float>& v) {
  float m = 0;
  for (float x : v) m = std::max(m, std::abs(x));
  return m;
}

TEST(AttentionPlugins, HasPlugins) {
  EXPECT_FALSE(contract::plugin_names(PluginKind::attention).empty())
      << "no attention plugin was found; " << contract::registry_report();
}

TEST_P(AttentionContract, HonoursOrRejectsThePosition) {
  const std::string name = position_name(GetParam().position);
  try {
    auto attention = Registry::instance().make<PluginKind::attention>(GetParam().plugin, {},
                                                         config_of(16, 4, 8, true, 0.0f));
    EXPECT_TRUE(attention);
  } catch (const ConfigError& e) {
    ASSERT_NE(GetParam().position, Position::learned) << "every attention must take learned: "
                                                      << e.what();
    const std::string msg = e.what();
    EXPECT_NE(msg.find(GetParam().plugin), std::string::npos) << msg;
    EXPECT_NE(msg.find("\"" + name + "\""), std::string::npos) << msg;
  }
}

TEST_P(AttentionContract, IsCausal) {
  const int64_t B = 2, T = 7, C = 16, NH = 4;
  MAKE_OR_SKIP(attention, config_of(C, NH, T, true, 0.0f));
  randomise(*attention, 1);
  std::mt19937 rng(2);
  const Tensor src = randn({B, T, C}, 1.0f, rng);
  const std::vector<float> dst = attention->forward(src, {}).to_vector();
  for (int64_t t = 0; t + 1 < T; ++t) {
    Tensor perturbed = src.clone();
    for (int64_t b = 0; b < B; ++b)
      for (int64_t s = t + 1; s < T; ++s)
        for (int64_t c = 0; c < C; ++c) perturbed.data()[(b * T + s) * C + c] += 1.0f + c;
    const std::vector<float> out = attention->forward(perturbed, {}).to_vector();
    bool later_rows_changed = false;
    for (int64_t b = 0; b < B; ++b)
      for (int64_t s = 0; s < T; ++s)
        for (int64_t c = 0; c < C; ++c) {
          const size_t i = size_t((b * T + s) * C + c);
          if (s <= t)
            ASSERT_EQ(out[i], dst[i]) << "row " << s << " changed after perturbing rows > " << t;
          else
            later_rows_changed |= out[i] != dst[i];
        }
    // The perturbation must reach the output at all, or the test above proves nothing.
    EXPECT_TRUE(later_rows_changed) << "perturbing rows > " << t << " changed no output";
  }
}

TEST_P(AttentionContract, KvCacheMatchesFullForward) {
  const int64_t B = 2, T = 8, C = 16, NH = 4;
  MAKE_OR_SKIP(attention, config_of(C, NH, T, true, 0.0f));
  randomise(*attention, 3);
  std::mt19937 rng(4);
  const Tensor src = randn({B, T, C}, 1.0f, rng);
  const std::vector<float> full = attention->forward(src, {}).to_vector();
  // Two f32 computations of the same rows with different summation orders (the cached path may
  // use plain loops or another algorithm, the full one oneDNN): each output sums O(T * C)
  // products of O(1) values; causal_mha's agree to 2.4e-7 at scale ~3.6. 1e-5 of the output
  // scale leaves room for other plugins' orders and still catches any masking or position
  // mistake, which moves outputs by O(0.1).
  const float tol = 1e-5f * std::max(1.0f, max_abs(full));

  NoGrad no_grad;
  // Token by token, then prompt-sized chunks: a cache reset must forget everything before it.
  for (const std::vector<int64_t>& chunks :
       {std::vector<int64_t>(T, 1), std::vector<int64_t>{3, 1, 4}, std::vector<int64_t>{T}}) {
    attention->reset_cache(B);
    int64_t t0 = 0;
    for (int64_t n : chunks) {
      const Tensor out = attention->forward_cached(rows(src, t0, t0 + n));
      ASSERT_EQ(out.shape(), (Shape{B, n, C}));
      for (int64_t b = 0; b < B; ++b)
        for (int64_t t = 0; t < n; ++t)
          for (int64_t c = 0; c < C; ++c)
            ASSERT_NEAR(out.data()[(b * n + t) * C + c], full[size_t((b * T + t0 + t) * C + c)],
                        tol)
                << "b " << b << ", position " << t0 + t << ", channel " << c << ", chunk of " << n;
      t0 += n;
    }
    // The cache holds block_size positions: one more must be refused, not written out of bounds.
    EXPECT_THROW(attention->forward_cached(rows(src, 0, 1)), ShapeError);
  }
}

TEST_P(AttentionContract, GradientReachesEveryParameterAndTheInput) {
  const int64_t B = 2, T = 5, C = 8, NH = 2;
  MAKE_OR_SKIP(attention, config_of(C, NH, T, true, 0.0f));
  randomise(*attention, 5);
  std::mt19937 rng(6);
  Tensor src = randn({B, T, C}, 1.0f, rng);
  src.set_requires_grad();
  Parameters params = attention->parameters();
  std::map<std::string, int> seen;
  for (const Parameter& p : params) {
    EXPECT_TRUE(p.tensor.requires_grad()) << p.name;
    EXPECT_EQ(++seen[p.name], 1) << "parameter name " << p.name << " is used twice";
  }
  attention->forward(src, {}).backward(randn({B, T, C}, 1.0f, rng));
  for (Parameter& p : params) {
    ASSERT_TRUE(p.tensor.grad().defined()) << p.name << " got no gradient";
    EXPECT_GT(max_abs(p.tensor.grad().to_vector()), 0.0f) << p.name << " got a zero gradient";
  }
  ASSERT_TRUE(src.grad().defined());
  EXPECT_GT(max_abs(src.grad().to_vector()), 0.0f);
}

TEST_P(AttentionContract, DropoutOnlyWhenTrainingAndSeeded) {
  const int64_t B = 2, T = 6, C = 16, NH = 4;
  MAKE_OR_SKIP(plain, config_of(C, NH, T, true, 0.0f));
  MAKE_OR_SKIP(dropped, config_of(C, NH, T, true, 0.5f));
  randomise(*plain, 7);
  copy_parameters(*plain, *dropped);
  std::mt19937 rng(8);
  const Tensor src = randn({B, T, C}, 1.0f, rng);
  const std::vector<float> reference = plain->forward(src, {}).to_vector();
  EXPECT_EQ(dropped->forward(src, {false, 11}).to_vector(), reference)
      << "dropout changed an evaluation forward";
  const std::vector<float> a = dropped->forward(src, {true, 11}).to_vector();
  EXPECT_EQ(dropped->forward(src, {true, 11}).to_vector(), a) << "same seed, different masks";
  EXPECT_NE(a, reference) << "dropout 0.5 when training changed nothing";
  // Dropout on the output projection (AttentionConfig) zeroes whole outputs: about half of them
  // at p = 0.5; the bounds are +-20 standard deviations of that count for B*T*C = 192.
  const auto zeros = std::count(a.begin(), a.end(), 0.0f);
  EXPECT_GT(zeros, 0.3 * double(a.size())) << "too few outputs dropped";
  EXPECT_LT(zeros, 0.7 * double(a.size())) << "too many outputs dropped";
  EXPECT_NE(dropped->forward(src, {true, 12}).to_vector(), a) << "another seed, same mask";
}

// --- The reference attention, for the standard GPT-2 layout -------------------------------------

// What a plugin computes between the projections: the scaled causal softmax of q·k, or linear
// attention (Katharopoulos et al. 2020): weights phi(q_i)·phi(k_j) with phi(x) = elu(x) + 1,
// divided by their sum over j <= i plus eps = 1e-6.
enum class Core { softmax, linear };

// Every plugin with the GPT-2 layout is a softmax attention but those named here.
Core core_of(const std::string& plugin) {
  return plugin == "linear" ? Core::linear : Core::softmax;
}

struct Weights {
  std::vector<double> c_attn_weight;  // (3C, C): rows 0..C-1 make q, then k, then v
  std::vector<double> c_attn_bias;    // (3C) or empty
  std::vector<double> c_proj_weight;  // (C, C)
  std::vector<double> c_proj_bias;    // (C) or empty
};

// dst (B, T, C) of nanoGPT's CausalSelfAttention in eval mode, in plain loops, with the position
// encoding applied as its paper writes it: RoPE (Su et al.) rotates the pairs (d, d + HS/2) of q
// and k at position t by t * 10000^(-2d/HS); ALiBi (Press et al.) adds -m_h (i - j) to the scores,
// m_h = 2^(-8(h+1)/NH) for NH a power of two. With Core::linear the weights are linear attention's
// (the positions it takes, learned and none, need nothing of the core).
std::vector<double> reference_attention(const std::vector<double>& x, const Weights& w, int64_t B,
                                        int64_t T, int64_t C, int64_t NH, Position position,
                                        Core core) {
  const int64_t HS = C / NH;
  std::vector<double> qkv(size_t(B * T * 3 * C));  // (B, T, 3C)
  for (int64_t r = 0; r < B * T; ++r)
    for (int64_t o = 0; o < 3 * C; ++o) {
      double s = w.c_attn_bias.empty() ? 0.0 : w.c_attn_bias[size_t(o)];
      for (int64_t c = 0; c < C; ++c)
        s += x[size_t(r * C + c)] * w.c_attn_weight[size_t(o * C + c)];
      qkv[size_t(r * 3 * C + o)] = s;
    }
  auto at = [&](int64_t b, int64_t t, int64_t part, int64_t h, int64_t d) -> double& {
    return qkv[size_t((b * T + t) * 3 * C + part * C + h * HS + d)];
  };
  if (position == Position::rope)
    for (int64_t b = 0; b < B; ++b)
      for (int64_t t = 0; t < T; ++t)
        for (int64_t part : {0, 1})  // q and k
          for (int64_t h = 0; h < NH; ++h)
            for (int64_t d = 0; d < HS / 2; ++d) {
              const double a = double(t) * std::pow(10000.0, -double(2 * d) / double(HS));
              const double x0 = at(b, t, part, h, d), x1 = at(b, t, part, h, d + HS / 2);
              at(b, t, part, h, d) = x0 * std::cos(a) - x1 * std::sin(a);
              at(b, t, part, h, d + HS / 2) = x1 * std::cos(a) + x0 * std::sin(a);
            }
  std::vector<double> y(size_t(B * T * C), 0.0);  // (B, T, C), heads merged
  std::vector<double> att(static_cast<size_t>(T));
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < NH; ++h)
      for (int64_t i = 0; i < T; ++i) {
        double max = -INFINITY, sum = 0;
        const double slope =
            position == Position::alibi ? std::pow(2.0, -8.0 * double(h + 1) / double(NH)) : 0.0;
        if (core == Core::linear) {
          auto phi = [](double v) { return v > 0 ? v + 1 : std::exp(v); };
          for (int64_t j = 0; j <= i; ++j) {
            double s = 0;
            for (int64_t d = 0; d < HS; ++d) s += phi(at(b, i, 0, h, d)) * phi(at(b, j, 1, h, d));
            sum += att[size_t(j)] = s;
          }
          sum += 1e-6;
        } else {
          for (int64_t j = 0; j <= i; ++j) {
            double s = 0;
            for (int64_t d = 0; d < HS; ++d) s += at(b, i, 0, h, d) * at(b, j, 1, h, d);
            att[size_t(j)] = s / std::sqrt(double(HS)) - slope * double(i - j);
            max = std::max(max, att[size_t(j)]);
          }
          for (int64_t j = 0; j <= i; ++j) sum += att[size_t(j)] = std::exp(att[size_t(j)] - max);
        }
        for (int64_t j = 0; j <= i; ++j)
          for (int64_t d = 0; d < HS; ++d)
            y[size_t((b * T + i) * C + h * HS + d)] += att[size_t(j)] / sum * at(b, j, 2, h, d);
      }
  std::vector<double> dst(size_t(B * T * C));
  for (int64_t r = 0; r < B * T; ++r)
    for (int64_t o = 0; o < C; ++o) {
      double s = w.c_proj_bias.empty() ? 0.0 : w.c_proj_bias[size_t(o)];
      for (int64_t c = 0; c < C; ++c)
        s += y[size_t(r * C + c)] * w.c_proj_weight[size_t(o * C + c)];
      dst[size_t(r * C + o)] = s;
    }
  return dst;
}

std::vector<double> to_double(const Tensor& t) {
  std::vector<float> v = t.to_vector();
  return {v.begin(), v.end()};
}

// The plugin's parameters by name, if they are exactly the standard layout for (C, bias).
std::optional<std::map<std::string, Tensor>> standard_layout(Attention& attention, int64_t C,
                                                             bool bias) {
  std::map<std::string, Shape> expected{{"c_attn.weight", {3 * C, C}}, {"c_proj.weight", {C, C}}};
  if (bias) expected.insert({{"c_attn.bias", {3 * C}}, {"c_proj.bias", {C}}});
  std::map<std::string, Tensor> found;
  for (const Parameter& p : attention.parameters()) found[p.name] = p.tensor;
  if (found.size() != expected.size()) return std::nullopt;
  for (const auto& [name, shape] : expected)
    if (!found.count(name) || found[name].shape() != shape) return std::nullopt;
  return found;
}

TEST_P(AttentionContract, MatchesReferenceAttention) {
  const int64_t B = 2, T = 5, C = 8, NH = 2;
  for (bool bias : {true, false}) {
    SCOPED_TRACE(bias ? "with bias" : "without bias");
    MAKE_OR_SKIP(attention, config_of(C, NH, T + 2, bias, 0.0f));
    auto params = standard_layout(*attention, C, bias);
    if (!params)
      GTEST_SKIP() << "parameters are not the standard c_attn/c_proj layout; the reference "
                      "attention does not apply (causality and KV-cache tests still do)";
    randomise(*attention, bias ? 9 : 10);
    std::mt19937 rng(11);
    Tensor src = randn({B, T, C}, 1.0f, rng);
    src.set_requires_grad();
    const Tensor diff_dst = randn({B, T, C}, 1.0f, rng);
    const Tensor dst = attention->forward(src, {});
    dst.backward(diff_dst);

    // The reference as a function of everything it differentiates: the input, then each weight.
    std::map<std::string, std::vector<double>> values{{"src", to_double(src)}};
    for (const auto& [name, t] : *params) values[name] = to_double(t);
    auto forward = [&] {
      Weights w{values["c_attn.weight"], bias ? values["c_attn.bias"] : std::vector<double>{},
                values["c_proj.weight"], bias ? values["c_proj.bias"] : std::vector<double>{}};
      return reference_attention(values["src"], w, B, T, C, NH, GetParam().position,
                                 core_of(GetParam().plugin));
    };
    const std::vector<double> g = to_double(diff_dst);
    auto objective = [&] {  // sum(dst * diff_dst): its gradient is what backward(diff_dst) gives
      const std::vector<double> y = forward();
      double s = 0;
      for (size_t i = 0; i < y.size(); ++i) s += y[i] * g[i];
      return s;
    };

    // Forward: f32 against f64 through five stages, each summing at most C products of O(1)
    // terms; measured 1.7e-7 at scale ~1.8. 2e-6 of the output scale (~30 ulp) bounds the
    // rounding and is far below the O(0.1) a wrong scale, mask or head split would cause.
    const std::vector<double> expected = forward();
    const std::vector<float> got = dst.to_vector();
    double scale = 1.0;
    for (double v : expected) scale = std::max(scale, std::abs(v));
    for (size_t i = 0; i < got.size(); ++i)
      ASSERT_NEAR(got[i], expected[i], 2e-6 * scale) << "dst element " << i;

    // Gradients: central differences of the f64 reference with h = 1e-5 have error
    // ~h^2 * |f'''| + 1e-16 * |f| / h, below 1e-9 here, so the comparison measures the f32
    // backward alone. Its sums run over up to B*T*C terms; measured at most 2.2e-7 of each
    // gradient's scale. 2e-5 of the scale leaves room for that growth while a wrong term would
    // be off by O(0.1).
    std::map<std::string, Tensor> grads{{"src", src.grad()}};
    for (const auto& [name, t] : *params) grads[name] = t.grad();
    for (auto& [name, v] : values) {
      ASSERT_TRUE(grads[name].defined()) << name << " got no gradient";
      const std::vector<float> grad = grads[name].to_vector();
      std::vector<double> numeric(v.size());
      double grad_scale = 1.0;
      for (size_t i = 0; i < v.size(); ++i) {
        const double h = 1e-5, keep = v[i];
        v[i] = keep + h;
        const double up = objective();
        v[i] = keep - h;
        const double down = objective();
        v[i] = keep;
        numeric[i] = (up - down) / (2 * h);
        grad_scale = std::max(grad_scale, std::abs(numeric[i]));
      }
      for (size_t i = 0; i < v.size(); ++i)
        ASSERT_NEAR(grad[i], numeric[i], 2e-5 * grad_scale)
            << "gradient of " << name << "[" << i << "]";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Every, AttentionContract, testing::ValuesIn(cases()),
                         [](const testing::TestParamInfo<Case>& info) {
                           return contract::test_name({info.param.plugin, info.index}) + "_" +
                                  position_name(info.param.position);
                         });

}  // namespace
}  // namespace nanolab
