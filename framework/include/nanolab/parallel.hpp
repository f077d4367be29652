// Parallel loops for plugins, on the framework's TBB pool and thread policy (runtime.hpp), so that
// a plugin needs no threading library of its own. Elementwise work only: every index must be
// independent of the others, so the thread count cannot change a result.
#pragma once

#include <cstdint>
#include <functional>

namespace nanolab {

// Calls f(begin, end) on disjoint blocks covering [0, n), in parallel when n is large enough to
// pay for it. `cost_per_item` is a rough count of operations per index (1 for a copy).
void parallel_for(int64_t n, int64_t cost_per_item,
                  const std::function<void(int64_t begin, int64_t end)>& f);

}  // namespace nanolab
