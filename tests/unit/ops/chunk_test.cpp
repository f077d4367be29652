// Op cases for chunk: each of the three parts of a (2, 3, 3*4) tensor, so that every part's
// backward is checked on its own (the others then get no gradient and must stay zero).
#include "ops/chunk_ref.hpp"
#include "unit/ops/op_harness.hpp"

namespace nanolab::test {
namespace {

OpCase chunk_case(int64_t part) {
  const int64_t R = 6, n = 3, C = 4;
  return op_case(
      "chunk_part" + std::to_string(part), {{2, 3, n * C}},
      [part](const Inputs& x) { return ops::chunk(x[0], n)[size_t(part)]; },
      NANOLAB_REF_FWD(std::vector<T> other(R * C); T* dst[3] = {other.data(), other.data(), other.data()};
                      dst[part] = d; ref::chunk_fwd(s[0], dst, R, n, C)),
      // Exact: a copy.
      NANOLAB_REF_BWD(const T* diff[3] = {nullptr, nullptr, nullptr}; diff[part] = dd;
                      ref::chunk_bwd(diff, ds[0], R, n, C)),
      {.fwd = 0, .bwd = 0});
}

std::vector<OpCase> cases() { return {chunk_case(0), chunk_case(1), chunk_case(2)}; }

}  // namespace

NANOLAB_OP_CASES(Chunk, cases());

}  // namespace nanolab::test
