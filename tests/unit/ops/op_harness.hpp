// The one table-driven harness for ops. A test of an op is one OpCase entry in a table:
//   - GradCheck: the op's double reference backward equals central finite differences of its
//     double reference forward (loss = sum(dst * R) for a fixed random R);
//   - FastMatchesReference: the fast f32 forward and backward (through autograd) equal the f32
//     reference within the case's tolerances.
// A table file returns its cases from a function (the reference lambdas capture) and instantiates
// the suite with NANOLAB_OP_CASES(Name, cases()).
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <ostream>
#include <string>
#include <type_traits>
#include <vector>

#include "nanolab/ops.hpp"
#include "nanolab/runtime.hpp"
#include "nanolab/tensor.hpp"

namespace nanolab::test {

using Inputs = std::vector<Tensor>;
template <class T>
using RefFwd = std::function<void(const std::vector<const T*>& src, T* dst)>;
template <class T>
using RefBwd = std::function<void(const std::vector<const T*>& src, const T* dst,
                                  const T* diff_dst, const std::vector<T*>& diff_src)>;

struct Tolerance {
  // |fast - ref| <= abs + rel * max|ref| over the tensor, forward and backward (f32).
  double fwd = 1e-5;
  double bwd = 1e-5;
  // |analytic - numeric| <= grad * (1 + |numeric|) for the double finite-difference check.
  double grad = 1e-6;
  double eps = 1e-6;  // finite-difference step
};

struct OpCase {
  std::string name;
  std::vector<Shape> shapes;                  // one per input
  std::function<Tensor(const Inputs&)> fast;  // the op under test
  RefFwd<double> fwd_d;
  RefBwd<double> bwd_d;
  RefFwd<float> fwd_f;
  RefBwd<float> bwd_f;
  Tolerance tol;
  // Inputs are uniform in [lo, hi]; keep them away from an op's kinks.
  double lo = -1.0, hi = 1.0;
  std::vector<bool> differentiable;  // per input; empty means all
};

// gtest prints a failing parameter with this: the case's name, not its bytes.
inline void PrintTo(const OpCase& c, std::ostream* os) { *os << c.name; }

// Builds a case from generic reference lambdas (instantiated for float and double).
template <class Fwd, class Bwd>
OpCase op_case(std::string name, std::vector<Shape> shapes, std::function<Tensor(const Inputs&)> fast,
               Fwd fwd, Bwd bwd, Tolerance tol = {}) {
  OpCase c;
  c.name = std::move(name);
  c.shapes = std::move(shapes);
  c.fast = std::move(fast);
  c.fwd_d = fwd;
  c.bwd_d = bwd;
  c.fwd_f = fwd;
  c.bwd_f = bwd;
  c.tol = tol;
  return c;
}

// Reference lambdas (capturing by value): `s` the inputs, `d` dst, `dd` diff_dst, `ds` the input
// gradients, `T` the element type (float or double).
#define NANOLAB_REF_FWD(...)                        \
  [=](const auto& s, auto* d) {                     \
    using T [[maybe_unused]] = std::remove_cvref_t<decltype(*d)>; \
    (void)s;                                        \
    __VA_ARGS__;                                    \
  }
#define NANOLAB_REF_BWD(...)                                              \
  [=](const auto& s, const auto* d, const auto* dd, const auto& ds) {     \
    using T [[maybe_unused]] = std::remove_cvref_t<decltype(*d)>;         \
    (void)s, (void)d, (void)dd, (void)ds;                                 \
    __VA_ARGS__;                                                          \
  }

class OpTest : public ::testing::TestWithParam<OpCase> {};

// Runs `step` once, then `repeats` more times, and expects the repeats to create no oneDNN
// primitive and take no memory from the system while they allocate from the cache (a training
// step after the first). Returns the counters after the first run.
runtime::Stats expect_steady_state(const std::function<void()>& step, int repeats);

// Use inside namespace nanolab::test; `cases` is an expression giving std::vector<OpCase>.
#define NANOLAB_OP_CASES(Name, cases)                              \
  INSTANTIATE_TEST_SUITE_P(Name, OpTest, ::testing::ValuesIn(cases), \
                           [](const auto& info) { return info.param.name; })

}  // namespace nanolab::test
