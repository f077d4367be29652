// The optimizer contract, run over every optimizer plugin the registry finds, on the quadratic
// f(p) = 0.5 * sum(a * p^2) (gradient a * p) over a 2-D weight and a 1-D bias:
// - plugins with a hand formula here (sgd, adamw) land on the values it computes in double after
//   one and three steps, for several option sets;
// - every plugin lowers f over 50 small steps, leaves the parameters that do not decay (the 1-D
//   bias, or a weight marked so) out of weight decay, gives results independent of the thread
//   count, and continues bit-identically from its state() loaded into a fresh instance (or into
//   itself), through the framework's StatefulOptimizer.
// The formulas are written out below, not taken from the plugins.
#include <gtest/gtest.h>
#include <tbb/task_arena.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "contract_util.hpp"
#include "nanolab/registry.hpp"
#include "support/skip.hpp"

namespace nanolab {
namespace {

using Given = std::map<std::string, OptionValue>;

// A 2-D weight w (2, 3) and a 1-D bias b (3), with their curvatures a (all different, all > 0).
struct Problem {
  Parameters params;
  std::vector<std::vector<float>> a;
};

Problem make_problem() {
  Problem q;
  q.params = {{"w", Tensor::from({1.0f, -0.5f, 0.25f, 2.0f, -1.5f, 0.75f}, {2, 3})},
              {"b", Tensor::from({0.5f, -1.0f, 1.5f}, {3})}};
  q.a = {{0.5f, 1.0f, 1.5f, 2.0f, 0.8f, 1.2f}, {0.7f, 1.3f, 0.9f}};
  for (Parameter& p : q.params) p.tensor.set_requires_grad();
  return q;
}

// A problem large enough to span several of an optimizer's parallel blocks.
Problem make_large_problem() {
  std::mt19937 rng(1);
  const int64_t rows = 64, cols = 3000;
  Problem q;
  q.params = {{"w", contract::randn(Shape{rows, cols}, 1.0f, rng)},
              {"b", contract::randn(Shape{cols}, 1.0f, rng)}};
  std::uniform_real_distribution<float> u(0.5f, 2.0f);
  for (Parameter& p : q.params) {
    p.tensor.set_requires_grad();
    std::vector<float> a(size_t(p.tensor.numel()));
    for (float& x : a) x = u(rng);
    q.a.push_back(a);
  }
  return q;
}

// Sets each .grad to a * p, the gradient of f at the current parameters.
void set_grads(Problem& q) {
  for (size_t i = 0; i < q.params.size(); ++i) {
    Tensor& p = q.params[i].tensor;
    std::vector<float> g = p.to_vector();
    for (size_t j = 0; j < g.size(); ++j) g[j] *= q.a[i][j];
    p.grad() = Tensor::from(g, p.shape());
  }
}

double objective(const Problem& q) {
  double f = 0;
  for (size_t i = 0; i < q.params.size(); ++i) {
    const std::vector<float> p = q.params[i].tensor.to_vector();
    for (size_t j = 0; j < p.size(); ++j) f += 0.5 * q.a[i][j] * double(p[j]) * p[j];
  }
  return f;
}

void run(StatefulOptimizer& opt, Problem& q, const std::vector<float>& lrs,
         int64_t first_step = 1) {
  for (size_t s = 0; s < lrs.size(); ++s) {
    set_grads(q);
    opt.step(q.params, lrs[s], first_step + int64_t(s));
  }
}

// The schedule's peak (optimizer.lr) the optimizers are made for.
constexpr double peak_lr = 0.02;

std::unique_ptr<StatefulOptimizer> make(const std::string& name, const Problem& q,
                                        const Given& given = {}) {
  return std::make_unique<StatefulOptimizer>(Registry::instance().make<PluginKind::optimizer>(name, given),
                                             q.params, peak_lr);
}

bool has_option(const std::string& name, const std::string& option) {
  for (const OptionSpec& spec :
       Registry::instance().find(PluginKind::optimizer, name).descriptor->options)
    if (spec.name == option) return true;
  return false;
}

// Options that make an optimizer use all of its state (momentum, decay); defaults for plugins
// this file does not know.
Given busy_options(const std::string& name) {
  if (name == "sgd") return {{"momentum", 0.9}, {"nesterov", true}, {"weight_decay", 0.1}};
  if (name == "adamw") return {{"betas", std::vector<double>{0.8, 0.9}}, {"weight_decay", 0.1}};
  return {};
}

// --- Hand formulas, per element, in double ------------------------------------------------------

// One parameter element p with curvature a under `steps` updates at learning rates lrs.
using Formula =
    std::function<double(double p, double a, bool decays, const std::vector<float>& lrs)>;

double option(const Given& given, const std::string& key, double fallback) {
  auto it = given.find(key);
  return it == given.end() ? fallback : std::get<double>(it->second);
}

// PyTorch SGD without dampening: g = a p (+ wd p); buf = g, then m buf + g;
// step = g + m buf (Nesterov) or buf; p -= lr step.
Formula sgd_formula(const Given& given) {
  const double m = option(given, "momentum", 0.0), wd = option(given, "weight_decay", 0.0);
  const bool nesterov = given.count("nesterov") && std::get<bool>(given.at("nesterov"));
  return [=](double p, double a, bool decays, const std::vector<float>& lrs) {
    double buf = 0;
    for (size_t s = 0; s < lrs.size(); ++s) {
      double g = a * p + (decays ? wd * p : 0.0);
      if (m > 0) {
        buf = s == 0 ? g : m * buf + g;
        g = nesterov ? g + m * buf : buf;
      }
      p -= lrs[s] * g;
    }
    return p;
  };
}

// PyTorch AdamW: p *= 1 - lr wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
// p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps).
Formula adamw_formula(const Given& given) {
  std::vector<double> betas{0.9, 0.999};
  if (given.count("betas")) betas = std::get<std::vector<double>>(given.at("betas"));
  const double b1 = betas[0], b2 = betas[1], eps = option(given, "eps", 1e-8),
               wd = option(given, "weight_decay", 0.01);
  return [=](double p, double a, bool decays, const std::vector<float>& lrs) {
    double m = 0, v = 0;
    for (size_t s = 0; s < lrs.size(); ++s) {
      const double g = a * p, t = double(s + 1), lr = lrs[s];
      if (decays) p *= 1 - lr * wd;
      m = b1 * m + (1 - b1) * g;
      v = b2 * v + (1 - b2) * g * g;
      p -= lr / (1 - std::pow(b1, t)) * m / (std::sqrt(v) / std::sqrt(1 - std::pow(b2, t)) + eps);
    }
    return p;
  };
}

const std::map<std::string, std::vector<Given>> hand_cases{
    {"sgd",
     {{},
      {{"momentum", 0.9}},
      {{"momentum", 0.9}, {"weight_decay", 0.1}},
      {{"momentum", 0.5}, {"nesterov", true}, {"weight_decay", 0.2}}}},
    {"adamw",
     {{},
      {{"betas", std::vector<double>{0.8, 0.9}}, {"weight_decay", 0.1}},
      {{"betas", std::vector<double>{0.9, 0.95}}, {"eps", 1e-3}, {"weight_decay", 0.0}}}},
};

Formula formula_for(const std::string& name, const Given& given) {
  return name == "sgd" ? sgd_formula(given) : adamw_formula(given);
}

class OptimizerContract : public testing::TestWithParam<std::string> {};

TEST(OptimizerPlugins, HasPlugins) {
  EXPECT_FALSE(contract::plugin_names(PluginKind::optimizer).empty())
      << "no optimizer plugin was found; " << contract::registry_report();
}

TEST_P(OptimizerContract, MatchesHandFormula) {
  auto cases = hand_cases.find(GetParam());
  if (cases == hand_cases.end())
    GTEST_SKIP() << "no hand formula for " << GetParam() << "; the generic tests cover it";
  for (const Given& given : cases->second) {
    for (const std::vector<float>& lrs :
         {std::vector<float>{0.1f}, std::vector<float>{0.1f, 0.05f, 0.2f}}) {
      SCOPED_TRACE("options " + std::to_string(&given - cases->second.data()) + ", " +
                   std::to_string(lrs.size()) + " step(s)");
      Problem q = make_problem();
      const Problem start = make_problem();
      auto opt = make(GetParam(), q, given);
      run(*opt, q, lrs);
      const Formula formula = formula_for(GetParam(), given);
      for (size_t i = 0; i < q.params.size(); ++i) {
        const std::vector<float> got = q.params[i].tensor.to_vector();
        const std::vector<float> p0 = start.params[i].tensor.to_vector();
        for (size_t j = 0; j < got.size(); ++j) {
          const double expected = formula(p0[j], q.a[i][j], q.params[i].tensor.ndim() >= 2, lrs);
          // f32 against f64: a handful of roundings of O(1) values per step, each <= 0.5 ulp
          // (6e-8); over three steps that stays below 1e-6, while a wrong term (a missing bias
          // correction, decay on the bias) moves p by >= 1e-3.
          EXPECT_NEAR(got[j], expected, 1e-6) << q.params[i].name << "[" << j << "]";
        }
      }
    }
  }
}

TEST_P(OptimizerContract, LowersTheLossOverFiftySmallSteps) {
  Problem q = make_problem();
  auto opt = make(GetParam(), q);
  const double f0 = objective(q);
  double previous = f0;
  for (int64_t s = 1; s <= 50; ++s) {
    run(*opt, q, {0.01f}, s);
    const double f = objective(q);
    EXPECT_LT(f, previous) << "step " << s;
    previous = f;
  }
  // At lr 0.01 plain gradient descent shrinks f by (1 - 0.01 a)^100 >= 0.37 at a = 1; any
  // descent method should manage a 10% drop.
  EXPECT_LT(previous, 0.9 * f0);
}

// The same three steps of `name` with weight_decay 0.2 (first) and 0 (second); `mark` adjusts the
// parameters of both before the optimizers are made.
std::pair<Problem, Problem> decayed_and_plain(const std::string& name,
                                              const std::function<void(Problem&)>& mark) {
  std::pair<Problem, Problem> out{make_problem(), make_problem()};
  auto& [with, without] = out;
  mark(with);
  mark(without);
  Given given = busy_options(name);
  given["weight_decay"] = 0.2;
  auto decaying = make(name, with, given);
  given["weight_decay"] = 0.0;
  auto plain = make(name, without, given);
  run(*decaying, with, {0.1f, 0.1f, 0.1f});
  run(*plain, without, {0.1f, 0.1f, 0.1f});
  return out;
}

TEST_P(OptimizerContract, NoWeightDecayOnOneDimensionalParameters) {
  if (!has_option(GetParam(), "weight_decay"))
    GTEST_SKIP() << GetParam() << " declares no weight_decay option: there is no decay to test";
  const auto [with, without] = decayed_and_plain(GetParam(), [](Problem&) {});
  EXPECT_EQ(with.params[1].tensor.to_vector(), without.params[1].tensor.to_vector())
      << "weight decay changed the 1-D parameter";
  EXPECT_NE(with.params[0].tensor.to_vector(), without.params[0].tensor.to_vector())
      << "weight decay did not change the 2-D parameter";
}

// Decay is the parameter's (parameter.hpp), not a rule of the plugin's own: a weight marked not to
// decay (as optimizer.no_decay does) moves as it would without weight decay.
TEST_P(OptimizerContract, NoWeightDecayOnAWeightMarkedSo) {
  if (!has_option(GetParam(), "weight_decay"))
    GTEST_SKIP() << GetParam() << " declares no weight_decay option: there is no decay to test";
  const auto [with, without] =
      decayed_and_plain(GetParam(), [](Problem& q) { q.params[0].decay = false; });
  EXPECT_EQ(with.params[0].tensor.to_vector(), without.params[0].tensor.to_vector())
      << "weight decay changed the weight marked decay = false";
}

TEST_P(OptimizerContract, IndependentOfTheThreadCount) {
  NANOLAB_SKIP_ON_ONE_THREAD();
  const std::vector<float> lrs{0.01f, 0.02f, 0.01f};
  Problem one = make_large_problem(), all = make_large_problem();
  auto a = make(GetParam(), one, busy_options(GetParam()));
  auto b = make(GetParam(), all, busy_options(GetParam()));
  tbb::task_arena(1).execute([&] { run(*a, one, lrs); });
  run(*b, all, lrs);
  for (size_t i = 0; i < one.params.size(); ++i)
    EXPECT_EQ(one.params[i].tensor.to_vector(), all.params[i].tensor.to_vector())
        << one.params[i].name;
}

// state() hands out the optimizer's live tensors, valid until its next step (optimizer.hpp); the
// checkpoint writer writes them to disk before then. The state continues bit-identically when it
// is loaded into a fresh instance straight from those tensors, from a copy (the file) that is
// overwritten after loading, or into the instance it came from; and since load_state copies, the
// instance it came from stepping on does not reach the one that loaded it.
TEST_P(OptimizerContract, SavedStateContinuesBitIdentically) {
  const Given given = busy_options(GetParam());
  const std::vector<float> lrs{0.1f, 0.05f, 0.08f, 0.02f, 0.07f, 0.03f};
  const std::vector<float> first_half(lrs.begin(), lrs.begin() + 3), second_half(lrs.begin() + 3,
                                                                                 lrs.end());
  Problem straight = make_problem();
  auto uninterrupted = make(GetParam(), straight, given);
  run(*uninterrupted, straight, lrs);
  auto expect_same_as_straight = [&](const Problem& q, const std::string& how) {
    for (size_t i = 0; i < straight.params.size(); ++i) {
      const std::vector<float> x = straight.params[i].tensor.to_vector();
      const std::vector<float> y = q.params[i].tensor.to_vector();
      ASSERT_EQ(x.size(), y.size());
      EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size() * sizeof(float)), 0)
          << straight.params[i].name << " differs after resuming " << how;
    }
  };
  // The weights a checkpoint would hold beside the state: the first three steps, run again.
  auto weights_after_first_half = [&] {
    Problem q = make_problem();
    auto warmup = make(GetParam(), q, given);
    run(*warmup, q, first_half);
    return q;
  };

