// Op cases and contract tests for the core ops: add, scale, embedding, split_heads/merge_heads,
// dropout, cross_entropy, sum and mean. The table holds each op to its reference (forward and
// backward) and the references to finite differences; the plain tests below check what a table
// cannot: error messages, the dropout mask's statistics, and that results do not depend on the
// thread count.
//
// Thread count: the thread policy is fixed once per process (runtime.hpp), so "the same result on
// any NANOLAB_THREADS" is checked by running a kernel again inside a one-thread TBB arena, which is
// what NANOLAB_THREADS=1 gives the TBB kernels. Only TBB kernels run inside that arena (never
// oneDNN: see runtime.hpp).
#include <tbb/task_arena.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "nanolab/errors.hpp"
#include "nanolab/runtime.hpp"
#include "ops/cross_entropy_ref.hpp"
#include "ops/dropout_ref.hpp"
#include "ops/elementwise_ref.hpp"
#include "ops/embedding_ref.hpp"
#include "ops/heads_ref.hpp"
#include "ops/reduce_ref.hpp"
#include "unit/ops/op_harness.hpp"
#include "support/skip.hpp"

namespace nanolab::test {
namespace {

// Tolerances. add, scale, embedding, the head reorders and dropout do one IEEE operation (or a
// copy) per element, in the same order as the reference (the broadcast and embedding gradients
// add rows in row order, as the reference does), so fast and reference must agree exactly.
constexpr Tolerance exact{.fwd = 0.0, .bwd = 0.0};
// sum and mean: oneDNN's vectorised reduction adds 24 terms of size <= 1 in another order than
// the plain loop: a few ulps of the result; 1e-6 of the tensor's scale covers it.
constexpr Tolerance reduction{.fwd = 1e-6, .bwd = 0.0};
// cross_entropy: the fast path sums exp() in double, the f32 reference in float; over V = 5 terms
// the two differ by a few ulps of the loss and the gradient. The default 1e-5 of the scale.
constexpr Tolerance cross_entropy_tol{};

OpCase cross_entropy_case(const std::string& name, std::vector<int32_t> targets,
                          float label_smoothing) {
  const int64_t R = 6, V = 5;
  const int32_t ignore = -1;
  OpCase c = op_case(
      name, {{2, 3, V}},
      [=](const Inputs& x) { return ops::cross_entropy(x[0], targets, ignore, label_smoothing); },
      NANOLAB_REF_FWD(ref::cross_entropy_fwd(s[0], targets.data(), d, R, V, ignore,
                                             label_smoothing)),
      NANOLAB_REF_BWD(ref::cross_entropy_bwd(s[0], targets.data(), dd, ds[0], R, V, ignore,
                                             label_smoothing)),
      cross_entropy_tol);
  c.lo = -2.0, c.hi = 2.0;  // logits spread enough that the softmax is far from uniform
  return c;
}

std::vector<OpCase> cases() {
  const float alpha = 0.37f;
  // B=2, T=4 token ids over V=5 with repeats (3 three times, 0 twice).
  const std::vector<int32_t> ids{3, 0, 3, 4, 1, 3, 0, 2};
  const float p = 0.25f;
  const uint64_t seed = 1234;
  return {
    op_case("add_same_shape", {{2, 3, 4}, {2, 3, 4}},
            [](const Inputs& x) { return ops::add(x[0], x[1]); },
            NANOLAB_REF_FWD(ref::add_fwd(s[0], s[1], d, 1, 24)),
            NANOLAB_REF_BWD(ref::add_bwd(dd, ds[0], ds[1], 1, 24)), exact),
    op_case("add_broadcast", {{2, 3, 4}, {3, 4}},
            [](const Inputs& x) { return ops::add(x[0], x[1]); },
            NANOLAB_REF_FWD(ref::add_fwd(s[0], s[1], d, 2, 12)),
            NANOLAB_REF_BWD(ref::add_bwd(dd, ds[0], ds[1], 2, 12)), exact),
    op_case("scale", {{2, 3, 4}},
            [=](const Inputs& x) { return ops::scale(x[0], alpha); },
            NANOLAB_REF_FWD(ref::scale_fwd(s[0], d, 24, T(alpha))),
            NANOLAB_REF_BWD(ref::scale_bwd(dd, ds[0], 24, T(alpha))), exact),
    // C = 20: two channel blocks of the backward, the second one partial.
    op_case("embedding", {{5, 20}},
            [=](const Inputs& x) { return ops::embedding(x[0], ids, {2, 4}); },
            NANOLAB_REF_FWD(ref::embedding_fwd(s[0], ids.data(), d, 8, 20)),
            NANOLAB_REF_BWD(ref::embedding_bwd(ids.data(), dd, ds[0], 8, 5, 20)), exact),
    // B=2, T=3, NH=2, HS=4
    op_case("split_heads", {{2, 3, 8}},
            [](const Inputs& x) { return ops::split_heads(x[0], 2); },
            NANOLAB_REF_FWD(ref::split_heads_fwd(s[0], d, 2, 3, 2, 4)),
            NANOLAB_REF_BWD(ref::split_heads_bwd(dd, ds[0], 2, 3, 2, 4)), exact),
    op_case("merge_heads", {{2, 2, 3, 4}},
            [](const Inputs& x) { return ops::merge_heads(x[0]); },
            NANOLAB_REF_FWD(ref::merge_heads_fwd(s[0], d, 2, 3, 2, 4)),
            NANOLAB_REF_BWD(ref::merge_heads_bwd(dd, ds[0], 2, 3, 2, 4)), exact),
    op_case("dropout", {{4, 64}},
            [=](const Inputs& x) { return ops::dropout(x[0], p, seed); },
            NANOLAB_REF_FWD(ref::dropout_fwd(s[0], d, 256, p, seed)),
            NANOLAB_REF_BWD(ref::dropout_bwd(dd, ds[0], 256, p, seed)), exact),
    cross_entropy_case("cross_entropy", {1, 4, 0, 2, 2, 3}, 0.0f),
    cross_entropy_case("cross_entropy_ignored", {1, -1, 0, -1, 2, 3}, 0.0f),
    cross_entropy_case("cross_entropy_smoothed", {1, -1, 0, 4, 2, 3}, 0.1f),
    op_case("sum", {{2, 3, 4}}, [](const Inputs& x) { return ops::sum(x[0]); },
            NANOLAB_REF_FWD(ref::sum_fwd(s[0], d, 24)),
            NANOLAB_REF_BWD(ref::sum_bwd(dd, ds[0], 24)), reduction),
    op_case("mean", {{2, 3, 4}}, [](const Inputs& x) { return ops::mean(x[0]); },
            NANOLAB_REF_FWD(ref::mean_fwd(s[0], d, 24)),
            NANOLAB_REF_BWD(ref::mean_bwd(dd, ds[0], 24)), reduction),
  };
}

std::vector<float> uniform(int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = u(rng);
  return v;
}

// f() run with TBB limited to one thread (what NANOLAB_THREADS=1 gives a TBB kernel).
template <class F>
auto on_one_thread(F f) {
  tbb::task_arena one(1);
  return one.execute(f);
}

// Expects f() to throw E with a message holding every string in `parts`.
template <class E, class F>
void expect_error(F f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "no exception; expected one naming " << ::testing::PrintToString(parts);
  } catch (const E& e) {
    const std::string what = e.what();
    for (const auto& part : parts)
      EXPECT_NE(what.find(part), std::string::npos) << "'" << part << "' not in: " << what;
  }
}

}  // namespace

