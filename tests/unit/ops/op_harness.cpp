// The tests every OpCase runs (see op_harness.hpp).
#include "unit/ops/op_harness.hpp"

#include <algorithm>
#include <cmath>
#include <random>

#include "nanolab/autograd.hpp"

namespace nanolab::test {
namespace {

template <class T>
std::vector<std::vector<T>> make_inputs(const OpCase& c, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(c.lo, c.hi);
  std::vector<std::vector<T>> in;
  for (const Shape& s : c.shapes) {
    std::vector<T> v(static_cast<size_t>(s.numel()));
    for (auto& x : v) x = T(u(rng));
    in.push_back(std::move(v));
  }
  return in;
}

bool is_differentiable(const OpCase& c, size_t i) {
  return c.differentiable.empty() || c.differentiable[i];
}

template <class T>
std::vector<const T*> pointers(const std::vector<std::vector<T>>& in) {
  std::vector<const T*> p;
  for (auto& v : in) p.push_back(v.data());
  return p;
}

// Output shape from one run of the fast op on the case's shapes.
Shape dst_shape(const OpCase& c) {
  Inputs in;
  for (const Shape& s : c.shapes) in.push_back(Tensor::zeros(s));
  NoGrad no_grad;
  return c.fast(in).shape();
}

std::vector<double> random_like(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<double> v(static_cast<size_t>(n));
  for (auto& x : v) x = u(rng);
  return v;
}

// max |a - b| <= abs_rel * max(1, max |b|): tolerance relative to the tensor's scale.
void expect_close(const std::vector<float>& fast, const std::vector<float>& ref, double tol,
                  const std::string& what) {
  ASSERT_EQ(fast.size(), ref.size()) << what;
  double scale = 1.0;
  for (float r : ref) scale = std::max(scale, double(std::fabs(r)));
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    double e = std::fabs(double(fast[i]) - double(ref[i]));
    if (!(e <= worst)) {
      worst = e;
      at = i;
    }
  }
  EXPECT_LE(worst, tol * scale) << what << ": worst at index " << at << ": fast " << fast[at]
                                << " vs reference " << ref[at] << " (scale " << scale << ")";
}

}  // namespace

TEST_P(OpTest, GradCheck) {
  const OpCase& c = GetParam();
  auto in = make_inputs<double>(c, 1);
  const int64_t n_dst = dst_shape(c).numel();
  auto R = random_like(n_dst, 2);
  std::vector<double> dst(static_cast<size_t>(n_dst));
  auto loss = [&]() {
    c.fwd_d(pointers(in), dst.data());
    double s = 0;
    for (int64_t i = 0; i < n_dst; ++i) s += dst[i] * R[i];
    return s;
  };
  loss();
  std::vector<std::vector<double>> grads;
  std::vector<double*> grad_ptrs;
  for (auto& v : in) grads.emplace_back(v.size(), 0.0);
  for (auto& g : grads) grad_ptrs.push_back(g.data());
  c.bwd_d(pointers(in), dst.data(), R.data(), grad_ptrs);

  std::mt19937 pick(3);
  for (size_t i = 0; i < in.size(); ++i) {
    if (!is_differentiable(c, i)) continue;
    // Every element of small inputs; 64 random ones of larger inputs.
    const size_t n = in[i].size();
    std::vector<size_t> idx;
    if (n <= 256) {
      for (size_t j = 0; j < n; ++j) idx.push_back(j);
    } else {
      for (int k = 0; k < 64; ++k) idx.push_back(pick() % n);
    }
    for (size_t j : idx) {
      const double x = in[i][j];
      in[i][j] = x + c.tol.eps;
      const double up = loss();
      in[i][j] = x - c.tol.eps;
      const double down = loss();
      in[i][j] = x;
      const double numeric = (up - down) / (2 * c.tol.eps);
      EXPECT_NEAR(grads[i][j], numeric, c.tol.grad * (1 + std::fabs(numeric)))
          << c.name << ": d loss / d input " << i << " [" << j << "]";
    }
  }
}

TEST_P(OpTest, FastMatchesReference) {
  const OpCase& c = GetParam();
  auto in = make_inputs<float>(c, 1);
  Inputs tensors;
  for (size_t i = 0; i < in.size(); ++i) {
    tensors.push_back(Tensor::from(in[i], c.shapes[i]));
    if (is_differentiable(c, i)) tensors.back().set_requires_grad();
  }
  Tensor dst = c.fast(tensors);

  std::vector<float> ref_dst(static_cast<size_t>(dst.numel()));
  c.fwd_f(pointers(in), ref_dst.data());
  expect_close(dst.to_vector(), ref_dst, c.tol.fwd, c.name + " forward");

  auto Rd = random_like(dst.numel(), 2);
  std::vector<float> R(Rd.begin(), Rd.end());
  dst.backward(Tensor::from(R, dst.shape()));

  std::vector<std::vector<float>> grads;
  std::vector<float*> grad_ptrs;
  for (auto& v : in) grads.emplace_back(v.size(), 0.0f);
  for (auto& g : grads) grad_ptrs.push_back(g.data());
  c.bwd_f(pointers(in), ref_dst.data(), R.data(), grad_ptrs);
  for (size_t i = 0; i < in.size(); ++i) {
    if (!is_differentiable(c, i)) continue;
    ASSERT_TRUE(tensors[i].grad().defined()) << c.name << ": no gradient for input " << i;
    expect_close(tensors[i].grad().to_vector(), grads[i], c.tol.bwd,
                 c.name + " backward, input " + std::to_string(i));
  }
}

runtime::Stats expect_steady_state(const std::function<void()>& step, int repeats) {
  step();
  const runtime::Stats after_first = runtime::stats();
  for (int i = 0; i < repeats; ++i) step();
  const runtime::Stats after_more = runtime::stats();
  EXPECT_EQ(after_more.primitives_created, after_first.primitives_created);
  EXPECT_EQ(after_more.system_allocations, after_first.system_allocations);
  EXPECT_GT(after_more.cache_hits, after_first.cache_hits);
  return after_first;
}

}  // namespace nanolab::test
