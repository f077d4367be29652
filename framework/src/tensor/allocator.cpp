// Caching allocator: size classes, free lists, counters. See allocator.hpp. Also the runtime
// counters of nanolab/runtime.hpp, which are mostly the allocator's.
#include "tensor/allocator.hpp"

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "nanolab/runtime.hpp"
#include "runtime/dnnl_context.hpp"

namespace nanolab::detail {
namespace {

constexpr size_t alignment = 64;

// Small blocks round to 64 bytes; larger ones to 1/8 of their power of two, so that a cached
// block is at most 12.5% larger than asked while nearby sizes share a class.
size_t size_class(size_t bytes) {
  if (bytes <= 4096) return (bytes + alignment - 1) / alignment * alignment;
  size_t pow2 = size_t(1) << (63 - __builtin_clzll(bytes - 1) + 1);
  size_t step = pow2 / 8;
  return (bytes + step - 1) / step * step;
}

struct Cache {
  std::mutex mutex;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;
  AllocatorStats stats{};

  void* take(size_t bytes) {
    {
      std::lock_guard lock(mutex);
      stats.bytes_in_use += bytes;
      auto it = free_blocks.find(bytes);
      if (it != free_blocks.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        ++stats.cache_hits;
        return p;
      }
      ++stats.system_allocations;
      stats.bytes_reserved += bytes;
    }
    void* p = std::aligned_alloc(alignment, bytes);
    if (!p) {
      std::lock_guard lock(mutex);
      stats.bytes_in_use -= bytes;
      stats.bytes_reserved -= bytes;
      throw std::bad_alloc();
    }
    return p;
  }

  void give_back(void* p, size_t bytes) {
    std::lock_guard lock(mutex);
    stats.bytes_in_use -= bytes;
    free_blocks[bytes].push_back(p);
  }

  void release() {
    std::lock_guard lock(mutex);
    for (auto& [bytes, blocks] : free_blocks) {
      for (void* p : blocks) std::free(p);
      stats.bytes_reserved -= bytes * blocks.size();
      blocks.clear();
    }
  }
};

// Never destroyed: storages released during static destruction still find it.
Cache& cache() {
  static Cache* c = new Cache;
  return *c;
}

}  // namespace

Storage::Storage(size_t n_bytes) : bytes(size_class(n_bytes == 0 ? alignment : n_bytes)) {
  data = static_cast<float*>(cache().take(bytes));
}

Storage::~Storage() { cache().give_back(data, bytes); }

std::shared_ptr<Storage> allocate_storage(size_t n_floats) {
  return std::make_shared<Storage>(n_floats * sizeof(float));
}

AllocatorStats allocator_stats() {
  std::lock_guard lock(cache().mutex);
  return cache().stats;
}

void release_cached() { cache().release(); }

}  // namespace nanolab::detail

namespace nanolab::runtime {

Stats stats() {
  auto a = detail::allocator_stats();
  return {a.system_allocations, a.cache_hits, a.bytes_reserved, a.bytes_in_use,
          dnnl_ctx::primitives_created()};
}

void release_cached_memory() { detail::release_cached(); }

}  // namespace nanolab::runtime
