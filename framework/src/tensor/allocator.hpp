// The caching allocator behind every tensor's storage.
//
// Blocks are 64-byte aligned and rounded up to a size class; a freed block goes to a free list of
// its class instead of back to the system, and the next request of that class takes it. A training
// step that allocates the same shapes every iteration therefore takes memory from the system only
// during its first iteration (runtime::stats() counts it). It is not a general-purpose allocator:
// it never splits or merges blocks, and it keeps what it took until release_cached().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace nanolab::detail {

struct Storage {
  explicit Storage(size_t bytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  float* data;
  size_t bytes;  // the size class actually reserved
};

std::shared_ptr<Storage> allocate_storage(size_t n_floats);

struct AllocatorStats {
  uint64_t system_allocations;
  uint64_t cache_hits;
  size_t bytes_reserved;
  size_t bytes_in_use;
};
AllocatorStats allocator_stats();
void release_cached();

}  // namespace nanolab::detail