NANOLAB_OP_CASES(CoreOps, cases());

TEST(CoreOps, WrongShapesThrowShapeErrorNamingOpAndShapes) {
  Tensor a = Tensor::zeros({2, 3, 4});
  expect_error<ShapeError>([&] { ops::add(a, Tensor::zeros({4, 3})); },
                           {"add", "[2, 3, 4]", "[4, 3]"});
  expect_error<ShapeError>([&] { ops::add(Tensor::zeros({3, 4}), a); },
                           {"add", "[3, 4]", "[2, 3, 4]"});
  expect_error<ShapeError>([&] { ops::split_heads(Tensor::zeros({2, 3, 8}), 3); },
                           {"split_heads", "[2, 3, 8]", "n_head = 3"});
  expect_error<ShapeError>([&] { ops::merge_heads(a); }, {"merge_heads", "[2, 3, 4]"});
  const std::vector<int32_t> ids{0, 1, 2};
  expect_error<ShapeError>([&] { ops::embedding(Tensor::zeros({5}), ids, {3}); },
                           {"embedding", "[5]"});
  expect_error<ShapeError>([&] { ops::embedding(Tensor::zeros({5, 2}), ids, {2, 2}); },
                           {"embedding", "[2, 2]", "[3]"});
  const std::vector<int32_t> targets{0, 1, 2, 3, 4};
  expect_error<ShapeError>([&] { ops::cross_entropy(Tensor::zeros({2, 3, 5}), targets); },
                           {"cross_entropy", "[2, 3, 5]", "[5]"});
}

