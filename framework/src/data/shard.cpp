// Token shard files (shard.hpp): POSIX open/write/fsync/rename to write, mmap to read. A shard
// that fails any check is reported as absent rather than as an error: it is a cache entry, and
// the caller can always rebuild it from the raw file.
#include "data/shard.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "nanolab/errors.hpp"
#include "nanolab/input_file.hpp"
#include "nanolab/rng.hpp"

namespace nanolab::data {
namespace {

static_assert(std::endian::native == std::endian::little,
              "shards are stored in native byte order, documented as little-endian");

constexpr char magic[8] = {'N', 'L', 'T', 'O', 'K', 'E', 'N', 'S'};
constexpr uint32_t format_version = 1;

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t id_bytes;
  uint64_t count;
  uint64_t checksum;
  uint64_t source_begin;
  uint64_t source_end;
};
static_assert(sizeof(Header) == 48);

[[noreturn]] void storage_error(const std::filesystem::path& file, const char* doing, int err) {
  throw StorageError("cannot " + std::string(doing) + " token file " + file.string() + ": " +
                     std::strerror(err));
}

void write_all(int fd, const void* data, size_t size, const std::filesystem::path& file) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      storage_error(file, "write", errno);
    }
    p += n;
    size -= size_t(n);
  }
}

}  // namespace

uint64_t shard_checksum(std::span<const int32_t> ids) {
  uint64_t h = rng::splitmix64(ids.size());
  for (int32_t id : ids) h = rng::splitmix64(h ^ uint32_t(id));
  return h;
}

TokenShard::TokenShard(TokenShard&& other) noexcept { *this = std::move(other); }

TokenShard& TokenShard::operator=(TokenShard&& other) noexcept {
  if (this != &other) {
    if (map_) ::munmap(map_, map_size_);
    map_ = std::exchange(other.map_, nullptr);
    map_size_ = std::exchange(other.map_size_, 0);
    ids_ = std::exchange(other.ids_, nullptr);
    count_ = std::exchange(other.count_, 0);
    file_ = std::move(other.file_);
  }
  return *this;
}

TokenShard::~TokenShard() {
  if (map_) ::munmap(map_, map_size_);
}

std::optional<TokenShard> TokenShard::open(const std::filesystem::path& file, uint64_t source_begin,
                                           uint64_t source_end) {
  // A shard is at most the ids of a text of input_limit::text bytes, one id per byte.
  int fd = -1;
  uint64_t size = 0;
  if (!open_input(file, sizeof(Header) + input_limit::text * sizeof(int32_t), fd, size).empty())
    return std::nullopt;
  if (size < sizeof(Header)) {
    ::close(fd);
    return std::nullopt;
  }
  void* map = ::mmap(nullptr, size_t(size), PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);  // the mapping keeps the file open
  if (map == MAP_FAILED) return std::nullopt;

  TokenShard shard;
  shard.map_ = map;
  shard.map_size_ = size_t(size);
  shard.file_ = file;
  Header h;
  std::memcpy(&h, map, sizeof h);
  const bool header_ok = std::memcmp(h.magic, magic, sizeof magic) == 0 && h.version == format_version &&
                         h.id_bytes == sizeof(int32_t) && h.source_begin == source_begin &&
                         h.source_end == source_end &&
                         h.count == (shard.map_size_ - sizeof(Header)) / sizeof(int32_t) &&
                         (shard.map_size_ - sizeof(Header)) % sizeof(int32_t) == 0;
  if (!header_ok) return std::nullopt;
  // The page-aligned mapping plus the 48-byte header keeps the ids 4-byte aligned.
  shard.ids_ = reinterpret_cast<const int32_t*>(static_cast<const char*>(map) + sizeof(Header));
  shard.count_ = int64_t(h.count);
  if (shard_checksum(shard.ids()) != h.checksum) return std::nullopt;
  return shard;
}

void write_atomically(const std::filesystem::path& file,
                      std::initializer_list<std::span<const char>> parts) {
  // Unique per process and call, so that two processes (or threads) preparing the same file
  // never write into one temporary file; the last rename wins with identical contents.
  static std::atomic<uint64_t> counter{0};
  std::filesystem::path tmp = file;
  tmp += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);

  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) storage_error(tmp, "create", errno);
  try {
    for (std::span<const char> part : parts) write_all(fd, part.data(), part.size(), tmp);
    // fsync before the rename: otherwise a crash can leave the final name on an empty file.
    if (::fsync(fd) != 0) storage_error(tmp, "fsync", errno);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    storage_error(tmp, "close", err);
  }
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    storage_error(file, "rename into place", err);
  }
}

void write_shard(const std::filesystem::path& file, std::span<const int32_t> ids, uint64_t source_begin,
                 uint64_t source_end) {
  Header h{};
  std::memcpy(h.magic, magic, sizeof magic);
  h.version = format_version;
  h.id_bytes = sizeof(int32_t);
  h.count = ids.size();
  h.checksum = shard_checksum(ids);
  h.source_begin = source_begin;
  h.source_end = source_end;
  write_atomically(file, {{reinterpret_cast<const char*>(&h), sizeof h},
                          {reinterpret_cast<const char*>(ids.data()), ids.size_bytes()}});
}

}  // namespace nanolab::data
