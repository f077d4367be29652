// Token shards: the prepared token ids of one split, in a file that is memory-mapped read-only.
// Internal to data/.
//
// Layout (native byte order, which is little-endian on every machine nanolab builds for):
//   offset  0  char[8]  magic "NLTOKENS"
//   offset  8  uint32   format version (1)
//   offset 12  uint32   bytes per id (4)
//   offset 16  uint64   count: number of ids
//   offset 24  uint64   checksum of the ids (shard_checksum)
//   offset 32  uint64   source_begin: first byte of the raw file these ids encode
//   offset 40  uint64   source_end: one past its last byte
//   offset 48  int32[count]
// A shard is written to a temporary name in its folder and renamed, so a reader (another process
// of a sweep included) sees either no file or a whole one. Not a general array format: int32 ids
// only, one split per file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <span>

namespace nanolab::data {

// splitmix64 chained over the ids: cheap enough to verify on every open, and any flipped or
// truncated id changes it.
uint64_t shard_checksum(std::span<const int32_t> ids);

// A read-only mapping of one shard file; movable, unmaps when destroyed.
class TokenShard {
 public:
  TokenShard() = default;
  TokenShard(TokenShard&& other) noexcept;
  TokenShard& operator=(TokenShard&& other) noexcept;
  TokenShard(const TokenShard&) = delete;
  TokenShard& operator=(const TokenShard&) = delete;
  ~TokenShard();

  // The shard at `file` if it is whole, has the right header and checksum, and encodes exactly
  // bytes [source_begin, source_end) of its raw file; nullopt otherwise (missing or damaged: the
  // caller rebuilds it).
  static std::optional<TokenShard> open(const std::filesystem::path& file, uint64_t source_begin,
                                        uint64_t source_end);

  std::span<const int32_t> ids() const { return {ids_, size_t(count_)}; }
  const std::filesystem::path& file() const { return file_; }

 private:
  void* map_ = nullptr;
  size_t map_size_ = 0;
  const int32_t* ids_ = nullptr;
  int64_t count_ = 0;
  std::filesystem::path file_;
};

// Writes `parts`, one after the other, as the file `file`: under a temporary name in its folder
// (unique per process and call), fsynced, then renamed, so that a reader sees no file or a whole
// one; StorageError naming the file when the disk refuses (the temporary file is removed). The
// writer of every token file (write_shard here, llm.c's shards in token_files.hpp).
void write_atomically(const std::filesystem::path& file,
                      std::initializer_list<std::span<const char>> parts);

// Writes `ids` as a shard at `file` atomically (temporary file in the same folder, fsync, rename);
// StorageError naming the file when the disk refuses.
void write_shard(const std::filesystem::path& file, std::span<const int32_t> ids, uint64_t source_begin,
                 uint64_t source_end);

}  // namespace nanolab::data