TEST(CoreOps, BadIdOrTargetThrowsDataError) {
  Tensor weight = Tensor::zeros({7, 4});  // V = 7
  const std::vector<int32_t> ids{0, 1, 2, 3, 4, 7};
  expect_error<DataError>([&] { ops::embedding(weight, ids, {2, 3}); },
                          {"embedding", "id 7", "position 5", "V=7"});
  const std::vector<int32_t> negative{0, -1};
  expect_error<DataError>([&] { ops::embedding(weight, negative, {2}); },
                          {"id -1", "position 1", "V=7"});

  Tensor logits = Tensor::zeros({3, 5});  // V = 5
  const std::vector<int32_t> too_big{0, 5, 1};
  expect_error<DataError>([&] { ops::cross_entropy(logits, too_big); },
                          {"cross_entropy", "target 5", "position 1", "V=5"});
  // -2 is neither a class nor the ignore_index; -1 (the default ignore_index) is fine.
  const std::vector<int32_t> negative_target{0, -1, -2};
  expect_error<DataError>([&] { ops::cross_entropy(logits, negative_target); },
                          {"target -2", "position 2"});
  const std::vector<int32_t> ignored{0, -1, 4};
  EXPECT_NO_THROW(ops::cross_entropy(logits, ignored));
}

TEST(CoreOps, DropoutMaskDependsOnlyOnSeedAndIndex) {
  const int64_t n = 100000;
  const float p = 0.25f;
  Tensor src = Tensor::from(uniform(n, 7), {n});
  const std::vector<float> first = ops::dropout(src, p, 42).to_vector();
  EXPECT_EQ(ops::dropout(src, p, 42).to_vector(), first) << "same seed, another call";
  EXPECT_EQ(on_one_thread([&] { return ops::dropout(src, p, 42).to_vector(); }), first)
      << "same seed on one thread";
  std::vector<float> ref(static_cast<size_t>(n));
  ref::dropout_fwd(src.to_vector().data(), ref.data(), n, p, 42);
  EXPECT_EQ(ref, first) << "fast and reference masks";

  // Another seed: each element differs with probability 2p(1-p) = 0.375 (kept by one mask, not
  // the other); a third of them is far below what independent masks give, far above zero.
  const std::vector<float> other = ops::dropout(src, p, 43).to_vector();
  int64_t differ = 0;
  for (int64_t i = 0; i < n; ++i) differ += first[i] != other[i];
  EXPECT_GT(differ, n / 3);
}

