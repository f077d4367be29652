// The memory left to a process: MemAvailable of /proc/meminfo, and the room under a cgroup limit
// (runtime/available_memory.hpp), from the texts of the kernel's files.
#include "runtime/available_memory.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace nanolab::runtime {
namespace {

TEST(AvailableMemory, MemAvailableIsReadInKibibytes) {
  EXPECT_EQ(meminfo_available("MemTotal:       24683784 kB\nMemFree:         1000 kB\n"
                              "MemAvailable:   23714112 kB\nBuffers:  12 kB\n"),
            uint64_t(23714112) * 1024);
  EXPECT_EQ(meminfo_available("MemTotal:       24683784 kB\n"), std::nullopt);
}

TEST(AvailableMemory, ACgroupLimitLeavesTheLimitLessTheWorkingSet) {
  // v2: 1 GiB limit, 512 MiB used of which 128 MiB inactive file cache.
  EXPECT_EQ(cgroup_room("1073741824\n", "536870912\n", "anon 1\ninactive_file 134217728\n"),
            uint64_t(1073741824) - (536870912 - 134217728));
  // v1 counts the subtree: total_inactive_file, not the cgroup's own inactive_file.
  EXPECT_EQ(cgroup_room("1073741824\n", "536870912\n",
                        "inactive_file 1\ntotal_inactive_file 268435456\n"),
            uint64_t(1073741824) - (536870912 - 268435456));
  // Over the limit (the kernel reclaims, or kills): no room.
  EXPECT_EQ(cgroup_room("1000\n", "5000\n", ""), 0u);
  // No limit: v2's "max", v1's 2^63 - 1 rounded down to a page.
  EXPECT_EQ(cgroup_room("max\n", "5000\n", ""), std::nullopt);
  EXPECT_EQ(cgroup_room("9223372036854771712\n", "5000\n", ""), std::nullopt);
}

TEST(AvailableMemory, ThisMachineHasSomeAndNoMoreThanItsTotal) {
  std::ifstream in("/proc/meminfo");
  std::stringstream text;
  text << in.rdbuf();
  const auto total_kb = text.str().find("MemTotal:");
  ASSERT_NE(total_kb, std::string::npos);
  const uint64_t total = std::stoull(text.str().substr(total_kb + 9)) * 1024;
  const auto available = available_memory();
  ASSERT_TRUE(available.has_value());
  EXPECT_GT(available->bytes, 0u);
  EXPECT_LE(available->bytes, total);
  EXPECT_FALSE(available->source.empty());
}

}  // namespace
}  // namespace nanolab::runtime
