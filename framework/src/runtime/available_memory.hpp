// How much memory this process can still take: the kernel's MemAvailable (/proc/meminfo), lowered
// to the room left under a cgroup memory limit when one is set on the process's cgroup or any of
// its ancestors (v2: memory.max and memory.current; v1: memory.limit_in_bytes and
// memory.usage_in_bytes), where the room is the limit minus the usage, less the inactive file
// cache that the kernel reclaims first (memory.stat's inactive_file). Read when asked, never
// cached: what `nanolab check` and `run` compare their memory estimate with
// (nanolab/memory.hpp). Not an accounting of this process's own use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nanolab::runtime {

struct AvailableMemory {
  uint64_t bytes = 0;
  std::string source;  // "MemAvailable in /proc/meminfo", or the cgroup whose limit bounds it
};

// nullopt when /proc/meminfo cannot be read or has no MemAvailable (then nothing is refused).
std::optional<AvailableMemory> available_memory();

// The pieces, for tests. Bytes of the "MemAvailable: N kB" line of /proc/meminfo's text.
std::optional<uint64_t> meminfo_available(std::string_view meminfo);
// The room under one cgroup's limit: the texts of its limit file ("max" or a number: nullopt for
// no limit, and for v1's "no limit" of 2^63 rounded to a page), of its usage file, and of its
// memory.stat (its total_inactive_file (v1) or inactive_file (v2) is counted as free).
std::optional<uint64_t> cgroup_room(std::string_view limit, std::string_view usage,
                                    std::string_view stat);

}  // namespace nanolab::runtime