TEST(CoreOps, DropoutKeepsOneMinusPAndScalesTheKept) {
  const int64_t n = 100000;
  const float p = 0.25f;
  const std::vector<float> dst = ops::dropout(Tensor::full({n}, 1.0f), p, 2024).to_vector();
  int64_t kept = 0;
  for (float x : dst) {
    ASSERT_TRUE(x == 0.0f || x == 1.0f / (1.0f - p)) << x;
    kept += x != 0.0f;
  }
  // kept ~ Binomial(n, 1 - p): within 3 standard deviations of its mean.
  const double sigma = std::sqrt(double(n) * p * (1 - p));
  EXPECT_NEAR(double(kept), double(n) * (1 - p), 3 * sigma);
}

TEST(CoreOps, DropoutZeroIsIdentityAndBadPThrows) {
  Tensor src = Tensor::from(uniform(8, 1), {8});
  EXPECT_TRUE(ops::dropout(src, 0.0f, 1).same(src));
  EXPECT_THROW(ops::dropout(src, 1.0f, 1), ConfigError);
  EXPECT_THROW(ops::dropout(src, -0.1f, 1), ConfigError);
  EXPECT_THROW(ops::dropout(src, std::nanf(""), 1), ConfigError);
}

TEST(CoreOps, EmbeddingBackwardWithRepeatedIdsEqualsReferenceExactly) {
  // N = 2000 tokens over V = 7 ids (each about 290 times), C = 40: three channel blocks, enough
  // work for the backward to run in parallel.
  const int64_t V = 7, C = 40, N = 2000;
  std::mt19937 rng(5);
  std::vector<int32_t> ids(static_cast<size_t>(N));
  for (auto& id : ids) id = int32_t(rng() % V);
  const std::vector<float> diff_dst = uniform(N * C, 6);

  std::vector<float> expected(static_cast<size_t>(V * C));
  ref::embedding_bwd(ids.data(), diff_dst.data(), expected.data(), N, V, C);
  auto grad = [&] {
    Tensor weight = Tensor::from(uniform(V * C, 8), {V, C});
    weight.set_requires_grad();
    ops::embedding(weight, ids, {20, 100}).backward(Tensor::from(diff_dst, {20, 100, C}));
    return weight.grad().to_vector();
  };
  EXPECT_EQ(grad(), expected);
  EXPECT_EQ(on_one_thread(grad), expected);
}

TEST(CoreOps, EmbeddingBackwardAddsIntoAnExistingGradientExactly) {
  // A tied weight already holds the lm_head's gradient when the embedding's backward runs: the
  // rows go into it in place, in token order, as the reference adds them.
  const int64_t V = 7, C = 40, N = 2000;
  std::mt19937 rng(6);
  std::vector<int32_t> ids(static_cast<size_t>(N));
  for (auto& id : ids) id = int32_t(rng() % V);
  const std::vector<float> diff_dst = uniform(N * C, 12), earlier = uniform(V * C, 13);

  std::vector<float> expected = earlier;
  ref::embedding_bwd_add(ids.data(), diff_dst.data(), expected.data(), N, C);
  auto grad = [&] {
    Tensor weight = Tensor::from(uniform(V * C, 8), {V, C});
    weight.set_requires_grad();
    weight.grad() = Tensor::from(earlier, {V, C});
    ops::embedding(weight, ids, {N}).backward(Tensor::from(diff_dst, {N, C}));
    return weight.grad().to_vector();
  };
  EXPECT_EQ(grad(), expected);
  EXPECT_EQ(on_one_thread(grad), expected);
}

TEST(CoreOps, BroadcastAddGradientDoesNotDependOnThreads) {
  // a (R=64, N=512) + b (N): 32 column blocks of 64 rows, enough to run in parallel.
  const int64_t R = 64, N = 512;
  const std::vector<float> diff_dst = uniform(R * N, 9);
  std::vector<float> diff_a(static_cast<size_t>(R * N)), expected(static_cast<size_t>(N));
  ref::add_bwd(diff_dst.data(), diff_a.data(), expected.data(), R, N);
  Tensor a = Tensor::from(uniform(R * N, 10), {R, N});
  Tensor b = Tensor::from(uniform(N, 11), {N});
  b.set_requires_grad();
  Tensor dst = ops::add(a, b);
  auto grad = [&] {
    b.reset_grad();
    dst.backward(Tensor::from(diff_dst, {R, N}));
    return b.grad().to_vector();
  };
  EXPECT_EQ(grad(), expected);
  EXPECT_EQ(on_one_thread(grad), expected);
}

