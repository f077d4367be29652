// Op cases for matmul (every transpose combination, batched) and linear (with and without bias).
#include "ops/matmul_ref.hpp"
#include "unit/ops/op_harness.hpp"

namespace nanolab::test {
namespace {

// f32 tolerances: dot products of K <= 24 terms of size <= 1 differ from the plain loop by a few
// ulps of the result when oneDNN reorders the sums; 1e-5 of the tensor's scale covers it.
OpCase matmul_case(const std::string& name, bool ta, bool tb) {
  const int64_t B = 2, M = 3, N = 5, K = 4;
  Shape sa = ta ? Shape{B, K, M} : Shape{B, M, K};
  Shape sb = tb ? Shape{B, N, K} : Shape{B, K, N};
  auto fast = [ta, tb](const Inputs& x) { return ops::matmul(x[0], x[1], ta, tb); };
  return op_case(name, {sa, sb}, fast,
                 NANOLAB_REF_FWD(ref::matmul_fwd(s[0], s[1], d, B, M, N, K, ta, tb)),
                 NANOLAB_REF_BWD(ref::matmul_bwd(s[0], s[1], dd, ds[0], ds[1], B, M, N, K, ta, tb)));
}

std::vector<OpCase> cases() {
  return {
    matmul_case("matmul_nn", false, false),
    matmul_case("matmul_tn", true, false),
    matmul_case("matmul_nt", false, true),
    matmul_case("matmul_tt", true, true),
    op_case("linear_bias", {{2, 3, 8}, {6, 8}, {6}},
            [](const Inputs& x) { return ops::linear(x[0], x[1], x[2]); },
            NANOLAB_REF_FWD(ref::linear_fwd(s[0], s[1], s[2], d, 6, 6, 8)),
            NANOLAB_REF_BWD(ref::linear_bwd(s[0], s[1], dd, ds[0], ds[1], ds[2], 6, 6, 8))),
    op_case("linear_nobias", {{7, 24}, {5, 24}},
            [](const Inputs& x) { return ops::linear(x[0], x[1]); },
            NANOLAB_REF_FWD(ref::linear_fwd(s[0], s[1], (const T*)nullptr, d, 7, 5, 24)),
            NANOLAB_REF_BWD(ref::linear_bwd(s[0], s[1], dd, ds[0], ds[1],
                                            (T*)nullptr, 7, 5, 24))),
  };
}

}  // namespace

NANOLAB_OP_CASES(Matmul, cases());

}  // namespace nanolab::test
