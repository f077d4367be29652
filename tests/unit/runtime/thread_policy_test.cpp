// The thread policy holds for the parallel loops plugins use (nanolab/parallel.hpp): a process
// whose first parallel work is such a loop (a tokenizer's encode, with no op run before it) still
// keeps to NANOLAB_THREADS.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>

#include "nanolab/parallel.hpp"
#include "nanolab/runtime.hpp"

namespace nanolab {
namespace {

TEST(ThreadPolicy, APluginsParallelLoopKeepsToNanolabThreads) {
  // ctest runs each test in its own process, so this loop is the process's first parallel work.
  setenv("NANOLAB_THREADS", "1", 1);
  std::mutex m;
  std::set<std::thread::id> threads;
  // 64 items of 2 ms each, one item a block: room for every worker TBB would start.
  parallel_for(64, int64_t(1) << 20, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      std::lock_guard<std::mutex> lock(m);
      threads.insert(std::this_thread::get_id());
    }
  });
  if (runtime::num_threads() != 1)
    GTEST_SKIP() << "needs a process of its own (as ctest runs it): an earlier test of this "
                    "process fixed the thread count before this loop ran";
  EXPECT_EQ(threads.size(), 1u);
}

}  // namespace
}  // namespace nanolab
