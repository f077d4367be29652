// The public parallel loop (nanolab/parallel.hpp) over the ops' TBB loop helper.
#include "nanolab/parallel.hpp"

#include "runtime/kernels.hpp"

namespace nanolab {

void parallel_for(int64_t n, int64_t cost_per_item,
                  const std::function<void(int64_t begin, int64_t end)>& f) {
  kernels::parallel_for(n, cost_per_item, f);
}

}  // namespace nanolab