  Problem ahead = make_problem();
  auto first = make(GetParam(), ahead, given);
  run(*first, ahead, first_half);
  OptimizerState on_disk = first->state();
  for (auto& [key, t] : on_disk.tensors) t = t.clone();
  auto from_live = make(GetParam(), ahead, given);
  from_live->load_state(first->state());
  auto from_disk = make(GetParam(), ahead, given);
  from_disk->load_state(on_disk);
  for (const auto& [key, t] : on_disk.tensors) t.fill(std::nanf(""));
  run(*first, ahead, {9.0f});  // the source steps on after it was saved

  Problem a = weights_after_first_half();
  run(*from_live, a, second_half, 4);
  expect_same_as_straight(a, "from the live state()");
  Problem b = weights_after_first_half();
  run(*from_disk, b, second_half, 4);
  expect_same_as_straight(b, "from a copy of state() overwritten after load_state");

  Problem c = make_problem();
  auto itself = make(GetParam(), c, given);
  run(*itself, c, first_half);
  itself->load_state(itself->state());
  run(*itself, c, second_half, 4);
  expect_same_as_straight(c, "from its own state()");
}

TEST_P(OptimizerContract, LoadStateRejectsAForeignEntry) {
  auto opt = make(GetParam(), make_problem());
  EXPECT_THROW(opt->load_state({{{"not a state entry", Tensor::zeros({3})}}, {}}),
               CheckpointError);
}

// Option combinations a schema's per-option bounds cannot express, refused by the factories.
TEST(SgdOptimizer, RefusesMomentumOneAndNesterovWithoutMomentum) {
  const Problem q = make_problem();
  EXPECT_THROW(make("sgd", q, {{"momentum", 1.0}}), ConfigError);
  EXPECT_THROW(make("sgd", q, {{"nesterov", true}}), ConfigError);
}

TEST(AdamwOptimizer, RefusesBetasThatAreNotTwoNumbersBelowOne) {
  const Problem q = make_problem();
  EXPECT_THROW(make("adamw", q, {{"betas", std::vector<double>{0.9}}}), ConfigError);
  EXPECT_THROW(make("adamw", q, {{"betas", std::vector<double>{0.9, 1.0}}}), ConfigError);
  EXPECT_THROW(make("adamw", q, {{"eps", 0.0}}), ConfigError);
}

INSTANTIATE_TEST_SUITE_P(Every, OptimizerContract,
                         testing::ValuesIn(contract::plugin_names(PluginKind::optimizer)),
                         contract::test_name);

}  // namespace
}  // namespace nanolab
