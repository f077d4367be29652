// The memory this process can still take (available_memory.hpp): /proc/meminfo and cgroup files.
#include "runtime/available_memory.hpp"

#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace nanolab::runtime {
namespace {

namespace fs = std::filesystem;

// Kernel files report a size of 0: read them as streams, not through input_file.hpp.
std::optional<std::string> read_kernel_file(const fs::path& file) {
  std::ifstream in(file);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::optional<uint64_t> number(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end == text.data()) return std::nullopt;
  return v;
}

// The value after `key` at the start of a line ("MemAvailable:", "inactive_file ").
std::optional<uint64_t> field(std::string_view text, std::string_view key) {
  for (size_t at = 0; at < text.size();) {
    const size_t end = std::min(text.find('\n', at), text.size());
    const std::string_view line = text.substr(at, end - at);
    if (line.substr(0, key.size()) == key) return number(line.substr(key.size()));
    at = end + 1;
  }
  return std::nullopt;
}

struct CgroupFiles {
  fs::path folder;
  const char* limit;
  const char* usage;
};

// The memory cgroup folders of this process, innermost first, up to the hierarchy's root.
std::vector<CgroupFiles> cgroup_folders() {
  std::vector<CgroupFiles> out;
  const auto self = read_kernel_file("/proc/self/cgroup");
  if (!self) return out;
  std::istringstream lines(*self);
  for (std::string line; std::getline(lines, line);) {
    // "hierarchy-id:controllers:path"; v2 is "0::path", v1's memory controller "N:memory:path".
    const size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string controllers = line.substr(a + 1, b - a - 1);
    const fs::path path = fs::path(line.substr(b + 1)).relative_path();
    fs::path root;
    CgroupFiles files{};
    if (controllers.empty()) {
      root = "/sys/fs/cgroup";
      files = {{}, "memory.max", "memory.current"};
    } else if (("," + controllers + ",").find(",memory,") != std::string::npos) {
      root = "/sys/fs/cgroup/memory";
      files = {{}, "memory.limit_in_bytes", "memory.usage_in_bytes"};
    } else {
      continue;
    }
    for (fs::path p = path;; p = p.parent_path()) {
      files.folder = root / p;
      out.push_back(files);
      if (p.empty()) break;
    }
  }
  return out;
}

}  // namespace

std::optional<uint64_t> meminfo_available(std::string_view meminfo) {
  const auto kb = field(meminfo, "MemAvailable:");
  if (!kb) return std::nullopt;
  return *kb * 1024;
}

std::optional<uint64_t> cgroup_room(std::string_view limit, std::string_view usage,
                                    std::string_view stat) {
  const auto max = number(limit);
  // "max" (v2), or v1's unlimited 2^63 - 1 rounded down to a page: no limit.
  if (!max || *max >= (uint64_t(1) << 62)) return std::nullopt;
  const uint64_t used = number(usage).value_or(0);
  // v1's usage counts the whole subtree, and so does its total_inactive_file.
  const uint64_t cache = field(stat, "total_inactive_file ").value_or(
      field(stat, "inactive_file ").value_or(0));
  const uint64_t working_set = used > cache ? used - cache : 0;
  return *max > working_set ? *max - working_set : 0;
}

std::optional<AvailableMemory> available_memory() {
  const auto meminfo = read_kernel_file("/proc/meminfo");
  const auto bytes = meminfo ? meminfo_available(*meminfo) : std::nullopt;
  if (!bytes) return std::nullopt;
  AvailableMemory out{*bytes, "MemAvailable in /proc/meminfo"};
  for (const CgroupFiles& cg : cgroup_folders()) {
    const auto limit = read_kernel_file(cg.folder / cg.limit);
    if (!limit) continue;
    const auto room = cgroup_room(*limit, read_kernel_file(cg.folder / cg.usage).value_or(""),
                                  read_kernel_file(cg.folder / "memory.stat").value_or(""));
    if (room && *room < out.bytes)
      out = {*room, "the memory limit of the cgroup " + cg.folder.string()};
  }
  return out;
}

}  // namespace nanolab::runtime
