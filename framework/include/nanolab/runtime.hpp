// The runtime: the one thread policy of the process, and counters that prove a steady-state
// training step allocates nothing and creates no oneDNN primitive.
//
// Thread policy (see framework/src/runtime/threads.cpp for the measurements behind it): one
// thread count, from NANOLAB_THREADS or the machine's cores, for both oneDNN's OpenMP pool and
// TBB's arena; oneDNN is called only from the thread that calls the ops, never from inside TBB
// tasks; TBB kernels run between oneDNN calls, never during one; OpenMP's workers spin only
// briefly when a oneDNN call ends and then sleep (OMP_WAIT_POLICY=passive, GOMP_SPINCOUNT=1000),
// so that a TBB kernel that follows has the cores and a oneDNN call that follows finds them awake.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nanolab::runtime {

// Applies the thread policy; idempotent. `threads` <= 0 means NANOLAB_THREADS or all cores.
// Ops call it on first use, so calling it yourself is only needed to choose the count.
void init_threads(int threads = 0);
int num_threads();
// True when OpenMP was started with a passive wait policy (see docs/threads.md).
bool omp_wait_policy_passive();

// Counters since process start.
struct Stats {
  uint64_t system_allocations;  // blocks the caching allocator took from the system
  uint64_t cache_hits;          // allocations served from the cache
  size_t bytes_reserved;        // bytes held (in use + cached)
  size_t bytes_in_use;
  uint64_t primitives_created;  // oneDNN primitives created (cache misses of the op cache)
};
Stats stats();

// Returns every cached block to the system (bytes_in_use stays).
void release_cached_memory();

}  // namespace nanolab::runtime
