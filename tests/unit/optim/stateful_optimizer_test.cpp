// The framework's side of the optimizer contract (StatefulOptimizer, nanolab/optimizer.hpp) with a
// test optimizer that declares unusual state: a tensor per row of the matrices only, starting at
// 1.5; one per column; one number per parameter; and two scalars. The framework allocates each by
// its rule, hands the step only the parameters with a gradient and the schedule's numbers, and on
// load refuses a wrong shape, a foreign or (in the current format) a missing entry, naming it,
// and changes nothing then.
#include <gtest/gtest.h>

#include "nanolab/optimizer.hpp"

namespace nanolab {
namespace {

bool is_matrix(const Parameter& p) { return p.role == Role::matrix; }

// Adds 1 to every state element of each parameter it is given and counts its steps; records what
// the last step saw.
class Counting final : public Optimizer {
 public:
  StateSpec state_spec() const override {
    return {{{"per_row", state_shape::rows, 1.5f, is_matrix},
             {"per_column", state_shape::columns, 0.0f, is_matrix},
             {"norm", state_shape::scalar, -1.0f}},
            {"steps", "calls_with_no_parameter"}};
  }
  void step(const OptimizerStep& ctx) override {
    seen.clear();
    for (const ParameterState& s : ctx.params) {
      seen.push_back(s.param.name);
      for (const Tensor& t : s.state)
        if (t.defined())
          for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] += 1.0f;
    }
    ++ctx.scalars[0];
    if (ctx.params.empty()) ++ctx.scalars[1];
    lr = ctx.lr;
    peak_lr = ctx.peak_lr;
    step_number = ctx.step;
  }
  std::vector<std::string> seen;
  float lr = 0;
  double peak_lr = 0;
  int64_t step_number = 0;
};

Parameters make_params() {
  Parameters p{{"w", Tensor::zeros({3, 4})}, {"b", Tensor::zeros({4})}};
  for (Parameter& x : p) x.tensor.set_requires_grad();
  return p;
}

struct Made {
  Parameters params = make_params();
  Counting* rule;
  std::unique_ptr<StatefulOptimizer> optimizer;
  Made() {
    auto r = std::make_unique<Counting>();
    rule = r.get();
    optimizer = std::make_unique<StatefulOptimizer>(std::move(r), params, 0.5);
  }
};

std::string load_error(StatefulOptimizer& o, const OptimizerState& state, bool v1 = false) {
  try {
    o.load_state(state, v1);
  } catch (const CheckpointError& e) {
    return e.what();
  }
  ADD_FAILURE() << "the state was accepted";
  return "";
}

TEST(StatefulOptimizer, AllocatesEveryDeclaredTensorByItsRuleAtItsInitialValue) {
  Made m;
  const OptimizerState s = m.optimizer->state();
  ASSERT_EQ(s.tensors.size(), 4u);  // the vector b has no per_row or per_column
  EXPECT_EQ(s.tensors.at("w.per_row").shape(), (Shape{3}));
  EXPECT_EQ(s.tensors.at("w.per_column").shape(), (Shape{4}));
  EXPECT_EQ(s.tensors.at("w.norm").shape(), (Shape{1}));
  EXPECT_EQ(s.tensors.at("b.norm").shape(), (Shape{1}));
  EXPECT_EQ(s.tensors.at("w.per_row").to_vector(), std::vector<float>(3, 1.5f));
  EXPECT_EQ(s.tensors.at("w.per_column").to_vector(), std::vector<float>(4, 0.0f));
  EXPECT_EQ(s.tensors.at("b.norm").to_vector(), std::vector<float>{-1.0f});
  EXPECT_EQ(s.scalars, (std::map<std::string, int64_t>{{"calls_with_no_parameter", 0},
                                                       {"steps", 0}}));
}

TEST(StatefulOptimizer, StepsGetTheParametersWithAGradientAndTheScheduleNumbers) {
  Made m;
  m.params[1].tensor.grad() = Tensor::zeros({4});  // only b took part in the loss
  m.optimizer->step(m.params, 0.25f, 7);
  EXPECT_EQ(m.rule->seen, std::vector<std::string>{"b"});
  EXPECT_EQ(m.rule->lr, 0.25f);
  EXPECT_EQ(m.rule->peak_lr, 0.5);
  EXPECT_EQ(m.rule->step_number, 7);
  const OptimizerState s = m.optimizer->state();
  EXPECT_EQ(s.tensors.at("b.norm").to_vector(), std::vector<float>{0.0f});
  EXPECT_EQ(s.tensors.at("w.per_row").to_vector(), std::vector<float>(3, 1.5f));
  EXPECT_EQ(s.scalars.at("steps"), 1);
  m.params[1].tensor.grad() = Tensor();
  m.optimizer->step(m.params, 0.25f, 8);
  EXPECT_TRUE(m.rule->seen.empty());
  EXPECT_EQ(m.optimizer->state().scalars.at("calls_with_no_parameter"), 1);
}

TEST(StatefulOptimizer, RestoresAStateAndContinuesFromIt) {
  Made a, b;
  for (Parameter& p : a.params) p.tensor.grad() = Tensor::zeros(p.tensor.shape());
  a.optimizer->step(a.params, 0.1f, 1);
  a.optimizer->step(a.params, 0.1f, 2);
  b.optimizer->load_state(a.optimizer->state());
  const OptimizerState s = b.optimizer->state();
  EXPECT_EQ(s.tensors.at("w.per_row").to_vector(), std::vector<float>(3, 3.5f));
  EXPECT_EQ(s.scalars.at("steps"), 2);
  // load_state copies: the source stepping on does not reach the copy.
  a.optimizer->step(a.params, 0.1f, 3);
  EXPECT_EQ(b.optimizer->state().tensors.at("w.per_row").to_vector(),
            std::vector<float>(3, 3.5f));
}

TEST(StatefulOptimizer, AWrongShapeIsRefusedNamingParameterStateAndBothShapes) {
  Made m;
  OptimizerState s = m.optimizer->state();
  s.tensors["w.per_row"] = Tensor::zeros({4});
  const std::string what = load_error(*m.optimizer, s);
  EXPECT_NE(what.find("parameter 'w', state 'per_row': the checkpoint's has shape [4], the "
                      "parameter needs [3]"),
            std::string::npos)
      << what;
  // Nothing was changed by the refused load.
  EXPECT_EQ(m.optimizer->state().tensors.at("w.per_row").to_vector(),
            std::vector<float>(3, 1.5f));
}

TEST(StatefulOptimizer, AForeignOrMissingEntryIsRefused) {
  Made m;
  OptimizerState s = m.optimizer->state();
  s.tensors["b.per_row"] = Tensor::zeros({1});  // per_row is for matrices only
  EXPECT_NE(load_error(*m.optimizer, s).find("unexpected entry 'b.per_row'"), std::string::npos);
  s = m.optimizer->state();
  s.scalars["step"] = 3;
  EXPECT_NE(load_error(*m.optimizer, s).find("unexpected scalar 'step'"), std::string::npos);
  s = m.optimizer->state();
  s.tensors.erase("w.norm");
  EXPECT_NE(load_error(*m.optimizer, s).find("no entry 'w.norm'"), std::string::npos);
  s = m.optimizer->state();
  s.scalars.erase("steps");
  EXPECT_NE(load_error(*m.optimizer, s).find("no scalar 'steps'"), std::string::npos);
}

// Format 1 held state only for the parameters already updated: absent entries start afresh.
TEST(StatefulOptimizer, AnAbsentEntryOfAFormat1StateStartsAtItsInitialValue) {
  Made m;
  for (Parameter& p : m.params) p.tensor.grad() = Tensor::zeros(p.tensor.shape());
  m.optimizer->step(m.params, 0.1f, 1);
  OptimizerState s = m.optimizer->state();
  s.tensors.erase("w.per_row");
  s.scalars.erase("calls_with_no_parameter");
  Made fresh;
  fresh.optimizer->load_state(s, true);
  const OptimizerState got = fresh.optimizer->state();
  EXPECT_EQ(got.tensors.at("w.per_row").to_vector(), std::vector<float>(3, 1.5f));
  EXPECT_EQ(got.tensors.at("w.per_column").to_vector(), std::vector<float>(4, 1.0f));
  EXPECT_EQ(got.scalars.at("steps"), 1);
  EXPECT_EQ(got.scalars.at("calls_with_no_parameter"), 0);
}

}  // namespace
}  // namespace nanolab
