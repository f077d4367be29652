// The thread policy (see runtime.hpp). The runtime counters are the allocator's
// (tensor/allocator.cpp), a layer up.
//
// Measured on this machine (2 cores), tools/bench/thread_policy: a TBB elementwise kernel run right
// after a oneDNN matmul, with libgomp's default wait policy, is slowed by the OpenMP workers that
// keep spinning after the matmul; OMP_WAIT_POLICY=passive makes them sleep at once, and a spin of
// 1000 rounds first (GOMP_SPINCOUNT) keeps them for the oneDNN call that often follows at once.
// The numbers are in docs/threads.md. libgomp reads the policy from the environment when it is
// loaded, before any of our code runs, so the `nanolab` program sets it and re-executes itself
// (tools/nanolab), tests get the wait policy from CTest, and omp_wait_policy_passive() lets a
// program check it.
#include <omp.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include <tbb/global_control.h>

#include "nanolab/distributed.hpp"
#include "nanolab/errors.hpp"
#include "nanolab/runtime.hpp"

namespace nanolab::runtime {
namespace {

int threads_in_use = 0;
std::once_flag once;
std::unique_ptr<tbb::global_control> tbb_limit;

int threads_from_env() {
  const char* s = std::getenv("NANOLAB_THREADS");
  if (!s || !*s) return 0;
  char* end = nullptr;
  long n = std::strtol(s, &end, 10);
  if (*end != '\0' || n < 1 || n > 1024)
    throw ConfigError("NANOLAB_THREADS='" + std::string(s) +
                      "': expected a whole number of threads from 1 to 1024");
  return int(n);
}

}  // namespace

void init_threads(int threads) {
  std::call_once(once, [threads] {
    int n = threads > 0 ? threads : threads_from_env();
    // By default the cores are shared between the ranks of an MPI job on this machine.
    if (n <= 0)
      n = std::max(1, int(std::thread::hardware_concurrency()) / distributed::world().local_size);
    threads_in_use = n;
    omp_set_num_threads(n);
    tbb_limit = std::make_unique<tbb::global_control>(
        tbb::global_control::max_allowed_parallelism, size_t(n));
  });
}

int num_threads() {
  init_threads();
  return threads_in_use;
}

bool omp_wait_policy_passive() {
  const char* s = std::getenv("OMP_WAIT_POLICY");
  return s && strcasecmp(s, "passive") == 0;
}

}  // namespace nanolab::runtime