TEST(CoreOps, CrossEntropyDoesNotDependOnThreads) {
  NANOLAB_SKIP_ON_ONE_THREAD();
  const int64_t R = 64, V = 512;
  Tensor logits = Tensor::from(uniform(R * V, 12), {R, V});
  logits.set_requires_grad();
  std::vector<int32_t> targets(static_cast<size_t>(R));
  for (int64_t r = 0; r < R; ++r) targets[r] = r % 5 == 0 ? -1 : int32_t(r * 37 % V);
  auto run = [&] {
    logits.reset_grad();
    Tensor loss = ops::cross_entropy(logits, targets, -1, 0.1f);
    loss.backward();
    std::vector<float> out = logits.grad().to_vector();
    out.push_back(loss.item());
    return out;
  };
  const std::vector<float> first = run();
  EXPECT_EQ(on_one_thread(run), first);
}

TEST(CoreOps, CrossEntropyKnownValues) {
  // logits (0, ln 3) over V = 2: p = (1/4, 3/4). Target 1: nll = ln(4/3); mean_v(-log p_v) =
  // (ln 4 + ln(4/3)) / 2. Within 1e-6: the f32 loss of a value of size 0.3.
  Tensor logits = Tensor::from({0.0f, std::log(3.0f)}, {1, 2});
  const std::vector<int32_t> target{1};
  const double nll = std::log(4.0 / 3.0);
  const double smooth = (std::log(4.0) + nll) / 2;
  EXPECT_NEAR(ops::cross_entropy(logits, target).item(), nll, 1e-6);
  EXPECT_NEAR(ops::cross_entropy(logits, target, -1, 0.1f).item(), 0.9 * nll + 0.1 * smooth, 1e-6);
  // Equal logits: every p_v = 1/V, so the loss is ln V with or without smoothing.
  Tensor flat = Tensor::zeros({2, 3, 7});
  const std::vector<int32_t> targets{0, 6, 3, -1, 2, 5};
  EXPECT_NEAR(ops::cross_entropy(flat, targets).item(), std::log(7.0), 1e-6);
  EXPECT_NEAR(ops::cross_entropy(flat, targets, -1, 0.3f).item(), std::log(7.0), 1e-6);
}

TEST(CoreOps, CrossEntropyOfOnlyIgnoredRowsIsZeroWithZeroGradient) {
  Tensor logits = Tensor::from(uniform(10, 13), {2, 5});
  logits.set_requires_grad();
  const std::vector<int32_t> targets{-1, -1};
  Tensor loss = ops::cross_entropy(logits, targets);
  EXPECT_EQ(loss.item(), 0.0f);
  loss.backward();
  EXPECT_EQ(logits.grad().to_vector(), std::vector<float>(10, 0.0f));
}

TEST(CoreOps, ScalarResultsHaveShapeEmpty) {
  Tensor x = Tensor::full({2, 3, 4}, 0.5f);
  EXPECT_EQ(ops::sum(x).shape(), Shape{});
  EXPECT_EQ(ops::sum(x).item(), 12.0f);
  EXPECT_EQ(ops::mean(x).shape(), Shape{});
  EXPECT_EQ(ops::mean(x).item(), 0.5f);
  EXPECT_EQ(ops::sum(Tensor::full({1}, 3.0f)).item(), 3.0f);
  const std::vector<int32_t> targets{0, 1};
  EXPECT_EQ(ops::cross_entropy(Tensor::zeros({2, 3}), targets).shape(), Shape{});
}

}  // namespace nanolab::test
